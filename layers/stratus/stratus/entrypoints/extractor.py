"""The `extractor` function: SQS batch of S3 notifications → `BatchIngestor`, with Powertools.

- The whole batch is ingested together (services/ingestion: one embedding call per inference
  service, one vector upsert per index, batched status writes), then `BatchProcessor` reports
  the messages whose objects failed (`batchItemFailures`), so one bad object never makes the
  batch's good ones run again; the queue retries the bad one and, after `maxReceiveCount`
  receives, moves it to the dead-letter queue.
- Powertools Idempotency on DynamoDB (`adapters/idempotency.py`) keeps a record per (object,
  etag, collection) job: a redelivered message, or a retry after a crash, reuses the saved result
  instead of embedding again. Its records live in their own table
  (`STRATUS_IDEMPOTENCY_TABLE_NAME`) with a TTL.
- The invocation's remaining time (`context.get_remaining_time_in_millis()`) is checked before
  each stage; only an object that would overrun it fails (services/ingestion/budget.py).
- `stratus.observability` logs each message's lines with its SQS message id as correlation id and
  publishes the batch's `BatchCounts` (messages, failures, objects, documents) as metrics.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stratus import observability
from stratus.container import Container, get_container
from stratus.ports.ledger import JobLedger
from stratus.ports.stores import Stores
from stratus.services.ingestion.batch_state import IngestLimits, MessageResult, Outcome
from stratus.services.ingestion.budget import TimeBudget
from stratus.services.ingestion.pipeline import BatchIngestor
from stratus.services.ingestion.s3_events import sqs_messages
from stratus.settings import Settings
from stratus.wire_logs import quiet_sdk_wire_logs

logger = logging.getLogger(__name__)


@dataclass
class BatchCounts:
    """What one SQS batch did: the extractor's metrics and the batch's log line, read at this
    boundary from the batch's answer and the outcomes of its objects (whatever the pipeline
    does inside)."""

    messages: int = 0
    failed_messages: int = 0
    objects_completed: int = 0
    objects_skipped: int = 0
    documents: int = 0

    def add(self, outcome: Outcome) -> None:
        # A failed object is counted with its message (`failed_messages`), as it comes back.
        if outcome.status == "completed":
            self.objects_completed += 1
        elif outcome.status == "skipped":
            self.objects_skipped += 1
        self.documents += sum(outcome.documents.values())

    def record(self, invocation: observability.Invocation) -> None:
        invocation.add("Messages", self.messages)
        invocation.add("IngestFailures", self.failed_messages)
        invocation.add("ObjectsCompleted", self.objects_completed)
        invocation.add("ObjectsSkipped", self.objects_skipped)
        invocation.add("IngestedDocuments", self.documents)


class ExtractorFunction:
    """Built once per container; `handle` is the Lambda entry point's body."""

    def __init__(self, stores: Stores, settings: Settings, ledger: JobLedger | None = None) -> None:
        if ledger is None:
            from stratus.adapters.idempotency import dynamodb_ledger

            ledger = dynamodb_ledger(settings)
        limits = IngestLimits(
            max_receives=settings.ingest_max_receives, max_object_bytes=settings.max_object_bytes
        )
        self._ingestor = BatchIngestor(stores, limits, ledger)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.handle_batch(event, context)[0]

    def handle_batch(self, event: dict[str, Any], context: Any) -> tuple[dict[str, Any], BatchCounts]:
        """The batch's answer (`batchItemFailures`) and its counts."""
        results = {
            result.message_id: result
            for result in self._ingestor.ingest(sqs_messages(event), TimeBudget.of(context))
        }
        # raise_on_entire_batch_failure=False: always answer with the failures, also when all
        # failed; the queue treats both the same, and callers (local worker, tests) read them.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        counts = BatchCounts(messages=len(event.get("Records") or []))

        def report(record: SQSRecord) -> None:
            # Every line about this message carries its id (until the next message's).
            observability.logger.set_correlation_id(record.message_id)
            _report(results[record.message_id], counts)

        try:
            response: dict[str, Any] = dict(
                process_partial_response(
                    event=event, record_handler=report, processor=processor, context=context
                )
            )
        finally:
            observability.logger.set_correlation_id(None)
        counts.failed_messages = len(response.get("batchItemFailures") or [])
        return response, counts


def _report(result: MessageResult, counts: BatchCounts) -> None:
    """Log and count the message's objects, and raise its failure for `BatchProcessor` to report."""
    for outcome in result.outcomes:
        counts.add(outcome)
        # Ids and counts only: never payloads, text or keys' contents beyond the S3 key.
        logger.info(
            "object %s: %s %s",
            outcome.object_id or "-",
            outcome.status,
            outcome.reason or f"documents per collection {outcome.documents}",
        )
    if result.error is not None:
        raise result.error


_lock = threading.Lock()
_built: tuple[Container, ExtractorFunction] | None = None


@observability.entrypoint("extractor", count_metric="Batches")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response, counts = _function().handle_batch(event, context)
    invocation = observability.current()
    if invocation is not None:
        counts.record(invocation)
        failed = [item.get("itemIdentifier") for item in response.get("batchItemFailures") or []]
        message_ids = [record.get("messageId") for record in event.get("Records") or []]
        invocation.fields.update(
            message_ids=message_ids,
            failed_message_ids=failed,
            documents=counts.documents,
            objects_completed=counts.objects_completed,
            objects_skipped=counts.objects_skipped,
        )
        invocation.summary = f"batch of {counts.messages} message(s), {counts.failed_messages} failed"
    return response


def _function() -> ExtractorFunction:
    """The process container's function, built on first use: once per container (a reset
    container, in tests, gets a function of its own)."""
    global _built
    container = get_container()
    built = _built
    if built is None or built[0] is not container:
        with _lock:
            if _built is None or _built[0] is not container:
                quiet_sdk_wire_logs()
                _built = (container, ExtractorFunction(container, container.settings))
            built = _built
    return built[1]
