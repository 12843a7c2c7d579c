"""moto's AWS emulation as an HTTP server on 127.0.0.1, with every request serialized.

moto's DynamoDB backend takes no lock of its own: two `TransactWriteItems` arriving at the same
time on two server threads can both pass their condition checks and both commit. Running one
request at a time through the emulator restores what DynamoDB promises (each transaction is
atomic with respect to the others), which the promotion race tests depend on. The emulator does
in-memory work only, so one-at-a-time costs little; request bodies are read *before* taking the
lock so a slow client cannot stall everyone else.

SQS long polls are the one kind of request that waits by design: a `ReceiveMessage` with
`WaitTimeSeconds` > 0 on an empty queue would hold the lock for up to 20 s and stall every other
client (the API's DynamoDB calls, the S3 PUT whose notification the poll is waiting for). So a
long poll is served as a series of short polls (`WaitTimeSeconds` 0), each under the lock like
any request, with the waiting done outside it; it answers as soon as a short poll finds
messages, or empty when its time is up, as SQS does. Every request, long polls included, still
touches moto's state one at a time - moto's SQS backend is not safe to run concurrently either
(a DeleteMessage rebuilds the message list while a receive may be moving one to the DLQ).

Backends live in moto's module-level state: every `LocalAws` in one process sees the same
tables and buckets. The local stack runs one per process; tests that share a process call
`reset()` or use distinct resource names. Starting one also makes moto's transactions and queries
cost per item touched, not per table (`moto_patches`), which the one-at-a-time serving makes safe.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


# How long a long poll waits between two short polls when no other request came in meanwhile:
# messages also become visible by themselves (visibility timeouts and delays running out).
LONG_POLL_RECHECK_SECONDS = 0.2
# SQS refuses longer waits; such a request goes to moto untouched, to get SQS's error.
SQS_MAX_WAIT_SECONDS = 20


class SerializedWsgiApp:
    """WSGI middleware that lets exactly one request at a time into the wrapped app.

    The lock is held for the whole call *and* while the response iterable is consumed (moto
    may produce the body lazily, still touching backend state), so the body is buffered under
    the lock and handed to the server afterwards. SQS long polls wait outside the lock (see the
    module's docstring)."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        # Bumped after every request that may have changed state, so a waiting long poll
        # retries at once instead of at its next recheck.
        self._changed = threading.Condition()
        self._generation = 0

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        _buffer_request_body(environ)
        long_poll = sqs_long_poll(environ)
        if long_poll is not None:
            return [self._long_poll(environ, start_response, long_poll)]
        try:
            return [self._serialized(environ, start_response)]
        finally:
            if _may_feed_a_queue(environ):
                with self._changed:
                    self._generation += 1
                    self._changed.notify_all()

    def _serialized(self, environ: Environ, start_response: StartResponse) -> bytes:
        with self._lock:
            result = self._app(environ, start_response)
            try:
                return b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    def _long_poll(self, environ: Environ, start_response: StartResponse, poll: LongPoll) -> bytes:
        deadline = time.monotonic() + poll.wait_seconds
        while True:
            with self._changed:
                seen = self._generation
            response = RecordedResponse()
            body = self._serialized(poll.short_poll_environ(environ), response.start_response)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not response.succeeded or poll.has_messages(body):
                return response.replay(start_response, body)
            self._wait_for_change(seen, min(remaining, LONG_POLL_RECHECK_SECONDS))

    def _wait_for_change(self, seen: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout=timeout)


def _may_feed_a_queue(environ: Environ) -> bool:
    """Whether a request may make a message receivable, so waiting long polls should look again:
    anything but DynamoDB (whose tables feed no queue here). Without this, every DynamoDB call of
    the API (two per upsert, one per search) woke each waiting poller into a short poll, and the
    API's next call queued behind them."""
    return not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_")


@dataclass
class RecordedResponse:
    """A `start_response` that keeps what the app answered, to pass on (or drop) later."""

    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    written: list[bytes] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status.startswith("200")

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.status, self.headers = status, list(headers)
        return self.written.append

    def replay(self, start_response: StartResponse, body: bytes) -> bytes:
        start_response(self.status, self.headers)
        return b"".join(self.written) + body


@dataclass(frozen=True)
class LongPoll:
    """An SQS ReceiveMessage that asked to wait: how long, and the same request without the
    wait. Both SQS protocols: JSON (boto3 and the AWS CLI today) and the older query protocol."""

    wait_seconds: int
    short_poll_body: bytes
    json_protocol: bool

    def short_poll_environ(self, environ: Environ) -> Environ:
        return {
            **environ,
            "wsgi.input": io.BytesIO(self.short_poll_body),
            "CONTENT_LENGTH": str(len(self.short_poll_body)),
        }

    def has_messages(self, body: bytes) -> bool:
        if self.json_protocol:
            try:
                return bool(json.loads(body or b"{}").get("Messages"))
            except (ValueError, AttributeError):
                return True  # not ours to judge: hand it to the client
        return b"<Message>" in body


def sqs_long_poll(environ: Environ) -> LongPoll | None:
    """The long poll a request asks for; None for anything but an SQS ReceiveMessage with
    0 < WaitTimeSeconds <= 20 in its body. (Without WaitTimeSeconds SQS would use the queue's
    ReceiveMessageWaitTimeSeconds; the template sets none, so such a request is a short poll.)"""
    body = environ["wsgi.input"].getvalue() if isinstance(environ.get("wsgi.input"), io.BytesIO) else b""
    if not body:
        return None
    if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
        try:
            request = json.loads(body)
            wait = int(request.get("WaitTimeSeconds") or 0)
        except (ValueError, TypeError, AttributeError):
            return None  # let moto answer the malformed request
        short = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        return LongPoll(wait, short, json_protocol=True) if 0 < wait <= SQS_MAX_WAIT_SECONDS else None
    query_protocol = str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded")
    if query_protocol and b"Action=ReceiveMessage" in body:
        form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields = dict(form)
        if fields.get("Action") != "ReceiveMessage":
            return None
        try:
            wait = int(fields.get("WaitTimeSeconds") or 0)
        except ValueError:
            return None
        short_form = [(k, v) for k, v in form if k != "WaitTimeSeconds"] + [("WaitTimeSeconds", "0")]
        short = urllib.parse.urlencode(short_form).encode()
        return LongPoll(wait, short, json_protocol=False) if 0 < wait <= SQS_MAX_WAIT_SECONDS else None
    return None


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
        from stratus_local import moto_patches

        # Per-item costs for transactions and queries instead of whole-table ones (see the module).
        moto_patches.install()
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
