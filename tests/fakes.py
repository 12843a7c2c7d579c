"""In-memory stores for unit tests of the service rules (fusion, paging, schema-on-write).

They follow the port contracts with the plain-Python reference evaluator of the filter DSL; the
real adapters are exercised by the integration and e2e suites."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from stratus.errors import AlreadyExistsError, ConflictError, NotFoundError, VectorStoreUnavailableError
from stratus.filters import OPERATORS, FilterNode, evaluate
from stratus.models.managed_content import Bucket, Collection, ObjectRecord, Task
from stratus.models.namespaces import Namespace, PayloadIndexConfig
from stratus.ports import (
    ApiKey,
    BucketPage,
    BucketRoute,
    CollectionPage,
    FieldUsage,
    NamespacePage,
    ObjectPage,
    PromotionRecord,
    RecordPage,
    ScoredRecord,
    Space,
    StoreCapabilities,
    VectorRecord,
)


class InMemoryVectorStore:
    def __init__(self) -> None:
        self.spaces: dict[str, dict[str, VectorRecord]] = {}
        self.dimensions: dict[str, int] = {}
        self.fail_next: str | None = None  # name of a method that raises once
        # (space name, field name, index type) of every build_payload_index call, in order.
        self.built_indexes: list[tuple[str, str, str]] = []

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
        known = self.dimensions.get(space.name)
        if known is not None and known != space.dimension:
            raise ConflictError(f"space {space.name} has dimension {known}")
        self.dimensions[space.name] = space.dimension
        self.spaces.setdefault(space.name, {})

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        self._maybe_fail("upsert")
        table = self.spaces.setdefault(space.name, {})
        for record in records:
            table[record.id] = VectorRecord(record.id, dict(record.payload), list(record.vector or []))

    def delete(self, space: Space, ids: Sequence[str]) -> None:
        self._maybe_fail("delete")
        for doc_id in ids:
            self.spaces.get(space.name, {}).pop(doc_id, None)

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]:
        table = self.spaces.get(space.name, {})
        return {
            doc_id: VectorRecord(
                doc_id, table[doc_id].payload, table[doc_id].vector if include_vectors else None
            )
            for doc_id in ids
            if doc_id in table
        }

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
            ScoredRecord(r.id, _score(space.metric, vector, r.vector or []), r.payload)
            for r in self.spaces.get(space.name, {}).values()
            if filter is None or evaluate(filter, r.payload)
        ]
        return sorted(scored, key=lambda s: (-s.score, s.id))[:top_k]

    def list(
        self, space: Space, filter: FilterNode | None, limit: int, after_id: str | None, include_vectors: bool
    ) -> RecordPage:
        rows = sorted(
            (
                r
                for r in self.spaces.get(space.name, {}).values()
                if filter is None or evaluate(filter, r.payload)
            ),
            key=lambda r: r.id,
        )
        rows = [r for r in rows if after_id is None or r.id > after_id]
        page = [VectorRecord(r.id, r.payload, r.vector if include_vectors else None) for r in rows[:limit]]
        return RecordPage(page, page[-1].id if len(rows) > limit else None)

    def count(self, space: Space) -> int:
        return len(self.spaces.get(space.name, {}))

    def ids(self, space: Space) -> set[str]:
        return set(self.spaces.get(space.name, {}))

    def drop_space(self, space: Space) -> None:
        self._maybe_fail("drop_space")
        self.spaces.pop(space.name, None)
        self.dimensions.pop(space.name, None)

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """A no-op that records the call (the evaluator needs no index)."""
        self._maybe_fail("build_payload_index")
        self.built_indexes.append((space.name, index.field_name, index.type))


def _score(metric: str, a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if metric == "dot":
        return dot
    if metric == "euclidean":
        return 1.0 / (1.0 + math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class InMemoryMetadataStore:
    def __init__(self) -> None:
        self.namespaces: dict[tuple[str, str], Namespace] = {}
        self.keys: dict[str, ApiKey] = {}
        # (org, namespace, hour) → field → usage
        self.usage: dict[tuple[str, str, str], dict[str, FieldUsage]] = {}
        # (org, namespace, id) → record
        self.buckets: dict[tuple[str, str, str], Bucket] = {}
        self.collections: dict[tuple[str, str, str], Collection] = {}
        self.tasks: dict[str, Task] = {}
        # (org, namespace, bucket, object) → record
        self.objects: dict[tuple[str, str, str, str], ObjectRecord] = {}
        self.promotions: list[PromotionRecord] = []

    def create_namespace(self, namespace: Namespace) -> None:
        if (namespace.org_id, namespace.namespace_id) in self.namespaces:
            raise AlreadyExistsError(f"namespace '{namespace.namespace_id}' already exists")
        if self._by_name(namespace.org_id, namespace.namespace_name):
            raise AlreadyExistsError(f"namespace_name '{namespace.namespace_name}' is taken")
        self.namespaces[(namespace.org_id, namespace.namespace_id)] = namespace

    def _by_name(self, org_id: str, name: str) -> Namespace | None:
        return next(
            (n for (o, _), n in self.namespaces.items() if o == org_id and n.namespace_name == name), None
        )

    def get_namespace(self, org_id: str, namespace_id: str) -> Namespace | None:
        return self.namespaces.get((org_id, namespace_id))

    def find_namespace(self, org_id: str, identifier: str, max_age_seconds: float = 0.0) -> Namespace | None:
        return self.get_namespace(org_id, identifier) or self._by_name(org_id, identifier)

    def list_namespaces(self, org_id: str, limit: int, cursor: str | None) -> NamespacePage:
        ordered = sorted(
            (n for (o, _), n in self.namespaces.items() if o == org_id), key=lambda n: n.namespace_id
        )
        ordered = [n for n in ordered if cursor is None or n.namespace_id > cursor]
        page = ordered[:limit]
        return NamespacePage(page, page[-1].namespace_id if len(ordered) > limit else None)

    def save_namespace(self, namespace: Namespace, expected_version: int, previous_name: str) -> Namespace:
        stored = self.get_namespace(namespace.org_id, namespace.namespace_id)
        if stored is None or stored.version != expected_version:
            raise ConflictError("lost race")
        other = self._by_name(namespace.org_id, namespace.namespace_name)
        if other is not None and other.namespace_id != namespace.namespace_id:
            raise AlreadyExistsError("name taken")
        saved = namespace.model_copy(update={"version": expected_version + 1})
        self.namespaces[(namespace.org_id, namespace.namespace_id)] = saved
        return saved

    def delete_namespace(self, namespace: Namespace) -> None:
        self.namespaces.pop((namespace.org_id, namespace.namespace_id), None)

    def promote_namespace(
        self, promoted: Namespace, expected_version: int, record: PromotionRecord
    ) -> Namespace:
        stored = self.get_namespace(promoted.org_id, promoted.namespace_id)
        if stored is None or stored.version != expected_version or stored.mode != "standalone":
            raise ConflictError("the namespace changed or is already managed")
        saved = promoted.model_copy(update={"version": expected_version + 1})
        self.namespaces[(promoted.org_id, promoted.namespace_id)] = saved
        self.promotions.append(record)
        return saved

    def put_api_key(self, key: ApiKey) -> None:
        self.keys[key.key_hash] = key

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        return self.keys.get(key_hash)

    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        for key in self.keys.values():
            if key.org_id == org_id and key.key_id == key_id:
                key.revoked = True
                return True
        return False

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return [key for key in self.keys.values() if key.org_id == org_id]

    def add_filter_usage(
        self, org_id: str, namespace_id: str, hour: str, usage: Mapping[str, FieldUsage], expires_at: int
    ) -> None:
        counters = self.usage.setdefault((org_id, namespace_id, hour), {})
        for field_name, field_usage in usage.items():
            counters.setdefault(field_name, FieldUsage()).add(field_usage)

    def get_filter_usage(
        self, org_id: str, namespace_id: str, first_hour: str, last_hour: str
    ) -> dict[str, dict[str, FieldUsage]]:
        return {
            hour: counters
            for (org, namespace, hour), counters in self.usage.items()
            if org == org_id and namespace == namespace_id and first_hour <= hour <= last_hour
        }

    def list_auto_index_namespaces(self, limit: int, cursor: str | None) -> NamespacePage:
        ordered = sorted(
            (n for n in self.namespaces.values() if n.auto_create_indexes),
            key=lambda n: (n.org_id, n.namespace_id),
        )
        ordered = [n for n in ordered if cursor is None or f"{n.org_id}/{n.namespace_id}" > cursor]
        page = ordered[:limit]
        last = f"{page[-1].org_id}/{page[-1].namespace_id}" if len(ordered) > limit else None
        return NamespacePage(page, last)

    # -- managed content ------------------------------------------------------------------

    def create_bucket(self, bucket: Bucket) -> None:
        if any(
            (o, n) == (bucket.org_id, bucket.namespace_id) and b.bucket_name == bucket.bucket_name
            for (o, n, _), b in self.buckets.items()
        ):
            raise AlreadyExistsError(f"bucket_name '{bucket.bucket_name}' is taken")
        self.buckets[(bucket.org_id, bucket.namespace_id, bucket.bucket_id)] = bucket

    def get_bucket(self, org_id: str, namespace_id: str, bucket_id: str) -> Bucket | None:
        return self.buckets.get((org_id, namespace_id, bucket_id))

    def list_buckets(self, org_id: str, namespace_id: str, limit: int, cursor: str | None) -> BucketPage:
        ordered = sorted(
            (b for (o, n, _), b in self.buckets.items() if (o, n) == (org_id, namespace_id)),
            key=lambda b: b.bucket_id,
        )
        ordered = [b for b in ordered if cursor is None or b.bucket_id > cursor]
        page = ordered[:limit]
        return BucketPage(page, page[-1].bucket_id if len(ordered) > limit else None)

    def count_buckets(self, org_id: str, namespace_id: str) -> int:
        return sum(1 for (o, n, _) in self.buckets if (o, n) == (org_id, namespace_id))

    def delete_bucket(self, bucket: Bucket) -> None:
        if self.buckets.pop((bucket.org_id, bucket.namespace_id, bucket.bucket_id), None) is None:
            raise NotFoundError.of("bucket", bucket.bucket_id)

    def create_collection(self, collection: Collection) -> None:
        self.collections[(collection.org_id, collection.namespace_id, collection.collection_id)] = collection

    def get_collection(self, org_id: str, namespace_id: str, collection_id: str) -> Collection | None:
        return self.collections.get((org_id, namespace_id, collection_id))

    def list_collections(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> CollectionPage:
        ordered = sorted(
            (c for (o, n, _), c in self.collections.items() if (o, n) == (org_id, namespace_id)),
            key=lambda c: c.collection_id,
        )
        ordered = [c for c in ordered if cursor is None or c.collection_id > cursor]
        page = ordered[:limit]
        return CollectionPage(page, page[-1].collection_id if len(ordered) > limit else None)

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
        self.objects[key] = record
        self._move_count(bucket_key, 1)
        return True

    def _move_count(self, bucket_key: tuple[str, str, str], delta: int) -> None:
        bucket = self.buckets.get(bucket_key)
        if bucket is not None:
            self.buckets[bucket_key] = bucket.model_copy(update={"object_count": bucket.object_count + delta})

    def put_object(self, record: ObjectRecord) -> None:
        self.objects[(record.org_id, record.namespace_id, record.bucket_id, record.object_id)] = record

    def save_object(self, record: ObjectRecord, task: Task) -> None:
        self.put_object(record)
        self.put_task(task)

    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None:
        return self.objects.get((org_id, namespace_id, bucket_id, object_id))

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
        ordered = [
            r
            for r in self._objects_of(org_id, namespace_id, bucket_id)
            if cursor is None or r.object_id > cursor
        ]
        page = ordered[:limit]
        return ObjectPage(page, page[-1].object_id if len(ordered) > limit else None)

    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        return len(self._objects_of(org_id, namespace_id, bucket_id))

    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        if self.objects.pop((org_id, namespace_id, bucket_id, object_id), None) is not None:
            self._move_count((org_id, namespace_id, bucket_id), -1)

    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        doomed = self._objects_of(org_id, namespace_id, bucket_id)
        for r in doomed:
            self.objects.pop((r.org_id, r.namespace_id, r.bucket_id, r.object_id), None)
        return len(doomed)

    def put_task(self, task: Task) -> None:
        self.tasks[task.task_id] = task

    def get_task(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)
