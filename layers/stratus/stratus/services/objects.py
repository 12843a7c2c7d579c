"""Object rules: objects created through the API (their blobs stored as one manifest in the data
bucket) or announced as presigned uploads; both then travel S3 → SQS → extractor like any file
put under the bucket's prefix.

The record is written before the S3 object (PENDING), so the extractor always finds it; if S3
then fails, the record is removed again and the client gets a retryable 503 — nothing is left
half made."""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stratus import clock, ids, limits
from stratus.domain.content import (
    Blob,
    check_image_pixels,
    check_supported_file,
    content_type_for,
    encode_manifest,
    sniffed_image_type,
)
from stratus.domain.object_keys import (
    MANIFEST_METADATA,
    MANIFEST_SUFFIX,
    checked_filename,
    normalized_key_prefix,
    object_id_for_key,
    task_id_for,
)
from stratus.domain.object_records import pending_object, task_of
from stratus.errors import BadRequestError, NotFoundError, PayloadTooLargeError, StratusError
from stratus.models.common import ListResponse, Pagination
from stratus.models.managed_content import (
    BatchObjectModel,
    BlobInput,
    BlobSummary,
    Bucket,
    CreateObjectRequest,
    CreateObjectsBatchRequest,
    CreateObjectsBatchResponse,
    CreateUploadRequest,
    FailedObject,
    ObjectModel,
    ObjectRecord,
    UploadModel,
)
from stratus.ports.fetch import UrlFetcher
from stratus.ports.metadata import ManagedContentRepository, ObjectWrite
from stratus.ports.stores import Stores
from stratus.settings import Settings

logger = logging.getLogger(__name__)

_DATA_URI_PREFIX = "data:"
_URL_SCHEMES = ("https://", "http://")


# ---------------------------------------------------------------------------------------------
# Objects API


def create_object(
    stores: Stores, bucket: Bucket, request: CreateObjectRequest, settings: Settings
) -> ObjectRecord:
    prepared = _prepare(stores, bucket, request, settings)
    record = prepared.record
    _register(stores.metadata, record)
    try:
        stores.blobs.put(prepared.key, prepared.manifest, "application/json", {MANIFEST_METADATA: "1"})
    except Exception:
        _unregister(stores.metadata, record)
        raise
    return record


@dataclass(frozen=True)
class _Prepared:
    """An object ready to store: its PENDING record, its S3 key and its manifest."""

    record: ObjectRecord
    key: str
    manifest: bytes


def _prepare(
    stores: Stores, bucket: Bucket, request: CreateObjectRequest, settings: Settings, prefix: str = ""
) -> _Prepared:
    """Check the object and build its manifest; a 4xx naming `<prefix>field` if it is wrong.
    Nothing is written."""
    _check_metadata(request.metadata, f"{prefix}metadata")
    blobs = [_blob(position, blob, stores.fetcher, prefix) for position, blob in enumerate(request.blobs)]
    _check_unique_properties(request.blobs, prefix)
    check_image_pixels(
        blobs, f"{prefix}blobs"
    )  # the extractor checks it too; refused here, nothing is stored
    manifest = encode_manifest(blobs, request.metadata)
    if len(manifest) > settings.max_object_bytes:
        raise PayloadTooLargeError(
            f"{prefix}blobs: the object is {len(manifest)} bytes once stored; "
            f"at most {settings.max_object_bytes}",
            {"field": f"{prefix}blobs", "size": len(manifest), "limit": settings.max_object_bytes},
        )
    key = (
        f"{bucket.key_prefix}{normalized_key_prefix(request.key_prefix)}{ids.new_id('', 20)}{MANIFEST_SUFFIX}"
    )
    object_id = object_id_for_key(key)
    # S3's ETag of a single-part PUT (SSE-S3) is the body's MD5: known before the write, so the
    # answer can name the task the extractor will use.
    etag = hashlib.md5(manifest, usedforsecurity=False).hexdigest()
    summaries = [b.summary() for b in blobs]
    record = pending_object(
        bucket, object_id, key, stores.blobs.bucket, "api", clock.iso_now(), request.metadata, summaries
    )
    record = record.model_copy(update={"etag": etag, "task_id": task_id_for(object_id, etag)})
    return _Prepared(record, key, manifest)


# ---------------------------------------------------------------------------------------------
# Bulk objects


# Objects prepared (URLs fetched) and manifests stored at once by one batch.
BATCH_THREADS = 8


def create_objects(
    stores: Stores, bucket: Bucket, request: CreateObjectsBatchRequest, settings: Settings
) -> CreateObjectsBatchResponse:
    """Up to 100 objects in one call (docs/api.md, "Bulk objects"): every object is checked first
    (a 4xx naming `objects[i]...`, nothing written), then their records are written with the
    bucket's count in as few transactions as DynamoDB allows, their tasks in batched writes, and
    their manifests stored at once. An object whose manifest could not be stored is removed again
    and listed in `failed`; if none could be, the answer is the retryable 503 itself."""
    with ThreadPoolExecutor(max_workers=BATCH_THREADS, thread_name_prefix="stratus-objects") as pool:
        prepared = _prepare_all(stores, bucket, request, settings, pool)
        records = [item.record for item in prepared]
        try:
            # The records and the bucket's count, one transaction per 99 objects (DynamoDB's
            # limit is 100 items); their tasks after them, in batched writes.
            stores.metadata.save_objects([ObjectWrite(record, None, create=True) for record in records])
            stores.metadata.put_tasks([task_of(record) for record in records])
        except Exception:
            for record in records:  # a transaction that went through before one that did not
                _unregister(stores.metadata, record)
            raise
        stored = list(pool.map(functools.partial(_store_manifest, stores), prepared))
    failed = [
        FailedObject(object_index=index, error=_failure(error), error_type=_type_of(error))
        for index, error in enumerate(stored)
        if error is not None
    ]
    for index, error in enumerate(stored):
        if error is not None:
            _unregister(stores.metadata, records[index])
    if failed and len(failed) == len(records):
        first = stored[0]
        assert first is not None
        raise first
    succeeded = [
        BatchObjectModel(object_index=index, **describe_object(record).model_dump())
        for index, (record, error) in enumerate(zip(records, stored, strict=True))
        if error is None
    ]
    return CreateObjectsBatchResponse(
        succeeded=succeeded,
        failed=failed,
        total_requested=len(records),
        succeeded_count=len(succeeded),
        failed_count=len(failed),
    )


def _prepare_all(
    stores: Stores,
    bucket: Bucket,
    request: CreateObjectsBatchRequest,
    settings: Settings,
    pool: ThreadPoolExecutor,
) -> list[_Prepared]:
    """Every object prepared (URL blobs fetched concurrently); the first object in order that is
    wrong raises its 4xx."""
    futures = [
        pool.submit(_prepare, stores, bucket, item, settings, f"objects[{index}].")
        for index, item in enumerate(request.objects)
    ]
    return [future.result() for future in futures]


def _store_manifest(stores: Stores, prepared: _Prepared) -> Exception | None:
    try:
        stores.blobs.put(prepared.key, prepared.manifest, "application/json", {MANIFEST_METADATA: "1"})
    except Exception as error:
        if not isinstance(error, StratusError):
            logger.exception("storing the manifest of object %s failed", prepared.record.object_id)
        return error
    return None


def _failure(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message
    return "internal error; retry the object"


def _type_of(error: Exception) -> str:
    return error.type if isinstance(error, StratusError) else "InternalServerError"


def _blob(position: int, blob: BlobInput, fetcher: UrlFetcher, prefix: str = "") -> Blob:
    field = f"{prefix}blobs[{position}].data"
    if blob.type == "text":
        text = blob.data
        if blob.data.startswith(_URL_SCHEMES):
            text = _decoded_text(fetcher.fetch(blob.data, field), field)
        elif blob.data.startswith(_DATA_URI_PREFIX):
            text = _decoded_text(_data_uri_bytes(blob.data, field)[1], field)
        return Blob(blob.property, "text", blob.content_type or "text/plain", blob.filename, text=text)
    data = _image_bytes(blob.data, field, fetcher)
    sniffed = sniffed_image_type(data)
    if sniffed is None:
        raise BadRequestError(
            f"{field}: not a JPEG, PNG or WebP image (checked its first bytes)",
            {"field": field, "accepted": ["image/jpeg", "image/png", "image/webp"]},
        )
    return Blob(blob.property, "image", sniffed, blob.filename, data=data)


def _image_bytes(data: str, field: str, fetcher: UrlFetcher) -> bytes:
    if data.startswith(_URL_SCHEMES):
        return fetcher.fetch(data, field)
    if data.startswith(_DATA_URI_PREFIX):
        return _data_uri_bytes(data, field)[1]
    return _base64(data, field)


def _data_uri_bytes(uri: str, field: str) -> tuple[str, bytes]:
    header, separator, payload = uri.partition(",")
    if not separator or not header.endswith(";base64"):
        raise BadRequestError(
            f"{field}: a data URI must look like data:<mime type>;base64,<data>", {"field": field}
        )
    return header.removeprefix(_DATA_URI_PREFIX).removesuffix(";base64"), _base64(payload, field)


def _base64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"{field}: not valid base64 (send the image as base64, a data: URI or an https URL)",
            {"field": field},
        ) from None


def _decoded_text(data: bytes, field: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequestError(
            f"{field}: the text is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})",
            {"field": field},
        ) from None


def _check_unique_properties(blobs: list[BlobInput], prefix: str = "") -> None:
    seen: dict[str, int] = {}
    for position, blob in enumerate(blobs):
        if blob.property in seen:
            raise BadRequestError(
                f"{prefix}blobs[{position}].property: '{blob.property}' repeats "
                f"{prefix}blobs[{seen[blob.property]}]; each blob of an object needs its own property",
                {"field": f"{prefix}blobs[{position}].property"},
            )
        seen[blob.property] = position


def _check_metadata(metadata: dict[str, Any], field: str) -> None:
    try:
        size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())
    except ValueError:
        raise BadRequestError(f"{field}: non-finite numbers are not accepted", {"field": field}) from None
    if size > limits.MAX_OBJECT_METADATA_BYTES:
        raise PayloadTooLargeError(
            f"{field}: {size} bytes of JSON; an object's metadata holds at most "
            f"{limits.MAX_OBJECT_METADATA_BYTES} bytes (it is copied into every document made from it)",
            {"field": field, "size": size, "limit": limits.MAX_OBJECT_METADATA_BYTES},
        )


# ---------------------------------------------------------------------------------------------
# Presigned uploads


def create_upload(
    stores: Stores, bucket: Bucket, request: CreateUploadRequest, settings: Settings
) -> tuple[UploadModel, ObjectRecord]:
    filename = checked_filename(request.filename)
    check_supported_file(filename, request.content_type, "filename")
    _check_content_type(request.content_type)
    _check_metadata(request.metadata, "metadata")
    size = request.file_size_bytes
    if size is not None and size > settings.max_object_bytes:
        raise PayloadTooLargeError(
            f"file_size_bytes: {size} bytes; an upload holds at most {settings.max_object_bytes} bytes "
            "(the most the extractor reads)",
            {"field": "file_size_bytes", "size": size, "limit": settings.max_object_bytes},
        )
    upload_id = ids.new_id("upl_")
    key = f"{bucket.key_prefix}{normalized_key_prefix(request.key_prefix)}{upload_id}/{filename}"
    object_id = object_id_for_key(key)
    summary = BlobSummary(
        property="file",
        type="image" if content_type_for(filename, request.content_type).startswith("image/") else "text",
        content_type=request.content_type,
        size=size or 0,
        filename=filename,
    )
    record = pending_object(
        bucket, object_id, key, stores.blobs.bucket, "upload", clock.iso_now(), request.metadata, [summary]
    )
    url = stores.blobs.presign_put(key, request.content_type, settings.presigned_url_seconds, size)
    _register(stores.metadata, record, with_task=False)  # its task exists once the PUT arrives
    expires_at = clock.utc_now() + timedelta(seconds=settings.presigned_url_seconds)
    upload = UploadModel(
        upload_id=upload_id,
        object_id=object_id,
        presigned_url=url,
        headers={
            "Content-Type": request.content_type,
            **({"Content-Length": str(size)} if size is not None else {}),
        },
        s3_key=key,
        s3_uri=record.s3_uri,
        expires_at=expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    return upload, record


def _check_content_type(content_type: str) -> None:
    main, slash, sub = content_type.partition("/")
    if not slash or not main or not sub or any(c.isspace() for c in content_type.split(";", 1)[0]):
        raise BadRequestError(
            f"content_type: {content_type!r} is not a MIME type like text/plain or image/png",
            {"field": "content_type"},
        )


# ---------------------------------------------------------------------------------------------
# Records


def _register(metadata: ManagedContentRepository, record: ObjectRecord, with_task: bool = True) -> None:
    if not metadata.create_object(record):  # 20 random characters: never expected
        raise StratusError(f"object '{record.object_id}' already exists")
    if with_task and record.task_id is not None:
        try:
            metadata.put_task(task_of(record))
        except Exception:
            _unregister(metadata, record)
            raise


def _unregister(metadata: ManagedContentRepository, record: ObjectRecord) -> None:
    """Best effort: if this fails too, the PENDING record of an object that never reached S3 says
    so on the next read (no task ever completes it)."""
    with contextlib.suppress(StratusError):
        metadata.delete_object(record.org_id, record.namespace_id, record.bucket_id, record.object_id)


# ---------------------------------------------------------------------------------------------
# Reads


def describe_object(record: ObjectRecord) -> ObjectModel:
    return ObjectModel.model_validate(record.model_dump(exclude={"org_id"}))


def get_object(metadata: ManagedContentRepository, bucket: Bucket, object_id: str) -> ObjectRecord:
    record = metadata.get_object(bucket.org_id, bucket.namespace_id, bucket.bucket_id, object_id)
    if record is None:
        raise NotFoundError.of("object", object_id)
    return record


def list_objects(
    metadata: ManagedContentRepository, bucket: Bucket, limit: int, cursor: str | None, include_total: bool
) -> ListResponse[ObjectModel]:
    page = metadata.list_objects(bucket.org_id, bucket.namespace_id, bucket.bucket_id, limit, cursor)
    total = None
    if include_total:
        total = metadata.count_objects(bucket.org_id, bucket.namespace_id, bucket.bucket_id)
    return ListResponse[ObjectModel](
        results=[describe_object(record) for record in page.objects],
        pagination=Pagination(page_size=len(page.objects), next_cursor=page.next_cursor, total=total),
    )
