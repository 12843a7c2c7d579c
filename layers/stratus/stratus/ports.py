"""The small protocols the services call. Adapters in `stratus.adapters` implement them; the
services never import an SDK.

A vector **space** is one (namespace, vector index): the unit a `VectorStore` stores and searches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from stratus.filters import FilterNode
from stratus.models.namespaces import Metric, Namespace, PayloadIndexConfig

if TYPE_CHECKING:
    # Annotations only: a function that never touches buckets, collections, objects or tasks
    # does not build their models at init (cold start, tests/perf/cold_start.py).
    from stratus.models.managed_content import Bucket, Collection, ObjectRecord, Task

# ---------------------------------------------------------------------------------------------
# Vector store


@dataclass(frozen=True)
class Space:
    """Where one vector index of one namespace lives. `storage_key` is unique per namespace
    incarnation (never reused), so an org's data can never be reached through another org."""

    storage_key: str
    index_name: str
    dimension: int
    metric: Metric
    # The namespace's payload indexes: stores use them to write index-backed fields on upsert
    # (e.g. tokenized text) and to compile filters against real indexes.
    payload_indexes: tuple[PayloadIndexConfig, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.storage_key}__{self.index_name}"


@dataclass
class VectorRecord:
    id: str
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass
class ScoredRecord:
    id: str
    score: float  # higher is better, whatever the metric
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass
class RecordPage:
    records: list[VectorRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class StoreCapabilities:
    name: str
    operators: frozenset[str]
    # Operators answered exactly only with a payload index on the field (e.g. Pinecone `text`).
    notes: dict[str, str] = field(default_factory=dict)


class VectorStore(Protocol):
    """Raises `VectorStoreUnavailableError` when the store is down; never half-acknowledges."""

    @property
    def capabilities(self) -> StoreCapabilities: ...

    def locator(self, storage_key: str) -> str:
        """Human-readable location reported in `infrastructure.vector_store_locator`."""
        ...

    def ensure_space(self, space: Space) -> None:
        """Create the space if missing; `ConflictError` if it exists with another dimension."""
        ...

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        """Insert or overwrite whole records by id. Every record carries a vector."""
        ...

    def delete(self, space: Space, ids: Sequence[str]) -> None: ...

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]: ...

    def query(
        self,
        space: Space,
        vector: Sequence[float],
        top_k: int,
        filter: FilterNode | None,
        include_vectors: bool,
    ) -> list[ScoredRecord]: ...

    def list(
        self,
        space: Space,
        filter: FilterNode | None,
        limit: int,
        after_id: str | None,
        include_vectors: bool,
    ) -> RecordPage:
        """Records ordered by id, strictly after `after_id`."""
        ...

    def count(self, space: Space) -> int: ...

    def ids(self, space: Space) -> set[str]:
        """Every id in the space (used to count documents spread over several indexes)."""
        ...

    def drop_space(self, space: Space) -> None:
        """Remove the space and its vectors; no error if it does not exist."""
        ...

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Create (or rebuild) the store's index for one payload field of `space`, backfilling the
        records already there. Idempotent. `space.payload_indexes` already includes `index`."""
        ...


# ---------------------------------------------------------------------------------------------
# Metadata store

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


class MetadataStore(Protocol):
    """Namespaces and API keys. Raises `MetadataStoreUnavailableError` when the table is down."""

    def create_namespace(self, namespace: Namespace) -> None:
        """`AlreadyExistsError` if the id or the name is taken in the organization."""
        ...

    def get_namespace(self, org_id: str, namespace_id: str) -> Namespace | None: ...

    def find_namespace(self, org_id: str, identifier: str, max_age_seconds: float = 0.0) -> Namespace | None:
        """By id, else by name. With `max_age_seconds`, a copy this store read that recently may
        answer; writes through the store invalidate such copies."""
        ...

    def list_namespaces(self, org_id: str, limit: int, cursor: str | None) -> NamespacePage: ...

    def save_namespace(self, namespace: Namespace, expected_version: int, previous_name: str) -> Namespace:
        """Write `namespace` (its version bumped) if the stored version is still
        `expected_version`; move the name guard when the name changed. `ConflictError` on a lost
        race, `AlreadyExistsError` if the new name is taken."""
        ...

    def delete_namespace(self, namespace: Namespace) -> None: ...

    def promote_namespace(
        self, promoted: Namespace, expected_version: int, record: PromotionRecord
    ) -> Namespace:
        """ONE transaction: write `promoted` (version bumped) only if the stored namespace is
        still standalone at `expected_version`, and append `record`. `ConflictError` otherwise;
        nothing is written unless everything is."""
        ...

    def put_api_key(self, key: ApiKey) -> None: ...

    def get_api_key(self, key_hash: str) -> ApiKey | None: ...

    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        """True if a key was revoked, False if no such key in that organization."""
        ...

    def list_api_keys(self, org_id: str) -> list[ApiKey]: ...

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

    def list_auto_index_namespaces(self, limit: int, cursor: str | None) -> NamespacePage:
        """Namespaces of every organization with `auto_create_indexes` true, a page at a time
        (a page may be short, even empty, while `next_cursor` is set)."""
        ...

    # -- managed content: buckets, collections, tasks (all scoped by organization) -----------

    def create_bucket(self, bucket: Bucket) -> None:
        """ONE write of the bucket and its name guard; `AlreadyExistsError` if `bucket_name` is
        taken in the namespace."""
        ...

    def get_bucket(self, org_id: str, namespace_id: str, bucket_id: str) -> Bucket | None: ...

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
        """Write `record` only if no object with its id exists; False if one did."""
        ...

    def put_object(self, record: ObjectRecord) -> None:
        """Create or overwrite the object record (the pipeline moves it through its statuses)."""
        ...

    def save_object(self, record: ObjectRecord, task: Task) -> None:
        """ONE write of the object record and its task (overwriting both): a status change of the
        pipeline is never seen on one and not the other."""
        ...

    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None: ...

    def list_objects(
        self, org_id: str, namespace_id: str, bucket_id: str, limit: int, cursor: str | None
    ) -> ObjectPage:
        """Objects of a bucket ordered by id."""
        ...

    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """Objects of a namespace, or of one of its buckets."""
        ...

    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        """No error if it is already gone."""
        ...

    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """Delete the object records of a namespace (or of one bucket); returns how many."""
        ...

    def put_task(self, task: Task) -> None:
        """Create or overwrite the task (the pipeline moves it through its statuses)."""
        ...

    def get_task(self, task_id: str) -> Task | None:
        """Any organization's task: the caller checks `org_id`."""
        ...


# ---------------------------------------------------------------------------------------------
# Blob store (the data S3 bucket)


@dataclass(frozen=True)
class StoredBlob:
    key: str
    data: bytes
    content_type: str
    etag: str  # without quotes
    metadata: dict[str, str]  # user metadata (x-amz-meta-*), lowercase names


class BlobStore(Protocol):
    """The data bucket. Raises `BlobStoreUnavailableError` (retryable 503) when S3 is down."""

    @property
    def bucket(self) -> str: ...

    def put(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> str:
        """Store `data` at `key`; returns the ETag (without quotes)."""
        ...

    def get(self, key: str, max_bytes: int) -> StoredBlob | None:
        """The object at `key`, None if absent; `PayloadTooLargeError` if it exceeds `max_bytes`."""
        ...

    def presign_put(
        self, key: str, content_type: str, expires_seconds: int, content_length: int | None = None
    ) -> str:
        """A URL that accepts one HTTP PUT of the object (with that Content-Type, and exactly
        `content_length` bytes when it is given)."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; returns how many."""
        ...


class NoBlobStore:
    """For callers that never touch the data bucket (tests of vector-only paths)."""

    @property
    def bucket(self) -> str:
        return ""

    def _unavailable(self) -> Exception:
        from stratus.errors import BlobStoreUnavailableError

        return BlobStoreUnavailableError("the data bucket is not configured here", {"dependency": "s3"})

    def put(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> str:
        raise self._unavailable()

    def get(self, key: str, max_bytes: int) -> StoredBlob | None:
        raise self._unavailable()

    def presign_put(
        self, key: str, content_type: str, expires_seconds: int, content_length: int | None = None
    ) -> str:
        raise self._unavailable()

    def delete_prefix(self, prefix: str) -> int:
        return 0  # nothing was ever stored


# ---------------------------------------------------------------------------------------------
# Inference


class Embedder(Protocol):
    """One inference service. Raises `InferenceServiceUnavailableError` (retryable 503) when the
    provider is down or missing, `BadRequestError` for input it cannot embed."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, each of `dimension` floats."""
        ...

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        """One vector per encoded image (JPEG/PNG/WebP bytes), in order; text-only services
        raise `BadRequestError`."""
        ...


class EmbedderRegistry(Protocol):
    def get(self, service_name: str) -> Embedder:
        """The provider of a catalogue service (built lazily, cached per container)."""
        ...


class NoEmbedders:
    """For callers that never embed (tests of vector-only paths)."""

    def get(self, service_name: str) -> Embedder:
        from stratus.errors import InferenceServiceUnavailableError

        raise InferenceServiceUnavailableError(
            f"inference service '{service_name}' is not configured here", {"service": service_name}
        )


class Stores(Protocol):
    """The adapters a service call needs. In Lambda each is built on first use and cached per
    container (`stratus.api.deps`), so a request only pays for what it touches."""

    @property
    def metadata(self) -> MetadataStore: ...

    @property
    def vectors(self) -> VectorStore: ...

    @property
    def embedders(self) -> EmbedderRegistry: ...

    @property
    def blobs(self) -> BlobStore: ...


@dataclass
class StaticStores:
    """Stores given up front (tests, scripts)."""

    metadata: MetadataStore
    vectors: VectorStore
    embedders: EmbedderRegistry = field(default_factory=NoEmbedders)
    blobs: BlobStore = field(default_factory=NoBlobStore)
