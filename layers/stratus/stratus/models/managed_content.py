"""Managed content: buckets (S3 prefixes objects land in), collections (a bucket source + a feature
extractor writing into one vector index of a managed namespace) and tasks (async work records).

The stored records carry `org_id` (every item belongs to one organization); the answers do not."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.stored_json import stored_json

TaskStatus = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]

# ---------------------------------------------------------------------------------------------
# Buckets


class CreateBucketRequest(StrictModel):
    bucket_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    bucket_schema: Annotated[dict[str, Any], stored_json(limits.MAX_BUCKET_SCHEMA_BYTES)] | None = None


class BucketModel(Model):
    """The answer of every bucket route."""

    bucket_id: str
    bucket_name: str
    description: str | None = None
    bucket_schema: dict[str, Any] | None = None
    # Fixed at creation: a later change of STRATUS_DATA_BUCKET must not move existing objects.
    s3_uri: str
    namespace_id: str
    created_at: str
    object_count: int = 0


class Bucket(BucketModel):
    """The stored record."""

    org_id: str

    @property
    def key_prefix(self) -> str:
        """The S3 key prefix of the bucket's objects in the data bucket (`<storage_key>/<id>/`)."""
        return self.s3_uri.removeprefix("s3://").partition("/")[2]


# ---------------------------------------------------------------------------------------------
# Collections


class CollectionSource(StrictModel):
    type: Literal["bucket"] = "bucket"
    bucket_ids: list[str] = Field(min_length=1, max_length=100)


class CollectionExtractorRequest(StrictModel):
    feature_extractor_name: str = Field(min_length=1, max_length=128)
    version: str = Field(default="v1", min_length=1, max_length=32)
    feature_extractor_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    # Object property → extractor input (e.g. {"text": "content"}); kept for the pipeline.
    input_mappings: Annotated[dict[str, Any], stored_json(limits.MAX_INPUT_MAPPINGS_BYTES)] = Field(
        default_factory=dict
    )


class CollectionExtractor(Model):
    """The extractor as locked in at creation: every parameter, defaults applied."""

    feature_extractor_name: str
    version: str
    feature_extractor_id: str
    parameters: dict[str, Any]
    input_mappings: dict[str, Any] = Field(default_factory=dict)
    inference_service: str


class CreateCollectionRequest(StrictModel):
    collection_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    source: CollectionSource
    feature_extractor: CollectionExtractorRequest


class CollectionModel(Model):
    """The answer of every collection route."""

    collection_id: str
    collection_name: str
    description: str | None = None
    source: CollectionSource
    feature_extractor: CollectionExtractor
    # The namespace vector index this collection's documents are written to.
    vector_index: str
    enabled: bool = True
    namespace_id: str
    created_at: str


class Collection(CollectionModel):
    org_id: str


# ---------------------------------------------------------------------------------------------
# Tasks


class TaskModel(Model):
    task_id: str
    task_type: str
    status: TaskStatus
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class Task(TaskModel):
    org_id: str
    namespace_id: str
    created_at: str
    updated_at: str


# ---------------------------------------------------------------------------------------------
# Objects: one S3 object under a bucket's prefix, from the objects API (a JSON manifest of its
# blobs), a presigned upload or a plain S3 put. The extractor moves it through its statuses.

BlobType = Literal["text", "image"]
# Its size limit (MAX_OBJECT_METADATA_BYTES) is checked by the objects service: a 413.
ObjectMetadata = Annotated[dict[str, Any], stored_json()]
ObjectSource = Literal["api", "upload", "s3"]


class BlobInput(StrictModel):
    """One blob of `POST /v1/buckets/{id}/objects`. `data` is inline text (type text), base64
    (a bare string or a `data:<mime>;base64,` URI) or an https URL fetched once, at creation."""

    property: str = Field(min_length=1, max_length=128)
    type: BlobType
    data: str = Field(min_length=1)
    content_type: str | None = Field(default=None, max_length=255)
    filename: str | None = Field(default=None, max_length=255)


class CreateObjectRequest(StrictModel):
    key_prefix: str | None = Field(default=None, max_length=512)
    metadata: ObjectMetadata = Field(default_factory=dict)
    blobs: list[BlobInput] = Field(min_length=1, max_length=limits.MAX_BLOBS_PER_OBJECT)


class CreateObjectsBatchRequest(StrictModel):
    """`POST /v1/buckets/{id}/objects/batch`: up to 100 objects, each as `POST .../objects` takes."""

    objects: list[CreateObjectRequest] = Field(min_length=1, max_length=limits.MAX_OBJECTS_PER_BATCH)


class CreateUploadRequest(StrictModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)
    key_prefix: str | None = Field(default=None, max_length=512)
    metadata: ObjectMetadata = Field(default_factory=dict)
    file_size_bytes: int | None = Field(
        default=None,
        ge=1,
        description="The file's size in bytes, at most the largest object the extractor reads "
        "(STRATUS_MAX_OBJECT_BYTES, 20 MB by default). Given, the URL accepts a PUT of exactly this "
        "many bytes (the answer's headers carry its Content-Length) and S3 refuses any other; "
        "without it any size is stored, and an object over the limit is FAILED by the extractor.",
    )


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
    created_at: str
    updated_at: str


class ObjectRecord(ObjectModel):
    org_id: str


class BatchObjectModel(ObjectModel):
    """One created object of a batch: the object, and its position in the request's `objects`."""

    object_index: int


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


class UploadModel(Model):
    """The answer of `POST /v1/buckets/{id}/uploads`."""

    upload_id: str
    object_id: str
    presigned_url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    s3_key: str
    s3_uri: str
    expires_at: str
