"""The `extractor` function: SQS batch of S3 notifications → `ObjectIngestor`, with Powertools.

- `BatchProcessor` reports partial batch failures (`batchItemFailures`), so one bad object never
  makes the batch's good ones run again; the queue retries the bad one and, after
  `maxReceiveCount` receives, moves it to the dead-letter queue.
- `idempotent_function` on DynamoDB makes each (object, etag, collection) step run once: a
  redelivered message, or a retry after a crash, returns the saved result instead of embedding
  again. Its records live in their own table (`STRATUS_IDEMPOTENCY_TABLE_NAME`) with a TTL.
- `stratus.observability` logs each message's lines with its SQS message id as correlation id and
  publishes the batch's `BatchCounts` (messages, failures, objects, documents) as metrics.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from stratus import observability
from stratus.container import Container, get_container
from stratus.ports.stores import Stores
from stratus.services.ingestion.pipeline import (
    BatchLookups,
    IngestJob,
    IngestLimits,
    ObjectIngestor,
    Outcome,
    RunOnce,
)
from stratus.services.ingestion.s3_events import object_events
from stratus.settings import Settings
from stratus.wire_logs import quiet_sdk_wire_logs

logger = logging.getLogger(__name__)

# A saved step result is reused for a day; after that an object COMPLETED at the same ETag is
# still skipped by the pipeline itself (its record says so).
IDEMPOTENCY_SECONDS = 24 * 3600


def powertools_run_once(persistence: DynamoDBPersistenceLayer, config: IdempotencyConfig) -> RunOnce:
    """A `RunOnce` keyed by (object_id, etag, collection_id) of the job."""

    def run_step(job: dict[str, str], work: Callable[[], int]) -> int:
        return work()

    # Only `job` is hashed into the key; `work` rides along as another keyword argument.
    step: Callable[..., Any] = idempotent_function(
        run_step, data_keyword_argument="job", persistence_store=persistence, config=config
    )

    def run_once(job: IngestJob, work: Callable[[], int]) -> int:
        return int(step(job=job.as_dict(), work=work))

    return run_once


def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[object_id, etag, collection_id]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )


def persistence_layer(settings: Settings) -> DynamoDBPersistenceLayer:
    import boto3

    client = boto3.session.Session().client(
        "dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=client)


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
        if outcome.status == "completed":
            self.objects_completed += 1
        else:
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

    def __init__(self, stores: Stores, settings: Settings, run_once: RunOnce | None = None) -> None:
        self._config = idempotency_config()
        if run_once is None:
            run_once = powertools_run_once(persistence_layer(settings), self._config)
        limits = IngestLimits(
            max_receives=settings.ingest_max_receives, max_object_bytes=settings.max_object_bytes
        )
        self._ingestor = ObjectIngestor(stores, limits, run_once)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.handle_batch(event, context)[0]

    def handle_batch(self, event: dict[str, Any], context: Any) -> tuple[dict[str, Any], BatchCounts]:
        """The batch's answer (`batchItemFailures`) and its counts."""
        if context is not None:
            # In-progress records expire with this invocation, so a crashed attempt never blocks
            # the retry (the queue's visibility timeout is 6x the function timeout).
            self._config.register_lambda_context(context)
        # raise_on_entire_batch_failure=False: always answer with the failures, also when all
        # failed; the queue treats both the same, and callers (local worker, tests) read them.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        lookups = self._ingestor.lookups()  # the batch's shared reads (bucket route, namespace...)
        counts = BatchCounts(messages=len(event.get("Records") or []))
        try:
            response: dict[str, Any] = dict(
                process_partial_response(
                    event=event,
                    record_handler=functools.partial(self._record, lookups=lookups, counts=counts),
                    processor=processor,
                    context=context,
                )
            )
        finally:
            observability.logger.set_correlation_id(None)
        counts.failed_messages = len(response.get("batchItemFailures") or [])
        return response, counts

    def _record(self, record: SQSRecord, lookups: BatchLookups, counts: BatchCounts) -> None:
        # Every line about this message carries its id (until the next message's).
        observability.logger.set_correlation_id(record.message_id)
        # Lambda always sends it; hand-made events (sam local invoke -e, tests) may not.
        receive_count = int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount") or 1)
        for object_event in object_events(record.body):
            outcome = self._ingestor.process(object_event, receive_count, lookups)
            counts.add(outcome)
            # Ids and counts only: never payloads, text or keys' contents beyond the S3 key.
            logger.info(
                "object %s: %s %s",
                outcome.object_id or "-",
                outcome.status,
                outcome.reason or f"documents per collection {outcome.documents}",
            )


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
