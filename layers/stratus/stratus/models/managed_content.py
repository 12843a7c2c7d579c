"""Managed content: buckets (S3 prefixes objects land in), collections (a bucket source + a feature
extractor writing into one vector index of a managed namespace) and tasks (async work records).
Objects and uploads: models/objects.py.

The stored records carry `org_id` (every item belongs to one organization); the answers do not."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from stratus import limits
from stratus.domain.identifiers import check_name
from stratus.models.common import Model, StrictModel
from stratus.models.sdk_fields import NotApplied, ReportsUnapplied
from stratus.models.stored_json import stored_json

# CANCELED and COMPLETED_WITH_ERRORS end backfills and migrations only (objects never use them);
# all six are values of the Mixpeek SDK's TaskStatusEnum.
TaskStatus = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELED", "COMPLETED_WITH_ERRORS"]
Json = dict[str, Any]
# The SDK's BucketSchemaFieldType: a bucket schema property's type and a blob's type.
BUCKET_FIELD_TYPES = (
    "string", "number", "integer", "float", "boolean", "object", "array", "date", "datetime",
    "text", "image", "audio", "video", "pdf", "excel",
)  # fmt: skip
BucketFieldType = Literal[
    "string", "number", "integer", "float", "boolean", "object", "array", "date", "datetime",
    "text", "image", "audio", "video", "pdf", "excel",
]  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Buckets


class CreateBucketRequest(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "unique_key": NotApplied(
            "Stratus tells objects apart by their key, and by content with skip_duplicates; it has no "
            "unique keys"
        ),
        "storage_class": NotApplied("objects are stored in the data bucket's default class", ("standard",)),
        "destination": NotApplied("objects stay in Stratus's data bucket"),
        "ingest_filter": NotApplied("every object of the bucket is processed"),
        "source_adapter": NotApplied("objects arrive through the objects API, presigned uploads or S3 puts"),
    }

    bucket_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    # Free-form JSON, kept as sent; `{}` means no schema. Mixpeek's shape, `{"properties":
    # {name: {"type": <BucketSchemaFieldType>, ...}}}`, is what the SDK sends and reads back: when
    # `properties` is there its types are checked.
    bucket_schema: Annotated[dict[str, Any], stored_json(limits.MAX_BUCKET_SCHEMA_BYTES)] | None = None
    metadata: Annotated[dict[str, Any], stored_json(limits.MAX_OBJECT_METADATA_BYTES)] | None = None
    unique_key: Json | None = None
    storage_class: Literal["standard", "nearline", "coldline", "archive"] | None = None
    destination: Json | None = None
    ingest_filter: Json | None = None
    source_adapter: Json | None = None

    @field_validator("bucket_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if not value:
            return None  # `{}`: no schema (the SDK cannot read `{}` back: it needs `properties`)
        properties = value.get("properties")
        if "properties" in value:
            if not isinstance(properties, dict):
                raise ValueError('bucket_schema.properties must be an object: {name: {"type": ...}}')
            for name, spec in properties.items():
                kind = spec.get("type") if isinstance(spec, dict) else None
                if kind not in BUCKET_FIELD_TYPES:
                    raise ValueError(
                        f"bucket_schema.properties.{name}.type must be one of {', '.join(BUCKET_FIELD_TYPES)}"
                    )
        return value

    @field_validator("bucket_name")
    @classmethod
    def _name_without_separator(cls, value: str) -> str:
        return check_name(value, "bucket_name")


class BucketModel(Model):
    """The answer of every bucket route."""

    bucket_id: str
    bucket_name: str
    description: str | None = None
    bucket_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Fixed at creation: a later change of STRATUS_DATA_BUCKET must not move existing objects.
    s3_uri: str
    namespace_id: str
    created_at: str
    # Exact: moved in the same DynamoDB write as each object record (never counted).
    object_count: int = 0
    total_size_bytes: int = 0


class BucketCreated(BucketModel):
    warnings: list[str] = Field(default_factory=list)


class Bucket(BucketModel):
    """The stored record."""

    org_id: str

    @property
    def key_prefix(self) -> str:
        """The S3 key prefix of the bucket's objects in the data bucket (`<storage_key>/<id>/`)."""
        return self.s3_uri.removeprefix("s3://").partition("/")[2]


# ---------------------------------------------------------------------------------------------
# Collections


SourceType = Literal["bucket", "collection", "taxonomy", "cluster", "direct_upsert", "signals", "none"]
# Payload keys every document of a collection carries (ingestion's system fields): a passthrough
# may not write them.
SYSTEM_PAYLOAD_FIELDS = frozenset(
    {
        "document_id", "object_id", "bucket_id", "collection_id", "feature_extractor_id", "source_key",
        "property", "chunk_index", "modality", "content_type", "created_at", "updated_at", "metadata",
        "filename", "text", "text_truncated",
    }
)  # fmt: skip


class FieldPassthrough(StrictModel):
    """One source field copied into every document made from an object (Mixpeek's
    FieldPassthrough): `source_path` is a dot path into the object's metadata, `target_path` the
    payload key (default: the path's last part)."""

    source_path: str = Field(min_length=1, max_length=256)
    target_path: str | None = Field(default=None, min_length=1, max_length=256)
    default: Any = None
    required: bool = False

    @property
    def target(self) -> str:
        return self.target_path or self.source_path.split(".")[-1]

    @field_validator("target_path")
    @classmethod
    def _not_a_system_field(cls, value: str | None) -> str | None:
        if value is not None and value.split(".")[0] in SYSTEM_PAYLOAD_FIELDS:
            raise ValueError(f"target_path '{value}' would overwrite a system field of every document")
        return value


class CollectionSource(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "source_namespace_id": NotApplied("a collection reads buckets of its own namespace"),
        "collection_id": NotApplied("a collection reads buckets (source.type bucket)"),
        "collection_ids": NotApplied("a collection reads buckets (source.type bucket)"),
        "inherited_bucket_ids": NotApplied("a collection reads the buckets of source.bucket_ids"),
        "source_filters": NotApplied("every object of the source buckets is processed"),
    }

    type: SourceType = "bucket"
    bucket_ids: list[str] = Field(default_factory=list, max_length=100)
    # Per source bucket, the fields of its objects' metadata copied into the documents.
    field_map: dict[str, list[FieldPassthrough]] | None = None
    source_namespace_id: str | None = None
    collection_id: str | None = None
    collection_ids: list[str] | None = None
    inherited_bucket_ids: list[str] | None = None
    source_filters: Json | None = None


class SourceOfBuckets(Model):
    """A collection's source as stored and answered: its buckets (ids) and their field maps."""

    type: Literal["bucket"] = "bucket"
    bucket_ids: list[str]
    field_map: dict[str, list[FieldPassthrough]] = Field(default_factory=dict)


class CollectionExtractorRequest(ReportsUnapplied, StrictModel):
    feature_extractor_name: str = Field(min_length=1, max_length=128)
    version: str = Field(default="v1", min_length=1, max_length=32)
    feature_extractor_id: str | None = None
    # `params` (the namespace spelling) is accepted too; null means none.
    parameters: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    # Object property → extractor input (e.g. {"text": "content"}); kept for the pipeline.
    input_mappings: Annotated[dict[str, Any], stored_json(limits.MAX_INPUT_MAPPINGS_BYTES)] | None = None
    field_passthrough: list[FieldPassthrough] | None = Field(default=None, max_length=64)
    include_all_source_fields: bool = False

    def given_parameters(self) -> dict[str, Any]:
        return {**(self.params or {}), **(self.parameters or {})}


class CollectionExtractor(Model):
    """The extractor as locked in at creation: every parameter, defaults applied."""

    feature_extractor_name: str
    version: str
    feature_extractor_id: str
    parameters: dict[str, Any]
    input_mappings: dict[str, Any] = Field(default_factory=dict)
    inference_service: str
    field_passthrough: list[FieldPassthrough] = Field(default_factory=list)
    include_all_source_fields: bool = False


class CreateCollectionRequest(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "input_schema": NotApplied("the extractor reads the object's blobs; input_mappings picks them"),
        "features": NotApplied("a collection's features are its feature_extractor's"),
        "schedule": NotApplied("objects are processed as they arrive"),
        "taxonomy_applications": NotApplied("Stratus has no taxonomies"),
        "cluster_applications": NotApplied("Stratus has no clusters"),
        "alert_applications": NotApplied("Stratus has no alerts"),
        "retriever_enrichments": NotApplied("Stratus has no enrichments"),
        "retriever_transform": NotApplied("Stratus has no retriever transforms"),
        "embedding_task": NotApplied("the extractor's inference service decides how to embed"),
    }

    collection_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    source: CollectionSource
    feature_extractor: CollectionExtractorRequest
    # false: the extractor skips this collection (objects are still stored and counted).
    enabled: bool = True
    metadata: Annotated[dict[str, Any], stored_json(limits.MAX_OBJECT_METADATA_BYTES)] | None = None
    input_schema: Json | None = None
    features: list[str] | None = None
    schedule: Json | None = None
    taxonomy_applications: list[Json] | None = None
    cluster_applications: list[Json] | None = None
    alert_applications: list[Json] | None = None
    retriever_enrichments: list[Json] | None = None
    retriever_transform: Json | None = None
    embedding_task: str | None = None


class CollectionModel(Model):
    """The answer of every collection route."""

    collection_id: str
    collection_name: str
    description: str | None = None
    source: SourceOfBuckets
    feature_extractor: CollectionExtractor
    # The namespace vector index this collection's documents are written to.
    vector_index: str
    enabled: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)
    namespace_id: str
    created_at: str


class CollectionCreated(CollectionModel):
    warnings: list[str] = Field(default_factory=list)


class Collection(CollectionModel):
    org_id: str


# ---------------------------------------------------------------------------------------------
# Tasks


# The SDK's TaskType values Stratus's tasks can be: an object's extraction, a backfill, a
# migration. Stored values from earlier versions (`object_ingestion`) answer as this one.
OBJECT_PROCESSING_TASK = "engine_object_processing"
SDK_TASK_TYPES = frozenset(
    {
        "api_buckets_objects_create", "api_buckets_uploads_create", "api_buckets_uploads_confirm",
        "api_collections_documents_bulk_update", "api_namespaces_create", "api_namespaces_delete",
        "api_buckets_delete", "engine_feature_extractor_run", "engine_inference_run", OBJECT_PROCESSING_TASK,
        # A backfill (api_collections_reembed) and an embedding-model migration (models/backfill.py).
        "api_collections_reembed", "api_namespaces_migrations_run",
    }
)  # fmt: skip


class TaskModel(Model):
    """The answer of `GET /v1/tasks/{task_id}` (the SDK's TaskResponse). `inputs` and `outputs`
    are arrays (the SDK's type): one object each, with the keys Stratus always had (`inputs[0]`:
    object_id, bucket_id, key, etag; `outputs[0]`: document_count, collections)."""

    task_id: str
    task_type: str
    status: TaskStatus
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    additional_data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    # Progress of a backfill or migration task (None on other tasks): documents (per index filled)
    # embedded and written, skipped (no source value, or a vector already there), failed, out of
    # `total` once the task has listed them; `eta_seconds` as of the last finished page.
    processed: int | None = None
    skipped: int | None = None
    failed: int | None = None
    total: int | None = None
    eta_seconds: float | None = None


class Task(Model):
    """The stored record (inputs and outputs as objects)."""

    task_id: str
    task_type: str
    status: TaskStatus
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    # Progress of a backfill or migration task (None on other tasks): documents (per index filled)
    # embedded and written, skipped (no source value, or a vector already there), failed, out of
    # `total` once the task has listed them; `eta_seconds` as of the last finished page.
    processed: int | None = None
    skipped: int | None = None
    failed: int | None = None
    total: int | None = None
    eta_seconds: float | None = None
    org_id: str
    namespace_id: str
    created_at: str
    updated_at: str

    def answer(self) -> TaskModel:
        return TaskModel(
            task_id=self.task_id,
            task_type=self.task_type if self.task_type in SDK_TASK_TYPES else OBJECT_PROCESSING_TASK,
            status=self.status,
            inputs=[self.inputs] if self.inputs else [],
            outputs=[self.outputs] if self.outputs else [],
            additional_data={
                "namespace_id": self.namespace_id,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
            },
            error=self.error,
            processed=self.processed,
            skipped=self.skipped,
            failed=self.failed,
            total=self.total,
            eta_seconds=self.eta_seconds,
        )
