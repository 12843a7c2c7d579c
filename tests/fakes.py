"""In-memory stores for unit tests of the service rules (fusion, paging, schema-on-write).

They follow the port contracts, and are held to them by the same suites as the real adapters:
tests/contract/test_metadata_store_contract.py and tests/contract/test_vector_store_contract.py."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel

from stratus.adapters.text_tokens import evaluate_indexed, text_indexes
from stratus.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    VectorStoreUnavailableError,
)
from stratus.filters import OPERATORS, FilterNode
from stratus.models.managed_content import Bucket, Collection, Task
from stratus.models.namespaces import Namespace, PayloadIndexConfig
from stratus.models.objects import ObjectRecord, UploadRecord
from stratus.models.retrievers import Retriever
from stratus.ports import (
    ApiKey,
    BucketPage,
    BucketRoute,
    CollectionPage,
    FieldUsage,
    NamespacePage,
    ObjectKey,
    ObjectPage,
    ObjectWrite,
    PromotionRecord,
    RecordPage,
    RetrieverPage,
    ScoredRecord,
    Space,
    StoreCapabilities,
    VectorColumns,
    VectorRecord,
)
from stratus.ports.backfill import NewBackfill

T = TypeVar("T")


class InMemoryVectorStore:
    """`VectorStore` in dicts: the reference evaluator answers every filter (`text` on a field with
    a text payload index follows its tokenizer), records are copies, dimensions are checked."""

    def __init__(self) -> None:
        self.spaces: dict[str, dict[str, VectorRecord]] = {}
        self.dimensions: dict[str, int] = {}
        self.fail_next: str | None = None  # name of a method that raises once
        # (space name, field name, index type) of every build_payload_index call, in order.
        self.built_indexes: list[tuple[str, str, str]] = []
        # ... and of every drop_payload_index call.
        self.dropped_indexes: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> StoreCapabilities:
        return StoreCapabilities("memory", OPERATORS)

    def _maybe_fail(self, method: str) -> None:
        if self.fail_next == method:
            self.fail_next = None
            raise VectorStoreUnavailableError(f"injected failure in {method}")

    def locator(self, storage_key: str) -> str:
        return f"memory:{storage_key}"

    def ensure_space(self, space: Space) -> None:
        self._maybe_fail("ensure_space")
        with self._lock:
            known = self.dimensions.setdefault(space.name, space.dimension)
            self.spaces.setdefault(space.name, {})
        if known != space.dimension:
            raise ConflictError(
                f"vector space '{space.name}' exists with dimension {known}, not {space.dimension}",
                {"space": space.name, "existing_dimension": known, "requested_dimension": space.dimension},
            )

    def upsert_columns(self, space: Space, columns: VectorColumns) -> None:
        self.upsert(space, columns.records())

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        self._maybe_fail("upsert")
        if any(len(record.vector or []) != space.dimension for record in records):
            raise BadRequestError(
                f"vectors for '{space.name}' must have {space.dimension} dimensions",
                {"space": space.name, "dimension": space.dimension},
            )
        with self._lock:
            self.dimensions.setdefault(space.name, space.dimension)
            table = self.spaces.setdefault(space.name, {})
            for record in records:
                table[record.id] = VectorRecord(
                    record.id, copy.deepcopy(record.payload), list(record.vector or [])
                )

    def delete(self, space: Space, ids: Sequence[str]) -> None:
        self._maybe_fail("delete")
        with self._lock:
            for doc_id in ids:
                self.spaces.get(space.name, {}).pop(doc_id, None)

    def _records(self, space: Space) -> list[VectorRecord]:
        with self._lock:
            return list(self.spaces.get(space.name, {}).values())

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]:
        wanted = set(ids)
        return {r.id: _visible(r, include_vectors) for r in self._records(space) if r.id in wanted}

    def query(
        self,
        space: Space,
        vector: Sequence[float],
        top_k: int,
        filter: FilterNode | None,
        include_vectors: bool,
    ) -> list[ScoredRecord]:
        self._maybe_fail("query")
        scored = [
            ScoredRecord(r.id, _score(space.metric, vector, r.vector or []), seen.payload, seen.vector)
            for r in self._matching(space, filter)
            if (seen := _visible(r, include_vectors))
        ]
        return sorted(scored, key=lambda s: (-s.score, s.id))[:top_k]

    def _matching(self, space: Space, filter: FilterNode | None) -> list[VectorRecord]:
        texts = text_indexes(space.payload_indexes)
        return [
            r for r in self._records(space) if filter is None or evaluate_indexed(filter, r.payload, texts)
        ]

    def list(
        self, space: Space, filter: FilterNode | None, limit: int, after_id: str | None, include_vectors: bool
    ) -> RecordPage:
        rows = sorted(self._matching(space, filter), key=lambda r: r.id)
        rows = [r for r in rows if after_id is None or r.id > after_id]
        page = [_visible(r, include_vectors) for r in rows[:limit]]
        return RecordPage(page, page[-1].id if len(rows) > limit else None)

    def count(self, space: Space) -> int:
        return len(self._records(space))

    def ids(self, space: Space) -> set[str]:
        return {r.id for r in self._records(space)}

    def drop_space(self, space: Space) -> None:
        self._maybe_fail("drop_space")
        with self._lock:
            self.spaces.pop(space.name, None)
            self.dimensions.pop(space.name, None)

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Records the call; the evaluator needs no index (`text` follows `space.payload_indexes`)."""
        self._maybe_fail("build_payload_index")
        self.built_indexes.append((space.name, index.field_name, index.type))

    def drop_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Records the call; the evaluator needs no index to forget."""
        self._maybe_fail("drop_payload_index")
        self.dropped_indexes.append((space.name, index.field_name, index.type))


def _visible(record: VectorRecord, include_vectors: bool) -> VectorRecord:
    vector = list(record.vector) if include_vectors and record.vector is not None else None
    return VectorRecord(record.id, copy.deepcopy(record.payload), vector)


def _score(metric: str, a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if metric == "dot":
        return dot
    if metric == "euclidean":
        return 1.0 / (1.0 + math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class InMemoryMetadataStore:
    """`MetadataStore` in dicts, with the DynamoDB adapter's semantics: the same conditional
    creates, version checks, guards and opaque cursors (tests/contract/test_metadata_store_contract.py
    holds both to them). Stored records are copies: a caller's object is never changed."""

    def __init__(self) -> None:
        self.namespaces: dict[tuple[str, str], Namespace] = {}
        self.keys: dict[str, ApiKey] = {}  # by hash
        # (org, namespace, hour) → field → usage
        self.usage: dict[tuple[str, str, str], dict[str, FieldUsage]] = {}
        # (org, namespace, id) → record
        self.buckets: dict[tuple[str, str, str], Bucket] = {}
        self.collections: dict[tuple[str, str, str], Collection] = {}
        self.tasks: dict[str, Task] = {}
        # (org, namespace, bucket, object) → record
        self.objects: dict[tuple[str, str, str, str], ObjectRecord] = {}
        # (org, namespace, bucket, content hash) → the object holding it
        self.hashes: dict[tuple[str, str, str, str], str] = {}
        # (org, namespace, bucket, upload id) → record
        self.uploads: dict[tuple[str, str, str, str], UploadRecord] = {}
        # (org, namespace, promotion id) → record
        self.promotions: dict[tuple[str, str, str], PromotionRecord] = {}
        # (org, namespace, retriever id) → record
        self.retrievers: dict[tuple[str, str, str], Retriever] = {}
        # (org, category, window start) → count; org → its own limits
        self.rate_counters: dict[tuple[str, str, int], int] = {}
        self.rate_limits: dict[str, dict[str, int]] = {}
        self._rate_lock = threading.Lock()

    # -- namespaces -------------------------------------------------------------------------

    def create_namespace(self, namespace: Namespace) -> None:
        if (namespace.org_id, namespace.namespace_id) in self.namespaces:
            raise _exists("namespace", namespace.namespace_id)
        if self._by_name(namespace.org_id, namespace.namespace_name):
            raise _name_taken("namespace", "namespace_name", namespace.namespace_name)
        # As the transaction's checks: ids and names are looked up alike, so neither may be the
        # other kind of another namespace (a name equal to its own id is fine).
        if namespace.namespace_name != namespace.namespace_id:
            if self._by_name(namespace.org_id, namespace.namespace_id):
                raise _name_taken("namespace", "namespace_id", namespace.namespace_id)
            if (namespace.org_id, namespace.namespace_name) in self.namespaces:
                raise _name_taken("namespace", "namespace_name", namespace.namespace_name)
        self.namespaces[(namespace.org_id, namespace.namespace_id)] = namespace.model_copy(deep=True)

    def _by_name(self, org_id: str, name: str) -> Namespace | None:
        return next(
            (n for (o, _), n in self.namespaces.items() if o == org_id and n.namespace_name == name), None
        )

    def get_namespace(self, org_id: str, namespace_id: str) -> Namespace | None:
        return _copy(self.namespaces.get((org_id, namespace_id)))

    def find_namespace(self, org_id: str, identifier: str, max_age_seconds: float = 0.0) -> Namespace | None:
        return self.get_namespace(org_id, identifier) or _copy(self._by_name(org_id, identifier))

    def list_namespaces(self, org_id: str, limit: int, cursor: str | None) -> NamespacePage:
        ordered = sorted(
            (n for (o, _), n in self.namespaces.items() if o == org_id), key=lambda n: n.namespace_id
        )
        page, next_cursor = _page(ordered, lambda n: n.namespace_id, "namespaces", limit, cursor)
        return NamespacePage([n.model_copy(deep=True) for n in page], next_cursor)

    def count_namespaces(self, org_id: str) -> int:
        return sum(1 for (o, _) in self.namespaces if o == org_id)

    def _stored_at(self, namespace: Namespace, expected_version: int) -> Namespace:
        """The stored namespace if it is still at `expected_version`: NotFound, else Conflict."""
        stored = self.namespaces.get((namespace.org_id, namespace.namespace_id))
        if stored is None:
            raise NotFoundError.of("namespace", namespace.namespace_id)
        if stored.version != expected_version:
            raise _changed(namespace.namespace_id)
        return stored

    def save_namespace(self, namespace: Namespace, expected_version: int, previous_name: str) -> Namespace:
        stored = self._stored_at(namespace, expected_version)
        if namespace.namespace_name != previous_name:
            # As the name guards: the new name must be free, the old one must be this namespace's.
            if self._by_name(namespace.org_id, namespace.namespace_name) is not None:
                raise _name_taken("namespace", "namespace_name", namespace.namespace_name)
            another_id = (namespace.org_id, namespace.namespace_name)
            if namespace.namespace_name != namespace.namespace_id and another_id in self.namespaces:
                raise _name_taken("namespace", "namespace_name", namespace.namespace_name)
            if stored.namespace_name != previous_name:
                raise _changed(namespace.namespace_id)
        saved = namespace.model_copy(update={"version": expected_version + 1}, deep=True)
        self.namespaces[(namespace.org_id, namespace.namespace_id)] = saved
        return saved.model_copy(deep=True)

    def delete_namespace(self, namespace: Namespace) -> None:
        self._stored_at(namespace, namespace.version)
        del self.namespaces[(namespace.org_id, namespace.namespace_id)]

    def promote_namespace(
        self,
        promoted: Namespace,
        expected_version: int,
        record: PromotionRecord,
        backfill: NewBackfill | None = None,
    ) -> Namespace:
        stored = self.namespaces.get((promoted.org_id, promoted.namespace_id))
        if stored is None:
            raise NotFoundError.of("namespace", promoted.namespace_id)
        if stored.mode != "standalone":
            raise ConflictError(
                f"namespace '{promoted.namespace_id}' is already managed; promotion is one-way",
                {"resource": "namespace", "id": promoted.namespace_id, "mode": "managed"},
            )
        audit_key = (record.org_id, record.namespace_id, record.promotion_id)
        if stored.version != expected_version or audit_key in self.promotions:
            raise _changed(promoted.namespace_id)
        saved = promoted.model_copy(update={"version": expected_version + 1}, deep=True)
        self.namespaces[(promoted.org_id, promoted.namespace_id)] = saved
        self.promotions[audit_key] = dataclasses.replace(record)
        if backfill is not None:
            self.put_task(backfill.task)
        return saved.model_copy(deep=True)

    def list_auto_index_namespaces(self, limit: int, cursor: str | None) -> NamespacePage:
        ordered = sorted(
            (n for n in self.namespaces.values() if n.auto_create_indexes),
            key=lambda n: (n.org_id, n.namespace_id),
        )
        scope, limit = "auto", max(1, limit)
        page, next_cursor = _page(ordered, lambda n: f"{n.org_id}/{n.namespace_id}", scope, limit, cursor)
        return NamespacePage([n.model_copy(deep=True) for n in page], next_cursor)

    # -- retrievers -------------------------------------------------------------------------

    def _retriever_named(self, org_id: str, namespace_id: str, name: str) -> Retriever | None:
        return next(
            (
                r
                for (o, n, _), r in self.retrievers.items()
                if (o, n) == (org_id, namespace_id) and r.retriever_name == name
            ),
            None,
        )

    def create_retriever(self, retriever: Retriever) -> None:
        if self._retriever_named(retriever.org_id, retriever.namespace_id, retriever.retriever_name):
            raise _name_taken("retriever", "retriever_name", retriever.retriever_name)
        key = (retriever.org_id, retriever.namespace_id, retriever.retriever_id)
        if key in self.retrievers:
            raise _exists("retriever", retriever.retriever_id)
        self.retrievers[key] = retriever.model_copy(deep=True)

    def get_retriever(self, org_id: str, namespace_id: str, retriever_id: str) -> Retriever | None:
        return _copy(self.retrievers.get((org_id, namespace_id, retriever_id)))

    def find_retriever(
        self, org_id: str, namespace_id: str, identifier: str, max_age_seconds: float = 0.0
    ) -> Retriever | None:
        return self.get_retriever(org_id, namespace_id, identifier) or _copy(
            self._retriever_named(org_id, namespace_id, identifier)
        )

    def list_retrievers(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> RetrieverPage:
        ordered = sorted(
            (r for (o, n, _), r in self.retrievers.items() if (o, n) == (org_id, namespace_id)),
            key=lambda r: r.retriever_id,
        )
        page, next_cursor = _page(
            ordered, lambda r: r.retriever_id, f"retrievers:{namespace_id}", limit, cursor
        )
        return RetrieverPage([r.model_copy(deep=True) for r in page], next_cursor)

    def _stored_retriever_at(self, retriever: Retriever, expected_version: int) -> Retriever:
        stored = self.retrievers.get((retriever.org_id, retriever.namespace_id, retriever.retriever_id))
        if stored is None:
            raise NotFoundError.of("retriever", retriever.retriever_id)
        if stored.version != expected_version:
            raise ConflictError(
                f"retriever '{retriever.retriever_id}' was changed concurrently; retry",
                {"resource": "retriever", "id": retriever.retriever_id},
            )
        return stored

    def save_retriever(self, retriever: Retriever, expected_version: int, previous_name: str) -> Retriever:
        stored = self._stored_retriever_at(retriever, expected_version)
        if retriever.retriever_name != previous_name:
            if self._retriever_named(retriever.org_id, retriever.namespace_id, retriever.retriever_name):
                raise _name_taken("retriever", "retriever_name", retriever.retriever_name)
            if stored.retriever_name != previous_name:
                raise ConflictError(
                    f"retriever '{retriever.retriever_id}' was changed concurrently; retry",
                    {"resource": "retriever", "id": retriever.retriever_id},
                )
        saved = retriever.model_copy(update={"version": expected_version + 1}, deep=True)
        self.retrievers[(retriever.org_id, retriever.namespace_id, retriever.retriever_id)] = saved
        return saved.model_copy(deep=True)

    def delete_retriever(self, retriever: Retriever) -> None:
        self._stored_retriever_at(retriever, retriever.version)
        del self.retrievers[(retriever.org_id, retriever.namespace_id, retriever.retriever_id)]

    # -- API keys ---------------------------------------------------------------------------

    def put_api_key(self, key: ApiKey) -> None:
        if key.key_hash in self.keys or self._key(key.org_id, key.key_id) is not None:
            raise _exists("api_key", key.key_id)
        self.keys[key.key_hash] = dataclasses.replace(key, permissions=list(key.permissions))

    def _key(self, org_id: str, key_id: str) -> ApiKey | None:
        return next((k for k in self.keys.values() if (k.org_id, k.key_id) == (org_id, key_id)), None)

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        key = self.keys.get(key_hash)
        return dataclasses.replace(key, permissions=list(key.permissions)) if key is not None else None

    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        key = self._key(org_id, key_id)
        if key is None:
            return False
        key.revoked = True
        return True

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return [
            dataclasses.replace(key, permissions=list(key.permissions))
            for key in sorted(self.keys.values(), key=lambda k: k.key_id)
            if key.org_id == org_id
        ]

    # -- filter usage -----------------------------------------------------------------------

    def add_filter_usage(
        self, org_id: str, namespace_id: str, hour: str, usage: Mapping[str, FieldUsage], expires_at: int
    ) -> None:
        # Zero counts are not written (DynamoDB adds only what is there to add).
        added = {
            field_name: FieldUsage(
                field_usage.queries,
                {kind: count for kind, count in field_usage.value_types.items() if count and kind.isalpha()},
            )
            for field_name, field_usage in usage.items()
        }
        added = {name: add for name, add in added.items() if add.queries or add.value_types}
        if not added:
            return
        counters = self.usage.setdefault((org_id, namespace_id, hour), {})
        for field_name, field_usage in added.items():
            counters.setdefault(field_name, FieldUsage()).add(field_usage)

    def get_filter_usage(
        self, org_id: str, namespace_id: str, first_hour: str, last_hour: str
    ) -> dict[str, dict[str, FieldUsage]]:
        return {
            hour: {name: FieldUsage(u.queries, dict(u.value_types)) for name, u in counters.items()}
            for (org, namespace, hour), counters in sorted(self.usage.items())
            if org == org_id and namespace == namespace_id and first_hour <= hour <= last_hour
        }

    # -- rate limits ------------------------------------------------------------------------

    def count_request(
        self, org_id: str, category: str, window_start: int, limit: int, expires_at: int
    ) -> int | None:
        with self._rate_lock:  # one conditional ADD, as DynamoDB's UpdateItem
            key = (org_id, category, window_start)
            count = self.rate_counters.get(key, 0)
            if count >= limit:
                return None
            self.rate_counters[key] = count + 1
            return count + 1

    def get_rate_limits(self, org_id: str) -> dict[str, int]:
        return dict(self.rate_limits.get(org_id, {}))

    def put_rate_limits(self, org_id: str, limits: Mapping[str, int]) -> None:
        if limits:
            self.rate_limits[org_id] = dict(limits)
        else:
            self.rate_limits.pop(org_id, None)

    # -- managed content ------------------------------------------------------------------

    def create_bucket(self, bucket: Bucket) -> None:
        if any(
            (o, n) == (bucket.org_id, bucket.namespace_id) and b.bucket_name == bucket.bucket_name
            for (o, n, _), b in self.buckets.items()
        ):
            raise _name_taken("bucket", "bucket_name", bucket.bucket_name)
        key = (bucket.org_id, bucket.namespace_id, bucket.bucket_id)
        if key in self.buckets or self.find_bucket_route(bucket.key_prefix) is not None:
            raise _exists("bucket", bucket.bucket_id)
        self.buckets[key] = bucket.model_copy(deep=True)

    def get_bucket(self, org_id: str, namespace_id: str, bucket_id: str) -> Bucket | None:
        return _copy(self.buckets.get((org_id, namespace_id, bucket_id)))

    def find_bucket(self, org_id: str, namespace_id: str, identifier: str) -> Bucket | None:
        by_name = next(
            (
                b
                for (o, n, _), b in self.buckets.items()
                if (o, n) == (org_id, namespace_id) and b.bucket_name == identifier
            ),
            None,
        )
        return self.get_bucket(org_id, namespace_id, identifier) or _copy(by_name)

    def list_buckets(self, org_id: str, namespace_id: str, limit: int, cursor: str | None) -> BucketPage:
        ordered = sorted(
            (b for (o, n, _), b in self.buckets.items() if (o, n) == (org_id, namespace_id)),
            key=lambda b: b.bucket_id,
        )
        page, next_cursor = _page(ordered, lambda b: b.bucket_id, f"buckets:{namespace_id}", limit, cursor)
        return BucketPage([b.model_copy(deep=True) for b in page], next_cursor)

    def count_buckets(self, org_id: str, namespace_id: str) -> int:
        return sum(1 for (o, n, _) in self.buckets if (o, n) == (org_id, namespace_id))

    def delete_bucket(self, bucket: Bucket) -> None:
        if self.buckets.pop((bucket.org_id, bucket.namespace_id, bucket.bucket_id), None) is None:
            raise NotFoundError.of("bucket", bucket.bucket_id)

    def create_collection(self, collection: Collection) -> None:
        key = (collection.org_id, collection.namespace_id, collection.collection_id)
        if key in self.collections:
            raise _exists("collection", collection.collection_id)
        self.collections[key] = collection.model_copy(deep=True)

    def get_collection(self, org_id: str, namespace_id: str, collection_id: str) -> Collection | None:
        return _copy(self.collections.get((org_id, namespace_id, collection_id)))

    def list_collections(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> CollectionPage:
        ordered = sorted(
            (c for (o, n, _), c in self.collections.items() if (o, n) == (org_id, namespace_id)),
            key=lambda c: c.collection_id,
        )
        scope = f"collections:{namespace_id}"
        page, next_cursor = _page(ordered, lambda c: c.collection_id, scope, limit, cursor)
        return CollectionPage([c.model_copy(deep=True) for c in page], next_cursor)

    def count_collections(self, org_id: str, namespace_id: str) -> int:
        return sum(1 for (o, n, _) in self.collections if (o, n) == (org_id, namespace_id))

    def delete_collection(self, collection: Collection) -> None:
        key = (collection.org_id, collection.namespace_id, collection.collection_id)
        if self.collections.pop(key, None) is None:
            raise NotFoundError.of("collection", collection.collection_id)

    def find_bucket_route(self, prefix: str) -> BucketRoute | None:
        for (org_id, namespace_id, bucket_id), bucket in self.buckets.items():
            if bucket.key_prefix == prefix:
                return BucketRoute(org_id, namespace_id, bucket_id)
        return None

    def create_object(self, record: ObjectRecord) -> bool:
        key = (record.org_id, record.namespace_id, record.bucket_id, record.object_id)
        bucket_key = (record.org_id, record.namespace_id, record.bucket_id)
        if bucket_key not in self.buckets:
            raise NotFoundError.of("bucket", record.bucket_id)
        if key in self.objects:
            return False
        self.objects[key] = record.model_copy(deep=True)
        self._move_totals(bucket_key, 1, record.size_bytes)
        if record.content_hash is not None:
            hash_key = (*bucket_key, record.content_hash)
            if self.object_holding(*hash_key) is None:
                self.hashes[hash_key] = record.object_id
        return True

    def create_unique_object(self, record: ObjectRecord) -> str | None:
        assert record.content_hash is not None
        if (record.org_id, record.namespace_id, record.bucket_id) not in self.buckets:
            raise NotFoundError.of("bucket", record.bucket_id)
        holder = self.object_holding(
            record.org_id, record.namespace_id, record.bucket_id, record.content_hash
        )
        if holder is not None:
            return holder
        return None if self.create_object(record) else record.object_id

    def object_holding(self, org_id: str, namespace_id: str, bucket_id: str, content_hash: str) -> str | None:
        holder = self.hashes.get((org_id, namespace_id, bucket_id, content_hash))
        current = self.objects.get((org_id, namespace_id, bucket_id, holder)) if holder else None
        if current is not None and current.content_hash == content_hash:
            return holder
        self.hashes.pop((org_id, namespace_id, bucket_id, content_hash), None)
        return None

    def _move_totals(self, bucket_key: tuple[str, str, str], count: int, size: int) -> None:
        bucket = self.buckets.get(bucket_key)
        if bucket is not None:
            self.buckets[bucket_key] = bucket.model_copy(
                update={
                    "object_count": bucket.object_count + count,
                    "total_size_bytes": bucket.total_size_bytes + size,
                }
            )

    def put_object(self, record: ObjectRecord) -> None:
        key = (record.org_id, record.namespace_id, record.bucket_id, record.object_id)
        self.objects[key] = record.model_copy(deep=True)

    def save_objects(self, writes: Sequence[ObjectWrite]) -> None:
        """All or nothing (the adapter's groups are transactions; one group here)."""
        for write in writes:
            record = write.record
            if write.create:
                if (record.org_id, record.namespace_id, record.bucket_id) not in self.buckets:
                    raise ConflictError("bucket gone", {})
                if (record.org_id, record.namespace_id, record.bucket_id, record.object_id) in self.objects:
                    raise ConflictError("object exists", {})
        for write in writes:
            record = write.record
            bucket_key = (record.org_id, record.namespace_id, record.bucket_id)
            if write.create:
                self.create_object(record)
            else:
                self.put_object(record)
                self._move_totals(bucket_key, 0, write.size_delta)
            if write.task is not None:
                self.put_task(write.task)

    def get_objects(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, ObjectRecord]:
        return {key: record.model_copy(deep=True) for key in keys if (record := self.objects.get(key))}

    def save_object(self, record: ObjectRecord, task: Task, size_delta: int = 0) -> None:
        self.put_object(record)
        self.put_task(task)
        self._move_totals((record.org_id, record.namespace_id, record.bucket_id), 0, size_delta)

    def put_upload(self, upload: UploadRecord) -> None:
        key = (upload.org_id, upload.namespace_id, upload.bucket_id, upload.upload_id)
        self.uploads[key] = upload.model_copy(deep=True)

    def get_upload(
        self, org_id: str, namespace_id: str, bucket_id: str, upload_id: str
    ) -> UploadRecord | None:
        return _copy(self.uploads.get((org_id, namespace_id, bucket_id, upload_id)))

    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None:
        return _copy(self.objects.get((org_id, namespace_id, bucket_id, object_id)))

    def _objects_of(self, org_id: str, namespace_id: str, bucket_id: str | None) -> list[ObjectRecord]:
        return sorted(
            (
                r
                for (o, n, b, _), r in self.objects.items()
                if (o, n) == (org_id, namespace_id) and bucket_id in (None, b)
            ),
            key=lambda r: (r.bucket_id, r.object_id),
        )

    def list_objects(
        self, org_id: str, namespace_id: str, bucket_id: str, limit: int, cursor: str | None
    ) -> ObjectPage:
        ordered = self._objects_of(org_id, namespace_id, bucket_id)
        page, next_cursor = _page(ordered, lambda r: r.object_id, f"objects:{bucket_id}", limit, cursor)
        return ObjectPage([r.model_copy(deep=True) for r in page], next_cursor)

    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        return len(self._objects_of(org_id, namespace_id, bucket_id))

    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        record = self.objects.pop((org_id, namespace_id, bucket_id, object_id), None)
        if record is not None:
            self._move_totals((org_id, namespace_id, bucket_id), -1, -record.size_bytes)
            hash_key = (org_id, namespace_id, bucket_id, record.content_hash or "")
            if self.hashes.get(hash_key) == object_id:
                del self.hashes[hash_key]

    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """Counts are not moved: the bucket or namespace is being deleted."""
        doomed = self._objects_of(org_id, namespace_id, bucket_id)
        for r in doomed:
            self.objects.pop((r.org_id, r.namespace_id, r.bucket_id, r.object_id), None)
        for store in (self.hashes, self.uploads):
            for key in [k for k in store if k[:2] == (org_id, namespace_id) and bucket_id in (None, k[2])]:
                del store[key]
        return len(doomed)

    def put_task(self, task: Task) -> None:
        self.tasks[task.task_id] = task.model_copy(deep=True)

    def put_tasks(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            self.put_task(task)

    def get_task(self, task_id: str) -> Task | None:
        return _copy(self.tasks.get(task_id))


# ---------------------------------------------------------------------------------------------
# What the metadata fake shares with the DynamoDB adapter's contract: errors and opaque cursors


M = TypeVar("M", bound=BaseModel)


def _copy(record: M | None) -> M | None:
    return record.model_copy(deep=True) if record is not None else None


def _exists(resource: str, identifier: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"{resource} '{identifier}' already exists", {"resource": resource, "id": identifier}
    )


def _name_taken(resource: str, field_name: str, value: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"{field_name} '{value}' is already used", {"resource": resource, "field": field_name, "value": value}
    )


def _changed(namespace_id: str) -> ConflictError:
    return ConflictError(
        f"namespace '{namespace_id}' was changed concurrently; retry",
        {"resource": "namespace", "id": namespace_id},
    )


def _page(
    ordered: Sequence[T], key: Callable[[T], str], scope: str, limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """One page of `ordered` (sorted by `key`) after `cursor`, and the cursor of the next page.
    Cursors are opaque, bound to one listing (`scope`), and never lead to an empty page."""
    if limit < 1:
        raise BadRequestError("limit must be at least 1", {"field": "limit"})
    after = _decode_cursor(cursor, scope) if cursor is not None else None
    rest = [item for item in ordered if after is None or key(item) > after]
    page = list(rest[:limit])
    next_cursor = _encode_cursor(scope, key(page[-1])) if len(rest) > limit else None
    return page, next_cursor


def _encode_cursor(scope: str, last: str) -> str:
    raw = json.dumps({"scope": scope, "after": last}).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str, scope: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError) as error:  # binascii.Error is a ValueError
        raise _malformed_cursor() from error
    if (
        not isinstance(decoded, dict)
        or decoded.get("scope") != scope
        or not isinstance(decoded.get("after"), str)
    ):
        raise _malformed_cursor()
    return str(decoded["after"])


def _malformed_cursor() -> BadRequestError:
    return BadRequestError("cursor is malformed", {"field": "cursor"})
