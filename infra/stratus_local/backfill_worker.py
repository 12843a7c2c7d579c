"""Locally, what Lambda's SQS event source mapping does for the `backfill` function
(template.yaml `BackfillFunction`, fed by `BackfillQueue`): a daemon thread long-polls the
backfill queue, hands each batch to `functions/backfill/app.py`'s `handler(event, context)` as the
exact event Lambda builds, deletes the messages not listed in `batchItemFailures`, and lets the
failed ones come back. The queue's RedrivePolicy (moto implements it) moves a message to the
dead-letter queue after maxReceiveCount receives, as in AWS; messages sent with DelaySeconds (a
migration's swap, a drop) wait as they would.

Its own poller, apart from the extractor's (`ingest_worker`): the two functions have their own
queues, batch sizes and timeouts; it reuses only that module's Lambda plumbing (the template's
function settings, the event record and context shapes, reading `batchItemFailures`).

One deliberate difference from Lambda: a failed message comes back after a short backoff (1 s per
receive so far, at most 5 s) instead of the function's 15 s, 30 s...: locally a retry should take
a moment."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from stratus_local.ingest_worker import (
    FunctionConfig,
    Handler,
    InvalidBatchResponse,
    LocalLambdaContext,
    failed_message_ids,
    lambda_sqs_record,
    load_handler,
)
from stratus_local.template import REPO_ROOT

logger = logging.getLogger(__name__)

BACKFILL_APP = REPO_ROOT / "functions" / "backfill" / "app.py"
BACKFILL_LOGICAL_ID = "BackfillFunction"
LOCAL_FUNCTION_NAME = "stratus-backfill"
DEFAULT_WAIT_SECONDS = 1
ERROR_BACKOFF_SECONDS = 1.0
MAX_RETRY_SECONDS = 5
SQS_BATCH_LIMIT = 10


def backfill_function_config() -> FunctionConfig:
    return FunctionConfig.from_template(logical_id=BACKFILL_LOGICAL_ID, function_name=LOCAL_FUNCTION_NAME)


def load_backfill_handler() -> Handler:
    return load_handler(BACKFILL_APP)


class BackfillWorker:
    """`BackfillWorker(sqs, queue_url, handler, config).start()` ... `.stop()`."""

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        handler: Handler,
        config: FunctionConfig,
        wait_seconds: int = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._handler = handler
        self._config = config
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_arn = ""
        self._region = str(sqs_client.meta.region_name)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> BackfillWorker:
        if self.running:
            return self
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stratus-local-backfill", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the loop to end and wait for it (at most one receive wait plus the page in hand)."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=self._config.batch_size,
                    WaitTimeSeconds=self._wait_seconds,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception:
                if self._stop.is_set():
                    break
                logger.exception("backfill worker: receiving from %s failed", self._queue_url)
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            messages: list[dict[str, Any]] = response.get("Messages", [])
            if messages:
                try:
                    self.handle_batch(messages)
                except Exception:
                    logger.exception("backfill worker: settling a batch of %d failed", len(messages))

    def handle_batch(self, messages: Sequence[Mapping[str, Any]]) -> set[str]:
        """Invoke the handler with one batch and settle it; returns the ids that failed."""
        event = {"Records": [lambda_sqs_record(m, self._queue_arn, self._region) for m in messages]}
        ids = [str(m["MessageId"]) for m in messages]
        failed = self._invoke(event, ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_BATCH_LIMIT):
            chunk = done[start : start + SQS_BATCH_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
        for message in messages:
            if message["MessageId"] in failed:
                receives = int((message.get("Attributes") or {}).get("ApproximateReceiveCount") or 1)
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=min(MAX_RETRY_SECONDS, receives),
                )
        return failed

    def _invoke(self, event: dict[str, Any], ids: list[str]) -> set[str]:
        account = self._queue_arn.split(":")[4] if self._queue_arn.count(":") >= 5 else "123456789012"
        name = self._config.function_name
        context = LocalLambdaContext(
            function_name=name,
            memory_limit_in_mb=self._config.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self._region}:{account}:function:{name}",
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + self._config.timeout_seconds,
            log_group_name=f"/aws/lambda/{name}",
        )
        try:
            response = self._handler(event, context)
        except Exception:
            logger.exception("backfill raised; the whole batch of %d will be retried", len(ids))
            return set(ids)
        if context.get_remaining_time_in_millis() <= 0:
            logger.warning(
                "backfill ran past its %.0f s Timeout; retrying the batch", self._config.timeout_seconds
            )
            return set(ids)
        try:
            return failed_message_ids(response, ids)
        except InvalidBatchResponse as error:
            logger.error("backfill answered an invalid batch response (%s); retrying all", error)
            return set(ids)
