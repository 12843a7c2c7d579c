"""What a Lambda function writes, read back in tests: its stdout (the Powertools Logger's JSON
lines and the EMF metrics blobs, in order) and the X-Ray subsegments it sends to the daemon's
UDP port. Used by tests/integration/test_observability.py and tests/security."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import pytest

# A sampled trace header, as Lambda sets it with `Tracing: Active`.
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@dataclass
class Stdout:
    """Everything written to stdout while `captured_stdout` was open."""

    buffer: io.StringIO = field(default_factory=io.StringIO)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON line; a line that is not JSON fails the test (Lambda's stdout is all JSON)."""
        out = []
        for line in self.text.splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pytest.fail(f"not a JSON line on stdout: {line[:200]!r}")
        return out

    def logs(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if "_aws" not in line]

    def metrics(self) -> list[dict[str, Any]]:
        """The EMF blobs."""
        return [line for line in self.lines() if "_aws" in line]


@contextmanager
def captured_stdout() -> Iterator[Stdout]:
    """The Logger's handler (which holds the stdout of the moment it was made) and `print` (EMF)
    both write into one buffer, in the order Lambda would ship them."""
    from stratus.observability import logger

    captured = Stdout()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(captured.buffer)
    try:
        with redirect_stdout(captured.buffer):
            yield captured
    finally:
        if previous is not None:
            handler.setStream(previous)


def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """EMF blobs are printed (tests/conftest.py turns them off for every other test)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def cold_start_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next invocation is this process's first, as Powertools' Logger counts them."""
    import aws_lambda_powertools.logging.logger as powertools_logger

    monkeypatch.setattr(powertools_logger, "is_cold_start", True)


def metric_values(blob: dict[str, Any]) -> dict[str, float]:
    """An EMF blob's metrics as name -> value (Powertools writes each value as a list)."""
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    values = {}
    for definition in directive["Metrics"]:
        value = blob[definition["Name"]]
        values[definition["Name"]] = float(sum(value) if isinstance(value, list) else value)
    return values


def dimensions(blob: dict[str, Any]) -> dict[str, str]:
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    (names,) = directive["Dimensions"]
    return {name: blob[name] for name in names}


# ---------------------------------------------------------------------------------------------
# X-Ray


@dataclass
class XRayDaemon:
    """A UDP socket standing in for the X-Ray daemon. The SDK sends each finished subsegment as one
    datagram, and on loopback `sendto` has queued it here by the time it returns: `received()`
    reads what is queued, without waiting."""

    sock: socket.socket
    documents: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def received(self) -> list[dict[str, Any]]:
        """Every (sub)segment document sent so far (or until the daemon closed)."""
        if self.sock.fileno() == -1:
            return self.documents
        self.sock.setblocking(False)
        while True:
            try:
                datagram = self.sock.recv(65536)
            except BlockingIOError:
                return self.documents
            self.raw.append(datagram)
            # `{"format": "json", "version": 1}\n<document>`
            _header, _, body = datagram.partition(b"\n")
            self.documents.append(json.loads(body))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [document for document in self.received() if document["name"] == name]


@contextmanager
def xray_daemon(monkeypatch: pytest.MonkeyPatch, tmp_dir: str) -> Iterator[XRayDaemon]:
    """Tracing on, as on a Lambda function with `Tracing: Active` and STRATUS_TRACING=true, its
    subsegments sent to a local UDP socket. The X-Ray recorder and Powertools' Tracer are
    process-wide: they are configured here and `stratus.observability`'s tracing is rebuilt after."""
    from aws_lambda_powertools import Tracer

    from stratus import observability

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    daemon = XRayDaemon(sock)
    monkeypatch.setenv("STRATUS_TRACING", "true")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", tmp_dir)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
    monkeypatch.setenv("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    Tracer._reset_config()  # type: ignore[no-untyped-call]
    monkeypatch.setattr(observability, "_tracing", None)
    import aws_xray_sdk
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.lambda_launcher import LambdaContext

    aws_xray_sdk.global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(daemon_address=daemon.address, context=LambdaContext(), streaming_threshold=0)
    try:
        yield daemon
    finally:
        daemon.received()
        sock.close()
        Tracer._reset_config()  # type: ignore[no-untyped-call]
