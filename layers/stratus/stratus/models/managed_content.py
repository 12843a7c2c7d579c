"""Managed content: buckets (S3 prefixes objects land in), collections (a bucket source + a feature
extractor writing into one vector index of a managed namespace) and tasks (async work records).

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


# ---------------------------------------------------------------------------------------------
# Objects: one S3 object under a bucket's prefix, from the objects API (a JSON manifest of its
# blobs), a presigned upload or a plain S3 put. The extractor moves it through its statuses.

BlobType = Literal["text", "image"]
# Its size limit (MAX_OBJECT_METADATA_BYTES) is checked by the objects service: a 413.
ObjectMetadata = Annotated[dict[str, Any], stored_json()]
ObjectSource = Literal["api", "upload", "s3"]
SHA256_PATTERN = r"^[a-f0-9]{64}$"
UPLOAD_ID_PATTERN = r"^upl_[a-zA-Z0-9_-]+$"


class BlobInput(ReportsUnapplied, StrictModel):
    """One blob of `POST /v1/buckets/{id}/objects`. `data` is inline text (type text; a number,
    boolean, object or list becomes its JSON text), base64 (a bare string or a
    `data:<mime>;base64,` URI) or an https URL fetched once, at creation; or `upload_id` names a
    confirmed upload (made with `create_object_on_confirm: false`) whose file is the blob."""

    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "key_prefix": NotApplied(
            "a blob is stored inside its object's manifest, under the object's key_prefix"
        ),
        "checksum": NotApplied(
            "blobs are not checked against a client checksum; the object has a content hash"
        ),
        "metadata": NotApplied("metadata belongs to the object (its `metadata`), copied into every document"),
        "canonicalize_source": NotApplied("a URL's content is always fetched once and stored", (True,)),
        "force_remirror": NotApplied("a URL's content is always fetched once and stored"),
    }

    property: str = Field(min_length=1, max_length=128)
    # Any BucketSchemaFieldType is accepted; the service extracts text (and `string`) and image.
    type: BucketFieldType
    data: str | bool | int | float | dict[str, Any] | list[Any] | None = None
    upload_id: str | None = Field(default=None, pattern=UPLOAD_ID_PATTERN)
    content_type: str | None = Field(default=None, max_length=255)
    filename: str | None = Field(default=None, max_length=255)
    key_prefix: str | None = Field(default=None, max_length=512)
    checksum: str | None = Field(default=None, max_length=256)
    metadata: Json | None = None
    canonicalize_source: bool | None = None
    force_remirror: bool | None = None


class CreateObjectRequest(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "canonicalize_source": NotApplied("a URL's content is always fetched once and stored", (True,)),
        "force_remirror": NotApplied("a URL's content is always fetched once and stored"),
        "edges": NotApplied("Stratus keeps no object graph"),
        "idempotency_key": NotApplied(
            "retries are made safe by skip_duplicates (same content, same object) instead"
        ),
    }

    key_prefix: str | None = Field(default=None, max_length=512)
    metadata: ObjectMetadata = Field(default_factory=dict)
    blobs: list[BlobInput] = Field(min_length=1, max_length=limits.MAX_BLOBS_PER_OBJECT)
    # true: an object whose content the bucket already holds is not created again; the answer is
    # the object that holds it (`replayed: true`).
    skip_duplicates: bool = False
    canonicalize_source: bool = True
    force_remirror: bool = False
    edges: list[Json] | None = None
    idempotency_key: str | None = Field(default=None, max_length=255)


class CreateObjectsBatchRequest(StrictModel):
    """`POST /v1/buckets/{id}/objects/batch`: up to 100 objects, each as `POST .../objects` takes."""

    objects: list[CreateObjectRequest] = Field(min_length=1, max_length=limits.MAX_OBJECTS_PER_BATCH)


class CreateUploadRequest(ReportsUnapplied, StrictModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)
    key_prefix: str | None = Field(default=None, max_length=512)
    # The object's metadata: `object_metadata` (the SDK's), else `metadata` (Stratus's spelling,
    # which the SDK uses for the upload record alone; kept on the upload either way).
    metadata: ObjectMetadata = Field(default_factory=dict)
    object_metadata: ObjectMetadata | None = None
    file_size_bytes: int | None = Field(
        default=None,
        ge=1,
        description="The file's size in bytes, at most the largest object the extractor reads "
        "(STRATUS_MAX_OBJECT_BYTES, 20 MB by default). Given, the URL accepts a PUT of exactly this "
        "many bytes (the answer's headers carry its Content-Length) and S3 refuses any other; "
        "without it any size is stored, and an object over the limit is FAILED by the extractor.",
    )
    # Seconds the URL stays valid; default STRATUS_PRESIGNED_URL_SECONDS (the SDK sends 3600).
    presigned_url_expiration: int | None = Field(default=None, ge=60, le=86400)
    # true: the file is an object of the bucket (created when it arrives or at confirm,
    # whichever comes first, then processed). false: the file is only staged; confirm verifies
    # it and a later `POST .../objects` blob can name it by `upload_id`.
    create_object_on_confirm: bool = True
    blob_property: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9_]+$", max_length=128)
    blob_type: str | None = Field(default=None, max_length=32)
    file_hash: str | None = Field(default=None, pattern=SHA256_PATTERN)
    # true: a file whose SHA-256 the bucket already holds makes no new object.
    skip_duplicates: bool = False


class ConfirmUploadRequest(StrictModel):
    etag: str | None = Field(default=None, max_length=256)
    file_size_bytes: int | None = Field(
        default=None,
        ge=1,
        description="The file's size in bytes, at most the largest object the extractor reads "
        "(STRATUS_MAX_OBJECT_BYTES, 20 MB by default). Given, the URL accepts a PUT of exactly this "
        "many bytes (the answer's headers carry its Content-Length) and S3 refuses any other; "
        "without it any size is stored, and an object over the limit is FAILED by the extractor.",
    )
    # Stratus processes every object as it arrives: there are no batches to submit.
    auto_submit_batch: bool = False


class BlobSummary(Model):
    property: str
    type: BlobType
    content_type: str
    size: int
    filename: str | None = None


class ObjectModel(Model):
    """The answer of every object route."""

    object_id: str
    bucket_id: str
    namespace_id: str
    key: str  # the S3 key inside the data bucket
    s3_uri: str
    source: ObjectSource
    blobs: list[BlobSummary] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: TaskStatus
    error: str | None = None
    # The S3 ETag the status refers to (None until an upload's PUT arrived).
    etag: str | None = None
    task_id: str | None = None
    document_count: int = 0
    # Bytes of the S3 object (0 until an upload's file arrived); counted in the bucket's
    # total_size_bytes. `content_hash`: SHA-256 of the file, or of an API object's blobs.
    size_bytes: int = 0
    content_hash: str | None = None
    created_at: str
    updated_at: str


class ObjectRecord(ObjectModel):
    org_id: str


class BatchObjectModel(ObjectModel):
    """One created object of a batch: the object, and its position in the request's `objects`."""

    object_index: int
    # As `POST .../objects` answers it: the object that already held this content (`skip_duplicates`).
    replayed: bool = False
    replayed_by: Literal["skip_duplicates"] | None = None


class FailedObject(Model):
    """An object of a batch that was not created (its storage failed; nothing of it remains)."""

    object_index: int
    error: str
    error_type: str


class CreateObjectsBatchResponse(Model):
    """The answer of `POST /v1/buckets/{id}/objects/batch`, in the Mixpeek SDK's shape."""

    succeeded: list[BatchObjectModel]
    failed: list[FailedObject]
    total_requested: int
    succeeded_count: int
    failed_count: int


class ObjectCreated(ObjectModel):
    """`POST .../objects`: with `replayed`, the object that already held this content
    (`skip_duplicates`); nothing was created."""

    replayed: bool = False
    replayed_by: Literal["skip_duplicates"] | None = None
    warnings: list[str] = Field(default_factory=list)


UploadStatus = Literal["PENDING", "COMPLETED", "SKIPPED"]


class UploadModel(Model):
    """The answer of `POST /v1/buckets/{id}/uploads` (the SDK's UploadResponse)."""

    upload_id: str
    bucket_id: str
    filename: str
    content_type: str
    file_size_bytes: int | None = None
    # None when the upload is a duplicate (`is_duplicate`): nothing to PUT.
    presigned_url: str | None = None
    presigned_url_expiration: int
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(default_factory=dict)
    s3_key: str
    s3_uri: str
    status: UploadStatus
    metadata: dict[str, Any] = Field(default_factory=dict)
    create_object_on_confirm: bool
    object_metadata: dict[str, Any] = Field(default_factory=dict)
    blob_property: str
    blob_type: str
    file_hash: str | None = None
    skip_duplicates: bool = False
    is_duplicate: bool = False
    existing_object_id: str | None = None
    message: str | None = None
    # The object the file becomes (create_object_on_confirm): its id is known up front.
    object_id: str | None = None
    task_id: str | None = None
    etag: str | None = None
    created_at: str
    expires_at: str
    verified_at: str | None = None
    completed_at: str | None = None
    warnings: list[str] = Field(default_factory=list)


class UploadRecord(UploadModel):
    org_id: str
    namespace_id: str


class ConfirmUploadResponse(Model):
    upload_id: str
    status: UploadStatus
    object_id: str | None = None
    task_id: str | None = None
    etag: str | None = None
    file_size_bytes: int | None = None
    file_hash: str | None = None
    is_duplicate: bool = False
    existing_object_id: str | None = None
    verified_at: str | None = None
    completed_at: str | None = None
    message: str | None = None


class ListObjectsRequest(ReportsUnapplied, StrictModel):
    """Body of `POST /v1/buckets/{id}/objects/list` (the SDK's ListObjectsRequest, plus paging)."""

    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "sort": NotApplied("a bucket's objects are listed in object_id order"),
        "select": NotApplied("objects are answered whole"),
        "return_presigned_urls": NotApplied("Stratus hands out no download URLs; s3_uri names each file"),
    }

    filters: dict[str, Any] | None = None
    search: str | None = Field(default=None, max_length=256)
    sort: Json | None = None
    select: list[str] | None = None
    return_presigned_urls: bool = False
    limit: int | None = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    page_size: int | None = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=2048)
    include_total: bool | None = None
    case_sensitive: bool = False


class ObjectList(Model):
    results: list[ObjectModel]
    pagination: dict[str, Any]
    warnings: list[str] = Field(default_factory=list)


class DeletedObject(Model):
    object_id: str
    bucket_id: str
    deleted: bool = True
    success: bool = True
    message: str = "Successfully deleted"
