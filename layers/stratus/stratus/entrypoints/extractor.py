"""The `extractor` function: SQS batch of S3 notifications → `ObjectIngestor`, with Powertools.

- `BatchProcessor` reports partial batch failures (`batchItemFailures`), so one bad object never
  makes the batch's good ones run again; the queue retries the bad one and, after
  `maxReceiveCount` receives, moves it to the dead-letter queue.
- `idempotent_function` on DynamoDB makes each (object, etag, collection) step run once: a
  redelivered message, or a retry after a crash, returns the saved result instead of embedding
  again. Its records live in their own table (`STRATUS_IDEMPOTENCY_TABLE_NAME`) with a TTL.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from stratus.container import Container, get_container
from stratus.ports.stores import Stores
from stratus.services.ingestion.pipeline import BatchLookups, IngestJob, IngestLimits, ObjectIngestor, RunOnce
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
        if context is not None:
            # In-progress records expire with this invocation, so a crashed attempt never blocks
            # the retry (the queue's visibility timeout is 6x the function timeout).
            self._config.register_lambda_context(context)
        # raise_on_entire_batch_failure=False: always answer with the failures, also when all
        # failed; the queue treats both the same, and callers (local worker, tests) read them.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        lookups = self._ingestor.lookups()  # the batch's shared reads (bucket route, namespace...)
        response: dict[str, Any] = dict(
            process_partial_response(
                event=event,
                record_handler=functools.partial(self._record, lookups=lookups),
                processor=processor,
                context=context,
            )
        )
        return response

    def _record(self, record: SQSRecord, lookups: BatchLookups) -> None:
        # Lambda always sends it; hand-made events (sam local invoke -e, tests) may not.
        receive_count = int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount") or 1)
        for object_event in object_events(record.body):
            outcome = self._ingestor.process(object_event, receive_count, lookups)
            # Ids and counts only: never payloads, text or keys' contents beyond the S3 key.
            logger.info(
                "object %s: %s %s",
                outcome.object_id or "-",
                outcome.status,
                outcome.reason or f"documents per collection {outcome.documents}",
            )


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
