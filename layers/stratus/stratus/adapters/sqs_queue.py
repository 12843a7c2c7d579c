"""`TaskQueue` on SQS: the backfill queue (template.yaml `BackfillQueue`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stratus.adapters.retry import backoff_delay, unavailable
from stratus.errors import ServiceUnavailableError

SEND_BATCH_LIMIT = 10  # SQS's most entries per SendMessageBatch
SEND_ATTEMPTS = 5
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
MAX_VISIBILITY_SECONDS = 12 * 3600

logger = logging.getLogger(__name__)


class QueueUnavailableError(ServiceUnavailableError):
    type = "ServiceUnavailableError"


def queue_unavailable(reason: str, setting: str | None = None) -> QueueUnavailableError:
    details: dict[str, Any] = {"dependency": "sqs", "reason": reason}
    if setting is not None:
        details["setting"] = setting
    return unavailable(
        QueueUnavailableError, "the task queue is temporarily unavailable; retry the request", details
    )


class SqsTaskQueue:
    def __init__(self, queue_url: str, endpoint_url: str | None = None, region: str = "us-east-1") -> None:
        self.queue_url = queue_url
        self._endpoint_url = endpoint_url
        self._region = region
        self._client: Any | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.session.Session().client(
                        "sqs",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard"}),
                    )
        return self._client

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds)))
        for start in range(0, len(messages), SEND_BATCH_LIMIT):
            chunk = messages[start : start + SEND_BATCH_LIMIT]
            pending = {
                str(position): {
                    "Id": str(position),
                    "MessageBody": json.dumps(dict(message), separators=(",", ":")),
                    "DelaySeconds": delay,
                }
                for position, message in enumerate(chunk)
            }
            self._send_batch(pending)

    def _send_batch(self, pending: dict[str, dict[str, Any]]) -> None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                response = self.client.send_message_batch(
                    QueueUrl=self.queue_url, Entries=list(pending.values())
                )
            except (BotoCoreError, ClientError) as error:
                if attempt == SEND_ATTEMPTS:
                    raise queue_unavailable(type(error).__name__) from error
            else:
                failed = response.get("Failed") or []
                if any(failure.get("SenderFault") for failure in failed):
                    # The message itself is refused (too large...): a bug, not an outage.
                    raise ValueError(f"SQS refused backfill messages: {failed}")
                pending = {str(failure["Id"]): pending[str(failure["Id"])] for failure in failed}
                if not pending:
                    return
                if attempt == SEND_ATTEMPTS:
                    raise queue_unavailable("unsent messages")
            time.sleep(backoff_delay(attempt, base=0.1, cap=2.0))

    def release(self, receipt_handle: str, delay_seconds: int) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(MAX_VISIBILITY_SECONDS, int(delay_seconds))),
            )
        except (BotoCoreError, ClientError):
            logger.warning("could not shorten a failed message's visibility; it returns after the queue's")


class UnconfiguredTaskQueue:
    """No backfill queue is configured: any send is a 503 naming the setting."""

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None:
        raise queue_unavailable(
            "no queue configured: set STRATUS_BACKFILL_QUEUE_URL", "STRATUS_BACKFILL_QUEUE_URL"
        )

    def release(self, receipt_handle: str, delay_seconds: int) -> None:
        return None
