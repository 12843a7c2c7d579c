"""The local stack (`python -m stratus_local`) in a subprocess, and the few API calls the
benchmarks make. Everything binds to and talks to 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.perf.common import VECTOR_DECIMALS, Matrix, document_id, payload_of

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 90.0
SHUTDOWN_TIMEOUT_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 120.0


class StackFailure(RuntimeError):
    """The stack did not start, or an API call answered an unexpected status."""


@dataclass
class LocalStack:
    process: subprocess.Popen[bytes]
    workdir: Path
    info: dict[str, Any]

    @property
    def api_url(self) -> str:
        return str(self.info["api_url"])

    @property
    def lancedb_uri(self) -> str:
        return str(self.info["lancedb_uri"])

    @property
    def log_path(self) -> Path:
        return self.workdir / "stack.log"

    def client(self, *, keep_alive: bool = True) -> httpx.Client:
        """A client with the dev key (org `local`, read/write/admin). `keep_alive=False` opens
        a new TCP connection for every request."""
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.info['api_key']}", "Content-Type": "application/json"},
            timeout=REQUEST_TIMEOUT_SECONDS,
            limits=httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0),
        )

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def stop(self) -> int:
        """Ctrl-C, as a developer stops it; SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _environment() -> dict[str, str]:
    """This process's environment without anything that would steer the stack elsewhere."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRATUS_", "AWS_"))
        or name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def running_stack(
    workdir: Path, log_level: str = "warning", workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[LocalStack]:
    """Start the stack on a free port with its data under `workdir`; stop it on exit.
    `log_level=warning`: no access-log line per request (the API is measured, not the terminal).
    `workers > 1`: uvicorn worker processes, as `make dev` runs with `--workers`. `env`: extra
    settings for this stack (e.g. model weights; the caller's own `STRATUS_*` never reach it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    info_path = workdir / "info.json"
    args = [
        sys.executable, "-m", "stratus_local",
        "--port", "0", "--aws-port", "0",
        "--data-dir", str(workdir / "data"),
        "--key-file", str(workdir / "key"),
        "--info-file", str(info_path),
        "--log-level", log_level,
        "--workers", str(workers),
    ]  # fmt: skip
    with (workdir / "stack.log").open("wb") as log:
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env={**_environment(), **(env or {})}
        )
    stack = LocalStack(process, workdir, {})
    try:
        _wait_until_healthy(stack, info_path)
        yield stack
    finally:
        stack.stop()


def _wait_until_healthy(stack: LocalStack, info_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise StackFailure(f"local stack exited with {stack.process.returncode}\n{stack.log_tail()}")
        if not stack.info and info_path.exists():
            with contextlib.suppress(json.JSONDecodeError):
                stack.info = json.loads(info_path.read_text(encoding="utf-8"))
        if stack.info:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{stack.api_url}/v1/health", timeout=2.0).status_code == 200:
                    return
        time.sleep(0.2)
    raise StackFailure(f"local stack not healthy within {STARTUP_TIMEOUT_SECONDS:.0f} s\n{stack.log_tail()}")


# ---------------------------------------------------------------------------------------------
# API calls


def expect(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise StackFailure(
            f"{response.request.method} {response.request.url.path}: expected {status}, "
            f"got {response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def create_standalone(client: httpx.Client, namespace_id: str, index: str, dimension: int) -> dict[str, Any]:
    body = {
        "namespace_id": namespace_id,
        "vector_configs": [{"name": index, "dimension": dimension, "metric": "cosine"}],
    }
    return expect(client.post("/v1/namespaces/standalone", json=body))


def storage_key(namespace: dict[str, Any]) -> str:
    """From `infrastructure.vector_store_locator` = `lancedb:<uri>/<storage_key>__*`."""
    locator = str(namespace["infrastructure"]["vector_store_locator"])
    return locator.rsplit("/", 1)[1].removesuffix("__*")


def table_name(namespace: dict[str, Any], index: str) -> str:
    """The LanceDB table of one index (`Space.name`)."""
    return f"{storage_key(namespace)}__{index}"


def json_floats(vectors: Matrix) -> list[list[float]]:
    """Rows as Python floats with short reprs: float32 values widened to float64 print ~17
    digits, so they are rounded again (to what `random_unit_vectors` kept) after widening."""
    return np.round(vectors.astype(np.float64), VECTOR_DECIMALS).tolist()  # type: ignore[no-any-return]


def upsert_body(index: str, vectors: Matrix, start: int) -> bytes:
    """The JSON body of `/documents/direct` for `vectors`, ids and payloads from `start` on."""
    documents = [
        {
            "document_id": document_id(start + offset),
            "vectors": {index: row},
            "payload": payload_of(start + offset),
        }
        for offset, row in enumerate(json_floats(vectors))
    ]
    return json.dumps({"documents": documents}, separators=(",", ":")).encode()


def post_upsert(client: httpx.Client, namespace_id: str, body: bytes) -> dict[str, Any]:
    return expect(client.post(f"/v1/namespaces/{namespace_id}/documents/direct", content=body))


def search_body(
    namespace_id: str, index: str, top_k: int, *, vector: Sequence[float] | None = None,
    text: str | None = None, filters: dict[str, Any] | None = None,
) -> bytes:  # fmt: skip
    query: dict[str, Any] = {"vector_name": index, "top_k": top_k}
    if vector is not None:
        query["vector"] = list(vector)
    if text is not None:
        query["text"] = text
    body: dict[str, Any] = {"namespace_id": namespace_id, "queries": [query], "top_k": top_k}
    if filters is not None:
        body["filters"] = filters
    return json.dumps(body, separators=(",", ":")).encode()


def post_search(client: httpx.Client, body: bytes) -> dict[str, Any]:
    return expect(client.post("/v1/search", content=body))
