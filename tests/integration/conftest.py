"""Fixtures shared by the integration tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from stratus_local.moto_server import SerializedWsgiApp


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    """A real moto server on a free loopback port, one per module (a module may override the
    fixture with another endpoint, as the DynamoDB Local tests do)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def long_poll_waiting(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set when an SQS long poll on a LocalAws server is waiting outside the server's lock (its
    first short poll found nothing): the moment a test may act "while the poll waits", observed
    instead of guessed with a sleep."""
    waiting = threading.Event()
    wait_for_change = SerializedWsgiApp._wait_for_change

    def observed(app: SerializedWsgiApp, seen: int, timeout: float) -> Any:
        waiting.set()
        return wait_for_change(app, seen, timeout)

    monkeypatch.setattr(SerializedWsgiApp, "_wait_for_change", observed)
    return waiting
