"""A batch of S3 objects through the pipeline: find each object's bucket, read the objects, split
them, embed what every enabled collection reading their buckets needs in one call per inference
service, write the vectors in one upsert per index, and move the objects and their tasks through
PENDING → PROCESSING → COMPLETED / FAILED in batched transactions.

Failures stay per object. An object that cannot be read, split, embedded or written fails alone
(FAILED with its reason, or PROCESSING with "attempt n of m failed, retrying: …" when a retry may
help), its batch-mates complete, and the messages carrying it are reported as failed so the queue
retries them. A step done for the whole batch (a status transaction, a refused embedding call,
a refused upsert) is done again one object at a time when it fails, so that the object at fault is
the only one to fail. An object that would overrun the invocation is failed before it does
(`budget.TimeBudget`).

Safe to repeat: ids are derived (see `object_keys`), documents are overwritten by id, a
collection's stale chunks of the object are deleted after the new ones are written, an object
already COMPLETED at the same ETag is skipped, and the job ledger (Powertools Idempotency on
Lambda) makes each (object, etag, collection) job run once: a redelivery after a crash reuses the
saved result instead of embedding again."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from stratus import clock
from stratus.domain.content import Blob, blobs_of, is_manifest
from stratus.domain.object_keys import bucket_prefix_of, object_id_for_key, task_id_for, upload_id_of_key
from stratus.domain.object_records import pending_object, task_of
from stratus.errors import BadRequestError, StratusError
from stratus.filters import parse_filter
from stratus.models.managed_content import Collection, ObjectRecord, UploadRecord
from stratus.models.namespaces import Namespace
from stratus.ports.blobs import StoredBlob
from stratus.ports.ledger import JobLedger, NoLedger
from stratus.ports.metadata import BucketRoute, MetadataStore, ObjectKey, ObjectWrite
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill.mirror import mirror_delete, mirror_upsert
from stratus.services.ingestion.batch_embedding import embed_jobs
from stratus.services.ingestion.budget import TimeBudget
from stratus.services.ingestion.extraction import Draft, drafts_for, records_for
from stratus.services.objects import upload_arrival
from stratus.services.spaces import space_of

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 1000
_LIST_PAGE = 1000
# Threads for the batch's I/O-bound steps (S3 reads, idempotency records).
MAX_THREADS = 8

T = TypeVar("T")


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


@dataclass
class Outcome:
    status: Literal["completed", "skipped", "failed"]
    reason: str = ""
    object_id: str | None = None
    documents: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestLimits:
    # Must equal the queue's maxReceiveCount: the last receive marks a failing object FAILED.
    max_receives: int = 3
    max_object_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class Message:
    """One SQS message of the batch: its S3 object events, or why they could not be read."""

    message_id: str
    receive_count: int
    events: Sequence[S3ObjectEvent] = ()
    error: Exception | None = None


@dataclass
class MessageResult:
    message_id: str
    outcomes: list[Outcome]
    error: Exception | None = None  # set: the message failed and comes back


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


# ---------------------------------------------------------------------------------------------
# The batch's state: one `_Item` per distinct object, one `_Job` per (object, collection)


@dataclass
class _Job:
    item: _Item
    collection: Collection
    drafts: list[Draft]
    space: Space | None = None
    job: IngestJob | None = None
    claimed: bool = False
    documents: int | None = None
    vectors: list[list[float] | None] = field(default_factory=list)
    records: list[VectorRecord] = field(default_factory=list)
    error: Exception | None = None

    @property
    def service(self) -> str:
        """The index's service now (a model migration may have moved it since the collection was
        made), else the one the collection locked in."""
        assert self.item.namespace is not None
        extractor = self.collection.feature_extractor
        return self.item.namespace.vector_inference_map.get(
            self.collection.vector_index, extractor.inference_service
        )

    @property
    def failed(self) -> bool:
        return self.error is not None

    def fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error


@dataclass
class _Prepared:
    """What reading and splitting one object gave (made on a worker thread, handed over whole)."""

    stored: StoredBlob | None = None
    error: Exception | None = None
    blobs: list[Blob] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    drafts: dict[str, list[Draft]] = field(default_factory=dict)  # collection id → drafts
    content_hash: str | None = None  # the stored bytes' SHA-256 (`skip_duplicates`)

    def named(self, prop: str) -> None:
        """A plain file's one blob under the property its upload chose (`blob_property`)."""
        if self.stored is None or is_manifest(self.stored) or len(self.blobs) != 1:
            return
        if self.blobs[0].property == prop:
            return
        blob = dataclasses.replace(self.blobs[0], property=prop)
        self.blobs = [blob]
        self.drafts = {
            collection_id: [dataclasses.replace(draft, blob=blob) for draft in drafts]
            for collection_id, drafts in self.drafts.items()
        }


@dataclass
class _Item:
    route: BucketRoute
    object_id: str
    key: str
    event_etag: str | None
    receive_count: int
    record: ObjectRecord | None = None  # as stored before this batch
    namespace: Namespace | None = None
    collections: list[Collection] = field(default_factory=list)
    prepared: _Prepared | None = None
    started: ObjectRecord | None = None  # as this batch wrote it (PROCESSING)
    replaces: bool = False
    jobs: list[_Job] = field(default_factory=list)
    outcome: Outcome | None = None  # skipped or done
    error: Exception | None = None

    @property
    def object_key(self) -> ObjectKey:
        return (self.route.org_id, self.route.namespace_id, self.route.bucket_id, self.object_id)

    @property
    def live(self) -> bool:
        """Still on its way: neither skipped nor failed."""
        return self.outcome is None and self.error is None

    def skip(self, reason: str) -> None:
        self.outcome = Outcome("skipped", reason, self.object_id)

    def fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error


class BatchIngestor:
    def __init__(self, stores: Stores, limits: IngestLimits, ledger: JobLedger | None = None) -> None:
        self._stores = stores
        self._limits = limits
        self._ledger = ledger if ledger is not None else NoLedger()

    def ingest(self, messages: Sequence[Message], budget: TimeBudget | None = None) -> list[MessageResult]:
        """Ingest the objects of `messages`; one result per message, in order. A result with an
        `error` is a message to retry; its objects show why."""
        budget = budget or TimeBudget.unlimited()
        lookups = BatchLookups(self._stores.metadata)
        items: dict[ObjectKey, _Item] = {}
        carried: dict[str, list[_Item | Outcome | Exception]] = {}
        for message in messages:
            carried[message.message_id] = self._items_of(message, lookups, items)
        batch = list(items.values())
        pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="stratus-ingest")
        try:
            self._read_records(batch)
            self._look_up(batch, lookups)
            self._prepare(batch, budget, pool)
            self._arrive(batch)
            self._start(batch)
            jobs = self._jobs(batch)
            self._claim(jobs, budget, pool)
            embed_jobs(self._stores.embedders, [j for j in jobs if j.claimed and not j.failed], budget)
            self._write_vectors(jobs)
            self._settle(jobs, pool)
            self._finish(batch)
        finally:
            # Never waits: a read that overran its time is left to end on its own thread.
            pool.shutdown(wait=False, cancel_futures=True)
        return [self._result(message, carried[message.message_id]) for message in messages]

    # -- which objects -------------------------------------------------------------------------

    def _items_of(
        self, message: Message, lookups: BatchLookups, items: dict[ObjectKey, _Item]
    ) -> list[_Item | Outcome | Exception]:
        """The objects a message carries, each object once per batch (two events for one key
        share its work and its outcome); keys outside any bucket are skipped outcomes, and a
        route that could not be read is the message's error."""
        carried: list[_Item | Outcome | Exception] = []
        for event in message.events:
            prefix = bucket_prefix_of(event.key)
            try:
                route = lookups.route(prefix) if prefix else None
            except Exception as error:  # the metadata store: the message comes back
                carried.append(error)
                continue
            if route is None:
                # Not under any live bucket (deleted, or a stray key): nothing to do, nothing to retry.
                carried.append(Outcome("skipped", "no Stratus bucket owns this key"))
                continue
            object_id = object_id_for_key(event.key)
            key = (route.org_id, route.namespace_id, route.bucket_id, object_id)
            item = items.get(key)
            if item is None:
                item = items[key] = _Item(route, object_id, event.key, event.etag, message.receive_count)
            item.receive_count = max(item.receive_count, message.receive_count)
            carried.append(item)
        return carried

    def _read_records(self, items: list[_Item]) -> None:
        try:
            records = self._stores.metadata.get_objects([item.object_key for item in items])
        except Exception as error:
            for item in items:
                item.fail(error)
            return
        for item in items:
            item.record = records.get(item.object_key)
            if _already_done(item.record, item.event_etag):
                item.skip("this version was already processed")

    def _look_up(self, items: list[_Item], lookups: BatchLookups) -> None:
        for item in _live(items):
            try:
                item.namespace = lookups.namespace(item.route)
                item.collections = lookups.collections(item.route) if item.namespace is not None else []
            except Exception as error:
                item.fail(error)

    # -- reading and splitting -----------------------------------------------------------------

    def _prepare(self, items: list[_Item], budget: TimeBudget, pool: ThreadPoolExecutor) -> None:
        """Read and split every object on the pool's threads; an object not done when the time
        for it is over is failed (its thread is left to finish on its own)."""
        futures: dict[Future[_Prepared], _Item] = {
            pool.submit(self._read_and_split, item.key, item.collections): item for item in _live(items)
        }
        pending = set(futures)
        while pending:
            left = budget.prepare_seconds_left()
            if left <= 0:
                break
            done, pending = wait(pending, timeout=min(left, 1.0), return_when=FIRST_COMPLETED)
            for future in done:
                futures[future].prepared = future.result()
        # The objects still being read are the slow ones, unless none was read at all: then the
        # whole batch was slow (S3, the machine), and its objects are retried, not failed.
        error = budget.out_of_time("be read") if len(pending) == len(futures) else None
        for future in pending:
            future.cancel()
            item = futures[future]
            item.prepared = _Prepared(error=error or budget.overrun("be read and split"))
        for item in _live(items):
            prepared = item.prepared
            assert prepared is not None
            if prepared.stored is None and prepared.error is None:
                item.skip("the object was deleted before it was processed")
            elif prepared.stored is not None and _already_done(item.record, prepared.stored.etag):
                item.skip("this version was already processed")

    def _read_and_split(self, key: str, collections: list[Collection]) -> _Prepared:
        """Errors are the object's own: too big, undecodable, unsupported (a 4xx, final), or S3
        down (a 503) or a bug (both retried); its batch-mates go on either way."""
        try:
            stored = self._stores.blobs.get(key, self._limits.max_object_bytes)
        except Exception as error:
            return _Prepared(error=error)
        if stored is None:
            return _Prepared()
        content_hash = hashlib.sha256(stored.data).hexdigest()
        try:
            blobs, metadata = blobs_of(stored)
            drafts = {c.collection_id: drafts_for(c, blobs) for c in collections}
        except Exception as error:
            return _Prepared(stored, error, content_hash=content_hash)
        return _Prepared(stored, None, blobs, metadata, drafts, content_hash)

    # -- presigned uploads ---------------------------------------------------------------------

    def _arrive(self, items: list[_Item]) -> None:
        """A presigned upload's file with no object yet: its object as confirm would make it (or
        already did); a duplicate (`skip_duplicates`) makes none and is skipped. Then each plain
        file's blob takes the property its object names."""
        for item in _live(items):
            stored = item.prepared.stored if item.prepared is not None else None
            if stored is None:
                continue
            if item.record is None:
                try:
                    self._arrival(item, stored)
                except Exception as error:  # the metadata store: the object comes back
                    item.fail(error)
                    continue
            if item.record is not None and len(item.record.blobs) == 1 and item.prepared is not None:
                item.prepared.named(item.record.blobs[0].property)

    def _arrival(self, item: _Item, stored: StoredBlob) -> None:
        upload = self._upload_of(item.route, item.key)
        if upload is None:
            return
        if upload.status == "SKIPPED":
            item.skip("a duplicate upload (skip_duplicates)")
            return
        arrival = upload_arrival(self._stores.metadata, upload, stored, self._stores.blobs.bucket)
        if arrival.duplicate_of is not None:
            item.skip(f"the bucket holds this file as '{arrival.duplicate_of}' (skip_duplicates)")
            return
        item.record = arrival.record

    def _upload_of(self, route: BucketRoute, key: str) -> UploadRecord | None:
        upload_id = upload_id_of_key(key)
        if upload_id is None:
            return None
        upload = self._stores.metadata.get_upload(
            route.org_id, route.namespace_id, route.bucket_id, upload_id
        )
        return upload if upload is not None and upload.s3_key == key else None

    # -- statuses ------------------------------------------------------------------------------

    def _start(self, items: list[_Item]) -> None:
        """PROCESSING for every object to process (new ones created, and counted in their bucket),
        in batched transactions; one object at a time if those fail."""
        now = clock.iso_now()
        writes: list[tuple[_Item, ObjectWrite]] = []
        for item in items:
            if item.outcome is not None or item.prepared is None:
                continue  # skipped, or failed before it was read: nothing to record
            record = item.record
            create = record is None
            if record is None:  # a plain S3 put: the extractor is the first to hear of it
                record = self._pending(item, now)
            started, size_delta = _processing(record, item.prepared, _etag(item), now)
            writes.append((item, ObjectWrite(started, task_of(started), create, 0 if create else size_delta)))
        if not writes:
            return
        try:
            self._stores.metadata.save_objects([write for _, write in writes])
        except Exception as error:
            logger.info("batched start of %d objects failed (%s): one at a time", len(writes), error)
            for item, _ in writes:
                try:
                    item.started = self._start_one(item, now)
                except Exception as one_error:
                    item.fail(one_error)
        else:
            for item, write in writes:
                item.started = write.record
        for item, _ in writes:
            # Only an object that was processed, or attempted, before can hold chunks of another
            # version; a first attempt (no record yet, or PENDING) skips the listing. The ETag
            # cannot tell: a retry of a new version whose first attempt failed or died after the
            # start finds the new ETag already on the record, while the old version's extra
            # chunks are still there.
            item.replaces = item.record is not None and item.record.status != "PENDING"
            if item.started is not None and item.prepared is not None and item.prepared.error is not None:
                item.fail(item.prepared.error)

    def _pending(self, item: _Item, now: str) -> ObjectRecord:
        """The record of a plain S3 put, with its size and content hash."""
        new = pending_object(item.route, item.object_id, item.key, self._stores.blobs.bucket, "s3", now)
        prepared = item.prepared
        if prepared is None or prepared.stored is None:
            return new
        return new.model_copy(
            update={"size_bytes": len(prepared.stored.data), "content_hash": prepared.content_hash}
        )

    def _start_one(self, item: _Item, now: str) -> ObjectRecord:
        record = item.record
        if record is None:
            new = self._pending(item, now)
            # Conditional, and counted in the bucket's totals: a concurrent worker's record wins.
            created = self._stores.metadata.create_object(new)
            record = new if created else self._stores.metadata.get_object(*item.object_key)
            if record is None:  # created and deleted in between: start over as new
                record = new
        started, size_delta = _processing(record, item.prepared, _etag(item), now)
        self._stores.metadata.save_object(started, task_of(started), size_delta)
        return started

    def _finish(self, items: list[_Item]) -> None:
        """COMPLETED (with the counts) or the failure, in batched transactions; one object at a
        time if those fail, so an object whose COMPLETED write fails is reported failed alone."""
        now = clock.iso_now()
        writes: list[tuple[_Item, ObjectWrite]] = []
        for item in items:
            if item.started is None or item.outcome is not None:
                continue
            error = item.error or next((job.error for job in item.jobs if job.error is not None), None)
            if error is not None:
                item.fail(error)
                record = self._failed(item, error, now)
            else:
                record = self._completed(item, now)
            outputs = _outputs_of(item) if error is None else None
            writes.append((item, ObjectWrite(record, task_of(record, outputs))))
        if not writes:
            return
        try:
            self._stores.metadata.save_objects([write for _, write in writes])
        except Exception as error:
            logger.info("batched finish of %d objects failed (%s): one at a time", len(writes), error)
            for item, write in writes:
                self._finish_one(item, write, now)
        else:
            for item, write in writes:
                self._finished(item, write.record)

    def _finish_one(self, item: _Item, write: ObjectWrite, now: str) -> None:
        try:
            assert write.task is not None
            self._stores.metadata.save_object(write.record, write.task)
        except Exception as error:
            if item.error is not None:  # the original error matters more; the retry records it
                logger.exception("could not record the failure of object %s", item.object_id)
                return
            item.fail(error)
            failed = self._failed(item, error, now)
            try:
                self._stores.metadata.save_object(failed, task_of(failed))
            except Exception:
                logger.exception("could not record the failure of object %s", item.object_id)
            return
        self._finished(item, write.record)

    def _finished(self, item: _Item, record: ObjectRecord) -> None:
        if item.error is None:
            documents = {job.collection.collection_id: job.documents or 0 for job in item.jobs}
            item.outcome = Outcome("completed", object_id=item.object_id, documents=documents)

    def _completed(self, item: _Item, now: str) -> ObjectRecord:
        started = item.started
        assert started is not None
        return started.model_copy(
            update={
                "status": "COMPLETED",
                "error": None,
                "document_count": sum(job.documents or 0 for job in item.jobs),
                "updated_at": now,
                **_content_of(item),
            }
        )

    def _failed(self, item: _Item, error: Exception, now: str) -> ObjectRecord:
        started = item.started
        assert started is not None
        reason = _reason(error)
        if _is_permanent(error) or item.receive_count >= self._limits.max_receives:
            status: Literal["PROCESSING", "FAILED"] = "FAILED"
            message = reason
        else:
            status = "PROCESSING"
            attempt = f"attempt {item.receive_count} of {self._limits.max_receives}"
            message = f"{attempt} failed, retrying: {reason}"
        return started.model_copy(update={"status": status, "error": message, "updated_at": now})

    # -- jobs ----------------------------------------------------------------------------------

    def _jobs(self, items: list[_Item]) -> list[_Job]:
        """One job per (started object, collection), its space resolved; none for a namespace
        that is gone (the object completes with no documents, as before it had collections)."""
        jobs: list[_Job] = []
        for item in items:
            if not item.live or item.started is None or item.namespace is None:
                continue
            assert item.prepared is not None
            for collection in item.collections:
                job = _Job(item, collection, item.prepared.drafts.get(collection.collection_id, []))
                job.job = IngestJob(
                    item.route.org_id, item.route.namespace_id, item.route.bucket_id, item.object_id,
                    item.started.etag or "", collection.collection_id,
                )  # fmt: skip
                job.space = space_of(item.namespace, collection.vector_index)
                if job.space is None:
                    job.fail(
                        BadRequestError(
                            f"collection '{collection.collection_id}' writes into vector index "
                            f"'{collection.vector_index}', which namespace "
                            f"'{item.namespace.namespace_id}' no longer has",
                            {"collection_id": collection.collection_id},
                        )
                    )
                item.jobs.append(job)
                jobs.append(job)
        return jobs

    def _claim(self, jobs: list[_Job], budget: TimeBudget, pool: ThreadPoolExecutor) -> None:
        """Claim every job in the ledger: a job that ran before keeps its saved result (and is not
        embedded again); one another invocation holds fails, to come back later."""

        def claim(job: _Job) -> None:
            assert job.job is not None
            try:
                claim = self._ledger.claim(job.job.as_dict(), budget.remaining_ms())
            except Exception as error:
                job.fail(error)
                return
            if claim.mine:
                job.claimed = True
            else:
                job.documents = claim.done

        _each(pool, claim, [job for job in jobs if not job.failed])

    def _write_vectors(self, jobs: list[_Job]) -> None:
        """One upsert per space for every embedded job writing into it; a refused upsert is made
        again one job at a time so only the job at fault fails. Then each replaced object's stale
        chunks are deleted."""
        now = clock.iso_now()
        by_space: dict[str, list[_Job]] = {}
        for job in jobs:
            if job.claimed and not job.failed:
                assert job.item.started is not None and job.space is not None
                vectors = [vector for vector in job.vectors if vector is not None]
                if len(vectors) != len(job.drafts):  # a bug in the embedding step: retry, never guess
                    job.fail(RuntimeError(f"{len(job.drafts) - len(vectors)} drafts were not embedded"))
                    continue
                record = job.item.started.model_copy(update=_content_of(job.item))
                try:  # a required source field the object lacks fails it (field passthrough)
                    job.records = records_for(
                        record, job.collection, record.metadata, job.drafts, vectors, now
                    )
                except Exception as error:
                    job.fail(error)
                    continue
                job.documents = len(job.records)
                by_space.setdefault(job.space.name, []).append(job)
        for space_jobs in by_space.values():
            self._upsert(space_jobs)
        for job in jobs:
            if job.claimed and not job.failed and job.item.replaces:
                try:
                    self._delete_stale(job)
                except Exception as error:
                    job.fail(error)

    def _upsert(self, jobs: list[_Job]) -> None:
        space = jobs[0].space
        assert space is not None
        records = [record for job in jobs for record in job.records]
        try:
            if records:
                self._stores.vectors.ensure_space(space)
                self._write(jobs[0], space, records)
        except StratusError as error:
            if not 400 <= error.status < 500 or len(jobs) == 1:
                for job in jobs:
                    job.fail(error)
                return
            for job in jobs:  # refused for some record: find whose
                try:
                    self._write(job, space, job.records)
                except Exception as one_error:
                    job.fail(one_error)
        except Exception as error:
            for job in jobs:
                job.fail(error)

    def _write(self, job: _Job, space: Space, records: list[VectorRecord]) -> None:
        """`records` into `space` (whose jobs share `job`'s namespace). An index being migrated
        gets the write in its shadow copy first (services/backfill)."""
        assert job.item.namespace is not None
        if records:
            mirror_upsert(self._stores, job.item.namespace, space.index_name, records)
            self._stores.vectors.upsert(space, records)

    def _delete_stale(self, job: _Job) -> None:
        """A new version may have fewer chunks: remove the ones it no longer has (from a
        migrating index's shadow copy too)."""
        assert job.space is not None and job.item.namespace is not None
        kept = {record.id for record in job.records}
        stale = self._ids_of(job.space, job.item.object_id, job.collection.collection_id) - kept
        if stale:
            mirror_delete(self._stores, job.item.namespace, job.space.index_name, sorted(stale))
            self._stores.vectors.delete(job.space, sorted(stale))

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

    def _settle(self, jobs: list[_Job], pool: ThreadPoolExecutor) -> None:
        """Each claimed job's result into the ledger (its claim dropped if it failed, so the next
        delivery runs it again)."""

        def settle(job: _Job) -> None:
            assert job.job is not None
            try:
                if job.error is not None:
                    self._ledger.failed(job.job.as_dict(), job.error)
                else:
                    self._ledger.succeeded(job.job.as_dict(), job.documents or 0)
            except Exception as error:
                if job.error is None:
                    job.fail(error)
                else:
                    logger.exception("could not drop the idempotency record of a failed job")

        _each(pool, settle, [job for job in jobs if job.claimed])

    # -- results -------------------------------------------------------------------------------

    def _result(self, message: Message, carried: list[_Item | Outcome | Exception]) -> MessageResult:
        if message.error is not None:
            return MessageResult(message.message_id, [], message.error)
        outcomes: list[Outcome] = []
        error: Exception | None = None
        for entry in carried:
            if isinstance(entry, Outcome):
                outcomes.append(entry)
                continue
            if isinstance(entry, Exception):
                outcomes.append(Outcome("failed", _reason(entry)))
                error = error or entry
                continue
            if entry.error is not None:
                outcomes.append(Outcome("failed", _reason(entry.error), entry.object_id))
                error = error or entry.error
            elif entry.outcome is not None:
                outcomes.append(entry.outcome)
            else:  # never reached a status (a bug): retry rather than lose the object
                error = error or RuntimeError(f"object {entry.object_id} was left unprocessed")
                outcomes.append(Outcome("failed", "left unprocessed", entry.object_id))
        return MessageResult(message.message_id, outcomes, error)


# ---------------------------------------------------------------------------------------------
# Helpers


def _live(items: Iterable[_Item]) -> list[_Item]:
    return [item for item in items if item.live]


def _each(pool: ThreadPoolExecutor, action: Callable[[T], None], values: Sequence[T]) -> None:
    """`action` on every value, on the pool's threads when there are several."""
    if len(values) <= 1:
        for value in values:
            action(value)
        return
    for future in [pool.submit(action, value) for value in values]:
        future.result()


def _etag(item: _Item) -> str:
    prepared = item.prepared
    if prepared is not None and prepared.stored is not None:
        return prepared.stored.etag
    return item.event_etag or ""


def _processing(
    record: ObjectRecord, prepared: _Prepared | None, etag: str, now: str
) -> tuple[ObjectRecord, int]:
    """The record PROCESSING, and the change of its size in its bucket's total_size_bytes (a new
    version, or an upload's first file)."""
    # A registered object keeps the task it was announced with until it is processed once; a
    # later version (new ETag) of the same key gets a task of its own.
    announced = record.status == "PENDING" and record.task_id
    task_id = record.task_id if announced and record.task_id else task_id_for(record.object_id, etag)
    changes: dict[str, Any] = {
        "status": "PROCESSING",
        "error": None,
        "etag": etag,
        "task_id": task_id,
        "updated_at": now,
    }
    size_delta = 0
    stored = prepared.stored if prepared is not None else None
    if prepared is not None and stored is not None and len(stored.data) != record.size_bytes:
        size_delta = len(stored.data) - record.size_bytes
        changes["size_bytes"] = len(stored.data)
        if record.source != "api":  # an API object's hash is its blobs', not its manifest's
            changes["content_hash"] = prepared.content_hash
    return record.model_copy(update=changes), size_delta


def _content_of(item: _Item) -> dict[str, Any]:
    """The blobs and merged metadata the object's documents and its COMPLETED record carry."""
    prepared = item.prepared
    started = item.started
    assert prepared is not None and started is not None
    return {
        "blobs": [blob.summary() for blob in prepared.blobs],
        "metadata": {**prepared.metadata, **started.metadata},
    }


def _outputs_of(item: _Item) -> dict[str, Any]:
    documents = {job.collection.collection_id: job.documents or 0 for job in item.jobs}
    outputs: dict[str, Any] = {"document_count": sum(documents.values()), "collections": documents}
    if not documents:
        outputs["note"] = "no enabled collection reads this bucket; the object is stored, not extracted"
    return outputs


def _already_done(record: ObjectRecord | None, etag: str | None) -> bool:
    return record is not None and bool(etag) and record.etag == etag and record.status == "COMPLETED"


def _is_permanent(error: Exception) -> bool:
    """The object's own fault (unreadable, unsupported, too large): retrying cannot help."""
    return isinstance(error, StratusError) and 400 <= error.status < 500


def _reason(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message[:MAX_ERROR_LENGTH]
    # Anything else is a bug or an SDK fault: its text may carry internals, so only its type.
    return f"internal error ({type(error).__name__}); the message will be retried"
