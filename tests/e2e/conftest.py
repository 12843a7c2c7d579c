"""End-to-end fixtures: the real local stack (`python -m stratus_local`) in a subprocess, driven
over HTTP exactly as a developer's curl or SDK would.

How a test finds the running stack: the stack writes a JSON *info file* (`--info-file`, default
`<data-dir>/stack.json`) before it starts serving:
    {"api_url", "docs_url", "aws_endpoint_url", "api_key", "org_id", "table_name", "region",
     "data_dir", "lancedb_uri", "pid", "data_bucket", "ingest_queue_url", "dead_letter_queue_url",
     "backfill_queue_url"}
and `--key-file` holds just the dev key. `start_stack` waits for `GET /v1/health` = 200, then
reads that file.

Every test in this directory is marked `e2e` (deselect with `-m "not e2e"`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mixpeek import ApiClient, Configuration, Mixpeek

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
STARTUP_TIMEOUT_SECONDS = 60.0
SHUTDOWN_TIMEOUT_SECONDS = 15.0
OTHER_ORG_ID = "e2e-other-org"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Collection hooks see every item of the session, not only this directory's.
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without anything that would steer the stack elsewhere."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRATUS_", "AWS_"))
        or name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    }
    env["PYTHONUNBUFFERED"] = "1"  # the log file shows the banner at once
    env.update(extra or {})
    return env


@dataclass
class LocalStack:
    """One running `python -m stratus_local`."""

    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    info_path: Path
    key_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.info["api_url"])

    @property
    def api_key(self) -> str:
        return str(self.info["api_key"])

    @property
    def aws_endpoint_url(self) -> str:
        return str(self.info["aws_endpoint_url"])

    def client(
        self, api_key: str | None = None, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Client:
        """An httpx client on the API; with the dev key unless another key (or none) is asked."""
        headers = dict(kwargs.pop("headers", {}))
        if authenticated:
            headers["Authorization"] = f"Bearer {api_key or self.api_key}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0, **kwargs)

    def mixpeek(self, api_key: str | None = None, namespace: str | None = None) -> Mixpeek:
        """The official Mixpeek SDK's high-level client on this stack (its base URL ends in /v1)."""
        return Mixpeek(api_key or self.api_key, base_url=f"{self.base_url}/v1", namespace=namespace)

    def mixpeek_api(self, api_key: str | None = None, namespace: str | None = None) -> ApiClient:
        """The SDK's typed surface (`ApiClient` for `NamespacesApi`, `RetrieversApi`...): its host
        has no /v1; `namespace` goes in X-Namespace on the operations that declare the header."""
        configuration = Configuration(host=self.base_url, access_token=api_key or self.api_key)
        if namespace is not None:
            configuration.api_key["NamespaceHeader"] = namespace
        return ApiClient(configuration)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = SHUTDOWN_TIMEOUT_SECONDS) -> int:
        """Send `sig` (Ctrl-C by default) and return the exit code; kill (and fail) on a hang."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(
                f"local stack did not exit within {timeout:.0f} s of {sig.name}\n{self.log()[-4000:]}"
            )

    def assert_stops_cleanly(self, sig: signal.Signals = signal.SIGINT) -> None:
        code = self.stop(sig)
        log = self.log()
        assert code == 0, f"exit code {code} after {sig.name}\n{log[-4000:]}"
        assert "Traceback" not in log, log[-4000:]
        assert "Stratus local stack stopped." in log


def start_stack(
    workdir: Path,
    *,
    port: int | None = None,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    wait: bool = True,
) -> LocalStack:
    """Start the stack with its files under `workdir`; `port=None` leaves the port to
    STRATUS_PORT / the default (only for tests that set STRATUS_PORT)."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or workdir / "data"
    info_path = workdir / "info.json"
    key_path = workdir / "key"
    info_path.unlink(missing_ok=True)
    args = [
        sys.executable, "-m", "stratus_local",
        "--aws-port", "0",
        "--data-dir", str(data_dir),
        "--key-file", str(key_path),
        "--info-file", str(info_path),
        *(["--port", str(port)] if port is not None else []),
        *extra_args,
    ]  # fmt: skip
    log_path = workdir / "stack.log"
    with log_path.open("wb") as log:
        # cwd = repo root, as `make dev` runs it; output to a file so a chatty server can never
        # block on a full pipe.
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=stack_environment(env)
        )
    stack = LocalStack(process, log_path, data_dir, info_path, key_path)
    if wait:
        try:
            _wait_until_healthy(stack)
        except BaseException:
            stack.stop(signal.SIGKILL)
            raise
    return stack


def _wait_until_healthy(stack: LocalStack) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(
                f"local stack exited with {stack.process.returncode} while starting\n{stack.log()[-4000:]}"
            )
        if not stack.info and stack.info_path.exists():
            # Written atomically (temp file + rename); tolerate a half-written one all the same.
            with contextlib.suppress(json.JSONDecodeError):
                stack.info = json.loads(stack.info_path.read_text(encoding="utf-8"))
        if stack.info:
            try:
                if httpx.get(f"{stack.base_url}/v1/health", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    pytest.fail(f"local stack not healthy within {STARTUP_TIMEOUT_SECONDS:.0f} s\n{stack.log()[-4000:]}")


@pytest.fixture(scope="session", params=["lancedb", "pinecone"])
def local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """One stack per vector store for the session: LanceDB (the default), and Pinecone through
    the real client against the loopback Pinecone server. Its teardown is itself a test: Ctrl-C
    must stop it with exit code 0 within 15 s and no traceback."""
    workdir = tmp_path_factory.mktemp(f"local-stack-{request.param}")
    with contextlib.ExitStack() as resources:
        env: dict[str, str] | None = None
        if request.param == "pinecone":
            from tests.loopback_pinecone import LoopbackPinecone

            server = resources.enter_context(LoopbackPinecone())
            env = {
                "STRATUS_VECTOR_STORE": "pinecone",
                "STRATUS_PINECONE_API_KEY": server.api_key,
                "STRATUS_PINECONE_CONTROL_PLANE_HOST": server.url,
            }
        stack = start_stack(workdir, port=free_port(), env=env)
        yield stack
        stack.assert_stops_cleanly(signal.SIGINT)


def stratus_cli(*args: str, aws_endpoint_url: str) -> subprocess.CompletedProcess[str]:
    """Run the `stratus` console script (as an operator would) against the stack's emulator."""
    script = Path(sys.executable).with_name("stratus")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "stratus.cli"]
    env = stack_environment(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    return subprocess.run(
        [*command, *args, "--endpoint-url", aws_endpoint_url, "--table", "stratus"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_key_with_cli(
    stack: LocalStack, org_id: str, permissions: Sequence[str] = ("read", "write", "admin")
) -> str:
    result = stratus_cli(
        "keys", "create", "--org", org_id, "--name", "e2e", "--permissions", *permissions, "--json",
        aws_endpoint_url=stack.aws_endpoint_url,
    )  # fmt: skip
    assert result.returncode == 0, f"stratus keys create failed ({result.returncode}): {result.stderr}"
    created = json.loads(result.stdout)
    assert created["org_id"] == org_id
    return str(created["api_key"])


@pytest.fixture(scope="session")
def other_org_key(local_stack: LocalStack) -> str:
    """A key for a second organization, made with the CLI against the running stack."""
    return create_key_with_cli(local_stack, OTHER_ORG_ID)


@pytest.fixture
def other_org_client(local_stack: LocalStack, other_org_key: str) -> Iterator[httpx.Client]:
    with local_stack.client(other_org_key) as client:
        yield client


@pytest.fixture
def api(local_stack: LocalStack) -> Iterator[httpx.Client]:
    """A client authenticated with the stack's dev key (org `local`)."""
    with local_stack.client() as client:
        yield client
