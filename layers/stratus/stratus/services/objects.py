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
import hmac
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stratus import clock, ids, limits
from stratus.domain.content import (
    FILE_PROPERTY,
    Blob,
    check_image_pixels,
    check_supported_file,
    content_type_for,
    encode_manifest,
    file_blob,
    sniffed_image_type,
)
from stratus.domain.identifiers import check_identifier
from stratus.domain.object_keys import (
    MANIFEST_METADATA,
    MANIFEST_SUFFIX,
    checked_filename,
    normalized_key_prefix,
    object_id_for_key,
    staging_prefix,
    task_id_for,
)
from stratus.domain.object_records import pending_object, task_of
from stratus.errors import BadRequestError, NotFoundError, PayloadTooLargeError, StratusError
from stratus.filters import evaluate, parse_filter
from stratus.models.common import ListResponse, Pagination
from stratus.models.managed_content import (
    BatchObjectModel,
    BlobInput,
    BlobSummary,
    BlobType,
    Bucket,
    ConfirmUploadRequest,
    ConfirmUploadResponse,
    CreateObjectRequest,
    CreateObjectsBatchRequest,
    CreateObjectsBatchResponse,
    CreateUploadRequest,
    FailedObject,
    ObjectModel,
    ObjectRecord,
    UploadRecord,
)
from stratus.models.namespaces import Namespace
from stratus.ports.blobs import StoredBlob
from stratus.ports.fetch import UrlFetcher
from stratus.ports.metadata import ManagedContentRepository, ObjectWrite
from stratus.ports.stores import Stores
from stratus.services.buckets import delete_matching
from stratus.services.spaces import all_spaces
from stratus.settings import Settings

logger = logging.getLogger(__name__)

_DATA_URI_PREFIX = "data:"
_URL_SCHEMES = ("https://", "http://")


# ---------------------------------------------------------------------------------------------
# Objects API


def create_object(
    stores: Stores, bucket: Bucket, request: CreateObjectRequest, settings: Settings
) -> tuple[ObjectRecord, bool]:
    """The object, and whether it already existed: with `skip_duplicates`, an object whose
    content (its blobs, not its metadata) the bucket already holds is not created again, and
    the one holding it is answered (a conditional claim of the content hash, never a scan)."""
    prepared = _prepare(stores, bucket, request, settings)
    record = prepared.record
    holder = _register(stores.metadata, record, unique=request.skip_duplicates)
    if holder is not None:
        return get_object(stores.metadata, bucket, holder), True
    try:
        stores.blobs.put(prepared.key, prepared.manifest, "application/json", {MANIFEST_METADATA: "1"})
    except Exception:
        _unregister(stores.metadata, record)
        raise
    return record, False


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
    _check_unique_properties(request.blobs, prefix)
    blobs = [
        _blob(position, blob, stores, bucket, settings, prefix) for position, blob in enumerate(request.blobs)
    ]
    # The extractor checks it too; refused here, nothing is stored.
    check_image_pixels(blobs, f"{prefix}blobs")
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
    record = record.model_copy(
        update={
            "etag": etag,
            "task_id": task_id_for(object_id, etag),
            "size_bytes": len(manifest),
            "content_hash": blobs_hash(blobs),
        }
    )
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
    bucket's totals in as few transactions as DynamoDB allows, their tasks in batched writes, and
    their manifests stored at once. An object with `skip_duplicates` is registered on its own (a
    conditional claim of its content hash): one whose content the bucket holds is answered as the
    object holding it (`replayed`). An object whose manifest could not be stored is removed again
    and listed in `failed`; if none could be, the answer is the retryable 503 itself."""
    with ThreadPoolExecutor(max_workers=BATCH_THREADS, thread_name_prefix="stratus-objects") as pool:
        prepared = _prepare_all(stores, bucket, request, settings, pool)
        replayed = _register_all(stores, bucket, request, prepared)
        fresh = [item for index, item in enumerate(prepared) if index not in replayed]
        stored = dict(
            zip(
                [index for index in range(len(prepared)) if index not in replayed],
                pool.map(functools.partial(_store_manifest, stores), fresh),
                strict=True,
            )
        )
    errors = {index: error for index, error in stored.items() if error is not None}
    for index in errors:
        _unregister(stores.metadata, prepared[index].record)
    if errors and not replayed and len(errors) == len(prepared):
        raise errors[0]
    failed = [
        FailedObject(object_index=index, error=_failure(error), error_type=_type_of(error))
        for index, error in sorted(errors.items())
    ]
    succeeded: list[BatchObjectModel] = []
    for index, item in enumerate(prepared):
        if index in replayed:
            succeeded.append(
                BatchObjectModel(
                    object_index=index,
                    replayed=True,
                    replayed_by="skip_duplicates",
                    **describe_object(replayed[index]).model_dump(),
                )
            )
        elif index not in errors:
            succeeded.append(
                BatchObjectModel(object_index=index, **describe_object(item.record).model_dump())
            )
    return CreateObjectsBatchResponse(
        succeeded=succeeded,
        failed=failed,
        total_requested=len(prepared),
        succeeded_count=len(succeeded),
        failed_count=len(failed),
    )


def _register_all(
    stores: Stores, bucket: Bucket, request: CreateObjectsBatchRequest, prepared: list[_Prepared]
) -> dict[int, ObjectRecord]:
    """Write the records (and their tasks): the `skip_duplicates` ones one at a time, the others
    with the bucket's totals in batched transactions. Returns, by position, the objects already
    holding a `skip_duplicates` object's content. If a write fails, every record this call wrote
    is removed again and the error raised."""
    replayed: dict[int, ObjectRecord] = {}
    registered: list[ObjectRecord] = []
    batched = [
        item.record
        for item, wanted in zip(prepared, request.objects, strict=True)
        if not wanted.skip_duplicates
    ]
    try:
        for index, (item, wanted) in enumerate(zip(prepared, request.objects, strict=True)):
            if wanted.skip_duplicates:
                holder = _register(stores.metadata, item.record, unique=True)
                if holder is None:
                    registered.append(item.record)
                else:
                    replayed[index] = get_object(stores.metadata, bucket, holder)
        # The records and the bucket's totals, one transaction per ~99 objects (DynamoDB's limit
        # is 100 items); their tasks after them, in batched writes.
        stores.metadata.save_objects([ObjectWrite(record, None, create=True) for record in batched])
        stores.metadata.put_tasks([task_of(record) for record in batched])
    except Exception:
        for record in [*registered, *batched]:  # a transaction that went through before one that did not
            _unregister(stores.metadata, record)
        raise
    return replayed


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


def blobs_hash(blobs: list[Blob]) -> str:
    """SHA-256 over an object's blobs (property, type and content; not its metadata)."""
    digest = hashlib.sha256()
    for blob in blobs:
        content = blob.data if blob.data is not None else (blob.text or "").encode("utf-8")
        for part in (blob.property.encode("utf-8"), blob.type.encode("ascii"), content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


TEXT_BLOB_TYPES = ("text", "string")


def _blob(
    position: int, blob: BlobInput, stores: Stores, bucket: Bucket, settings: Settings, prefix: str = ""
) -> Blob:
    field = f"{prefix}blobs[{position}].data"
    if blob.type not in (*TEXT_BLOB_TYPES, "image"):
        raise BadRequestError(
            f"{prefix}blobs[{position}].type: '{blob.type}' blobs are not extracted by Stratus; send "
            "text (or string) or image blobs",
            {"field": f"{prefix}blobs[{position}].type", "supported": ["text", "string", "image"]},
        )
    if blob.upload_id is not None:
        return _uploaded_blob(f"{prefix}blobs[{position}].upload_id", blob, stores, bucket, settings)
    if blob.data is None or blob.data == "":
        raise BadRequestError(
            f"{field}: give the blob's data (text, base64, a data: URI or an https URL) or an upload_id",
            {"field": field},
        )
    if blob.type in TEXT_BLOB_TYPES:
        data = blob.data
        if not isinstance(data, str):  # a number, boolean, object or list: its JSON text
            return Blob(blob.property, "text", "application/json", blob.filename, text=json.dumps(data))
        text = data
        if data.startswith(_URL_SCHEMES):
            text = _decoded_text(stores.fetcher.fetch(data, field), field)
        elif data.startswith(_DATA_URI_PREFIX):
            text = _decoded_text(_data_uri_bytes(data, field)[1], field)
        return Blob(blob.property, "text", blob.content_type or "text/plain", blob.filename, text=text)
    if not isinstance(blob.data, str):
        raise BadRequestError(
            f"{field}: an image blob's data is base64, a data: URI or an https URL", {"field": field}
        )
    return _image_blob(blob.property, _image_bytes(blob.data, field, stores.fetcher), field, blob.filename)


def _image_blob(prop: str, data: bytes, field: str, filename: str | None) -> Blob:
    sniffed = sniffed_image_type(data)
    if sniffed is None:
        raise BadRequestError(
            f"{field}: not a JPEG, PNG or WebP image (checked its first bytes)",
            {"field": field, "accepted": ["image/jpeg", "image/png", "image/webp"]},
        )
    return Blob(prop, "image", sniffed, filename, data=data)


def _uploaded_blob(field: str, blob: BlobInput, stores: Stores, bucket: Bucket, settings: Settings) -> Blob:
    """The file of a confirmed, staged upload (`create_object_on_confirm: false`) as a blob;
    `field` names its upload_id."""
    assert blob.upload_id is not None
    upload = stores.metadata.get_upload(bucket.org_id, bucket.namespace_id, bucket.bucket_id, blob.upload_id)
    if upload is None:
        raise BadRequestError(f"{field}: no upload '{blob.upload_id}' in this bucket", {"field": field})
    if upload.create_object_on_confirm or upload.status != "COMPLETED":
        raise BadRequestError(
            f"{field}: upload '{blob.upload_id}' is not a confirmed upload made with "
            "create_object_on_confirm: false (its file is, or becomes, an object of its own)",
            {"field": field, "status": upload.status},
        )
    stored = stores.blobs.get(upload.s3_key, settings.max_object_bytes)
    if stored is None:
        raise BadRequestError(f"{field}: the file of upload '{blob.upload_id}' is gone", {"field": field})
    if blob.type == "image":
        return _image_blob(blob.property, stored.data, field, upload.filename)
    text = file_blob(upload.filename, stored.data, upload.content_type).text or ""
    return Blob(blob.property, "text", upload.content_type, upload.filename, text=text)


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
    _check_metadata(request.metadata, "metadata")
    object_metadata = request.object_metadata if request.object_metadata is not None else request.metadata
    _check_metadata(object_metadata, "object_metadata")
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


# ---------------------------------------------------------------------------------------------
# Records


def _register(metadata: ManagedContentRepository, record: ObjectRecord, unique: bool = False) -> str | None:
    """Write the record (and its task). With `unique`, not if the bucket holds its content: the
    holder's id is returned and nothing is written."""
    if unique:
        holder = metadata.create_unique_object(record)
        if holder is not None:
            return holder
    elif not metadata.create_object(record):  # 20 random characters: never expected
        raise StratusError(f"object '{record.object_id}' already exists")
    if record.task_id is not None:
        try:
            metadata.put_task(task_of(record))
        except Exception:
            _unregister(metadata, record)
            raise
    return None


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
    check_identifier(object_id, "object_id")
    record = metadata.get_object(bucket.org_id, bucket.namespace_id, bucket.bucket_id, object_id)
    if record is None:
        raise NotFoundError.of("object", object_id)
    return record


# Objects a filtered list reads per request at most; the cursor goes on from where it stopped.
MAX_OBJECTS_EXAMINED = 5000


def list_objects(
    metadata: ManagedContentRepository,
    bucket: Bucket,
    limit: int,
    cursor: str | None,
    include_total: bool,
    filters: dict[str, Any] | None = None,
    search: str | None = None,
    case_sensitive: bool = False,
) -> ListResponse[ObjectModel]:
    """A bucket's objects in id order, a page at a time (a bucket may hold millions: never read
    whole). `filters` (the DSL, on the object as answered: `metadata.*`, `status`, `source`...)
    and `search` (in the key and the blobs' file names) are applied page by page, examining at
    most MAX_OBJECTS_EXAMINED objects per request: a page may be short while `next_cursor` is
    set. The total is the bucket's `object_count` (unfiltered only)."""
    if filters and case_sensitive and "case_sensitive" not in filters:
        filters = {**filters, "case_sensitive": True}
    node = parse_filter(filters, "filters")
    needle = (search if case_sensitive else search.casefold()) if search else None
    if node is None and needle is None:
        page = metadata.list_objects(bucket.org_id, bucket.namespace_id, bucket.bucket_id, limit, cursor)
        found, next_cursor = page.objects, page.next_cursor
    else:
        found, next_cursor = _filtered_objects(metadata, bucket, limit, cursor, node, needle, case_sensitive)
    total = bucket.object_count if include_total and node is None and needle is None else None
    return ListResponse[ObjectModel](
        results=[describe_object(record) for record in found],
        pagination=Pagination(page_size=len(found), next_cursor=next_cursor, total=total),
    )


def _filtered_objects(
    metadata: ManagedContentRepository,
    bucket: Bucket,
    limit: int,
    cursor: str | None,
    node: Any,
    needle: str | None,
    case_sensitive: bool,
) -> tuple[list[ObjectRecord], str | None]:
    found: list[ObjectRecord] = []
    examined = 0
    while True:
        # Never read past what this page can hold: the cursor then lands on a page boundary.
        page = metadata.list_objects(
            bucket.org_id, bucket.namespace_id, bucket.bucket_id, min(limit - len(found), 100), cursor
        )
        examined += len(page.objects)
        for record in page.objects:
            answer = describe_object(record).model_dump(mode="json")
            if node is not None and not evaluate(node, answer):
                continue
            if needle is not None:
                haystack = " ".join([record.key, *(blob.filename or "" for blob in record.blobs)])
                if needle not in (haystack if case_sensitive else haystack.casefold()):
                    continue
            found.append(record)
        cursor = page.next_cursor
        if cursor is None or len(found) >= limit or examined >= MAX_OBJECTS_EXAMINED:
            return found, cursor


def delete_object(stores: Stores, namespace: Namespace, bucket: Bucket, object_id: str) -> ObjectRecord:
    """The documents made from the object (in every space), its file, then its record (with its
    share of the bucket's totals): if anything fails the record is still there and a retry
    finishes the job."""
    record = get_object(stores.metadata, bucket, object_id)
    made_from_it = parse_filter({"object_id": record.object_id}, "filters")
    assert made_from_it is not None
    for space in all_spaces(namespace):  # a migrating index's shadow copy too
        delete_matching(stores.vectors, space, made_from_it)
    stores.blobs.delete(record.key)
    stores.metadata.delete_object(record.org_id, record.namespace_id, record.bucket_id, record.object_id)
    return record
