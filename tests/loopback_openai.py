"""A loopback HTTP server that speaks the OpenAI embeddings API, for tests with the real SDK.

    from tests.loopback_openai import LoopbackOpenAI, expected_vector

    with LoopbackOpenAI(api_key="sk-test") as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url)
        ...
        assert server.requests[0].encoding_format == "base64"

Vectors are deterministic: `expected_vector(text, dimension)` is exactly what the server sends
for `text` (float32 values, L2-normalized), whether as JSON floats or as base64. The server can be
told to fail (`fail_next`), to hang (`hang_next`), to answer another dimension (`dimensions`) or
to ignore the requested encoding (`force_encoding`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

import numpy as np

DEFAULT_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
EMBEDDING_PATHS = frozenset({"/v1/embeddings", "/embeddings"})
# A hang never outlives this, whatever a test asks: the suite must not wedge.
MAX_HANG_SECONDS = 30.0

Encoding = Literal["float", "base64"]


def expected_vector(text: str, dimension: int) -> list[float]:
    """The vector the server answers for `text`: float32 values widened to float, unit length."""
    return [float(value) for value in _vector32(text, dimension)]


def _vector32(text: str, dimension: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
    raw = np.random.RandomState(seed).standard_normal(dimension)
    return (raw / np.linalg.norm(raw)).astype("<f4")


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    model: str | None
    inputs: list[str]
    encoding_format: str | None  # None when the client sent none
    authorization: str | None
    body: dict[str, Any]


@dataclass
class _Fault:
    status: int = 0  # 0: no error status, just the hang
    retry_after: str | None = None
    hang_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # sent as is (with `status`) instead of an error body


@dataclass
class _State:
    api_key: str
    dimensions: dict[str, int]
    force_encoding: Encoding | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: deque[_Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class LoopbackOpenAI:
    """The server, on 127.0.0.1 and a free port, served from a daemon thread. Use it as a context
    manager (or `start()` / `stop()`)."""

    def __init__(
        self, api_key: str = "sk-loopback-test-key", dimensions: dict[str, int] | None = None
    ) -> None:
        self._state = _State(api_key=api_key, dimensions=dict(dimensions or DEFAULT_DIMENSIONS))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackOpenAI:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self._state))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()  # releases hanging handlers at once
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LoopbackOpenAI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the loopback server is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """With `/v1`, as the SDK's default base URL has."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """Without `/v1`: the SDK then posts to `/embeddings`, which is answered too."""
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour ---------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self._state.api_key

    @property
    def dimensions(self) -> dict[str, int]:
        """Model → dimension answered; mutate it to make the server return a wrong dimension."""
        return self._state.dimensions

    @property
    def force_encoding(self) -> Encoding | None:
        return self._state.force_encoding

    @force_encoding.setter
    def force_encoding(self, value: Encoding | None) -> None:
        """Answer in this encoding whatever the client asked (some compatible servers do)."""
        self._state.force_encoding = value

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        retry_after: float | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `n` requests get `status` with OpenAI's error body (and `Retry-After`)."""
        header = None if retry_after is None else str(retry_after)
        with self._state.lock:
            self._state.faults.extend(
                _Fault(status=status, retry_after=header, headers=dict(headers or {})) for _ in range(n)
            )

    def respond_next(self, n: int = 1, body: dict[str, Any] | None = None, status: int = 200) -> None:
        """The next `n` requests get exactly `body` (e.g. a malformed embeddings answer)."""
        with self._state.lock:
            self._state.faults.extend(_Fault(status=status, body=dict(body or {})) for _ in range(n))

    def hang_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """The next `n` requests wait `seconds` (at most MAX_HANG_SECONDS) before answering."""
        with self._state.lock:
            self._state.faults.extend(_Fault(hang_seconds=min(seconds, MAX_HANG_SECONDS)) for _ in range(n))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def reset(self) -> None:
        with self._state.lock:
            self._state.requests.clear()
            self._state.faults.clear()


# ---------------------------------------------------------------------------------------------
# The handler


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(_EmbeddingsHandler):
        pass

    Handler.state = state
    return Handler


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    timeout = 5  # an idle keep-alive connection frees its thread after this many seconds

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path not in EMBEDDING_PATHS:
            self._error(404, f"Unknown request URL: POST {path}.", "invalid_request_error", "unknown_url")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
            return
        inputs = body.get("input")
        inputs_list = [inputs] if isinstance(inputs, str) else inputs
        authorization = self.headers.get("Authorization")
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(
                    path=path,
                    model=body.get("model"),
                    inputs=list(inputs_list) if isinstance(inputs_list, list) else [],
                    encoding_format=body.get("encoding_format"),
                    authorization=authorization,
                    body=body,
                )
            )
            fault = self.state.faults.popleft() if self.state.faults else None
        # A set `stopping` event means shutdown: drop the connection unanswered.
        if fault is not None and fault.hang_seconds and self.state.stopping.wait(fault.hang_seconds):
            return
        if fault is not None and fault.status:
            self._fault(fault)
            return
        if authorization != f"Bearer {self.state.api_key}":
            given = (authorization or "").removeprefix("Bearer ")
            # Like OpenAI, the message echoes (part of) the key: callers must not pass it on.
            self._error(
                401, f"Incorrect API key provided: {given}.", "invalid_request_error", "invalid_api_key"
            )
            return
        self._embed(body, inputs_list)

    def _embed(self, body: dict[str, Any], inputs: Any) -> None:
        model = body.get("model")
        if model not in self.state.dimensions:
            self._error(
                404, f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found"
            )
            return
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
            self._error(400, "'$.input' is invalid. Please check the API reference.", "invalid_request_error")
            return
        if any(text == "" for text in inputs):
            self._error(400, "'$.input' is invalid. Please check the API reference.", "invalid_request_error")
            return
        encoding = self.state.force_encoding or body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            self._error(400, f"Invalid encoding_format: {encoding!r}.", "invalid_request_error")
            return
        dimension = self.state.dimensions[model]
        tokens = sum(len(text.split()) for text in inputs)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(_vector32(text, dimension), encoding)}
            for i, text in enumerate(inputs)
        ]
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        self._send_json(200, payload)

    def _fault(self, fault: _Fault) -> None:
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if fault.body is not None:
            self._send_json(fault.status, fault.body, headers)
            return
        if fault.status == 429:
            self._error(429, "Rate limit reached for requests.", "requests", "rate_limit_exceeded", headers)
        else:
            self._error(
                fault.status,
                "The server had an error while processing your request.",
                "server_error",
                None,
                headers,
            )

    def _error(
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        encoded = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(encoded)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer


def _encode(vector: np.ndarray[Any, np.dtype[np.float32]], encoding: str) -> str | list[float]:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    # float32 → float is exact, and json writes the shortest repr that reads back identically.
    return [float(value) for value in vector]
