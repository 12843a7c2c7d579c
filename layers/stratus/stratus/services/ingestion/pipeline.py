"""One S3 object through the pipeline: find its bucket, read it, run every enabled collection
whose source is that bucket, and move the object and its task through
PENDING → PROCESSING → COMPLETED / FAILED.

Safe to repeat: ids are derived (see `object_keys`), documents are overwritten by id, a
collection's stale chunks of the object are deleted after the new ones are written, and an
object already COMPLETED at the same ETag is skipped. `run_once` lets the Lambda wiring make each
(object, etag, collection) step idempotent with Powertools on top of that."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from stratus import clock
from stratus.domain.content import Blob, blobs_of, is_manifest
from stratus.domain.object_keys import bucket_prefix_of, object_id_for_key, task_id_for, upload_id_of_key
from stratus.domain.object_records import pending_object, task_of
from stratus.errors import BadRequestError, PayloadTooLargeError, StratusError
from stratus.filters import parse_filter
from stratus.models.managed_content import Collection, ObjectRecord, UploadRecord
from stratus.models.namespaces import Namespace
from stratus.ports.blobs import StoredBlob
from stratus.ports.metadata import BucketRoute, MetadataStore
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space
from stratus.services.backfill.mirror import mirror_delete, mirror_upsert
from stratus.services.ingestion.extraction import drafts_for, embed_drafts, records_for
from stratus.services.objects import upload_arrival
from stratus.services.spaces import space_of

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 1000
_LIST_PAGE = 1000


@dataclass(frozen=True)
class S3ObjectEvent:
    """One `ObjectCreated` record of an S3 event notification (key already URL-decoded)."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class IngestJob:
    """The idempotency unit: one version (ETag) of one object through one collection."""

    org_id: str
    namespace_id: str
    bucket_id: str
    object_id: str
    etag: str
    collection_id: str

    def as_dict(self) -> dict[str, str]:
        return {
            "org_id": self.org_id,
            "namespace_id": self.namespace_id,
            "bucket_id": self.bucket_id,
            "object_id": self.object_id,
            "etag": self.etag,
            "collection_id": self.collection_id,
        }


# (job, work) → the work's result: run `work` unless this job already ran (then its saved result).
RunOnce = Callable[[IngestJob, Callable[[], int]], int]


def run_always(job: IngestJob, work: Callable[[], int]) -> int:
    return work()


@dataclass
class Outcome:
    status: Literal["completed", "skipped"]
    reason: str = ""
    object_id: str | None = None
    documents: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestLimits:
    # Must equal the queue's maxReceiveCount: the last receive marks a failing object FAILED.
    max_receives: int = 3
    max_object_bytes: int = 20 * 1024 * 1024


class BatchLookups:
    """What the objects of one batch share, read once per batch: a batch's objects mostly come
    from one bucket, so its route, namespace and collections are one read each, not one per
    object. Scoped to one invocation, so a change is seen by the next batch."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata
        self._routes: dict[str, BucketRoute | None] = {}
        self._namespaces: dict[tuple[str, str], Namespace | None] = {}
        self._collections: dict[tuple[str, str], list[Collection]] = {}

    def route(self, prefix: str) -> BucketRoute | None:
        if prefix not in self._routes:
            self._routes[prefix] = self._metadata.find_bucket_route(prefix)
        return self._routes[prefix]

    def namespace(self, route: BucketRoute) -> Namespace | None:
        key = (route.org_id, route.namespace_id)
        if key not in self._namespaces:
            self._namespaces[key] = self._metadata.get_namespace(route.org_id, route.namespace_id)
        return self._namespaces[key]

    def collections(self, route: BucketRoute) -> list[Collection]:
        """Every enabled collection of the route's namespace that reads its bucket."""
        key = (route.org_id, route.namespace_id)
        if key not in self._collections:
            found: list[Collection] = []
            cursor: str | None = None
            while True:
                page = self._metadata.list_collections(route.org_id, route.namespace_id, 100, cursor)
                found.extend(c for c in page.collections if c.enabled)
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._collections[key] = found
        return [c for c in self._collections[key] if route.bucket_id in c.source.bucket_ids]


class ObjectIngestor:
    def __init__(self, stores: Stores, limits: IngestLimits, run_once: RunOnce = run_always) -> None:
        self._stores = stores
        self._limits = limits
        self._run_once = run_once

    def lookups(self) -> BatchLookups:
        return BatchLookups(self._stores.metadata)

    def process(
        self, event: S3ObjectEvent, receive_count: int = 1, lookups: BatchLookups | None = None
    ) -> Outcome:
        """Ingest the object of `event`. Raises when it failed (the message is then retried and
        ends in the dead-letter queue); the object shows why. Pass the batch's `lookups` to share
        its reads with the other objects of the batch."""
        lookups = lookups or self.lookups()
        prefix = bucket_prefix_of(event.key)
        route = lookups.route(prefix) if prefix else None
        if route is None:
            # Not under any live bucket (deleted, or a stray key): nothing to do, nothing to retry.
            return Outcome("skipped", "no Stratus bucket owns this key")
        object_id = object_id_for_key(event.key)
        record = self._stores.metadata.get_object(
            route.org_id, route.namespace_id, route.bucket_id, object_id
        )
        if _already_done(record, event.etag):
            return Outcome("skipped", "this version was already processed", object_id)
        stored, read_error = self._read(event.key)
        if stored is None and read_error is None:
            return Outcome("skipped", "the object was deleted before it was processed", object_id)
        etag = stored.etag if stored is not None else (event.etag or "")
        if _already_done(record, etag):
            return Outcome("skipped", "this version was already processed", object_id)
        if record is None and stored is not None:
            upload = self._upload_of(route, event.key)
            if upload is not None:
                # A presigned upload's file: its object as confirm would make it (or already did).
                if upload.status == "SKIPPED":
                    return Outcome("skipped", "a duplicate upload (skip_duplicates)", object_id)
                arrival = upload_arrival(self._stores.metadata, upload, stored, self._stores.blobs.bucket)
                if arrival.duplicate_of is not None:
                    return Outcome(
                        "skipped",
                        f"the bucket holds this file as '{arrival.duplicate_of}' (skip_duplicates)",
                        object_id,
                    )
                record = arrival.record
        # Only an object that was processed, or attempted, before can hold chunks of another
        # version; a first attempt (no record yet, or PENDING) skips the listing. The ETag cannot
        # tell: a retry of a new version whose first attempt failed or died after `_start` finds
        # the new ETag already on the record, while the old version's extra chunks are still there.
        replaces = record is not None and record.status != "PENDING"
        record = self._start(route, object_id, event.key, etag, record, stored)
        try:
            if read_error is not None:
                raise read_error
            assert stored is not None
            return self._ingest(route, record, stored, replaces, lookups)
        except Exception as error:
            self._fail(record, error, receive_count)
            raise

    # -- steps -------------------------------------------------------------------------------

    def _read(self, key: str) -> tuple[StoredBlob | None, StratusError | None]:
        try:
            return self._stores.blobs.get(key, self._limits.max_object_bytes), None
        except PayloadTooLargeError as error:
            return None, error

    def _upload_of(self, route: BucketRoute, key: str) -> UploadRecord | None:
        upload_id = upload_id_of_key(key)
        if upload_id is None:
            return None
        upload = self._stores.metadata.get_upload(
            route.org_id, route.namespace_id, route.bucket_id, upload_id
        )
        return upload if upload is not None and upload.s3_key == key else None

    def _start(
        self,
        route: BucketRoute,
        object_id: str,
        key: str,
        etag: str,
        record: ObjectRecord | None,
        stored: StoredBlob | None,
    ) -> ObjectRecord:
        now = clock.iso_now()
        size = len(stored.data) if stored is not None else None
        content_hash = hashlib.sha256(stored.data).hexdigest() if stored is not None else None
        if record is None:  # a plain S3 put: the extractor is the first to hear of it
            new = pending_object(route, object_id, key, self._stores.blobs.bucket, "s3", now).model_copy(
                update={"size_bytes": size or 0, "content_hash": content_hash}
            )
            # Conditional, and counted in the bucket: a concurrent worker's record wins.
            created = self._stores.metadata.create_object(new)
            record = (
                new
                if created
                else self._stores.metadata.get_object(
                    route.org_id, route.namespace_id, route.bucket_id, object_id
                )
            )
            if record is None:  # created and deleted in between: start over as new
                record = new
        # A registered object keeps the task it was announced with until it is processed once;
        # a later version (new ETag) of the same key gets a task of its own.
        task_id = (
            record.task_id if record.status == "PENDING" and record.task_id else task_id_for(object_id, etag)
        )
        changes: dict[str, Any] = {
            "status": "PROCESSING",
            "error": None,
            "etag": etag,
            "task_id": task_id,
            "updated_at": now,
        }
        size_delta = 0
        if size is not None and size != record.size_bytes:  # a new version, or an upload's first file
            size_delta = size - record.size_bytes
            changes["size_bytes"] = size
            if record.source != "api":  # an API object's hash is its blobs', not its manifest's
                changes["content_hash"] = content_hash
        started = record.model_copy(update=changes)
        self._save(started, size_delta=size_delta)
        return started

    def _ingest(
        self,
        route: BucketRoute,
        record: ObjectRecord,
        stored: StoredBlob,
        replaces: bool,
        lookups: BatchLookups,
    ) -> Outcome:
        blobs, object_metadata = blobs_of(stored)
        if not is_manifest(stored) and len(record.blobs) == 1 and len(blobs) == 1:
            # A plain file: its blob property is the one its upload chose (`blob_property`).
            blobs = [dataclasses.replace(blobs[0], property=record.blobs[0].property)]
        metadata = {**object_metadata, **record.metadata}
        record = record.model_copy(update={"blobs": [blob.summary() for blob in blobs], "metadata": metadata})
        namespace = lookups.namespace(route)
        documents: dict[str, int] = {}
        if namespace is not None:
            for collection in lookups.collections(route):
                job = IngestJob(
                    route.org_id, route.namespace_id, route.bucket_id, record.object_id, record.etag or "",
                    collection.collection_id,
                )  # fmt: skip
                work = functools.partial(
                    self._write_documents, namespace, collection, record, blobs, replaces
                )
                documents[collection.collection_id] = self._run_once(job, work)
        completed = record.model_copy(
            update={
                "status": "COMPLETED",
                "error": None,
                "document_count": sum(documents.values()),
                "updated_at": clock.iso_now(),
            }
        )
        self._save(completed, outputs=_outputs(documents))
        return Outcome("completed", object_id=record.object_id, documents=documents)

    def _write_documents(
        self,
        namespace: Namespace,
        collection: Collection,
        record: ObjectRecord,
        blobs: list[Blob],
        replaces: bool,
    ) -> int:
        space = space_of(namespace, collection.vector_index)
        if space is None:
            raise BadRequestError(
                f"collection '{collection.collection_id}' writes into vector index "
                f"'{collection.vector_index}', which namespace '{namespace.namespace_id}' no longer has",
                {"collection_id": collection.collection_id},
            )
        drafts = drafts_for(collection, blobs)
        # The index's service now (a model migration may have moved it since the collection was
        # made), else the one the collection locked in.
        service = namespace.vector_inference_map.get(
            collection.vector_index, collection.feature_extractor.inference_service
        )
        embedder = self._stores.embedders.get(service)
        vectors = embed_drafts(embedder, drafts) if drafts else []
        records = records_for(record, collection, record.metadata, drafts, vectors, clock.iso_now())
        if records:
            self._stores.vectors.ensure_space(space)
            # An index being migrated gets the write in its shadow copy first (services/backfill).
            mirror_upsert(self._stores, namespace, space.index_name, records)
            self._stores.vectors.upsert(space, records)
        if replaces:  # a new version may have fewer chunks: remove the ones it no longer has
            stale = self._ids_of(space, record.object_id, collection.collection_id) - {r.id for r in records}
            if stale:
                mirror_delete(self._stores, namespace, space.index_name, sorted(stale))
                self._stores.vectors.delete(space, sorted(stale))
        return len(records)

    def _ids_of(self, space: Space, object_id: str, collection_id: str) -> set[str]:
        node = parse_filter(
            {
                "AND": [
                    {"field": "object_id", "operator": "eq", "value": object_id},
                    {"field": "collection_id", "operator": "eq", "value": collection_id},
                ]
            },
            "filters",
        )
        found: set[str] = set()
        after: str | None = None
        while True:
            page = self._stores.vectors.list(space, node, _LIST_PAGE, after, include_vectors=False)
            found.update(r.id for r in page.records)
            if page.next_cursor is None or not page.records:
                return found
            after = page.records[-1].id

    def _fail(self, record: ObjectRecord, error: Exception, receive_count: int) -> None:
        reason = _reason(error)
        final = _is_permanent(error) or receive_count >= self._limits.max_receives
        if final:
            status: Literal["PROCESSING", "FAILED"] = "FAILED"
            message = reason
        else:
            status = "PROCESSING"
            message = f"attempt {receive_count} of {self._limits.max_receives} failed, retrying: {reason}"
        failed = record.model_copy(update={"status": status, "error": message, "updated_at": clock.iso_now()})
        try:
            self._save(failed)
        except Exception:  # the original error matters more; the status catches up on the retry
            logger.exception("could not record the failure of object %s", record.object_id)

    def _save(self, record: ObjectRecord, outputs: dict[str, Any] | None = None, size_delta: int = 0) -> None:
        """The object and its task, in one write, with the object's status and error (and the
        change of its size in the bucket's total_size_bytes)."""
        self._stores.metadata.save_object(record, task_of(record, outputs), size_delta)


def _already_done(record: ObjectRecord | None, etag: str | None) -> bool:
    return record is not None and bool(etag) and record.etag == etag and record.status == "COMPLETED"


def _outputs(documents: dict[str, int]) -> dict[str, Any]:
    outputs: dict[str, Any] = {"document_count": sum(documents.values()), "collections": documents}
    if not documents:
        outputs["note"] = "no enabled collection reads this bucket; the object is stored, not extracted"
    return outputs


def _is_permanent(error: Exception) -> bool:
    """The object's own fault (unreadable, unsupported, too large): retrying cannot help."""
    return isinstance(error, StratusError) and 400 <= error.status < 500


def _reason(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message[:MAX_ERROR_LENGTH]
    # Anything else is a bug or an SDK fault: its text may carry internals, so only its type.
    return f"internal error ({type(error).__name__}); the message will be retried"
