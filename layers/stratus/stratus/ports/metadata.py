"""The metadata port: namespaces, API keys, managed content, usage and rate-limit counters, as five
narrow repositories (a service asks for the one it uses) that one store implements. Each raises
`MetadataStoreUnavailableError` when the table is down."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from stratus.models.namespaces import Namespace

if TYPE_CHECKING:
    # Annotations only: a function that never touches buckets, collections, objects or tasks
    # does not build their models at init (cold start, tests/perf/cold_start.py).
    from stratus.models.managed_content import Bucket, Collection, Task
    from stratus.models.objects import ObjectRecord, UploadRecord
    from stratus.models.retrievers import Retriever
    from stratus.ports.backfill import NewBackfill

Permission = Literal["read", "write", "admin"]


@dataclass
class ApiKey:
    key_id: str
    key_hash: str
    org_id: str
    name: str
    permissions: list[Permission]
    created_at: str
    revoked: bool = False


@dataclass
class PromotionRecord:
    """Append-only audit of a promotion: who, when, what."""

    promotion_id: str
    org_id: str
    namespace_id: str
    promoted_by: str  # the API key id
    promoted_at: str
    from_version: int
    vector_mappings: list[dict[str, str]]
    add_vectors: list[dict[str, Any]]


@dataclass
class NamespacePage:
    namespaces: list[Namespace]
    next_cursor: str | None


@dataclass
class BucketPage:
    buckets: list[Bucket]
    next_cursor: str | None


@dataclass
class CollectionPage:
    collections: list[Collection]
    next_cursor: str | None


@dataclass
class ObjectPage:
    objects: list[ObjectRecord]
    next_cursor: str | None


# (org_id, namespace_id, bucket_id, object_id): where an object record lives.
ObjectKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class ObjectWrite:
    """One object's part of a batched status write: the record and its task (overwriting both);
    with `create`, the record is written only if no object with its id exists, and counted (with
    its size) in its bucket's totals; otherwise `size_delta` moves the bucket's total_size_bytes."""

    record: ObjectRecord
    task: Task | None = None
    create: bool = False
    size_delta: int = 0


@dataclass
class RetrieverPage:
    retrievers: list[Retriever]
    next_cursor: str | None


@dataclass(frozen=True)
class BucketRoute:
    """Which Stratus bucket an S3 key prefix belongs to (the extractor's lookup)."""

    org_id: str
    namespace_id: str
    bucket_id: str


@dataclass
class FieldUsage:
    """How one filter field was used: in how many filtered searches, and with which value types
    (payload index types: keyword, integer, float, bool, datetime, text), each counted once per
    search that filtered the field with such a value."""

    queries: int = 0
    value_types: dict[str, int] = field(default_factory=dict)

    def add(self, other: FieldUsage) -> None:
        self.queries += other.queries
        for value_type, count in other.value_types.items():
            self.value_types[value_type] = self.value_types.get(value_type, 0) + count


class NamespaceRepository(Protocol):
    """Namespaces of an organization, with optimistic versions and name guards."""

    def create_namespace(self, namespace: Namespace) -> None:
        """`AlreadyExistsError` if the id or the name is taken in the organization."""
        ...

    def get_namespace(self, org_id: str, namespace_id: str) -> Namespace | None: ...

    def find_namespace(self, org_id: str, identifier: str, max_age_seconds: float = 0.0) -> Namespace | None:
        """By id, else by name. With `max_age_seconds`, a copy this store read that recently may
        answer; writes through the store invalidate such copies."""
        ...

    def list_namespaces(self, org_id: str, limit: int, cursor: str | None) -> NamespacePage: ...

    def count_namespaces(self, org_id: str) -> int:
        """The organization's namespaces, from a counter moved in the same write as each create
        and delete (exact, and one read whatever the number)."""
        ...

    def save_namespace(self, namespace: Namespace, expected_version: int, previous_name: str) -> Namespace:
        """Write `namespace` (its version bumped) if the stored version is still
        `expected_version`; move the name guard when the name changed. `ConflictError` on a lost
        race, `AlreadyExistsError` if the new name is taken."""
        ...

    def delete_namespace(self, namespace: Namespace) -> None: ...

    def promote_namespace(
        self,
        promoted: Namespace,
        expected_version: int,
        record: PromotionRecord,
        backfill: NewBackfill | None = None,
    ) -> Namespace:
        """ONE transaction: write `promoted` (version bumped) only if the stored namespace is
        still standalone at `expected_version`, and append `record` (and create the `backfill`
        task, when given). `ConflictError` otherwise; nothing is written unless everything is."""
        ...

    def list_auto_index_namespaces(self, limit: int, cursor: str | None) -> NamespacePage:
        """Namespaces of every organization with `auto_create_indexes` true, a page at a time
        (a page may be short, even empty, while `next_cursor` is set)."""
        ...


class ApiKeyRepository(Protocol):
    """API keys, stored by the hash of the key (never the key)."""

    def put_api_key(self, key: ApiKey) -> None: ...

    def get_api_key(self, key_hash: str) -> ApiKey | None: ...

    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        """True if a key was revoked, False if no such key in that organization."""
        ...

    def list_api_keys(self, org_id: str) -> list[ApiKey]: ...


class ManagedContentRepository(Protocol):
    """Buckets, collections, objects and tasks of managed namespaces (all scoped by organization)."""

    def create_bucket(self, bucket: Bucket) -> None:
        """ONE write of the bucket and its name guard; `AlreadyExistsError` if `bucket_name` is
        taken in the namespace."""
        ...

    def get_bucket(self, org_id: str, namespace_id: str, bucket_id: str) -> Bucket | None: ...

    def find_bucket(self, org_id: str, namespace_id: str, identifier: str) -> Bucket | None:
        """By id, else by name (names are unique in a namespace)."""
        ...

    def list_buckets(self, org_id: str, namespace_id: str, limit: int, cursor: str | None) -> BucketPage:
        """Buckets of a namespace ordered by id."""
        ...

    def count_buckets(self, org_id: str, namespace_id: str) -> int: ...

    def delete_bucket(self, bucket: Bucket) -> None:
        """Delete the bucket and its name guard; `NotFoundError` if it is already gone."""
        ...

    def create_collection(self, collection: Collection) -> None: ...

    def get_collection(self, org_id: str, namespace_id: str, collection_id: str) -> Collection | None: ...

    def list_collections(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> CollectionPage:
        """Collections of a namespace ordered by id."""
        ...

    def count_collections(self, org_id: str, namespace_id: str) -> int: ...

    def delete_collection(self, collection: Collection) -> None:
        """`NotFoundError` if it is already gone."""
        ...

    def find_bucket_route(self, prefix: str) -> BucketRoute | None:
        """The bucket whose S3 prefix (`<storage_key>/<bucket_id>/`) is `prefix`; None if none
        (never created, or deleted)."""
        ...

    def create_object(self, record: ObjectRecord) -> bool:
        """Write `record` only if no object with its id exists; False if one did. ONE write with
        the bucket's `object_count` (+1) and `total_size_bytes` (+`size_bytes`), and, when no
        other object of the bucket holds it, the claim of `record.content_hash`. `NotFoundError`
        if the bucket is gone."""
        ...

    def create_unique_object(self, record: ObjectRecord) -> str | None:
        """As `create_object`, but only if no object of the bucket holds `record.content_hash`
        (`skip_duplicates`): None when created, else the id of the object holding it, with
        nothing written."""
        ...

    def object_holding(self, org_id: str, namespace_id: str, bucket_id: str, content_hash: str) -> str | None:
        """The object of the bucket holding `content_hash` now, if any (one read, no scan)."""
        ...

    def put_object(self, record: ObjectRecord) -> None:
        """Create or overwrite the object record (the pipeline moves it through its statuses)."""
        ...

    def save_object(self, record: ObjectRecord, task: Task, size_delta: int = 0) -> None:
        """ONE write of the object record and its task (overwriting both), and of `size_delta`
        added to the bucket's `total_size_bytes` (a new version of the object's file): a status
        change of the pipeline is never seen on one and not the other."""
        ...

    def put_upload(self, upload: UploadRecord) -> None:
        """Create or overwrite a presigned upload's record."""
        ...

    def get_upload(
        self, org_id: str, namespace_id: str, bucket_id: str, upload_id: str
    ) -> UploadRecord | None: ...

    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None: ...

    def get_objects(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, ObjectRecord]:
        """The records of `keys` in as few reads as the store allows (the extractor reads a
        batch's objects together); absent ones are left out."""
        ...

    def save_objects(self, writes: Sequence[ObjectWrite]) -> None:
        """The status changes of a batch of objects in as few transactions as the store allows
        (an object and its task always in the same one). Raises if a `create` finds its object, its
        bucket is gone, or a transaction is refused; a raising call may have written some of the
        objects, never half of one: the caller writes them again one at a time."""
        ...

    def list_objects(
        self, org_id: str, namespace_id: str, bucket_id: str, limit: int, cursor: str | None
    ) -> ObjectPage:
        """Objects of a bucket ordered by id."""
        ...

    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """Objects of a namespace, or of one of its buckets."""
        ...

    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        """ONE write: the record, its share of the bucket's totals, its content-hash claim. No
        error if it is already gone."""
        ...

    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """Delete the object records of a namespace (or of one bucket), with their uploads and
        content-hash claims; returns how many objects."""
        ...

    def put_task(self, task: Task) -> None:
        """Create or overwrite the task (the pipeline moves it through its statuses)."""
        ...

    def put_tasks(self, tasks: Sequence[Task]) -> None:
        """Create or overwrite several tasks, in as few requests as the store allows."""
        ...

    def get_task(self, task_id: str) -> Task | None:
        """Any organization's task: the caller checks `org_id`."""
        ...


class RetrieverRepository(Protocol):
    """Retrievers (saved search pipelines) of a namespace, with optimistic versions and name
    guards, as namespaces have."""

    def create_retriever(self, retriever: Retriever) -> None:
        """ONE write of the retriever and its name guard; `AlreadyExistsError` if the id or the
        `retriever_name` is taken in the namespace."""
        ...

    def get_retriever(self, org_id: str, namespace_id: str, retriever_id: str) -> Retriever | None: ...

    def find_retriever(
        self, org_id: str, namespace_id: str, identifier: str, max_age_seconds: float = 0.0
    ) -> Retriever | None:
        """By id, else by name. With `max_age_seconds`, a copy this store read that recently may
        answer; writes through the store invalidate such copies."""
        ...

    def list_retrievers(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> RetrieverPage:
        """Retrievers of a namespace ordered by id."""
        ...

    def save_retriever(self, retriever: Retriever, expected_version: int, previous_name: str) -> Retriever:
        """Write `retriever` (its version bumped) if the stored version is still
        `expected_version`; move the name guard when the name changed. `ConflictError` on a lost
        race, `NotFoundError` if it is gone, `AlreadyExistsError` if the new name is taken."""
        ...

    def delete_retriever(self, retriever: Retriever) -> None:
        """Delete the retriever and its name guard; `NotFoundError` if it is already gone."""
        ...


class UsageRepository(Protocol):
    """Hourly filter-usage counters (what `auto_create_indexes` reads)."""

    def add_filter_usage(
        self,
        org_id: str,
        namespace_id: str,
        hour: str,
        usage: Mapping[str, FieldUsage],
        expires_at: int,
    ) -> None:
        """ONE atomic write adding `usage` (field → counts) to the namespace's counters of `hour`
        (`yyyymmddhh`, UTC); the counters expire (TTL) at `expires_at` (epoch seconds)."""
        ...

    def get_filter_usage(
        self, org_id: str, namespace_id: str, first_hour: str, last_hour: str
    ) -> dict[str, dict[str, FieldUsage]]:
        """hour → field → usage, for the hours from `first_hour` to `last_hour` inclusive (read
        by hour, not trusting TTL: expired items may linger)."""
        ...


class RateLimitRepository(Protocol):
    """Rate-limit counters per (organization, category, minute) and each organization's own
    limits (`stratus.services.rate_limits`)."""

    def count_request(
        self, org_id: str, category: str, window_start: int, limit: int, expires_at: int
    ) -> int | None:
        """ONE atomic conditional increment of the counter of (`org_id`, `category`, the window
        starting at `window_start`): the count after it, or None when the counter had already
        reached `limit` (nothing is added then). The counter expires (TTL) at `expires_at`."""
        ...

    def get_rate_limits(self, org_id: str) -> dict[str, int]:
        """The organization's own limits (category → requests per minute); empty: none."""
        ...

    def put_rate_limits(self, org_id: str, limits: Mapping[str, int]) -> None:
        """Replace the organization's own limits; an empty mapping removes them."""
        ...


class MetadataStore(
    NamespaceRepository,
    ApiKeyRepository,
    ManagedContentRepository,
    RetrieverRepository,
    UsageRepository,
    RateLimitRepository,
    Protocol,
):
    """Every repository: what the one DynamoDB table holds."""
