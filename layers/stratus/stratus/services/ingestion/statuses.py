"""The batch's objects and their tasks through PENDING → PROCESSING → COMPLETED / FAILED, in
batched transactions (an object and its task always in the same one, with the bucket's
`object_count` and `total_size_bytes`); one object at a time when a batched write fails, so that
only the object at fault fails."""

from __future__ import annotations

import logging
from typing import Any, Literal

from stratus import clock
from stratus.domain.object_keys import task_id_for
from stratus.domain.object_records import pending_object, task_of
from stratus.models.objects import ObjectRecord
from stratus.ports.metadata import ObjectWrite
from stratus.ports.stores import Stores
from stratus.services.ingestion.batch_state import IngestLimits, Item, Outcome, Prepared, is_permanent, reason

logger = logging.getLogger(__name__)


class ObjectStatuses:
    def __init__(self, stores: Stores, limits: IngestLimits) -> None:
        self._stores = stores
        self._limits = limits

    def start(self, items: list[Item]) -> None:
        """PROCESSING for every object to process (new ones created, and counted in their
        bucket's totals), in batched transactions; one object at a time if those fail."""
        now = clock.iso_now()
        writes: list[tuple[Item, ObjectWrite]] = []
        for item in items:
            if item.outcome is not None or item.prepared is None:
                continue  # skipped, or failed before it was read: nothing to record
            record = item.record
            create = record is None
            if record is None:  # a plain S3 put: the extractor is the first to hear of it
                record = self._pending(item, now)
            started, size_delta = processing(record, item.prepared, item.etag, now)
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

    def _pending(self, item: Item, now: str) -> ObjectRecord:
        """The record of a plain S3 put, with its size and content hash."""
        new = pending_object(item.route, item.object_id, item.key, self._stores.blobs.bucket, "s3", now)
        prepared = item.prepared
        if prepared is None or prepared.stored is None:
            return new
        return new.model_copy(
            update={"size_bytes": len(prepared.stored.data), "content_hash": prepared.content_hash}
        )

    def _start_one(self, item: Item, now: str) -> ObjectRecord:
        record = item.record
        if record is None:
            new = self._pending(item, now)
            # Conditional, and counted in the bucket's totals: a concurrent worker's record wins.
            created = self._stores.metadata.create_object(new)
            record = new if created else self._stores.metadata.get_object(*item.object_key)
            if record is None:  # created and deleted in between: start over as new
                record = new
        started, size_delta = processing(record, item.prepared, item.etag, now)
        self._stores.metadata.save_object(started, task_of(started), size_delta)
        return started

    def finish(self, items: list[Item]) -> None:
        """COMPLETED (with the counts) or the failure, in batched transactions; one object at a
        time if those fail, so an object whose COMPLETED write fails is reported failed alone."""
        now = clock.iso_now()
        writes: list[tuple[Item, ObjectWrite]] = []
        for item in items:
            if item.started is None or item.outcome is not None:
                continue
            error = item.error or next((job.error for job in item.jobs if job.error is not None), None)
            if error is not None:
                item.fail(error)
                record = self._failed(item, error, now)
            else:
                record = self._completed(item, now)
            outputs = outputs_of(item) if error is None else None
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
            for item, _ in writes:
                _finished(item)

    def _finish_one(self, item: Item, write: ObjectWrite, now: str) -> None:
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
        _finished(item)

    def _completed(self, item: Item, now: str) -> ObjectRecord:
        started = item.started
        assert started is not None
        return started.model_copy(
            update={
                "status": "COMPLETED",
                "error": None,
                "document_count": sum(job.documents or 0 for job in item.jobs),
                "updated_at": now,
                **item.content(),
            }
        )

    def _failed(self, item: Item, error: Exception, now: str) -> ObjectRecord:
        started = item.started
        assert started is not None
        why = reason(error)
        if is_permanent(error) or item.receive_count >= self._limits.max_receives:
            status: Literal["PROCESSING", "FAILED"] = "FAILED"
            message = why
        else:
            status = "PROCESSING"
            attempt = f"attempt {item.receive_count} of {self._limits.max_receives}"
            message = f"{attempt} failed, retrying: {why}"
        return started.model_copy(update={"status": status, "error": message, "updated_at": now})


def _finished(item: Item) -> None:
    if item.error is None:
        documents = {job.collection.collection_id: job.documents or 0 for job in item.jobs}
        item.outcome = Outcome("completed", object_id=item.object_id, documents=documents)


def processing(
    record: ObjectRecord, prepared: Prepared | None, etag: str, now: str
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


def outputs_of(item: Item) -> dict[str, Any]:
    documents = {job.collection.collection_id: job.documents or 0 for job in item.jobs}
    outputs: dict[str, Any] = {"document_count": sum(documents.values()), "collections": documents}
    if not documents:
        outputs["note"] = "no enabled collection reads this bucket; the object is stored, not extracted"
    return outputs
