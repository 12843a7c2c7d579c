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

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from stratus.ports.ledger import JobLedger, NoLedger
from stratus.ports.metadata import ObjectKey
from stratus.ports.stores import Stores
from stratus.services.ingestion import job_ledger, planning, reading
from stratus.services.ingestion.batch_embedding import embed_jobs
from stratus.services.ingestion.batch_state import IngestLimits, Item, Message, MessageResult, Outcome, reason
from stratus.services.ingestion.budget import TimeBudget
from stratus.services.ingestion.statuses import ObjectStatuses
from stratus.services.ingestion.vector_writes import VectorWriter

# Threads for the batch's I/O-bound step (S3 reads).
MAX_THREADS = 8


class BatchIngestor:
    def __init__(self, stores: Stores, limits: IngestLimits, ledger: JobLedger | None = None) -> None:
        self._stores = stores
        self._limits = limits
        self._ledger = ledger if ledger is not None else NoLedger()
        self._statuses = ObjectStatuses(stores, limits)
        self._vectors = VectorWriter(stores)

    def ingest(self, messages: Sequence[Message], budget: TimeBudget | None = None) -> list[MessageResult]:
        """Ingest the objects of `messages`; one result per message, in order. A result with an
        `error` is a message to retry; its objects show why."""
        budget = budget or TimeBudget.unlimited()
        lookups = planning.BatchLookups(self._stores.metadata)
        items: dict[ObjectKey, Item] = {}
        carried: dict[str, list[Item | Outcome | Exception]] = {}
        for message in messages:
            carried[message.message_id] = planning.items_of(message, lookups, items)
        batch = list(items.values())
        pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="stratus-ingest")
        try:
            planning.read_records(self._stores.metadata, batch)
            planning.look_up(batch, lookups)
            reading.prepare(self._stores, self._limits, batch, budget, pool)
            reading.arrive(self._stores, batch)
            self._statuses.start(batch)
            jobs = planning.jobs_of(batch)
            job_ledger.claim(self._ledger, jobs, budget)
            embed_jobs(self._stores.embedders, [j for j in jobs if j.claimed and not j.failed], budget)
            self._vectors.write(jobs)
            job_ledger.settle(self._ledger, jobs)
            self._statuses.finish(batch)
        finally:
            # Never waits: a read that overran its time is left to end on its own thread.
            pool.shutdown(wait=False, cancel_futures=True)
        return [_result(message, carried[message.message_id]) for message in messages]


def _result(message: Message, carried: list[Item | Outcome | Exception]) -> MessageResult:
    if message.error is not None:
        return MessageResult(message.message_id, [], message.error)
    outcomes: list[Outcome] = []
    error: Exception | None = None
    for entry in carried:
        if isinstance(entry, Outcome):
            outcomes.append(entry)
            continue
        if isinstance(entry, Exception):
            outcomes.append(Outcome("failed", reason(entry)))
            error = error or entry
            continue
        if entry.error is not None:
            outcomes.append(Outcome("failed", reason(entry.error), entry.object_id))
            error = error or entry.error
        elif entry.outcome is not None:
            outcomes.append(entry.outcome)
        else:  # never reached a status (a bug): retry rather than lose the object
            error = error or RuntimeError(f"object {entry.object_id} was left unprocessed")
            outcomes.append(Outcome("failed", "left unprocessed", entry.object_id))
    return MessageResult(message.message_id, outcomes, error)
