"""A loopback HTTP server speaking Stratus' embeddings protocol (`stratus.adapters.inference.http`),
backed by real `Embedder`s: a reference implementation, and the far end of the adapter's tests.

    embedder = HuggingFaceImageTextEmbedder("clip_vit_b32", "clip", 512, str(tiny_clip_dir))
    with LoopbackEmbeddings({"clip_vit_b32": embedder}) as server:
        HttpEmbedder("clip_vit_b32", 512, server.url).embed_texts(["a cat"])

The request's `model` picks the embedder (unknown: 404). Texts and images may be mixed in one
request; the answer keeps the input order. An input the embedder refuses answers 400 with its
position in `inputs`. Faults are queued per request: `fail_next` (a status), `delay_next`,
`respond_next` (a raw body), `resize_next` (real vectors cut or padded to another dimension) and
`scale_next` (real vectors scaled, i.e. not unit length).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from stratus.errors import BadRequestError, InferenceServiceUnavailableError
from stratus.ports import Embedder

PATH = "/embed"
# A delay never outlives this, whatever a test asks: the suite must not wedge.
MAX_DELAY_SECONDS = 30.0


@dataclass(frozen=True)
class RecordedRequest:
    model: str | None
    kinds: list[str]  # "text" / "image" per input, in order


@dataclass
class _Fault:
    delay_seconds: float = 0.0
    status: int = 0  # 0: answer normally (after the delay, resized or scaled)
    retry_after: str | None = None
    body: Any = None  # sent as is instead of an answer
    headers: dict[str, str] = field(default_factory=dict)
    dimension: int | None = None
    scale: float | None = None


@dataclass
class _State:
    embedders: dict[str, Embedder]
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: deque[_Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class LoopbackEmbeddings:
    """The server, on 127.0.0.1 and a free port, served from a daemon thread."""

    def __init__(self, embedders: Mapping[str, Embedder]) -> None:
        self._state = _State(embedders=dict(embedders))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LoopbackEmbeddings:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self._state))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="loopback-embeddings",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()  # releases delayed handlers at once
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LoopbackEmbeddings:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the loopback server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, retry_after: str | None = None) -> None:
        """The next `n` requests answer `status` with `{"error": ...}` (and `Retry-After`)."""
        self._queue(n, _Fault(status=status, retry_after=retry_after))

    def delay_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """The next `n` requests wait `seconds` (at most MAX_DELAY_SECONDS), then answer."""
        self._queue(n, _Fault(delay_seconds=min(seconds, MAX_DELAY_SECONDS)))

    def respond_next(
        self, n: int = 1, body: Any = None, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """The next `n` requests get exactly `body` as JSON (a `bytes` body is sent raw)."""
        self._queue(n, _Fault(status=status, body=body, headers=dict(headers or {})))

    def resize_next(self, n: int = 1, dimension: int = 256) -> None:
        """The next `n` answers carry the real vectors cut (or zero-padded) to `dimension`."""
        self._queue(n, _Fault(dimension=dimension))

    def scale_next(self, n: int = 1, factor: float = 3.0) -> None:
        """The next `n` answers carry the real vectors times `factor` (no longer unit length)."""
        self._queue(n, _Fault(scale=factor))

    def _queue(self, n: int, fault: _Fault) -> None:
        with self._state.lock:
            self._state.faults.extend(replace(fault) for _ in range(n))

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


class _Refused(Exception):
    def __init__(self, status: int, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.index = index


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(_EmbeddingsHandler):
        pass

    Handler.state = state
    return Handler


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"
    timeout = 5  # an idle keep-alive connection frees its thread after this many seconds

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?", 1)[0] != PATH:
            self._send(404, {"error": f"no such path: {self.path}"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, {"error": "the body is not JSON"})
            return
        model = body.get("model") if isinstance(body, dict) else None
        inputs = body.get("inputs") if isinstance(body, dict) else None
        with self.state.lock:
            kinds = [_kind_of(item) for item in inputs] if isinstance(inputs, list) else []
            self.state.requests.append(RecordedRequest(model=model, kinds=kinds))
            fault = self.state.faults.popleft() if self.state.faults else _Fault()
        if fault.delay_seconds and self.state.stopping.wait(fault.delay_seconds):
            return  # the server is stopping
        if fault.body is not None:
            self._send(fault.status or 200, fault.body, fault.headers)
            return
        if fault.status:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, {"error": f"injected HTTP {fault.status}"}, headers)
            return
        try:
            vectors = _embed(self.state.embedders, model, inputs)
        except _Refused as refused:
            answer: dict[str, Any] = {"error": refused.message}
            if refused.index is not None:
                answer["index"] = refused.index
            self._send(refused.status, answer)
            return
        self._send(200, {"embeddings": [_faulted(vector, fault) for vector in vectors]})

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        encoded = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
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


def _kind_of(item: Any) -> str:
    if isinstance(item, dict) and len(item) == 1:
        return str(next(iter(item)))
    return "invalid"


def _embed(embedders: dict[str, Embedder], model: Any, inputs: Any) -> list[list[float]]:
    embedder = embedders.get(model) if isinstance(model, str) else None
    if embedder is None:
        raise _Refused(404, f"unknown model {model!r}")
    if not isinstance(inputs, list):
        raise _Refused(422, '"inputs" must be a list')
    texts: list[tuple[int, str]] = []
    images: list[tuple[int, bytes]] = []
    for position, item in enumerate(inputs):
        if _kind_of(item) == "text" and isinstance(item["text"], str):
            texts.append((position, item["text"]))
        elif _kind_of(item) == "image" and isinstance(item["image"], str):
            try:
                images.append((position, base64.b64decode(item["image"], validate=True)))
            except (binascii.Error, ValueError):
                raise _Refused(400, "the image is not valid base64", position) from None
        else:
            raise _Refused(422, 'an input must be {"text": string} or {"image": base64 string}', position)
    vectors: list[list[float]] = [[] for _ in inputs]
    text_positions = [position for position, _ in texts]
    image_positions = [position for position, _ in images]
    service: Embedder = embedder  # narrowed for the closures below
    embedded_texts = _refusing(lambda: service.embed_texts([text for _, text in texts]), text_positions)
    embedded_images = _refusing(lambda: service.embed_images([data for _, data in images]), image_positions)
    for positions, embedded in ((text_positions, embedded_texts), (image_positions, embedded_images)):
        for position, vector in zip(positions, embedded, strict=True):
            vectors[position] = vector
    return vectors


def _refusing(embed: Callable[[], list[list[float]]], positions: list[int]) -> list[list[float]]:
    """`embed()`, its errors as answers; an index among these inputs becomes a request position."""
    try:
        return embed()
    except BadRequestError as error:
        index = error.details.get("index")
        position = positions[index] if isinstance(index, int) and 0 <= index < len(positions) else None
        # The embedder names its own index ("image 1 ..."); the protocol carries the position.
        raise _Refused(400, re.sub(r"^image \d+ ", "", error.message), position) from None
    except InferenceServiceUnavailableError as error:
        raise _Refused(503, error.message) from None


def _faulted(vector: list[float], fault: _Fault) -> list[float]:
    if fault.dimension is not None:
        vector = (vector + [0.0] * fault.dimension)[: fault.dimension]
    if fault.scale is not None:
        vector = [value * fault.scale for value in vector]
    return vector
