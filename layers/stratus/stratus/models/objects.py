"""Objects (one S3 object under a bucket's prefix: a JSON manifest of its blobs from the objects
API, a presigned upload's file or a plain S3 put) and presigned uploads: their requests, answers and
stored records. The extractor moves an object through its statuses."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.managed_content import BucketFieldType, Json, TaskStatus
from stratus.models.sdk_fields import NotApplied, ReportsUnapplied
from stratus.models.stored_json import stored_json

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
