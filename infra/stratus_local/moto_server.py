"""moto's AWS emulation as an HTTP server on 127.0.0.1, with every request serialized.

moto's DynamoDB backend takes no lock of its own: two `TransactWriteItems` arriving at the same
time on two server threads can both pass their condition checks and both commit. Running one
request at a time through the emulator restores what DynamoDB promises (each transaction is
atomic with respect to the others), which the promotion race tests depend on. The emulator does
in-memory work only, so one-at-a-time costs little; request bodies are read *before* taking the
lock so a slow client cannot stall everyone else.

Backends live in moto's module-level state: every `LocalAws` in one process sees the same
tables and buckets. The local stack runs one per process; tests that share a process call
`reset()` or use distinct resource names.
"""

from __future__ import annotations

import io
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

logger = logging.getLogger(__name__)

# WSGI's types, spelled out so this module needs no typeshed-only imports at run time.
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# boto3/botocore refuse to sign without credentials; moto accepts any value. Clients of the
# emulator (the API, the CLI, tests) put these in their environment; the server needs none.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class SerializedWsgiApp:
    """WSGI middleware that lets exactly one request at a time into the wrapped app.

    The lock is held for the whole call *and* while the response iterable is consumed (moto
    may produce the body lazily, still touching backend state), so the body is buffered under
    the lock and handed to the server afterwards."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        _buffer_request_body(environ)
        with self._lock:
            result = self._app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def _buffer_request_body(environ: Environ) -> None:
    """Read a Content-Length body off the socket outside the lock (a slow upload must not
    block other requests). Chunked bodies (no Content-Length) are left to the app."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length <= 0 or environ.get("wsgi.input_terminated"):
        return
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))


def _quiet_request_handler() -> type[Any]:
    """moto's request handler without werkzeug's one-line-per-request access log, which would
    drown the API's own log (every API call makes several DynamoDB calls)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietMotoRequestHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return QuietMotoRequestHandler


def _moto_wsgi_app() -> WsgiApp:
    # Imported here: moto's server module pulls in Flask and the backend index (~0.5 s), which
    # nothing that merely imports this module should pay for.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app


class LocalAws:
    """A moto server in a daemon thread: `with LocalAws() as aws: boto3.client(...,
    endpoint_url=aws.endpoint_url)`. `port=0` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalAws is not started")
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalAws is not started")
        return int(self._server.server_port)

    def start(self) -> LocalAws:
        if self._server is not None:
            return self
        # make_server binds (and listens) before returning, so the endpoint is usable as soon
        # as start() returns - no readiness polling needed.
        self._server = make_server(
            self._host,
            self._port,
            SerializedWsgiApp(_moto_wsgi_app()),
            threaded=True,
            request_handler=_quiet_request_handler(),
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stratus-local-aws", daemon=True
        )
        self._thread.start()
        logger.debug("moto server listening on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()  # returns once serve_forever's loop has exited
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def reset(self) -> None:
        """Drop every emulated resource (moto's reset API), e.g. between tests."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
