"""The `backfill` function: SQS batch of backfill messages → `BackfillWorker`, with Powertools'
`BatchProcessor` answering partial batch failures (`batchItemFailures`), so only the messages
that failed come back (after a growing backoff), and one that fails `MAX_RECEIVES` times moves
to the dead-letter queue. Idempotence is the
worker's own (per task and page: services/backfill/worker.py), not Powertools'."""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stratus.container import get_container
from stratus.errors import StratusError
from stratus.ports.backfill import TaskQueue
from stratus.services.backfill.messages import BackfillConfig
from stratus.services.backfill.worker import BackfillWorker, Delivery, NotYetVisible
from stratus.wire_logs import quiet_sdk_wire_logs

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 15
RETRY_CAP_SECONDS = 600


def delivery_of(record: SQSRecord) -> Delivery:
    attributes = record.raw_event.get("attributes", {}) or {}
    # Lambda always sends both; hand-made events (sam local invoke -e, tests) may not.
    receive_count = int(attributes.get("ApproximateReceiveCount") or 1)
    sent = attributes.get("SentTimestamp")
    body = json.loads(record.body)
    if not isinstance(body, dict):
        raise ValueError("a backfill message is a JSON object")
    return Delivery(body=body, receive_count=receive_count, sent_at=int(sent) / 1000 if sent else None)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    quiet_sdk_wire_logs()
    container = get_container()
    worker = BackfillWorker(container, BackfillConfig.from_settings(container.settings))

    def record_handler(record: SQSRecord) -> None:
        delivery = delivery_of(record)
        # Ids and counts only, never payloads.
        logger.info(
            "backfill %s of task %s (receive %d)",
            delivery.body.get("kind"),
            delivery.body.get("task_id"),
            delivery.receive_count,
        )
        try:
            worker.handle(delivery)
        except NotYetVisible:
            raise  # expected: the commit creating the task has not landed yet
        except Exception as error:
            # Its type and message only (a StratusError's message names no payload content).
            logger.warning(
                "backfill %s of task %s failed: %s",
                delivery.body.get("kind"),
                delivery.body.get("task_id"),
                _describe(error),
            )
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response: dict[str, Any] = dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
    _back_off(container.backfill_queue, event, response)
    return response


def _back_off(queue: TaskQueue, event: dict[str, Any], response: dict[str, Any]) -> None:
    """A failed message comes back after a short, growing backoff, not after the queue's whole
    visibility timeout (6 x the function's timeout)."""
    failed = {str(failure.get("itemIdentifier")) for failure in response.get("batchItemFailures") or []}
    for record in event.get("Records") or []:
        if record.get("messageId") in failed and record.get("receiptHandle"):
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            queue.release(str(record["receiptHandle"]), retry_delay_seconds(receives))


def _describe(error: Exception) -> str:
    if isinstance(error, StratusError):
        return f"{type(error).__name__}: {error.message}"
    return type(error).__name__


def retry_delay_seconds(receive_count: int) -> int:
    return int(min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, receive_count - 1)))
