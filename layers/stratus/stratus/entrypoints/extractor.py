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
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stratus.container import Container, get_container
from stratus.ports.ledger import JobLedger
from stratus.ports.stores import Stores
from stratus.services.ingestion.budget import TimeBudget
from stratus.services.ingestion.pipeline import BatchIngestor, IngestLimits, MessageResult
from stratus.services.ingestion.s3_events import sqs_messages
from stratus.settings import Settings
from stratus.wire_logs import quiet_sdk_wire_logs

logger = logging.getLogger(__name__)


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
        results = {
            result.message_id: result
            for result in self._ingestor.ingest(sqs_messages(event), TimeBudget.of(context))
        }
        # raise_on_entire_batch_failure=False: always answer with the failures, also when all
        # failed; the queue treats both the same, and callers (local worker, tests) read them.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

        def report(record: SQSRecord) -> None:
            _report(results[record.message_id])

        response: dict[str, Any] = dict(
            process_partial_response(event=event, record_handler=report, processor=processor, context=context)
        )
        return response


def _report(result: MessageResult) -> None:
    """Log the message's objects, and raise its failure for `BatchProcessor` to report."""
    for outcome in result.outcomes:
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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _function().handle(event, context)


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
