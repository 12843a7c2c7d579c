"""Presigned uploads: a PUT URL for a file, its confirmation, and the object its file becomes
(made by the extractor or at confirm, whichever comes first)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stratus import clock, ids
from stratus.domain.content import FILE_PROPERTY, check_supported_file, content_type_for
from stratus.domain.object_keys import (
    checked_filename,
    normalized_key_prefix,
    object_id_for_key,
    staging_prefix,
    task_id_for,
)
from stratus.domain.object_records import pending_object, task_of
from stratus.errors import BadRequestError, NotFoundError, PayloadTooLargeError
from stratus.models.managed_content import Bucket
from stratus.models.namespaces import Namespace
from stratus.models.objects import (
    BlobSummary,
    BlobType,
    ConfirmUploadRequest,
    ConfirmUploadResponse,
    CreateUploadRequest,
    ObjectRecord,
    UploadRecord,
)
from stratus.ports.blobs import StoredBlob
from stratus.ports.metadata import ManagedContentRepository
from stratus.ports.stores import Stores
from stratus.services.object_blobs import TEXT_BLOB_TYPES, check_metadata
from stratus.settings import Settings


def create_upload(
    stores: Stores, namespace: Namespace, bucket: Bucket, request: CreateUploadRequest, settings: Settings
) -> UploadRecord:
    """A presigned PUT URL and the upload's record. With `create_object_on_confirm` (the
    default) the file's key is under the bucket's prefix: the object is made when the file
    arrives (the extractor) or at confirm, whichever comes first, then processed. Without it the
    file is staged outside every bucket: confirm verifies it and `POST .../objects` may use it
    as a blob. With `skip_duplicates` and a `file_hash` the bucket already holds, nothing is
    uploaded: the answer names the object holding it."""
    filename = checked_filename(request.filename)
    check_supported_file(filename, request.content_type, "filename")
    _check_content_type(request.content_type)
    check_metadata(request.metadata, "metadata")
    object_metadata = request.object_metadata if request.object_metadata is not None else request.metadata
    check_metadata(object_metadata, "object_metadata")
    if request.file_size_bytes is not None and request.file_size_bytes > settings.max_object_bytes:
        raise PayloadTooLargeError(
            f"file_size_bytes: {request.file_size_bytes} bytes; an upload holds at most "
            f"{settings.max_object_bytes} bytes (the most the extractor reads)",
            {"field": "file_size_bytes", "size": request.file_size_bytes, "limit": settings.max_object_bytes},
        )
    kind: BlobType = (
        "image" if content_type_for(filename, request.content_type).startswith("image/") else "text"
    )
    blob_type = _checked_blob_type(request.blob_type, kind)
    upload_id = ids.new_id("upl_")
    folder = normalized_key_prefix(request.key_prefix)
    if request.create_object_on_confirm:
        key = f"{bucket.key_prefix}{folder}{upload_id}/{filename}"
        object_id: str | None = object_id_for_key(key)
    else:
        key = f"{staging_prefix(namespace.storage_key, bucket.bucket_id)}{folder}{upload_id}/{filename}"
        object_id = None
    seconds = request.presigned_url_expiration or settings.presigned_url_seconds
    now = clock.utc_now()
    upload = UploadRecord(
        org_id=bucket.org_id,
        namespace_id=bucket.namespace_id,
        upload_id=upload_id,
        bucket_id=bucket.bucket_id,
        filename=filename,
        content_type=request.content_type,
        file_size_bytes=request.file_size_bytes,
        presigned_url_expiration=seconds,
        headers={
            "Content-Type": request.content_type,
            **(
                {"Content-Length": str(request.file_size_bytes)}
                if request.file_size_bytes is not None
                else {}
            ),
        },
        s3_key=key,
        s3_uri=f"s3://{stores.blobs.bucket}/{key}",
        status="PENDING",
        metadata=request.metadata,
        create_object_on_confirm=request.create_object_on_confirm,
        object_metadata=object_metadata,
        blob_property=request.blob_property or _file_property(bucket),
        blob_type=blob_type,
        file_hash=request.file_hash,
        skip_duplicates=request.skip_duplicates,
        object_id=object_id,
        created_at=clock.iso(now),
        expires_at=clock.iso(now + timedelta(seconds=seconds)),
    )
    if request.skip_duplicates and request.file_hash and request.create_object_on_confirm:
        holder = stores.metadata.object_holding(
            bucket.org_id, bucket.namespace_id, bucket.bucket_id, request.file_hash
        )
        if holder is not None:
            skipped = _duplicate(upload, holder, clock.iso_now())
            stores.metadata.put_upload(skipped)
            return skipped
    # A given file_size_bytes is signed into the URL as its Content-Length: S3 refuses any other.
    url = stores.blobs.presign_put(key, request.content_type, seconds, request.file_size_bytes)
    stores.metadata.put_upload(upload)  # the URL is not kept: it is a bearer credential
    return upload.model_copy(update={"presigned_url": url})


def _file_property(bucket: Bucket) -> str:
    """The bucket schema's one file-type property if it declares exactly one, else `file`."""
    properties = (bucket.bucket_schema or {}).get("properties")
    if isinstance(properties, dict):
        files = [
            name
            for name, spec in properties.items()
            if isinstance(spec, dict) and spec.get("type") in FILE_FIELD_TYPES
        ]
        if len(files) == 1 and re.fullmatch(r"[A-Za-z0-9_]{1,128}", str(files[0])):
            return str(files[0])
    return FILE_PROPERTY


FILE_FIELD_TYPES = ("text", "image", "audio", "video", "pdf", "excel")


def _checked_blob_type(blob_type: str | None, kind: BlobType) -> str:
    if blob_type is None:
        return kind
    wanted = blob_type.lower()
    compatible = (*TEXT_BLOB_TYPES,) if kind == "text" else ("image",)
    if wanted not in compatible:
        raise BadRequestError(
            f"blob_type: '{blob_type}' does not fit the file (its name and content_type make it {kind}); "
            f"use {' or '.join(compatible)}, or leave blob_type out",
            {"field": "blob_type", "accepted": list(compatible)},
        )
    return wanted


def _duplicate(upload: UploadRecord, holder: str, now: str) -> UploadRecord:
    return upload.model_copy(
        update={
            "status": "SKIPPED",
            "is_duplicate": True,
            "existing_object_id": holder,
            "presigned_url": None,
            "completed_at": now,
            "message": f"the bucket already holds this file as object '{holder}' (skip_duplicates)",
        }
    )


@dataclass(frozen=True)
class Arrival:
    """What became of an upload's file: its object (`record`, `created` if just now), or the
    object already holding the same content (`duplicate_of`)."""

    record: ObjectRecord | None
    created: bool = False
    duplicate_of: str | None = None


def upload_arrival(
    metadata: ManagedContentRepository, upload: UploadRecord, stored: StoredBlob, data_bucket: str
) -> Arrival:
    """The object of an upload whose file is in the bucket (`create_object_on_confirm`), made by
    the extractor or by confirm, whichever comes first (a conditional create: the same object
    either way, counted once). With `skip_duplicates`, a file the bucket already holds makes no
    object: the upload is marked SKIPPED, naming the holder."""
    assert upload.object_id is not None
    existing = metadata.get_object(upload.org_id, upload.namespace_id, upload.bucket_id, upload.object_id)
    if existing is not None:
        return Arrival(existing)
    now = clock.iso_now()
    summary = BlobSummary(
        property=upload.blob_property,
        type="image" if upload.blob_type == "image" else "text",
        content_type=upload.content_type,
        size=len(stored.data),
        filename=upload.filename,
    )
    record = pending_object(
        upload, upload.object_id, upload.s3_key, data_bucket, "upload", now, upload.object_metadata, [summary]
    ).model_copy(
        update={
            "etag": stored.etag,
            "task_id": task_id_for(upload.object_id, stored.etag),
            "size_bytes": len(stored.data),
            "content_hash": hashlib.sha256(stored.data).hexdigest(),
        }
    )
    if upload.skip_duplicates:
        holder = metadata.create_unique_object(record)
        if holder is not None and holder != record.object_id:
            metadata.put_upload(_duplicate(upload, holder, now))
            return Arrival(None, duplicate_of=holder)
        created = holder is None
    else:
        created = metadata.create_object(record)
    if not created:
        return Arrival(
            metadata.get_object(upload.org_id, upload.namespace_id, upload.bucket_id, upload.object_id)
        )
    return Arrival(record, created=True)


def confirm_upload(
    stores: Stores, bucket: Bucket, upload_id: str, request: ConfirmUploadRequest, settings: Settings
) -> ConfirmUploadResponse:
    """Verify the file arrived (size, ETag, SHA-256 against what the client said) and, with
    `create_object_on_confirm`, make sure its object exists. Idempotent."""
    upload = stores.metadata.get_upload(bucket.org_id, bucket.namespace_id, bucket.bucket_id, upload_id)
    if upload is None:
        raise NotFoundError.of("upload", upload_id)
    if upload.status != "PENDING":
        return _confirmed(upload)
    stored = stores.blobs.get(upload.s3_key, settings.max_object_bytes)
    if stored is None:
        raise BadRequestError(
            f"upload '{upload_id}': no file has arrived yet; PUT it to the presigned URL (before "
            f"{upload.expires_at}), then confirm",
            {"upload_id": upload_id, "s3_key": upload.s3_key},
        )
    size = len(stored.data)
    for field, expected in (
        ("file_size_bytes", request.file_size_bytes),
        ("upload.file_size_bytes", upload.file_size_bytes),
    ):
        if expected is not None and expected != size:
            raise BadRequestError(
                f"{field}: {expected} bytes were announced, {size} arrived", {"field": field, "size": size}
            )
    if request.etag is not None and request.etag.strip('"') != stored.etag:
        raise BadRequestError(
            f"etag: {request.etag!r} is not the ETag of the file that arrived ({stored.etag!r})",
            {"field": "etag", "etag": stored.etag},
        )
    content_hash = hashlib.sha256(stored.data).hexdigest()
    if upload.file_hash is not None and not hmac.compare_digest(upload.file_hash, content_hash):
        raise BadRequestError(
            f"file_hash: the upload announced {upload.file_hash}; the file that arrived hashes to "
            f"{content_hash}",
            {"field": "file_hash", "file_hash": content_hash},
        )
    now = clock.iso_now()
    changes: dict[str, Any] = {
        "status": "COMPLETED",
        "etag": stored.etag,
        "file_size_bytes": size,
        "file_hash": content_hash,
        "verified_at": now,
        "completed_at": now,
    }
    if upload.create_object_on_confirm:
        arrival = upload_arrival(stores.metadata, upload, stored, stores.blobs.bucket)
        if arrival.duplicate_of is not None:
            reread = stores.metadata.get_upload(
                bucket.org_id, bucket.namespace_id, bucket.bucket_id, upload_id
            )
            return _confirmed(reread or upload)
        assert arrival.record is not None
        if arrival.created and arrival.record.task_id is not None:
            stores.metadata.put_task(task_of(arrival.record))
        changes["task_id"] = arrival.record.task_id
    confirmed = upload.model_copy(update=changes)
    stores.metadata.put_upload(confirmed)
    return _confirmed(confirmed)


def _confirmed(upload: UploadRecord) -> ConfirmUploadResponse:
    return ConfirmUploadResponse(
        upload_id=upload.upload_id,
        status=upload.status,
        object_id=upload.existing_object_id if upload.is_duplicate else upload.object_id,
        task_id=upload.task_id,
        etag=upload.etag,
        file_size_bytes=upload.file_size_bytes,
        file_hash=upload.file_hash,
        is_duplicate=upload.is_duplicate,
        existing_object_id=upload.existing_object_id,
        verified_at=upload.verified_at,
        completed_at=upload.completed_at,
        message=upload.message
        or (
            "the file is staged; name it in a blob's upload_id to make it part of an object"
            if not upload.create_object_on_confirm
            else "the file is object '" + str(upload.object_id) + "'; it is processed as it arrives"
        ),
    )


def _check_content_type(content_type: str) -> None:
    main, slash, sub = content_type.partition("/")
    if not slash or not main or not sub or any(c.isspace() for c in content_type.split(";", 1)[0]):
        raise BadRequestError(
            f"content_type: {content_type!r} is not a MIME type like text/plain or image/png",
            {"field": "content_type"},
        )
