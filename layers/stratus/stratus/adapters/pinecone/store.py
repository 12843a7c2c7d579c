"""`VectorStore` on Pinecone serverless, through the official `pinecone` client (REST): one pool
(index) per (dimension, metric), one Pinecone namespace per space (docs/vector-stores.md,
"Pinecone")."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.pinecone.client import PineconeCalls, bind
from stratus.adapters.pinecone.failures import ignore_not_found
from stratus.adapters.pinecone.filters import (
    CAPABILITY_NOTES,
    SUPPORTED_OPERATORS,
    compile_filter,
    contains_on_strings_error,
    strings_at,
)
from stratus.adapters.pinecone.list_scan import ListScan, RememberedCursors, id_pages
from stratus.adapters.pinecone.metadata import decode_payload
from stratus.adapters.pinecone.pools import Pools, check_prefix
from stratus.adapters.pinecone.records import (
    checked_rows,
    decode_id,
    delete_chunks,
    encode_id,
    fetch_chunks,
    query_vector,
    score,
    upsert_batches,
    wire_record,
)
from stratus.adapters.text_tokens import text_indexes
from stratus.errors import VectorStoreUnavailableError
from stratus.filters import FilterNode
from stratus.models.namespaces import PayloadIndexConfig
from stratus.ports import RecordPage, ScoredRecord, Space, StoreCapabilities, VectorColumns, VectorRecord
from stratus.ports.columns import last_of_each_id

if TYPE_CHECKING:
    from pinecone.index import Index


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
        check_prefix(index_prefix)
        if max_concurrency < 1 or max_attempts < 1 or timeout_seconds <= 0:
            raise ValueError("max_concurrency and max_attempts must be >= 1, timeout_seconds > 0")
        self._prefix = index_prefix
        self.calls = PineconeCalls(
            api_key_provider,
            control_plane_host,
            timeout_seconds,
            max_attempts,
            max_concurrency,
            sleep,
            on_missing_pool=lambda space: self.pools.forget(space),
        )
        self.pools = Pools(self.calls, index_prefix, cloud, region, sleep)
        self.cursors = RememberedCursors()
        # Records examined (fetched) by one filtered `list`, and `list` requests made by one call.
        self.list_scan_limit = list_scan_limit
        self.list_request_limit = list_request_limit

    # -- protocol --------------------------------------------------------------------------------

    @property
    def capabilities(self) -> StoreCapabilities:
        return StoreCapabilities(name=STORE_NAME, operators=SUPPORTED_OPERATORS, notes=dict(CAPABILITY_NOTES))

    def locator(self, storage_key: str) -> str:
        return f"pinecone:{self._prefix}-*/{storage_key}__*"

    def pool_name(self, space: Space) -> str:
        return self.pools.name(space)

    def ensure_space(self, space: Space) -> None:
        self.pools.check_no_other_dimension(space)  # before creating anything
        self.pools.created_host(space)

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        latest = {record.id: record for record in records}  # the last write of an id wins
        if not latest:
            return
        # Everything is checked before anything is sent: a refused document sends nothing.
        wire = [wire_record(space, record) for record in latest.values()]
        batches = upsert_batches(space.name, wire)
        index = self.calls.index(self.pools.created_host(space))
        self._send_batches(space, index, batches)

    def upsert_columns(self, space: Space, columns: VectorColumns) -> None:
        columns = last_of_each_id(columns)
        if not columns.ids:
            return
        # Python floats from the matrix as it came: float64 rows are the client's own numbers, so
        # the request bodies (and how many requests a batch takes) are what they always were.
        rows = columns.vectors.tolist()
        ok = checked_rows(space, columns.vectors)
        given = columns.payload_json or [None] * len(rows)
        wire = [
            wire_record(space, VectorRecord(record_id, payload, row), checked, text)
            for record_id, payload, row, checked, text in zip(
                columns.ids, columns.payloads, rows, ok, given, strict=True
            )
        ]
        batches = upsert_batches(space.name, wire)
        index = self.calls.index(self.pools.created_host(space))
        self._send_batches(space, index, batches)

    def delete(self, space: Space, ids: Sequence[str]) -> None:
        unique = builtins.list(dict.fromkeys(ids))
        index = self._existing_index(space) if unique else None
        if index is None:
            return

        def delete_chunk(chunk: builtins.list[str]) -> None:
            self.calls.call(
                "delete",
                space,
                lambda: ignore_not_found(lambda: index.delete(ids=chunk, namespace=space.name)),
            )

        chunks = delete_chunks([encode_id(record_id) for record_id in unique])
        self.calls.run_all([bind(delete_chunk, chunk) for chunk in chunks])

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]:
        unique = builtins.list(dict.fromkeys(ids))
        index = self._existing_index(space) if unique else None
        if index is None:
            return {}
        fetched = self.fetch_encoded(space, index, [encode_id(record_id) for record_id in unique])
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
    ) -> builtins.list[ScoredRecord]:
        indexes = text_indexes(space.payload_indexes)
        compiled = compile_filter(filter, indexes) if filter is not None else None  # a 400 costs nothing
        values = query_vector(space, vector)
        if compiled is not None and compiled.matches_nothing:
            return []
        index = self._existing_index(space)
        if index is None:
            return []
        for path in compiled.string_free_paths if compiled is not None else ():
            if self._any_match(space, index, values, strings_at(path)):
                raise contains_on_strings_error(path)
        pinecone_filter = compiled.filter if compiled is not None else None
        response = self.calls.call(
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
                score=score(space.metric, match.score),
                payload=decode_payload(match.metadata),
                vector=builtins.list(match.values) if include_vectors else None,
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
        index = self._existing_index(space) if limit >= 1 else None
        if index is None:
            return RecordPage(records=[], next_cursor=None)
        after = encode_id(after_id) if after_id is not None else None
        scan = ListScan(self, space, index, after)
        if filter is None:
            return scan.page(limit, include_vectors)
        return scan.filtered_page(filter, limit, include_vectors)

    def count(self, space: Space) -> int:
        index = self._existing_index(space)
        if index is None:
            return 0
        stats = self.calls.call("count", space, lambda: index.describe_index_stats())
        summary = stats.namespaces.get(space.name)
        return 0 if summary is None else int(summary.vector_count)

    def ids(self, space: Space) -> set[str]:
        index = self._existing_index(space)
        if index is None:
            return set()
        found: set[str] = set()
        for _, page in id_pages(self.calls, space, index, None, limit=None):
            found.update(decode_id(record_id) for record_id in page)
        return found

    def drop_space(self, space: Space) -> None:
        self.pools.forget_space(space)
        self.cursors.forget_space(space)
        index = self._existing_index(space)
        if index is None:
            return
        self.calls.call(
            "drop_space",
            space,
            lambda: ignore_not_found(lambda: index.delete(delete_all=True, namespace=space.name)),
        )

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Pinecone indexes every metadata key: only a `text` index needs work, its token shadow
        on the records written before it existed (docs/vector-stores.md, "Pinecone"). Every
        record of the space is fetched and upserted again with its metadata recomputed, one page
        of ids at a time (idempotent; a concurrent write of the same id may be overwritten by the
        value read just before it, and the caller's retry of that write restores it)."""
        if index.type != "text":
            return
        self._rewrite_records(space)  # no records yet: upserts write the tokens from now on

    def drop_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Undo `build_payload_index`: only a `text` index lives in the records (its token
        shadow key); every record of the space is rewritten with `space.payload_indexes`, which
        no longer holds the index, so the shadow is gone (the same page-by-page rewrite as the
        build, and as idempotent). Other types: Pinecone indexes every metadata key by itself,
        there is nothing to drop."""
        if index.type != "text":
            return
        self._rewrite_records(space)

    def _rewrite_records(self, space: Space) -> None:
        pinecone_index = self._existing_index(space)
        if pinecone_index is None:
            return
        for _, page in id_pages(self.calls, space, pinecone_index, None, limit=None):
            found = self.fetch_encoded(space, pinecone_index, page)
            wire = [wire_record(space, found[record_id]) for record_id in page if record_id in found]
            if wire:
                self._send_batches(space, pinecone_index, upsert_batches(space.name, wire))

    def close(self) -> None:
        """Release connections and threads (tests; a Lambda container just ends)."""
        self.calls.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _existing_index(self, space: Space) -> Index | None:
        """The data-plane client of the space's pool; None when the pool does not exist."""
        host = self.pools.host(space, create=False)
        return None if host is None else self.calls.index(host)

    def _send_batches(
        self, space: Space, index: Index, batches: builtins.list[builtins.list[dict[str, Any]]]
    ) -> None:
        def send(batch: builtins.list[dict[str, Any]]) -> int:
            self.calls.call("upsert", space, lambda: index.upsert(vectors=batch, namespace=space.name))
            return len(batch)

        sent, error = self.calls.settle([bind(send, batch) for batch in batches])
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

    def fetch_encoded(
        self, space: Space, index: Index, encoded: builtins.list[str]
    ) -> dict[str, VectorRecord]:
        """Records by Pinecone id (vectors included), for ids in any order."""

        def fetch_chunk(chunk: builtins.list[str]) -> dict[str, VectorRecord]:
            response = self.calls.call("fetch", space, lambda: index.fetch(ids=chunk, namespace=space.name))
            return {
                pinecone_id: VectorRecord(
                    id=decode_id(pinecone_id),
                    payload=decode_payload(vector.metadata),
                    vector=builtins.list(vector.values),
                )
                for pinecone_id, vector in response.vectors.items()
            }

        found: dict[str, VectorRecord] = {}
        for part in self.calls.run_all([bind(fetch_chunk, chunk) for chunk in fetch_chunks(encoded)]):
            found.update(part)
        return found

    def _any_match(
        self, space: Space, index: Index, vector: builtins.list[float], flt: dict[str, Any]
    ) -> bool:
        response = self.calls.call(
            "query",
            space,
            lambda: index.query(
                vector=vector, top_k=1, namespace=space.name, filter=flt, include_metadata=False
            ),
        )
        return bool(response.matches)
