"""A loopback HTTP server that speaks Pinecone's REST wire protocol, for tests with the real SDK.

    from pinecone import Pinecone
    from tests.loopback_pinecone import LoopbackPinecone

    with LoopbackPinecone(api_key="pc-test") as server:
        pc = Pinecone(api_key="pc-test", host=server.url)        # control plane
        pc.create_index(name="docs", dimension=4, metric="cosine",
                        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}})
        idx = pc.Index(host=pc.describe_index("docs").host)      # data plane
        idx.upsert(vectors=[("a", [1, 0, 0, 0], {"tag": "x"})], namespace="ns")
        server.fail_next(4, status=503, path_contains="/query")   # then the client raises

One server serves every index. The control plane lives at the root (`GET/POST /indexes`,
`GET/PATCH/DELETE /indexes/{name}`) and `describe` reports each index's host as
`{server.url}/data/{name}`: the v10 client keeps a path in a host it is given (httpx `base_url`,
`pinecone/_internal/http_client.py`), so data-plane calls arrive as `/data/{name}/vectors/upsert`
etc. and are routed by that prefix. A data-plane call without the prefix (`Index(host=server.url)`)
goes to `server.default_index` if set, else to the only index if exactly one exists, else 404.

Wire protocol, as the installed client (`pinecone` 10.2, REST over httpx, API version 2026-07)
sends and parses it:

* control plane: `POST /indexes` with `{"name", "schema": {"fields": {"_values": {"type":
  "dense_vector", "dimension", "metric"}}}, "deployment": {"deployment_type": "managed", "cloud",
  "region"}, "deletion_protection"?, "tags"?}` (what `create_index(dimension=, metric=, spec=)`
  is translated to); the 2025-10 body (`dimension`, `metric`, `spec: {serverless: {cloud,
  region}}`) is accepted too. Index models carry `name, host, status {ready, state}, schema,
  deployment, deletion_protection, tags, read_capacity`, plus the legacy `dimension, metric,
  vector_type, spec`. `DELETE` answers 202 with no body; `PATCH` sets `deletion_protection`/`tags`.
* data plane (camelCase JSON): `POST /vectors/upsert {vectors: [{id, values, metadata?}],
  namespace?}` → `{upsertedCount}`; `POST /query {topK, vector | id, namespace?, filter?,
  includeValues, includeMetadata}` → `{matches: [{id, score, values?, metadata?}], namespace,
  usage}`; `GET /vectors/fetch?ids=..&ids=..&namespace=` → `{vectors: {id: {...}}, namespace}`;
  `POST /vectors/delete {namespace, ids | deleteAll | filter}` → `{}`; `GET /vectors/list?
  namespace=&prefix=&limit=&paginationToken=` → `{vectors: [{id}], pagination?: {next},
  namespace}`; `POST /describe_index_stats {}` → `{namespaces: {name: {vectorCount}},
  dimension, indexFullness, totalVectorCount, metric, vectorType}`; `POST /vectors/update`;
  `GET /namespaces`, `GET|DELETE /namespaces/{name}` (`Index.delete_namespace`).
  The client omits `namespace` for the default one; it is reported as `"__default__"`
  (as `DescribeIndexStatsResponse` documents) and `""`/`"__default__"` address the same data.
* errors: control plane `{"error": {"code": "NOT_FOUND", "message": ...}, "status": 404}`
  (the OpenAPI `ErrorResponse`); data plane gRPC-gateway style `{"code": 3, "message": ...,
  "details": []}`, e.g. `Vector dimension 3 does not match the dimension of the index 4`
  (seen verbatim in https://github.com/probots-io/pinecone-php/issues/15). Status codes per
  https://docs.pinecone.io/reference/api/errors: 400 invalid argument, 401 bad/missing
  `Api-Key`, 403 quota exceeded or deletion protection, 404, 409 already exists, 413 body over
  the size cap (the client's `PayloadTooLargeError` and its bulk halving key on 413), 429, 5xx.

Limits enforced (https://docs.pinecone.io/reference/api/database-limits/operation-limits,
.../identifier-limits, https://docs.pinecone.io/guides/data/understanding-metadata):
upsert ≤ 1000 vectors (400) and ≤ 2 MB body (413); metadata ≤ 40 KB per record (compact JSON
bytes); record id 1-512 characters, no NUL; values must match the index dimension, be finite
and not all zero ("Dense vectors must contain at least one non-zero value"); metadata values are
strings, numbers, booleans or lists of strings; topK 1-10000; fetch and delete ≤ 1000 ids; list
limit 1-100; dimension 1-20000; index names 1-45 of `[a-z0-9-]`, alphanumeric at both ends; at
most `max_indexes` indexes (403 FORBIDDEN, the serverless quota error). Metadata values that are
null are stripped on write, not refused: the docs say nulls are "not supported", and the client
(`pinecone/_internal/vector_factory.py::_validate_metadata`) documents that the server strips
them (`NullHandling::Strip`) and deliberately lets them through. Numbers are stored as 64-bit
floats and written back like protobuf JSON does (whole numbers without `.0`).

Filter semantics (https://docs.pinecone.io/guides/search/filter-by-metadata):
`{"f": v}` is `{"f": {"$eq": v}}`; several keys, or several operators on one key, are ANDed;
`$and`/`$or` take non-empty lists of filters. `$eq`/`$ne` take a string, number or boolean;
`$in`/`$nin` a list of strings or numbers; `$gt $gte $lt $lte` a number and match only number
values (no string ordering); `$exists` a boolean. Numbers compare as floats (`1 == 1.0`), a
boolean never equals a number, a string never equals a number. On a list-of-strings field a
filter matches when any element satisfies it (`$eq`, `$in`) and `$ne`/`$nin` match when no
element does (https://docs.pinecone.io/guides/assistant/file-metadata, "Metadata query
language"). Records without the field never match `$eq $ne $in $nin $gt..` — only
`{"$exists": false}` selects them: serverless `$ne` stopped matching records lacking the field
(https://github.com/deepset-ai/haystack-core-integrations/issues/590). Unknown operators, a
bare operator at the top level, or wrong operand types are a 400. An empty filter matches
everything in a query and is refused by delete ("Delete with empty metadata filter is not
allowed", the message the client quotes). `describe_index_stats` with a filter is a 400
(serverless indexes do not support it).

Scores: cosine similarity, dot product, and for `euclidean` the squared Euclidean distance,
lower being closer (https://docs.pinecone.io/guides/index-data/indexing-overview#similarity-metrics;
the client's `ScoredVector.score` says "lower is closer for euclidean"). Matches are sorted best
first, ties by id. A query in a namespace that does not exist returns no matches; a delete in
a namespace that does not exist is a 404 "Namespace not found" (serverless behaviour reported in
https://github.com/pinecone-io/pinecone-ts-client/issues/324), except for the default namespace,
which always exists.

Test hooks: every request is logged in `requests` as `(method, path, body)` (path as sent,
with prefix and query string) and counted per path (`calls`); `fail_next` / `hang_next` queue
faults (matched by `path_contains`), applied before authentication; `reset()` clears them.
The SDK retries 408/429/5xx and transport errors 3 times and keeps a process-wide retry budget
per host: `reset_client_retry_state()` refills it between tests.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote

MAX_HANG_SECONDS = 30.0  # a hang never outlives this, whatever a test asks
MAX_UPSERT_VECTORS = 1000
MAX_UPSERT_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 512
MAX_TOP_K = 10_000
MAX_FETCH_IDS = 1000
MAX_DELETE_IDS = 1000
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 100
MAX_DIMENSION = 20_000
MAX_INDEX_NAME_LENGTH = 45
DEFAULT_MAX_INDEXES = 20
DEFAULT_NAMESPACE = "__default__"
DATA_PREFIX = "/data/"
METRICS = ("cosine", "dotproduct", "euclidean")
API_VERSION_HEADER = "X-Pinecone-Api-Version"
MAX_BODY_BYTES = 8 * 1024 * 1024  # hard cap: larger bodies are not even read
MAX_CONNECTIONS = 256
MAX_LOGGED_REQUESTS = 10_000
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

_INDEX_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

# gRPC status codes used in data-plane error bodies.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 413: 8, 429: 8, 500: 13, 503: 14}
# Error codes used in control-plane error bodies (the OpenAPI ErrorResponse enum).
CONTROL_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "UNKNOWN",
    503: "UNAVAILABLE",
}
_FAULT_MESSAGES = {
    429: "Too many requests. Please retry shortly. (injected by the loopback server)",
    503: "Service unavailable. (injected by the loopback server)",
}

Json = dict[str, Any]
Metadata = dict[str, Any]
Predicate = Callable[[Mapping[str, Any]], bool]


class RecordedRequest(NamedTuple):
    """One request as received: `path` is as sent (index prefix and query string included),
    `body` the parsed JSON, or the raw text when it is not JSON, or None when empty."""

    method: str
    path: str
    body: Any


class ApiFailure(Exception):
    """A request the server refuses: answered with `status` and Pinecone's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _invalid(message: str) -> ApiFailure:
    return ApiFailure(400, message)


# ---------------------------------------------------------------------------------------------
# Storage


@dataclass
class Record:
    values: list[float]
    metadata: Metadata | None


@dataclass
class IndexState:
    name: str
    dimension: int
    metric: str
    cloud: str = "aws"
    region: str = "us-east-1"
    deletion_protection: str = "disabled"
    tags: dict[str, str] | None = None
    ready_at: float = 0.0  # time.monotonic() from which status.ready is true
    namespaces: dict[str, dict[str, Record]] = field(default_factory=dict)

    def namespace(self, name: str) -> dict[str, Record]:
        return self.namespaces.get(name, {})

    def namespace_exists(self, name: str) -> bool:
        return name == DEFAULT_NAMESPACE or name in self.namespaces

    def prune(self, name: str) -> None:
        """Pinecone drops a namespace once its last record is deleted."""
        if name in self.namespaces and not self.namespaces[name]:
            del self.namespaces[name]


@dataclass
class _Fault:
    remaining: int
    path_contains: str | None
    status: int = 0  # 0: no error status, just the hang
    retry_after: str | None = None
    hang_seconds: float = 0.0

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path_contains is None or self.path_contains in path)


@dataclass
class _State:
    api_key: str
    max_indexes: int
    ready_delay: float
    lock: threading.RLock = field(default_factory=threading.RLock)
    indexes: dict[str, IndexState] = field(default_factory=dict)
    default_index: str | None = None
    url: str = ""
    requests: deque[RecordedRequest] = field(default_factory=lambda: deque(maxlen=MAX_LOGGED_REQUESTS))
    api_versions: deque[str | None] = field(default_factory=lambda: deque(maxlen=MAX_LOGGED_REQUESTS))
    counts: Counter[str] = field(default_factory=Counter)
    faults: list[_Fault] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def take_fault(self, path: str) -> _Fault | None:
        """The first queued fault matching `path`, one use of it consumed (FIFO across calls)."""
        with self.lock:
            fault = next((fault for fault in self.faults if fault.matches(path)), None)
            if fault is not None:
                fault.remaining -= 1
                self.faults = [queued for queued in self.faults if queued.remaining > 0]
            return fault


# ---------------------------------------------------------------------------------------------
# The server object


class LoopbackPinecone:
    """The server, on 127.0.0.1 and a free port, served from a daemon thread. Use it as a context
    manager (or `start()` / `stop()`)."""

    def __init__(
        self,
        api_key: str = "pc-loopback-test-key",
        *,
        max_indexes: int = DEFAULT_MAX_INDEXES,
        ready_delay: float = 0.0,
    ) -> None:
        self._state = _State(api_key=api_key, max_indexes=max_indexes, ready_delay=ready_delay)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackPinecone:
        if self._server is not None:
            return self
        self._state.stopping.clear()
        server = _Server(("127.0.0.1", 0), _handler_for(self._state))
        self._server = server
        self._state.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-pinecone", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()  # releases hanging handlers at once
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LoopbackPinecone:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the control-plane host, and the bare data-plane host."""
        if self._server is None:
            raise RuntimeError("the loopback server is not running")
        return self._state.url

    def index_host(self, name: str) -> str:
        """The host `describe_index(name)` reports: `{url}/data/{name}`."""
        return _host_for(self.url, name)

    # -- configuration -----------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self._state.api_key

    @property
    def max_indexes(self) -> int:
        return self._state.max_indexes

    @max_indexes.setter
    def max_indexes(self, value: int) -> None:
        self._state.max_indexes = value

    @property
    def ready_delay(self) -> float:
        """Seconds a new index reports `status.ready: false` (state "Initializing")."""
        return self._state.ready_delay

    @ready_delay.setter
    def ready_delay(self, value: float) -> None:
        self._state.ready_delay = value

    @property
    def default_index(self) -> str | None:
        """The index data-plane calls without a `/data/{name}` prefix go to (None: the only one)."""
        return self._state.default_index

    @default_index.setter
    def default_index(self, value: str | None) -> None:
        self._state.default_index = value

    # -- seeding and inspection --------------------------------------------------------------

    def create_index(
        self, name: str, dimension: int, metric: str = "cosine", cloud: str = "aws", region: str = "us-east-1"
    ) -> str:
        """Create a ready index directly (no HTTP, no quota check); returns its host."""
        _check_index_args(name, dimension, metric)
        with self._state.lock:
            if name in self._state.indexes:
                raise ValueError(f"index {name!r} already exists")
            self._state.indexes[name] = IndexState(name, dimension, metric, cloud, region)
        return self.index_host(name)

    def index_names(self) -> list[str]:
        with self._state.lock:
            return list(self._state.indexes)

    def records(self, index: str, namespace: str = "") -> dict[str, tuple[list[float], Metadata | None]]:
        """A copy of one namespace: id → (values, metadata as stored)."""
        with self._state.lock:
            stored = self._state.indexes[index].namespace(namespace or DEFAULT_NAMESPACE)
            return {
                rid: (list(rec.values), None if rec.metadata is None else dict(rec.metadata))
                for rid, rec in stored.items()
            }

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def api_versions(self) -> list[str | None]:
        """The `X-Pinecone-Api-Version` of each logged request (None when absent), in order."""
        with self._state.lock:
            return list(self._state.api_versions)

    def calls(self, path: str) -> int:
        """Requests received for `path`: either the data-plane path without the index prefix
        (`"/vectors/upsert"`, counting every index) or the full path (`"/data/docs/query"`).
        Query strings are ignored; failed, refused and hung requests count too."""
        with self._state.lock:
            return self._state.counts[path]

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        path_contains: str | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """The next `n` requests whose path contains `path_contains` (any, if None) get `status`
        with Pinecone's error body for their plane (and a `Retry-After` header if given)."""
        header = None if retry_after is None else str(retry_after)
        with self._state.lock:
            self._state.faults.append(_Fault(n, path_contains, status=status, retry_after=header))

    def hang_next(self, n: int = 1, seconds: float = 5.0, path_contains: str | None = None) -> None:
        """The next `n` matching requests wait `seconds` (at most MAX_HANG_SECONDS) and are then
        answered normally; `stop()` ends the wait and drops the connection unanswered."""
        hang = min(max(seconds, 0.0), MAX_HANG_SECONDS)
        with self._state.lock:
            self._state.faults.append(_Fault(n, path_contains, hang_seconds=hang))

    def reset(self, *, data: bool = True) -> None:
        """Clear queued faults, the request log and the counters, and (unless `data=False`) every
        index; restore `default_index` to None."""
        with self._state.lock:
            self._state.faults.clear()
            self._state.requests.clear()
            self._state.api_versions.clear()
            self._state.counts.clear()
            if data:
                self._state.indexes.clear()
                self._state.default_index = None


def reset_client_retry_state() -> None:
    """Refill the pinecone SDK's process-wide retry budget and adaptive gates.

    The SDK stops retrying a host once half its per-host token budget is spent (one token per
    retryable failure, 0.1 back per success), and every test here talks to 127.0.0.1: without
    this, injected failures in one test change how many attempts the next one makes."""
    from pinecone._internal.bulk import get_registry
    from pinecone._internal.http_client import get_budget_registry

    get_budget_registry()._reset()
    get_registry()._reset()


def _host_for(url: str, name: str) -> str:
    return f"{url}{DATA_PREFIX}{name}"


# ---------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer with a bound on open connections that can close them all on stop."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= MAX_CONNECTIONS
            if not full:
                self._open.add(request)
        if full:
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away (timeout tests, stop()): nothing to report
        super().handle_error(request, client_address)


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(_PineconeHandler):
        pass

    Handler.state = state
    return Handler


class _PineconeHandler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    timeout = 5  # an idle keep-alive connection frees its thread after this many seconds
    wbufsize = 64 * 1024  # headers and body leave in one segment (flushed after each request)

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and delayed ACKs add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    # -- one request -------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        raw = self._read_body()
        if raw is None:
            return
        path, _, query = self.path.partition("?")
        index_name, logical = _split_index(path)
        control = index_name is None and (logical == "/indexes" or logical.startswith("/indexes/"))
        self._record(method, path, logical, raw)
        fault = self.state.take_fault(self.path)
        if fault is not None and fault.hang_seconds and self.state.stopping.wait(fault.hang_seconds):
            self.close_connection = True  # shutting down: drop the connection unanswered
            return
        if fault is not None and fault.status:
            self._fault(fault, control)
            return
        try:
            self._authorize()
            body = _parse_json(raw)
            if control:
                status, payload = _control_plane(self.state, method, logical, body)
            else:
                status, payload = _data_plane(self.state, method, index_name, logical, body, query, len(raw))
        except ApiFailure as failure:
            self._error(failure.status, failure.message, control)
            return
        self._send(status, payload)

    def _read_body(self) -> bytes | None:
        """The request body; None (after answering 413 and closing) when it is over the hard cap."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(413, f"Request size {length} bytes is too large", control=False)
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise ConnectionError("chunked body over the loopback server's hard cap")
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _record(self, method: str, path: str, logical: str, raw: bytes) -> None:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = f"?{self.path.partition('?')[2]}" if "?" in self.path else ""
        with self.state.lock:
            self.state.requests.append(RecordedRequest(method, path + query, body))
            self.state.api_versions.append(self.headers.get(API_VERSION_HEADER))
            self.state.counts[logical] += 1
            if logical != path:
                self.state.counts[path] += 1

    def _authorize(self) -> None:
        if self.headers.get("Api-Key") != self.state.api_key:
            raise ApiFailure(401, "Invalid API Key")
        if not self.headers.get(API_VERSION_HEADER):
            raise _invalid(f"Missing {API_VERSION_HEADER} header")

    # -- answers -----------------------------------------------------------------------------

    def _fault(self, fault: _Fault, control: bool) -> None:
        headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
        message = _FAULT_MESSAGES.get(fault.status, "Internal error. (injected by the loopback server)")
        self._error(fault.status, message, control, headers)

    def _error(self, status: int, message: str, control: bool, headers: dict[str, str] | None = None) -> None:
        self._send(status, _error_body(status, message, control), headers)

    def _send(self, status: int, payload: Json | None, headers: dict[str, str] | None = None) -> None:
        encoded = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode("utf-8")
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.send_header("x-pinecone-request-id", uuid.uuid4().hex)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(encoded)
        except OSError:
            self.close_connection = True  # the client gave up (a timeout test): nothing to answer


def _split_index(path: str) -> tuple[str | None, str]:
    """`/data/{name}/rest` → (name, `/rest`); any other path → (None, path)."""
    if not path.startswith(DATA_PREFIX):
        return None, path
    name, slash, rest = path[len(DATA_PREFIX) :].partition("/")
    return unquote(name), slash + rest


def _error_body(status: int, message: str, control: bool) -> Json:
    if control:
        return {"error": {"code": CONTROL_CODES.get(status, "UNKNOWN"), "message": message}, "status": status}
    return {"code": GRPC_CODES.get(status, 2), "message": message, "details": []}


def _parse_json(raw: bytes) -> Json:
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _invalid(f"Failed to deserialize the JSON body into the target type: {exc}") from None
    if not isinstance(body, dict):
        raise _invalid("Failed to deserialize the JSON body into the target type: expected an object")
    return body


# ---------------------------------------------------------------------------------------------
# Control plane


def _control_plane(state: _State, method: str, path: str, body: Json) -> tuple[int, Json | None]:
    name = unquote(path[len("/indexes/") :]) if path.startswith("/indexes/") else None
    with state.lock:
        if name is None and method == "GET":
            return 200, {"indexes": [_index_model(state, idx) for idx in state.indexes.values()]}
        if name is None and method == "POST":
            return 201, _index_model(state, _create_index(state, body))
        if name is None or "/" in name:
            raise ApiFailure(404, f"Unknown route: {method} {path}")
        index = state.indexes.get(name)
        if index is None:
            raise ApiFailure(404, f"Resource {name} not found")
        if method == "GET":
            return 200, _index_model(state, index)
        if method == "DELETE":
            if index.deletion_protection == "enabled":
                raise ApiFailure(403, f"Deletion protection is enabled for this index: {name}")
            del state.indexes[name]
            return 202, None
        if method == "PATCH":
            _configure_index(index, body)
            return 200, _index_model(state, index)
    raise ApiFailure(404, f"Unknown route: {method} {path}")


def _create_index(state: _State, body: Json) -> IndexState:
    name = body.get("name") or f"index-{uuid.uuid4().hex[:8]}"
    dimension, metric = _vector_field(body)
    cloud, region = _deployment(body)
    _check_index_args(name, dimension, metric)
    if name in state.indexes:
        raise ApiFailure(409, f"Resource {name} already exists")
    if len(state.indexes) >= state.max_indexes:
        raise ApiFailure(
            403,
            f"Request failed. You've reached the max serverless indexes allowed in project Default "
            f"({state.max_indexes}). To add more serverless indexes, upgrade your plan.",
        )
    index = IndexState(name, dimension, metric, cloud, region, ready_at=time.monotonic() + state.ready_delay)
    _configure_index(index, body)
    state.indexes[name] = index
    return index


def _check_index_args(name: Any, dimension: Any, metric: Any) -> None:
    if not isinstance(name, str) or len(name) > MAX_INDEX_NAME_LENGTH or not _INDEX_NAME.fullmatch(name):
        raise _invalid(
            f"Invalid index name {name!r}: it must be 1-{MAX_INDEX_NAME_LENGTH} characters of lower case "
            "alphanumerics or '-', and start and end with an alphanumeric character"
        )
    if isinstance(dimension, bool) or not isinstance(dimension, int) or not 1 <= dimension <= MAX_DIMENSION:
        raise _invalid(f"Dimension must be an integer between 1 and {MAX_DIMENSION}, got {dimension!r}")
    if metric not in METRICS:
        raise _invalid(f"Metric must be one of {', '.join(METRICS)}, got {metric!r}")


def _vector_field(body: Json) -> tuple[Any, Any]:
    """(dimension, metric) from a 2026-07 `schema` or a 2025-10 `dimension`/`metric` body."""
    schema = body.get("schema")
    if schema is None:
        return body.get("dimension"), body.get("metric", "cosine")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, dict) or not fields:
        raise _invalid("schema.fields must declare at least one field")
    dense = [f for f in fields.values() if isinstance(f, dict) and f.get("type") == "dense_vector"]
    if len(dense) != 1 or len(fields) != 1:
        raise _invalid("The loopback server supports indexes with exactly one dense_vector field")
    return dense[0].get("dimension"), dense[0].get("metric", "cosine")


def _deployment(body: Json) -> tuple[str, str]:
    deployment = body.get("deployment")
    if isinstance(deployment, dict):
        if deployment.get("deployment_type", "managed") != "managed":
            raise _invalid("The loopback server supports managed (serverless) deployments only")
        return str(deployment.get("cloud", "aws")), str(deployment.get("region", "us-east-1"))
    spec = body.get("spec")
    if isinstance(spec, dict):
        serverless = spec.get("serverless")
        if not isinstance(serverless, dict):
            raise _invalid("The loopback server supports serverless specs only")
        return str(serverless.get("cloud", "aws")), str(serverless.get("region", "us-east-1"))
    return "aws", "us-east-1"


def _configure_index(index: IndexState, body: Json) -> None:
    protection = body.get("deletion_protection")
    if protection is not None:
        if protection not in ("enabled", "disabled"):
            raise _invalid(f"deletion_protection must be 'enabled' or 'disabled', got {protection!r}")
        index.deletion_protection = protection
    tags = body.get("tags")
    if isinstance(tags, dict):
        merged = {**(index.tags or {}), **{str(k): str(v) for k, v in tags.items()}}
        index.tags = {k: v for k, v in merged.items() if v != ""} or None


def _index_model(state: _State, index: IndexState) -> Json:
    ready = time.monotonic() >= index.ready_at
    return {
        "name": index.name,
        "host": _host_for(state.url, index.name),
        "status": {"ready": ready, "state": "Ready" if ready else "Initializing"},
        "schema": {
            "fields": {
                "_values": {"type": "dense_vector", "dimension": index.dimension, "metric": index.metric}
            }
        },
        "deployment": {"deployment_type": "managed", "cloud": index.cloud, "region": index.region},
        "deletion_protection": index.deletion_protection,
        "tags": index.tags,
        "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
        # The 2025-10 shape, for clients that still read it.
        "dimension": index.dimension,
        "metric": index.metric,
        "vector_type": "dense",
        "spec": {"serverless": {"cloud": index.cloud, "region": index.region}},
    }


# ---------------------------------------------------------------------------------------------
# Data plane

DataHandler = Callable[[IndexState, Json, dict[str, list[str]], int], Json]


def _data_plane(
    state: _State, method: str, index_name: str | None, path: str, body: Json, query: str, size: int
) -> tuple[int, Json]:
    params = parse_qs(query, keep_blank_values=True)
    with state.lock:
        index = _resolve_index(state, index_name)
        handler = _DATA_ROUTES.get((method, path))
        if handler is not None:
            return 200, handler(index, body, params, size)
        if path.startswith("/namespaces/") and method in ("GET", "DELETE"):
            return 200, _namespace_route(index, method, unquote(path[len("/namespaces/") :]))
    raise ApiFailure(404, f"Unknown route: {method} {path}")


def _resolve_index(state: _State, name: str | None) -> IndexState:
    if name is None:
        name = state.default_index
        if name is None and len(state.indexes) == 1:
            name = next(iter(state.indexes))
        if name is None:
            raise ApiFailure(
                404, "No index at this host: use the host describe_index reports, or set default_index"
            )
    index = state.indexes.get(name)
    if index is None:
        raise ApiFailure(404, f"Index {name} not found")
    return index


def _namespace_param(value: Any) -> str:
    """The stored name of the namespace a request addresses ("" and absent → the default)."""
    if value is None or value == "":
        return DEFAULT_NAMESPACE
    if not isinstance(value, str):
        raise _invalid("namespace must be a string")
    if len(value) > MAX_NAMESPACE_LENGTH or "\x00" in value:
        raise _invalid(f"Namespace name must be 1-{MAX_NAMESPACE_LENGTH} characters without NUL")
    return value


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


# -- upsert ------------------------------------------------------------------------------------


def _upsert(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    if size > MAX_UPSERT_BYTES:
        raise ApiFailure(
            413, f"Request size {size / 1024 / 1024:.1f}MB exceeds the maximum supported size of 2MB"
        )
    vectors = body.get("vectors")
    if not isinstance(vectors, list) or not vectors:
        raise _invalid("vectors must be a non-empty list")
    if len(vectors) > MAX_UPSERT_VECTORS:
        raise _invalid(
            f"Invalid request: the maximum number of vectors per upsert is {MAX_UPSERT_VECTORS}, "
            f"got {len(vectors)}"
        )
    namespace = _namespace_param(body.get("namespace"))
    records = [_parse_vector(index, item) for item in vectors]
    target = index.namespaces.setdefault(namespace, {})
    for record_id, record in records:
        target[record_id] = record
    return {"upsertedCount": len(records)}


def _parse_vector(index: IndexState, item: Any) -> tuple[str, Record]:
    if not isinstance(item, dict):
        raise _invalid("each vector must be an object with id and values")
    record_id = _check_id(item.get("id"))
    if item.get("sparseValues") is not None or item.get("sparse_values") is not None:
        raise _invalid("Sparse values are not supported by the loopback server (dense indexes only)")
    values = _check_values(item.get("values"), index.dimension, "Vector")
    return record_id, Record(values, _check_metadata(item.get("metadata")))


def _check_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid("Vector ID must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise _invalid(f"Vector ID must be {MAX_ID_LENGTH} characters or less, got {len(value)}")
    if "\x00" in value:
        raise _invalid("Vector ID must not contain null characters")
    return value


def _check_values(values: Any, dimension: int, what: str) -> list[float]:
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise _invalid(f"{what} values must be a list of numbers")
    if len(values) != dimension:
        raise _invalid(
            f"{what} dimension {len(values)} does not match the dimension of the index {dimension}"
        )
    floats = [float(v) for v in values]
    if not all(math.isfinite(v) for v in floats):
        raise _invalid(f"{what} values must be finite numbers")
    if not any(floats):
        raise _invalid("Dense vectors must contain at least one non-zero value")
    return floats


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_metadata(metadata: Any) -> Metadata | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise _invalid("metadata must be an object")
    stored: Metadata = {}
    for key, value in metadata.items():
        if value is None:
            continue  # the server strips nulls (NullHandling::Strip)
        stored[key] = _metadata_value(key, value)
    encoded = len(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if encoded > MAX_METADATA_BYTES:
        raise _invalid(
            f"Metadata size is {encoded} bytes, which exceeds the limit of {MAX_METADATA_BYTES} bytes "
            "per vector"
        )
    return stored or None


def _metadata_value(key: str, value: Any) -> Any:
    if isinstance(value, (str, bool)):
        return value
    if _is_number(value) and math.isfinite(float(value)):
        return float(value)  # "gets converted to a 64 bit floating point"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    rendered = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    raise _invalid(
        f"Metadata value must be a string, number, boolean or list of strings, "
        f"got '{rendered[:100]}' for field '{key}'"
    )


# -- query -------------------------------------------------------------------------------------


def _query(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    top_k = body.get("topK")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise _invalid(f"topK must be an integer between 1 and {MAX_TOP_K}, got {top_k!r}")
    if body.get("sparseVector") is not None:
        raise _invalid("Sparse query vectors are not supported by the loopback server (dense indexes only)")
    namespace = _namespace_param(body.get("namespace"))
    records = index.namespace(namespace)
    vector = _query_vector(index, body, records)
    predicate = _compile_filter_param(body.get("filter"))
    scored = [
        (_score(index.metric, vector, rec.values), rid, rec)
        for rid, rec in records.items()
        if vector is not None and predicate(rec.metadata or {})
    ]
    lower_is_better = index.metric == "euclidean"
    scored.sort(key=lambda item: (item[0] if lower_is_better else -item[0], item[1]))
    include_values = bool(body.get("includeValues"))
    include_metadata = bool(body.get("includeMetadata"))
    matches = [
        _match(rid, score, rec, include_values, include_metadata) for score, rid, rec in scored[:top_k]
    ]
    return {"matches": matches, "namespace": body.get("namespace") or "", "usage": {"readUnits": 1}}


def _query_vector(index: IndexState, body: Json, records: dict[str, Record]) -> list[float] | None:
    """The query vector, or None when querying by an id that does not exist (no matches)."""
    has_vector = body.get("vector") is not None
    has_id = body.get("id") is not None
    if has_vector == has_id:
        raise _invalid("Exactly one of vector or id must be provided")
    if has_vector:
        return _check_values(body["vector"], index.dimension, "Query vector")
    record = records.get(_check_id(body["id"]))
    return None if record is None else record.values


def _score(metric: str, a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    if metric == "dotproduct":
        return dot
    if metric == "euclidean":
        return math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b)))


def _match(rid: str, score: float, rec: Record, include_values: bool, include_metadata: bool) -> Json:
    match: Json = {"id": rid, "score": score}
    if include_values:
        match["values"] = list(rec.values)
    if include_metadata and rec.metadata:
        match["metadata"] = _metadata_out(rec.metadata)
    return match


def _vector_out(rid: str, rec: Record) -> Json:
    vector: Json = {"id": rid, "values": list(rec.values)}
    if rec.metadata:
        vector["metadata"] = _metadata_out(rec.metadata)
    return vector


def _metadata_out(metadata: Metadata) -> Metadata:
    """Stored metadata as protobuf JSON writes it: whole float64 numbers without a fraction."""
    return {key: _number_out(value) for key, value in metadata.items()}


def _number_out(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


# -- fetch, list, delete, update, stats, namespaces --------------------------------------------


def _fetch(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    ids = params.get("ids") or []
    if not ids:
        raise _invalid("ids must contain at least one id")
    if len(ids) > MAX_FETCH_IDS:
        raise _invalid(f"Cannot fetch more than {MAX_FETCH_IDS} ids in one request, got {len(ids)}")
    raw_namespace = _single(params, "namespace")
    records = index.namespace(_namespace_param(raw_namespace))
    vectors: Json = {}
    for rid in ids:
        rec = records.get(_check_id(rid))
        if rec is not None:
            vectors[rid] = _vector_out(rid, rec)
    return {"vectors": vectors, "namespace": raw_namespace or "", "usage": {"readUnits": 1}}


def _list(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    raw_namespace = _single(params, "namespace")
    prefix = _single(params, "prefix") or ""
    limit = _list_limit(_single(params, "limit"))
    after = _decode_token(_single(params, "paginationToken"))
    ids = sorted(rid for rid in index.namespace(_namespace_param(raw_namespace)) if rid.startswith(prefix))
    if after is not None:
        ids = [rid for rid in ids if rid > after]
    page = ids[:limit]
    result: Json = {
        "vectors": [{"id": rid} for rid in page],
        "namespace": raw_namespace or "",
        "usage": {"readUnits": 1},
    }
    if len(ids) > limit:
        result["pagination"] = {"next": _encode_token(page[-1])}
    return result


def _list_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIST_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise _invalid(f"limit must be an integer, got {raw!r}") from None
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise _invalid(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
    return limit


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode("utf-8")).decode("ascii")


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _invalid("Invalid pagination token") from None
    if not isinstance(after, str):
        raise _invalid("Invalid pagination token")
    return after


def _delete(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    namespace = _namespace_param(body.get("namespace"))
    doomed = _delete_selector(body)
    if not index.namespace_exists(namespace):
        raise ApiFailure(404, "Namespace not found")
    records = index.namespaces.get(namespace, {})
    for rid in [rid for rid, rec in records.items() if doomed(rid, rec)]:
        del records[rid]
    index.prune(namespace)
    return {}


def _delete_selector(body: Json) -> Callable[[str, Record], bool]:
    """Which records a delete request removes: all, those matching its filter, or its ids."""
    ids, delete_all, filter_spec = body.get("ids"), bool(body.get("deleteAll")), body.get("filter")
    if delete_all and ids is not None:
        raise _invalid("No explicit IDs allowed when delete_all=true")
    if delete_all and filter_spec is not None:
        raise _invalid("No filter allowed when delete_all=true")
    if delete_all:
        return lambda rid, rec: True
    if filter_spec is not None:  # the server ignores ids once a filter is present
        if not filter_spec:
            raise _invalid("Delete with empty metadata filter is not allowed")
        predicate = compile_filter(filter_spec)
        return lambda rid, rec: predicate(rec.metadata or {})
    if ids is None:
        raise _invalid("Must specify one of ids, deleteAll or filter")
    wanted = set(_check_delete_ids(ids))
    return lambda rid, rec: rid in wanted


def _check_delete_ids(ids: Any) -> list[str]:
    if not isinstance(ids, list) or not ids:
        raise _invalid("ids must be a non-empty list")
    if len(ids) > MAX_DELETE_IDS:
        raise _invalid(f"Cannot delete more than {MAX_DELETE_IDS} ids in one request, got {len(ids)}")
    return [_check_id(rid) for rid in ids]


def _update(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    namespace = _namespace_param(body.get("namespace"))
    records = index.namespace(namespace)
    set_metadata = body.get("setMetadata")
    patch = _check_metadata(set_metadata) if set_metadata is not None else None
    if body.get("id") is not None and body.get("filter") is not None:
        raise _invalid("Exactly one of id or filter must be provided")
    if body.get("id") is not None:
        rec = records.get(_check_id(body["id"]))
        if rec is not None:
            if body.get("values") is not None:
                rec.values = _check_values(body["values"], index.dimension, "Vector")
            if patch:
                rec.metadata = {**(rec.metadata or {}), **patch}
        return {}
    filter_spec = body.get("filter")
    if not filter_spec:
        raise _invalid("Update with empty metadata filter is not allowed")
    predicate = compile_filter(filter_spec)
    matched = [rec for rec in records.values() if predicate(rec.metadata or {})]
    if patch and not body.get("dryRun"):
        for rec in matched:
            rec.metadata = {**(rec.metadata or {}), **patch}
    return {"matchedRecords": len(matched)}


def _stats(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    if body.get("filter"):
        raise _invalid("describe_index_stats does not support filtering for serverless indexes")
    namespaces = {name: {"vectorCount": len(recs)} for name, recs in sorted(index.namespaces.items()) if recs}
    return {
        "namespaces": namespaces,
        "dimension": index.dimension,
        "indexFullness": 0.0,
        "totalVectorCount": sum(len(recs) for recs in index.namespaces.values()),
        "metric": index.metric,
        "vectorType": "dense",
    }


def _list_namespaces(index: IndexState, body: Json, params: dict[str, list[str]], size: int) -> Json:
    prefix = _single(params, "prefix") or ""
    names = [name for name, recs in sorted(index.namespaces.items()) if recs and name.startswith(prefix)]
    return {
        "namespaces": [{"name": name, "record_count": str(len(index.namespaces[name]))} for name in names],
        "total_count": len(names),
    }


def _namespace_route(index: IndexState, method: str, name: str) -> Json:
    namespace = _namespace_param(name)
    if not index.namespace_exists(namespace):
        raise ApiFailure(404, "Namespace not found")
    if method == "DELETE":
        index.namespaces.pop(namespace, None)
        return {}
    return {"name": namespace, "record_count": str(len(index.namespace(namespace)))}


_DATA_ROUTES: dict[tuple[str, str], DataHandler] = {
    ("POST", "/vectors/upsert"): _upsert,
    ("POST", "/query"): _query,
    ("GET", "/vectors/fetch"): _fetch,
    ("GET", "/vectors/list"): _list,
    ("POST", "/vectors/delete"): _delete,
    ("POST", "/vectors/update"): _update,
    ("POST", "/describe_index_stats"): _stats,
    ("GET", "/describe_index_stats"): _stats,
    ("GET", "/namespaces"): _list_namespaces,
}


# ---------------------------------------------------------------------------------------------
# Metadata filters


def compile_filter(spec: Any) -> Predicate:
    """Validate a Pinecone metadata filter and turn it into a predicate over a record's metadata.
    Raises ApiFailure(400) for a malformed filter. Semantics: see the module docstring."""
    if not isinstance(spec, dict):
        raise _invalid("filter must be an object")
    clauses: list[Predicate] = []
    for key, value in spec.items():
        if key in ("$and", "$or"):
            parts = _compile_list(key, value)
            clauses.append(_all_of(parts) if key == "$and" else _any_of(parts))
        elif key.startswith("$"):
            raise _invalid(f"Invalid filter: operator {key} is not allowed at the top level")
        else:
            clauses.append(_compile_field(key, value))
    return _all_of(clauses)


def _compile_filter_param(spec: Any) -> Predicate:
    return _all_of([]) if spec is None else compile_filter(spec)


def _compile_list(operator: str, value: Any) -> list[Predicate]:
    if not isinstance(value, list) or not value:
        raise _invalid(f"Invalid filter: {operator} takes a non-empty list of filters")
    return [compile_filter(item) for item in value]


def _all_of(parts: list[Predicate]) -> Predicate:
    return lambda metadata: all(part(metadata) for part in parts)


def _any_of(parts: list[Predicate]) -> Predicate:
    return lambda metadata: any(part(metadata) for part in parts)


def _compile_field(field_name: str, condition: Any) -> Predicate:
    if not isinstance(condition, dict):
        return _field_operator(field_name, "$eq", condition)
    if not condition:
        raise _invalid(f"Invalid filter: empty condition for field {field_name}")
    return _all_of([_field_operator(field_name, op, operand) for op, operand in condition.items()])


def _field_operator(field_name: str, operator: str, operand: Any) -> Predicate:
    test = _operator_test(field_name, operator, operand)
    if operator == "$exists":
        return lambda metadata: (field_name in metadata) == operand
    return lambda metadata: field_name in metadata and test(metadata[field_name])


def _operator_test(field_name: str, operator: str, operand: Any) -> Callable[[Any], bool]:
    if operator in ("$eq", "$ne"):
        _require_scalar(field_name, operator, operand)
        if operator == "$eq":
            return lambda stored: _any_element(stored, lambda v: _same(v, operand))
        return lambda stored: not _any_element(stored, lambda v: _same(v, operand))
    if operator in ("$in", "$nin"):
        _require_choices(field_name, operator, operand)
        if operator == "$in":
            return lambda stored: _any_element(stored, lambda v: _one_of(v, operand))
        return lambda stored: not _any_element(stored, lambda v: _one_of(v, operand))
    if operator in _COMPARISONS:
        if not _is_number(operand):
            raise _invalid(f"Invalid filter: {operator} on {field_name} takes a number, got {operand!r}")
        compare = _COMPARISONS[operator]
        return lambda stored: _is_number(stored) and compare(float(stored), float(operand))
    if operator == "$exists":
        if not isinstance(operand, bool):
            raise _invalid(f"Invalid filter: $exists on field {field_name} takes a boolean, got {operand!r}")
        return lambda stored: True
    raise _invalid(f"Invalid filter: unknown operator {operator} on field {field_name}")


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _require_scalar(field_name: str, operator: str, operand: Any) -> None:
    if not (isinstance(operand, (str, bool)) or (_is_number(operand) and math.isfinite(operand))):
        raise _invalid(
            f"Invalid filter: {operator} on {field_name} takes a string, number or boolean, got {operand!r}"
        )


def _require_choices(field_name: str, operator: str, operand: Any) -> None:
    if not isinstance(operand, list) or not all(isinstance(v, str) or _is_number(v) for v in operand):
        raise _invalid(
            f"Invalid filter: {operator} on {field_name} takes a list of strings or numbers, got {operand!r}"
        )


def _any_element(stored: Any, test: Callable[[Any], bool]) -> bool:
    """A list-of-strings field satisfies a test when any element does."""
    elements: Iterable[Any] = stored if isinstance(stored, list) else (stored,)
    return any(test(value) for value in elements)


def _same(stored: Any, operand: Any) -> bool:
    if isinstance(stored, bool) or isinstance(operand, bool):
        return isinstance(stored, bool) and isinstance(operand, bool) and stored == operand
    if _is_number(stored) and _is_number(operand):
        return float(stored) == float(operand)
    return isinstance(stored, str) and isinstance(operand, str) and stored == operand


def _one_of(stored: Any, choices: list[Any]) -> bool:
    return any(_same(stored, choice) for choice in choices)
