"""Object rules: objects created through the API, their blobs stored as one manifest in the data
bucket (the bulk route: `objects_batch`; presigned uploads: `uploads`); they then travel S3 → SQS
→ extractor like any file put under the bucket's prefix.

The record is written before the S3 object (PENDING), so the extractor always finds it; if S3
then fails, the record is removed again and the client gets a retryable 503 — nothing is left
half made."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

from stratus import clock, ids
from stratus.domain.content import check_image_pixels, encode_manifest
from stratus.domain.identifiers import check_identifier
from stratus.domain.object_keys import (
    MANIFEST_METADATA,
    MANIFEST_SUFFIX,
    normalized_key_prefix,
    object_id_for_key,
    task_id_for,
)
from stratus.domain.object_records import pending_object, task_of
from stratus.errors import NotFoundError, PayloadTooLargeError, StratusError
from stratus.filters import evaluate, parse_filter
from stratus.models.common import ListResponse, Pagination
from stratus.models.managed_content import Bucket
from stratus.models.namespaces import Namespace
from stratus.models.objects import CreateObjectRequest, ObjectModel, ObjectRecord
from stratus.ports.metadata import ManagedContentRepository
from stratus.ports.stores import Stores
from stratus.services.buckets import delete_matching
from stratus.services.object_blobs import blob_of, blobs_hash, check_metadata, check_unique_properties
from stratus.services.spaces import all_spaces
from stratus.settings import Settings

# ---------------------------------------------------------------------------------------------
# Objects API


def create_object(
    stores: Stores, bucket: Bucket, request: CreateObjectRequest, settings: Settings
) -> tuple[ObjectRecord, bool]:
    """The object, and whether it already existed: with `skip_duplicates`, an object whose
    content (its blobs, not its metadata) the bucket already holds is not created again, and
    the one holding it is answered (a conditional claim of the content hash, never a scan)."""
    prepared = prepare_object(stores, bucket, request, settings)
    record = prepared.record
    holder = register(stores.metadata, record, unique=request.skip_duplicates)
    if holder is not None:
        return get_object(stores.metadata, bucket, holder), True
    try:
        stores.blobs.put(prepared.key, prepared.manifest, "application/json", {MANIFEST_METADATA: "1"})
    except Exception:
        unregister(stores.metadata, record)
        raise
    return record, False


@dataclass(frozen=True)
class PreparedObject:
    """An object ready to store: its PENDING record, its S3 key and its manifest."""

    record: ObjectRecord
    key: str
    manifest: bytes


def prepare_object(
    stores: Stores, bucket: Bucket, request: CreateObjectRequest, settings: Settings, prefix: str = ""
) -> PreparedObject:
    """Check the object and build its manifest; a 4xx naming `<prefix>field` if it is wrong.
    Nothing is written."""
    check_metadata(request.metadata, f"{prefix}metadata")
    check_unique_properties(request.blobs, prefix)
    blobs = [
        blob_of(position, blob, stores, bucket, settings, prefix)
        for position, blob in enumerate(request.blobs)
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
    return PreparedObject(record, key, manifest)


# ---------------------------------------------------------------------------------------------
# Records


def register(metadata: ManagedContentRepository, record: ObjectRecord, unique: bool = False) -> str | None:
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
            unregister(metadata, record)
            raise
    return None


def unregister(metadata: ManagedContentRepository, record: ObjectRecord) -> None:
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
