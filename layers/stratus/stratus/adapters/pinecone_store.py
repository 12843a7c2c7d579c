"""`VectorStore` on Pinecone serverless, through the official `pinecone` client (REST).

Layout: one serverless index (a *pool*) per (dimension, metric), named
`{prefix}-{dimension}-{metric}` with the metric spelled Pinecone's way (cosine → `cosine`, dot →
`dotproduct`, euclidean → `euclidean`), and one Pinecone namespace per space (`space.name`).
Pools are created on first write, once per process whatever the number of threads (a lock per
pool, and a 409 from a concurrent creator is answered by describing the pool), and their hosts
are cached. Reading a space whose pool does not exist reads an empty space.

Records: the Pinecone id is the document id made ASCII in an order-preserving way (`encode_id`),
so Pinecone's `list` (ids in byte order) is our id order. The metadata is the payload as JSON text
plus the shadow keys the filter compiler reads (`pinecone_filters`), at most 40 KB: a document
whose metadata would be larger is refused with 413 before anything is sent.

Writes: an upsert is split into requests of at most 1000 records and 2 MB (measured on the JSON
the client sends), sent concurrently (at most `max_concurrency` in flight). Every call is retried
with exponential backoff and jitter on 429, 5xx, timeouts and connection errors, honouring
`Retry-After`; the client's own data-plane retries are switched off so that this policy (and
`sleep`) is the only one. A batch that still fails fails the whole upsert with a retryable 503
saying how many records were confirmed: an upsert is idempotent by id, so the caller's retry
completes it. Nothing is acknowledged that was not written.

Scores are "higher is better", as in `lancedb_store`:

| metric    | Pinecone index | Pinecone `score`            | our score            |
|-----------|----------------|-----------------------------|----------------------|
| cosine    | `cosine`       | cos(a, b)                   | as returned          |
| dot       | `dotproduct`   | a·b                         | as returned          |
| euclidean | `euclidean`    | |a - b|² (squared distance) | 1 / (1 + sqrt(d))    |

Listing: Pinecone lists ids (100 per request, in order, no metadata filter, no "start after").
`list` pages through them from the start (or from a page token remembered for the previous page's
last id in this process), fetches the payloads of the candidates and keeps those
`stratus.filters.evaluate` accepts: exact by construction for every operator. The work of one
call is bounded; a filter too selective to fill a page within the bound answers 400 rather than
a short page (which callers would read as the end of the listing).

Limits of Pinecone kept visible: vectors must have a non-zero value (query vectors too) and ids
at most 512 ASCII characters once escaped; either answers 400 naming the document.
"""

from __future__ import annotations

import builtins
import functools
import hmac
import json
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

from stratus.adapters.pinecone_filters import (
    CAPABILITY_NOTES,
    STORE_NAME,
    SUPPORTED_OPERATORS,
    compile_filter,
    contains_on_strings_error,
    decode_payload,
    record_metadata,
    strings_at,
)
from stratus.adapters.text_tokens import evaluate_indexed, text_indexes
from stratus.errors import (
    BadRequestError,
    ConflictError,
    PayloadTooLargeError,
    StratusError,
    VectorStoreUnavailableError,
)
from stratus.filters import FilterNode
from stratus.models.namespaces import Metric, PayloadIndexConfig
from stratus.ports import RecordPage, ScoredRecord, Space, StoreCapabilities, VectorRecord

if TYPE_CHECKING:
    from pinecone import Pinecone
    from pinecone.index import Index
    from pinecone.models.indexes.index import IndexModel

T = TypeVar("T")

METRIC_NAMES: dict[Metric, str] = {"cosine": "cosine", "dot": "dotproduct", "euclidean": "euclidean"}

# Pinecone's operation limits (docs.pinecone.io/reference/api/database-limits).
MAX_METADATA_BYTES = 40 * 1024
MAX_UPSERT_RECORDS = 1000
# "2 MB" per upsert request, counted in decimal megabytes: under either reading of the limit.
MAX_UPSERT_BYTES = 2_000_000
MAX_IDS_PER_REQUEST = 1000  # fetch and delete
MAX_ID_LENGTH = 512
LIST_PAGE_SIZE = 100  # the most `list` returns per request
# A fetch sends its ids in the URL: keep the query string well under common URL limits.
MAX_FETCH_QUERY_CHARS = 6000
# The one dense field of an index created with a dimension and a metric (what the vector API uses).
VALUES_FIELD = "_values"

_RETRYABLE_STATUSES = frozenset({408, 429})
_BACKOFF_BASE_SECONDS = 0.25
_BACKOFF_CAP_SECONDS = 8.0
# A Retry-After longer than this is not waited for: the caller gets the 503 and the hint at once.
_MAX_RETRY_AFTER_SECONDS = 20.0
# Waits between describes of a new pool (about 20 s in all); then a retryable 503.
_READY_POLL_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0)
_POOL_INITIALIZING_RETRY_AFTER = 5
# Page tokens remembered for "the page after id X" (per process, least recently used out).
_MAX_REMEMBERED_CURSORS = 4096
# Pinecone's own message is added to refusals (they name the broken limit); capped in length.
_MAX_SERVER_MESSAGE = 300


class PineconeVectorStore:
    """Thread-safe: one instance is shared by the threads of a worker. `api_key_provider` is
    called on every operation (cheap: see `stratus.adapters.secrets`); a changed key rebuilds
    the clients. `pinecone` is imported on first use, not at import time (cold starts)."""

    def __init__(
        self,
        api_key_provider: Callable[[], str],
        index_prefix: str = "stratus",
        cloud: str = "aws",
        region: str = "us-east-1",
        control_plane_host: str | None = None,
        max_concurrency: int = 4,
        max_attempts: int = 4,
        timeout_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        *,
        list_scan_limit: int = 10_000,
        list_request_limit: int = 2_000,
    ) -> None:
        _check_prefix(index_prefix)
        if max_concurrency < 1 or max_attempts < 1 or timeout_seconds <= 0:
            raise ValueError("max_concurrency and max_attempts must be >= 1, timeout_seconds > 0")
        self._key_provider = api_key_provider
        self._prefix = index_prefix
        self._cloud = cloud
        self._region = region
        self._control_plane_host = control_plane_host
        self._max_concurrency = max_concurrency
        self._max_attempts = max_attempts
        self._timeout = timeout_seconds
        self._sleep = sleep
        # Records examined (fetched) by one filtered `list`, and `list` requests made by one call.
        self._list_scan_limit = list_scan_limit
        self._list_request_limit = list_request_limit

        self._lock = threading.Lock()
        self._clients: _Clients | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._hosts: dict[str, str] = {}  # pool name → data-plane host, once ready
        self._pool_locks: dict[str, threading.Lock] = {}
        self._dimension_checked: set[tuple[str, int]] = set()  # (space, dimension) checked
        self._cursors: OrderedDict[tuple[str, str], str | None] = OrderedDict()

    # -- protocol --------------------------------------------------------------------------------

    @property
    def capabilities(self) -> StoreCapabilities:
        return StoreCapabilities(name=STORE_NAME, operators=SUPPORTED_OPERATORS, notes=dict(CAPABILITY_NOTES))

    def locator(self, storage_key: str) -> str:
        return f"pinecone:{self._prefix}-*/{storage_key}__*"

    def pool_name(self, space: Space) -> str:
        return f"{self._prefix}-{space.dimension}-{METRIC_NAMES[space.metric]}"

    def ensure_space(self, space: Space) -> None:
        self._check_no_other_dimension(space)  # before creating anything
        self._created_host(space)

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        latest = {record.id: record for record in records}  # the last write of an id wins
        if not latest:
            return
        # Everything is checked before anything is sent: a refused document sends nothing.
        wire = [_wire_record(space, record) for record in latest.values()]
        batches = _batches(space.name, wire)
        index = self._index(self._created_host(space))
        self._send_batches(space, index, batches)

    def delete(self, space: Space, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return
        host = self._host(space, create=False)
        if host is None:
            return
        index = self._index(host)
        chunks = _chunks([encode_id(record_id) for record_id in unique], MAX_IDS_PER_REQUEST)

        def delete_chunk(chunk: list[str]) -> None:
            self._call("delete", space, lambda: _ignore_not_found(lambda: _delete_ids(index, space, chunk)))

        self._run_all([_bind(delete_chunk, chunk) for chunk in chunks])

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        host = self._host(space, create=False)
        if host is None:
            return {}
        fetched = self._fetch_encoded(
            space, self._index(host), [encode_id(record_id) for record_id in unique]
        )
        return {
            record.id: record if include_vectors else VectorRecord(record.id, record.payload)
            for record in fetched.values()
        }

    def query(
        self,
        space: Space,
        vector: Sequence[float],
        top_k: int,
        filter: FilterNode | None,
        include_vectors: bool,
    ) -> list[ScoredRecord]:
        indexes = text_indexes(space.payload_indexes)
        compiled = compile_filter(filter, indexes) if filter is not None else None  # a 400 costs nothing
        values = _query_vector(space, vector)
        if compiled is not None and compiled.matches_nothing:
            return []
        host = self._host(space, create=False)
        if host is None:
            return []
        index = self._index(host)
        for path in compiled.string_free_paths if compiled is not None else ():
            if self._any_match(space, index, values, strings_at(path)):
                raise contains_on_strings_error(path)
        pinecone_filter = compiled.filter if compiled is not None else None
        response = self._call(
            "query",
            space,
            lambda: index.query(
                vector=values,
                top_k=top_k,
                namespace=space.name,
                filter=pinecone_filter,
                include_values=include_vectors,
                include_metadata=True,
            ),
        )
        hits = [
            ScoredRecord(
                id=decode_id(match.id),
                score=_score(space.metric, match.score),
                payload=decode_payload(match.metadata),
                vector=list(match.values) if include_vectors else None,
            )
            for match in response.matches
        ]
        hits.sort(key=lambda hit: -hit.score)  # stable: Pinecone's order among equal scores
        return hits

    def list(
        self,
        space: Space,
        filter: FilterNode | None,
        limit: int,
        after_id: str | None,
        include_vectors: bool,
    ) -> RecordPage:
        host = self._host(space, create=False)
        if host is None or limit < 1:
            return RecordPage(records=[], next_cursor=None)
        index = self._index(host)
        after = encode_id(after_id) if after_id is not None else None
        scan = _ListScan(self, space, index, after)
        if filter is None:
            return scan.page(limit, include_vectors)
        return scan.filtered_page(filter, limit, include_vectors)

    def count(self, space: Space) -> int:
        host = self._host(space, create=False)
        if host is None:
            return 0
        index = self._index(host)
        stats = self._call("count", space, lambda: index.describe_index_stats())
        summary = stats.namespaces.get(space.name)
        return 0 if summary is None else int(summary.vector_count)

    def ids(self, space: Space) -> set[str]:
        host = self._host(space, create=False)
        if host is None:
            return set()
        index = self._index(host)
        found: set[str] = set()
        for _, page in self._id_pages(space, index, None, limit=None):
            found.update(decode_id(record_id) for record_id in page)
        return found

    def drop_space(self, space: Space) -> None:
        with self._lock:
            self._dimension_checked = {key for key in self._dimension_checked if key[0] != space.name}
            for key in [key for key in self._cursors if key[0] == space.name]:
                del self._cursors[key]
        host = self._host(space, create=False)
        if host is None:
            return
        index = self._index(host)
        self._call(
            "drop_space",
            space,
            lambda: _ignore_not_found(lambda: index.delete(delete_all=True, namespace=space.name)),
        )

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Pinecone indexes every metadata key: the shadows of keyword, integer, float, bool,
        datetime and uuid fields are written with every record already, so those (and geo, which
        no filter reads) need nothing. `is_tenant` too: a space is already its own Pinecone
        namespace, and a tenant value is served by the metadata filter (see `pinecone_filters`).
        A `text` index needs its token shadow on records written before it existed: every record
        of the space is fetched and upserted again with its metadata recomputed, one page of
        ids at a time (idempotent; a concurrent write of the same id may be overwritten by the
        value read just before it, and the caller's retry of that write restores it)."""
        if index.type != "text":
            return
        host = self._host(space, create=False)
        if host is None:
            return  # no records yet: upserts write the tokens from now on
        pinecone_index = self._index(host)
        for _, page in self._id_pages(space, pinecone_index, None, limit=None):
            found = self._fetch_encoded(space, pinecone_index, page)
            wire = [_wire_record(space, found[record_id]) for record_id in page if record_id in found]
            if wire:
                self._send_batches(space, pinecone_index, _batches(space.name, wire))

    def close(self) -> None:
        """Release connections and threads (tests; a Lambda container just ends)."""
        with self._lock:
            clients, self._clients = self._clients, None
            executor, self._executor = self._executor, None
        if clients is not None:
            clients.close()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    # -- pools -----------------------------------------------------------------------------------

    def _host(self, space: Space, create: bool) -> str | None:
        """The data-plane host of the space's pool (created if `create`); None if it is missing."""
        name = self.pool_name(space)
        host = self._hosts.get(name)
        if host is not None:
            return host
        with self._pool_lock(name):  # one describe/create per pool, whatever the number of threads
            host = self._hosts.get(name)
            if host is None:
                host = self._resolve_pool(name, space, create)
                if host is not None:
                    self._hosts[name] = host
            return host

    def _created_host(self, space: Space) -> str:
        host = self._host(space, create=True)
        assert host is not None, "a pool created or found has a host"
        return host

    def _pool_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._pool_locks.setdefault(name, threading.Lock())

    def _forget_pool(self, name: str) -> None:
        """After a 404 from a pool's host: the pool was deleted; describe (or recreate) it again."""
        self._hosts.pop(name, None)

    def _resolve_pool(self, name: str, space: Space, create: bool) -> str | None:
        model = self._describe_pool(name, space)
        if model is None:
            if not create:
                return None
            model = self._create_pool(name, space)
        _check_pool(model, name, space)
        return self._wait_until_ready(name, space, model)

    def _describe_pool(self, name: str, space: Space) -> IndexModel | None:
        control = self._control()
        return self._call(
            "describe_index", space, lambda: _ignore_not_found(lambda: control.indexes.describe(name))
        )

    def _create_pool(self, name: str, space: Space) -> IndexModel:
        control = self._control()
        schema = {
            "fields": {
                VALUES_FIELD: {
                    "type": "dense_vector",
                    "dimension": space.dimension,
                    "metric": METRIC_NAMES[space.metric],
                }
            }
        }
        deployment = {"deployment_type": "managed", "cloud": self._cloud, "region": self._region}

        def create() -> IndexModel | None:
            from pinecone.errors.exceptions import ConflictError as PineconeConflict

            try:
                # timeout=-1: return at once; readiness is polled below with our own sleep.
                return control.indexes.create(name=name, schema=schema, deployment=deployment, timeout=-1)
            except PineconeConflict:
                return None  # created by another process (or by our own timed-out attempt)

        model = self._call("create_index", space, create)
        if model is None:
            model = self._describe_pool(name, space)
        if model is None:
            raise VectorStoreUnavailableError(
                f"vector store unavailable: Pinecone index '{name}' was reported as existing, then missing",
                {"operation": "create_index", "space": space.name, "vector_store": STORE_NAME},
            )
        return model

    def _wait_until_ready(self, name: str, space: Space, model: IndexModel) -> str:
        for delay in (0.0, *_READY_POLL_DELAYS):
            if delay:
                self._sleep(delay)
                found = self._describe_pool(name, space)
                if found is None:
                    break
                model = found
            if model.status.state in ("InitializationFailed", "Terminating", "Disabled"):
                break
            if model.status.ready and model.host:
                return model.host
        state = model.status.state
        error = VectorStoreUnavailableError(
            f"vector store unavailable: Pinecone index '{name}' is not ready yet (state {state!r}); "
            "retry shortly",
            {"operation": "create_index", "space": space.name, "vector_store": STORE_NAME, "state": state},
        )
        error.retry_after = _POOL_INITIALIZING_RETRY_AFTER
        raise error

    def _check_no_other_dimension(self, space: Space) -> None:
        """`ConflictError` if this space already holds vectors of another dimension (in another
        pool). Checked once per space and process: a space's dimension never changes."""
        if (space.name, space.dimension) in self._dimension_checked:
            return
        control = self._control()
        models = self._call("list_indexes", space, lambda: builtins.list(control.indexes.list()))
        others = [
            (dimension, model.host)
            for model in models
            if (dimension := self._pool_dimension(model.name)) is not None
            and dimension != space.dimension
            and model.host
        ]

        def holds_space(host: str) -> bool:
            index = self._index(host)
            stats = self._call("describe_index_stats", space, lambda: index.describe_index_stats())
            summary = stats.namespaces.get(space.name)
            return summary is not None and summary.vector_count > 0

        found = self._run_all([_bind(holds_space, host) for _, host in others])
        for (dimension, _), holds in zip(others, found, strict=True):
            if holds:
                raise ConflictError(
                    f"vector space '{space.name}' exists with dimension {dimension}, not {space.dimension}",
                    {
                        "space": space.name,
                        "existing_dimension": dimension,
                        "requested_dimension": space.dimension,
                    },
                )
        with self._lock:
            self._dimension_checked.add((space.name, space.dimension))

    def _pool_dimension(self, index_name: str) -> int | None:
        """The dimension of one of our pools, from its name; None for any other index."""
        prefix = f"{self._prefix}-"
        if not index_name.startswith(prefix):
            return None
        dimension, _, metric = index_name[len(prefix) :].partition("-")
        if not dimension.isdigit() or metric not in METRIC_NAMES.values():
            return None
        return int(dimension)

    # -- clients ---------------------------------------------------------------------------------

    def _current_clients(self) -> _Clients:
        key = self._api_key()
        with self._lock:
            current = self._clients
            # Constant time, as every comparison of a secret (tests/security/test_api_keys_at_rest.py).
            if current is None or not hmac.compare_digest(current.api_key.encode(), key.encode()):
                # A rotated key: new clients. The old ones are left to the garbage collector, not
                # closed, since another thread may be in the middle of a call with them.
                current = self._clients = _Clients.build(key, self._control_plane_host, self._timeout)
            return current

    def _control(self) -> Pinecone:
        return self._current_clients().control

    def _index(self, host: str) -> Index:
        return self._current_clients().index(host)

    def _api_key(self) -> str:
        try:
            key = self._key_provider()
        except StratusError as exc:
            # The secrets helper speaks of inference services; say which store is affected.
            reason = exc.message.split(" is unavailable: ", 1)[-1]
            raise VectorStoreUnavailableError(
                f"vector store '{STORE_NAME}' is unavailable: {reason}",
                {**exc.details, "vector_store": STORE_NAME},
            ) from None
        if not key or not key.strip():
            raise VectorStoreUnavailableError(
                f"vector store '{STORE_NAME}' is unavailable: its API key is empty",
                {"vector_store": STORE_NAME},
            )
        return key.strip()

    def _executor_for_batches(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._max_concurrency, thread_name_prefix="stratus-pinecone"
                )
            return self._executor

    # -- calls -----------------------------------------------------------------------------------

    def _call(self, operation: str, space: Space, fn: Callable[[], T]) -> T:
        """`fn()` with retries on what may pass (429, 5xx, timeouts, connection errors); every
        other failure of Pinecone becomes the error the caller should see."""
        attempt = 1
        while True:
            try:
                return fn()
            except StratusError:
                raise
            except Exception as exc:
                failure = _classify(exc)
                if failure is None:
                    raise  # a programming error: a 500 with its traceback in the logs
                if failure.status == 404:
                    # Missing namespaces are handled where they can occur: this is the pool itself,
                    # deleted behind our back. Describe it again (or recreate it) next time.
                    self._forget_pool(self.pool_name(space))
                delay = self._retry_delay(attempt, failure)
                if delay is None:
                    raise _failure_error(operation, space.name, failure, attempt) from exc
                self._sleep(delay)
                attempt += 1

    def _retry_delay(self, attempt: int, failure: _Failure) -> float | None:
        """Seconds to wait before the next attempt; None when there is none."""
        if not failure.retryable or attempt >= self._max_attempts:
            return None
        ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # jitter: throttled clients do not resync
        if failure.retry_after is not None:
            if failure.retry_after > _MAX_RETRY_AFTER_SECONDS:
                return None
            delay = max(delay, failure.retry_after)
        return delay

    def _run_all(self, tasks: builtins.list[Callable[[], T]]) -> builtins.list[T]:
        results, error = self._settle(tasks)
        if error is not None:
            raise error
        return cast(builtins.list[T], results)  # every task ran and returned

    def _settle(
        self, tasks: builtins.list[Callable[[], T]]
    ) -> tuple[builtins.list[T | None], BaseException | None]:
        """Run `tasks` (at most `max_concurrency` at once); after the first failure nothing new
        starts. Each task's result (None if it failed or never ran) and the first error."""
        if len(tasks) <= 1:
            try:
                return [task() for task in tasks], None
            except Exception as exc:
                return [None], exc
        executor = self._executor_for_batches()
        futures: builtins.list[Future[T]] = [executor.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()  # only the ones not started yet
        wait(futures)
        results: builtins.list[T | None] = []
        error: BaseException | None = None
        for future in futures:
            if future.cancelled():
                results.append(None)
            elif (raised := future.exception()) is not None:
                results.append(None)
                error = error or raised
            else:
                results.append(future.result())
        return results, error

    # -- writes ----------------------------------------------------------------------------------

    def _send_batches(
        self, space: Space, index: Index, batches: builtins.list[builtins.list[dict[str, Any]]]
    ) -> None:
        def send(batch: builtins.list[dict[str, Any]]) -> int:
            self._call("upsert", space, lambda: index.upsert(vectors=batch, namespace=space.name))
            return len(batch)

        sent, error = self._settle([_bind(send, batch) for batch in batches])
        if error is None:
            return
        if not isinstance(error, VectorStoreUnavailableError):
            raise error  # a refusal (400/413) of the caller's input, or a bug: not an outage
        confirmed = sum(count for count in sent if count is not None)
        total = sum(len(batch) for batch in batches)
        unavailable = VectorStoreUnavailableError(
            f"vector store unavailable: upsert into space '{space.name}' confirmed {confirmed} of "
            f"{total} records before a batch failed ({error.message}); retry the request: records are "
            "overwritten by id, so the retry completes it",
            {
                "operation": "upsert",
                "space": space.name,
                "vector_store": STORE_NAME,
                "confirmed_records": confirmed,
                "total_records": total,
            },
        )
        unavailable.retry_after = error.retry_after
        raise unavailable from error

    # -- reads -----------------------------------------------------------------------------------

    def _fetch_encoded(
        self, space: Space, index: Index, encoded: builtins.list[str]
    ) -> dict[str, VectorRecord]:
        """Records by Pinecone id (vectors included), for ids in any order."""

        def fetch_chunk(chunk: builtins.list[str]) -> dict[str, VectorRecord]:
            response = self._call("fetch", space, lambda: index.fetch(ids=chunk, namespace=space.name))
            return {
                pinecone_id: VectorRecord(
                    id=decode_id(pinecone_id),
                    payload=decode_payload(vector.metadata),
                    vector=builtins.list(vector.values),
                )
                for pinecone_id, vector in response.vectors.items()
            }

        found: dict[str, VectorRecord] = {}
        for part in self._run_all([_bind(fetch_chunk, chunk) for chunk in _fetch_chunks(encoded)]):
            found.update(part)
        return found

    def _any_match(
        self, space: Space, index: Index, vector: builtins.list[float], flt: dict[str, Any]
    ) -> bool:
        response = self._call(
            "query",
            space,
            lambda: index.query(
                vector=vector, top_k=1, namespace=space.name, filter=flt, include_metadata=False
            ),
        )
        return bool(response.matches)

    def _id_pages(
        self, space: Space, index: Index, token: str | None, limit: int | None
    ) -> Iterator[tuple[str | None, builtins.list[str]]]:
        """(the token that produced the page, its ids) for each page of ids from `token` on, at
        most `limit` requests (None: no bound)."""
        requests = 0
        while True:
            if limit is not None and requests >= limit:
                raise BadRequestError(
                    f"listing space '{space.name}' needs more than {limit} Pinecone list requests: "
                    f"the '{STORE_NAME}' vector store reads ids from the start of the namespace unless "
                    "this process served the previous page; retry, or search instead",
                    {"space": space.name, "vector_store": STORE_NAME},
                )
            requests += 1
            used = token
            response = self._call(
                "list",
                space,
                functools.partial(
                    index.list_paginated, namespace=space.name, limit=LIST_PAGE_SIZE, pagination_token=used
                ),
            )
            ids = [item.id for item in response.vectors if item.id is not None]
            yield used, ids
            token = response.pagination.next if response.pagination is not None else None
            if not token or not ids:
                return

    def _remember_cursor(self, space: Space, last_id: str, token: str | None) -> None:
        with self._lock:
            self._cursors[(space.name, last_id)] = token
            self._cursors.move_to_end((space.name, last_id))
            while len(self._cursors) > _MAX_REMEMBERED_CURSORS:
                self._cursors.popitem(last=False)

    def _remembered_cursor(self, space: Space, last_id: str) -> tuple[bool, str | None]:
        with self._lock:
            key = (space.name, last_id)
            if key not in self._cursors:
                return False, None
            self._cursors.move_to_end(key)
            return True, self._cursors[key]


class _ListScan:
    """One `list` call: ids strictly after `after` (Pinecone ids), in order."""

    def __init__(self, store: PineconeVectorStore, space: Space, index: Index, after: str | None) -> None:
        self.store, self.space, self.index, self.after = store, space, index, after
        # `text` on a field with a text index follows the index's tokenizer, as `query` does.
        self.text_indexes = text_indexes(space.payload_indexes)

    def candidates(self) -> Iterator[tuple[str | None, list[str]]]:
        """(page token, ids after `after`) per page. Starts from the page remembered for `after`
        when this process served the previous page, else from the namespace's first id."""
        if self.after is not None:
            known, start = self.store._remembered_cursor(self.space, self.after)
            if known and start is not None:
                pages = self._after(start)
                try:
                    first = next(pages, None)
                except BadRequestError as exc:
                    if exc.details.get("operation") != "list":
                        raise
                    first = None  # Pinecone refused the old token: scan from the start instead
                else:
                    if first is not None:
                        yield first
                    yield from pages
                    return
        yield from self._after(None)

    def _after(self, token: str | None) -> Iterator[tuple[str | None, list[str]]]:
        pages = self.store._id_pages(self.space, self.index, token, limit=self.store._list_request_limit)
        for used, ids in pages:
            fresh = [record_id for record_id in ids if self.after is None or record_id > self.after]
            if fresh:
                yield used, fresh

    def page(self, limit: int, include_vectors: bool) -> RecordPage:
        wanted: list[tuple[str, str | None]] = []  # (id, token of its page)
        for token, ids in self.candidates():
            wanted.extend((record_id, token) for record_id in ids)
            if len(wanted) > limit:
                break
        more = len(wanted) > limit
        wanted = wanted[:limit]
        found = self.store._fetch_encoded(self.space, self.index, [record_id for record_id, _ in wanted])
        # A record deleted between the two reads is simply left out of the page.
        records = [
            _visible(found[record_id], include_vectors) for record_id, _ in wanted if record_id in found
        ]
        return self._result(records, wanted[-1] if more and wanted else None)

    def filtered_page(self, node: FilterNode, limit: int, include_vectors: bool) -> RecordPage:
        matched: list[tuple[VectorRecord, str, str | None]] = []  # (record, its id, its page token)
        examined = 0
        exhausted = True
        for token, ids in self.candidates():
            found = self.store._fetch_encoded(self.space, self.index, ids)
            examined += len(ids)
            for record_id in ids:
                record = found.get(record_id)
                if record is not None and evaluate_indexed(node, record.payload, self.text_indexes):
                    matched.append((_visible(record, include_vectors), record_id, token))
            if len(matched) > limit:
                break
            if examined >= self.store._list_scan_limit:
                if len(matched) < limit:
                    raise self._too_selective(examined)
                exhausted = False  # a full page, but whether more match is unknown
                break
        more = len(matched) > limit or (not exhausted and len(matched) == limit)
        matched = matched[:limit]
        last = (matched[-1][1], matched[-1][2]) if more and matched else None
        return self._result([record for record, _, _ in matched], last)

    def _result(self, records: list[VectorRecord], last: tuple[str, str | None] | None) -> RecordPage:
        if last is None:
            return RecordPage(records=records, next_cursor=None)
        last_id, token = last
        self.store._remember_cursor(self.space, last_id, token)
        return RecordPage(records=records, next_cursor=decode_id(last_id))

    def _too_selective(self, examined: int) -> BadRequestError:
        return BadRequestError(
            f"filters: the '{STORE_NAME}' vector store filters a listing by reading the documents "
            f"themselves, and {examined} of them did not fill the page; ask for a smaller limit, or "
            "search with the same filter (POST /v1/search)",
            {"field": "filters", "examined": examined, "vector_store": STORE_NAME},
        )


# ---------------------------------------------------------------------------------------------
# Clients


class _Clients:
    """The control-plane client and one data-plane client per host, for one API key."""

    def __init__(self, api_key: str, control: Pinecone) -> None:
        self.api_key = api_key
        self.control = control
        self._indexes: dict[str, Index] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, api_key: str, control_plane_host: str | None, timeout: float) -> _Clients:
        from pinecone import Pinecone, RetryConfig
        from pinecone.errors.exceptions import PineconeError

        try:
            control = Pinecone(
                api_key=api_key,
                host=control_plane_host,
                timeout=timeout,
                retry_config=RetryConfig(max_retries=0),  # retries are ours (`_call`)
                source_tag="stratus",
            )
        except PineconeError as exc:
            raise VectorStoreUnavailableError(
                f"vector store '{STORE_NAME}' is unavailable: the client could not be configured "
                f"({type(exc).__name__}: check the API key and the control-plane host)",
                {"vector_store": STORE_NAME},
            ) from None
        return cls(api_key, control)

    def index(self, host: str) -> Index:
        with self._lock:
            index = self._indexes.get(host)
            if index is None:
                index = self._indexes[host] = _without_sdk_retries(self.control.index(host=host))
            return index

    def close(self) -> None:
        with self._lock:
            indexes, self._indexes = list(self._indexes.values()), {}
        for index in indexes:
            index.close()
        self.control.close()


def _without_sdk_retries(index: Index) -> Index:
    """The client retries data-plane REST calls itself (3 times, with its own wall-clock sleeps)
    and offers no setting for it. Swap in a transport without retries so that `_call` is the one
    policy: `max_attempts`, `sleep` and the "confirmed records" of a failed upsert stay exact. If a
    future client is laid out differently, its own retries stay (slower to give up, still right)."""
    try:
        from dataclasses import replace

        from pinecone import RetryConfig
        from pinecone._internal.constants import DATA_PLANE_API_VERSION
        from pinecone._internal.http_client import HTTPClient

        config = replace(index._config, retry_config=RetryConfig(max_retries=0))
        http = HTTPClient(config, DATA_PLANE_API_VERSION)
        previous, index._http = index._http, http
    except (ImportError, AttributeError, TypeError):
        return index
    previous.close()
    return index


# ---------------------------------------------------------------------------------------------
# Failures


@dataclass(frozen=True)
class _Failure:
    retryable: bool
    description: str
    status: int | None = None
    retry_after: float | None = None
    message: str = ""


def _classify(exc: BaseException) -> _Failure | None:
    """What a failure of the client means; None for anything that is not one (our bugs)."""
    from pinecone.errors.exceptions import (
        ApiError,
        PineconeConnectionError,
        PineconeError,
        PineconeTimeoutError,
        PineconeTypeError,
        PineconeValueError,
    )

    if isinstance(exc, PineconeTimeoutError):
        return _Failure(True, "timed out")
    if isinstance(exc, PineconeConnectionError):
        return _Failure(True, "connection failed")
    if isinstance(exc, ApiError):
        status = int(exc.status_code)
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        message = str(getattr(exc, "message", "") or "")[:_MAX_SERVER_MESSAGE]
        return _Failure(retryable, f"HTTP {status}", status, _retry_after(exc), message)
    if isinstance(exc, PineconeValueError | PineconeTypeError):
        # The client refused the request before sending it: input we should have caught.
        return _Failure(False, "refused by the client", 400, None, str(exc)[:_MAX_SERVER_MESSAGE])
    if isinstance(exc, PineconeError):
        return _Failure(False, type(exc).__name__)
    if isinstance(exc, OSError):
        return _Failure(True, type(exc).__name__)
    return None


def _retry_after(exc: Any) -> float | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        headers = getattr(exc, "headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: fall back to our own backoff
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _failure_error(operation: str, space: str, failure: _Failure, attempts: int) -> StratusError:
    details: dict[str, Any] = {"operation": operation, "space": space, "vector_store": STORE_NAME}
    said = f": {failure.message}" if failure.message else ""
    if failure.status == 413:
        return PayloadTooLargeError(
            f"the '{STORE_NAME}' vector store refused {operation} on space '{space}' as too large{said}",
            details,
        )
    if failure.status == 400:
        return BadRequestError(
            f"the '{STORE_NAME}' vector store refused {operation} on space '{space}'{said}", details
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    error = VectorStoreUnavailableError(
        f"vector store unavailable: {operation} on space '{space}' failed "
        f"({failure.description}{said}){tries}",
        {**details, "attempts": attempts},
    )
    if failure.retry_after is not None:
        error.retry_after = max(1, math.ceil(failure.retry_after))
    return error


def _ignore_not_found(fn: Callable[[], T]) -> T | None:
    """`fn()`, or None when Pinecone answers 404 (a missing index or namespace)."""
    from pinecone.errors.exceptions import NotFoundError

    try:
        return fn()
    except NotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Ids, records and batches


def encode_id(record_id: str) -> str:
    """An ASCII Pinecone id whose byte order is the code-point order of `record_id`: its UTF-8
    bytes, with `~` and every byte above it written `~XX` (hex). `~` is the highest printable
    ASCII character, so an escape sorts after every byte left alone, and two escapes sort by
    their hex digits, i.e. by byte. Control characters (never in a document id) are refused."""
    if any(ord(char) < 0x20 for char in record_id):
        raise BadRequestError(
            f"document id {record_id!r} holds a control character", {"document_id": record_id}
        )
    raw = record_id.encode("utf-8", "surrogatepass")
    encoded = "".join(chr(byte) if byte < 0x7E else f"~{byte:02X}" for byte in raw)
    if not encoded or len(encoded) > MAX_ID_LENGTH:
        raise BadRequestError(
            f"document id {record_id!r} is {len(encoded)} characters once made ASCII for the "
            f"'{STORE_NAME}' vector store, which takes 1-{MAX_ID_LENGTH}; use a shorter id "
            "(each non-ASCII character takes up to 12)",
            {"document_id": record_id, "vector_store": STORE_NAME},
        )
    return encoded


def decode_id(encoded: str) -> str:
    out = bytearray()
    position = 0
    while position < len(encoded):
        char = encoded[position]
        if char == "~" and _is_hex(encoded[position + 1 : position + 3]):
            out.append(int(encoded[position + 1 : position + 3], 16))
            position += 3
        else:
            out.extend(char.encode("utf-8"))
            position += 1
    return out.decode("utf-8", "surrogatepass")


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(char in "0123456789ABCDEF" for char in text)


def _wire_record(space: Space, record: VectorRecord) -> dict[str, Any]:
    """The record as the client sends it ({id, values, metadata}), checked against every limit."""
    values = _vector(space, record.vector, f"vector of '{record.id}'", record.id)
    metadata = record_metadata(record.id, record.payload, text_indexes(space.payload_indexes))
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise PayloadTooLargeError(
            f"document '{record.id}': its payload needs {size} bytes of Pinecone metadata (the payload "
            f"as JSON plus the keys its filters read); the '{STORE_NAME}' vector store holds at most "
            f"{MAX_METADATA_BYTES} bytes per document",
            {"document_id": record.id, "size": size, "limit": MAX_METADATA_BYTES, "vector_store": STORE_NAME},
        )
    return {"id": encode_id(record.id), "values": values, "metadata": metadata}


def _vector(space: Space, vector: Sequence[float] | None, what: str, document_id: str | None) -> list[float]:
    details: dict[str, Any] = {"space": space.name, "dimension": space.dimension}
    if document_id is not None:
        details["document_id"] = document_id
    if vector is None or len(vector) != space.dimension:
        raise BadRequestError(f"{what} must have {space.dimension} dimensions for '{space.name}'", details)
    values = [float(value) for value in vector]
    if not all(math.isfinite(value) for value in values):
        raise BadRequestError(f"{what} holds a number that is not finite", details)
    if not any(values):
        raise BadRequestError(
            f"{what} is all zeros; the '{STORE_NAME}' vector store needs at least one non-zero value",
            {**details, "vector_store": STORE_NAME},
        )
    return values


def _query_vector(space: Space, vector: Sequence[float]) -> list[float]:
    return _vector(space, vector, "the query vector", None)


def _batches(namespace: str, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive batches of at most MAX_UPSERT_RECORDS records and MAX_UPSERT_BYTES of request
    body, measured with the client's own encoder (orjson) on exactly what it sends."""
    import orjson

    envelope = len(orjson.dumps({"vectors": [], "namespace": namespace}))
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = envelope
    for record in records:
        record_size = len(orjson.dumps(record)) + (1 if current else 0)  # the comma before it
        if current and (len(current) == MAX_UPSERT_RECORDS or size + record_size > MAX_UPSERT_BYTES):
            batches.append(current)
            current, size, record_size = [], envelope, record_size - 1
        current.append(record)
        size += record_size
    if current:
        batches.append(current)
    return batches


def _fetch_chunks(encoded: list[str]) -> list[list[str]]:
    """Ids per fetch: at most MAX_IDS_PER_REQUEST, and a URL query string of bounded length."""
    chunks: list[list[str]] = []
    current: list[str] = []
    length = 0
    for record_id in encoded:
        cost = len(quote(record_id, safe="")) + len("&ids=")
        if current and (len(current) == MAX_IDS_PER_REQUEST or length + cost > MAX_FETCH_QUERY_CHARS):
            chunks.append(current)
            current, length = [], 0
        current.append(record_id)
        length += cost
    if current:
        chunks.append(current)
    return chunks


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _delete_ids(index: Index, space: Space, ids: list[str]) -> None:
    index.delete(ids=ids, namespace=space.name)


def _visible(record: VectorRecord, include_vectors: bool) -> VectorRecord:
    return record if include_vectors else VectorRecord(record.id, record.payload)


def _bind(fn: Callable[[Any], T], argument: Any) -> Callable[[], T]:
    return lambda: fn(argument)


def _score(metric: Metric, raw: float) -> float:
    if metric == "euclidean":  # Pinecone answers the squared distance
        return 1.0 / (1.0 + math.sqrt(max(float(raw), 0.0)))
    return float(raw)


def _check_pool(model: IndexModel, name: str, space: Space) -> None:
    """An index with our pool's name must be one of our pools (one dense field of its shape)."""
    fields = getattr(getattr(model, "schema", None), "fields", None) or {}
    dense = fields.get(VALUES_FIELD)
    dimension = getattr(dense, "dimension", None)
    metric = getattr(dense, "metric", None)
    if dimension == space.dimension and metric == METRIC_NAMES[space.metric]:
        return
    raise ConflictError(
        f"Pinecone index '{name}' exists but is not a pool for dimension {space.dimension} and metric "
        f"{METRIC_NAMES[space.metric]} (it has dimension {dimension}, metric {metric}); rename it or "
        "choose another index prefix",
        {"index": name, "existing_dimension": dimension, "requested_dimension": space.dimension},
    )


def _check_prefix(prefix: str) -> None:
    # Pool names are 1-45 characters of [a-z0-9-]; the longest suffix is "-20000-dotproduct".
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    if not prefix or len(prefix) > 28 or not set(prefix) <= allowed or prefix[0] == "-" or prefix[-1] == "-":
        raise ValueError(
            f"index prefix {prefix!r} must be 1-28 characters of lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
