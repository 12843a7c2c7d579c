"""The local stack's life cycle: start, banner and dev key, temporary data, ports, and stopping.

Given `python -m stratus_local` in a subprocess (see conftest.py),
when a developer uses what the banner prints and then presses Ctrl-C,
then everything works on 127.0.0.1 and stops cleanly with exit code 0."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LocalStack, free_port, start_stack

pytestmark = pytest.mark.e2e

SEED_NAMESPACE = {
    "namespace_id": "legal-docs",
    "mode": "standalone",
    "vector_configs": [{"name": "text_embedding", "dimension": 1536, "metric": "cosine"}],
}


def _curl_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip().startswith("curl ")]
    assert len(lines) == 1, f"the banner must hold exactly one curl line:\n{log}"
    return lines[0]


def test_health_needs_no_key(local_stack: LocalStack) -> None:
    response = httpx.get(f"{local_stack.base_url}/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_info_and_key_files_describe_the_running_stack(local_stack: LocalStack) -> None:
    info = json.loads(local_stack.info_path.read_text(encoding="utf-8"))
    assert info["api_url"].startswith("http://127.0.0.1:")
    assert info["docs_url"] == f"{info['api_url']}/docs"
    assert info["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert info["org_id"] == "local"
    assert info["pid"] == local_stack.process.pid
    assert local_stack.key_path.read_text(encoding="utf-8").strip() == info["api_key"]
    # Both hold a key: owner-only.
    assert local_stack.key_path.stat().st_mode & 0o077 == 0
    assert local_stack.info_path.stat().st_mode & 0o077 == 0


def test_banner_shows_urls_key_and_says_data_is_temporary(local_stack: LocalStack) -> None:
    log = local_stack.log()
    assert local_stack.base_url in log
    assert f"{local_stack.base_url}/docs" in log
    assert local_stack.api_key in log
    assert local_stack.aws_endpoint_url in log
    assert "TEMPORARY" in log
    curl = _curl_line(log)
    assert local_stack.api_key in curl and local_stack.base_url in curl


def test_banner_key_works_on_an_authenticated_route(local_stack: LocalStack) -> None:
    with local_stack.client() as client:
        response = client.get("/v1/namespaces")
    assert response.status_code == 200, response.text
    assert "results" in response.json()


def test_docs_are_served(local_stack: LocalStack) -> None:
    assert httpx.get(f"{local_stack.base_url}/docs", timeout=10).status_code == 200
    assert httpx.get(f"{local_stack.base_url}/openapi.json", timeout=10).status_code == 200


def test_the_emulator_is_reachable_with_dummy_credentials(local_stack: LocalStack) -> None:
    import boto3

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local_stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert "stratus" in dynamodb.list_tables()["TableNames"]


def _run_banner_curl(stack: LocalStack) -> dict[str, object]:
    """Run the banner's curl line as pasted into a shell (or its httpx equivalent without curl)."""
    curl = _curl_line(stack.log())
    if shutil.which("curl"):
        result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        body: dict[str, object] = json.loads(result.stdout)
        return body
    parts = shlex.split(curl)
    assert parts[parts.index("-d") + 1] == json.dumps(SEED_NAMESPACE)
    with stack.client() as client:
        response = client.post("/v1/namespaces/standalone", json=SEED_NAMESPACE)
    assert response.status_code == 200, response.text
    created: dict[str, object] = response.json()
    return created


def test_data_dir_is_cleared_at_every_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_stack(tmp_path / "first", port=free_port(), data_dir=data_dir)
    try:
        created = _run_banner_curl(first)
        assert created["namespace_id"] == "legal-docs"
        with first.client() as client:
            assert client.get("/v1/namespaces/legal-docs").status_code == 200
        (data_dir / "lancedb" / "stray-file").write_text("left over", encoding="utf-8")
    finally:
        first.assert_stops_cleanly(signal.SIGINT)

    second = start_stack(tmp_path / "second", port=free_port(), data_dir=data_dir)
    try:
        with second.client() as client:
            response = client.get("/v1/namespaces/legal-docs")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "NotFoundError"
        lancedb = data_dir / "lancedb"
        assert lancedb.is_dir()
        assert list(lancedb.iterdir()) == []
        assert second.api_key != first.api_key
        # The first run's key died with its emulator.
        with second.client(first.api_key) as client:
            assert client.get("/v1/namespaces").status_code == 401
    finally:
        second.assert_stops_cleanly(signal.SIGINT)


def test_stratus_port_is_respected_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    stack = start_stack(tmp_path, port=None, env={"STRATUS_PORT": str(port)})
    try:
        assert stack.base_url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=10).status_code == 200
    finally:
        stack.assert_stops_cleanly(signal.SIGTERM)


def test_ctrl_c_stops_api_and_emulator_and_frees_both_ports(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, port=free_port())
    api_port = int(stack.base_url.rsplit(":", 1)[1])
    aws_port = int(stack.aws_endpoint_url.rsplit(":", 1)[1])
    stack.assert_stops_cleanly(signal.SIGINT)
    for port in (api_port, aws_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


def test_several_workers_share_the_emulator(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, port=free_port(), extra_args=["--workers", "2"])
    try:
        # New connection per request, so both workers get some; every one must accept the key.
        for _ in range(6):
            with stack.client() as client:
                assert client.get("/v1/namespaces").status_code == 200
    finally:
        stack.assert_stops_cleanly(signal.SIGINT)


def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path: Path) -> None:
    """A pool opening its connections together used to land them all on one worker (one shared
    listening socket; the first worker to wake accepted every pending connection)."""
    port = free_port()
    stack = start_stack(tmp_path, port=port, extra_args=["--workers", "2"])
    connections: list[socket.socket] = []
    try:
        # The stack answers once one worker does; the kernel only hands connections to the
        # sockets already listening, so wait for the second worker's.
        deadline = time.monotonic() + 60
        while len(sockets_on(port, LISTENING)) < 2:
            assert time.monotonic() < deadline, "the second worker never listened"
            time.sleep(0.1)
        connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(32)]
        for connection in connections:  # every connection answered: accepted by some worker
            connection.sendall(b"GET /v1/health HTTP/1.1\r\nHost: stratus\r\n\r\n")
            assert connection.recv(64).startswith(b"HTTP/1.1 200")
        served = connections_per_worker(stack.process.pid, port)
        assert len(served) == 2, served
        # The kernel hashes each connection to a worker: one worker with none of 32 is 2 ** -31.
        assert all(count > 0 for count in served.values()), served
        assert sum(served.values()) == len(connections), served
    finally:
        for connection in connections:
            connection.close()
        stack.assert_stops_cleanly(signal.SIGINT)


ESTABLISHED, LISTENING = "01", "0A"  # socket states in /proc/net/tcp


def sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the sockets on local port `port` in `state`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def connections_per_worker(supervisor_pid: int, port: int) -> dict[int, int]:
    """{worker pid: established connections on `port` it holds}, from /proc (Linux)."""
    established = sockets_on(port, ESTABLISHED)
    served = {}
    for worker in Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text().split():
        inodes = set()
        for fd in Path(f"/proc/{worker}/fd").iterdir():
            target = str(fd.readlink()) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        if "spawn_main" in Path(f"/proc/{worker}/cmdline").read_text(errors="replace"):
            served[int(worker)] = len(inodes & established)
    return served


def test_busy_port_fails_fast_with_a_clear_message_and_touches_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / ".stratus-local.lock").touch()
    (data_dir / "precious").write_text("keep me", encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack = start_stack(tmp_path, port=busy.getsockname()[1], data_dir=data_dir, wait=False)
        code = stack.process.wait(timeout=30)
    assert code == 1
    assert "Pass --port N or set STRATUS_PORT" in stack.log()
    assert "Traceback" not in stack.log()
    assert (data_dir / "precious").exists()


def test_a_foreign_non_empty_data_dir_is_never_wiped(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-ours"
    data_dir.mkdir()
    (data_dir / "thesis.tex").write_text("years of work", encoding="utf-8")
    stack = start_stack(tmp_path, port=free_port(), data_dir=data_dir, wait=False)
    assert stack.process.wait(timeout=30) == 1
    assert "refusing to wipe it" in stack.log()
    assert (data_dir / "thesis.tex").read_text(encoding="utf-8") == "years of work"
