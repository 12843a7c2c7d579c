"""Locally, what Lambda's SQS event source mapping does for the `extractor` function.

`pollers` daemon threads (`STRATUS_INGEST_WORKERS`, default: the machine's cores) each long-poll
the ingest queue for batches of up to the event source's BatchSize (10), as that many concurrent
Lambda invocations would, and hand each batch to `handler(event, context)` as the exact event
Lambda builds (`Records` of messageId, receiptHandle, body, attributes,
messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion), then settles the batch
the way Lambda does with `ReportBatchItemFailures`: the messages not listed in
`batchItemFailures` are deleted; the listed ones, or the whole batch if the handler raised, ran
past its Timeout or answered something invalid, are left on the queue for another receive. The
queue's own RedrivePolicy (moto implements it) moves a message to the dead-letter queue after
maxReceiveCount receives, as in AWS.

The handler is `functions/extractor/app.py` loaded by its path (as Lambda loads it), so a local
run executes exactly the deployed entry point; tests may pass any callable instead.

Two deliberate differences from Lambda, both about time:
- a failed message is made visible again at once (ChangeMessageVisibility 0) instead of after
  the queue's VisibilityTimeout (720 s): locally a retry should take a moment, not 12 minutes;
- there is no batching window (MaximumBatchingWindowInSeconds): a batch is whatever one receive
  returns, which only changes latency.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
import time
import uuid
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from stratus_local.template import REPO_ROOT, load_template

logger = logging.getLogger(__name__)

EXTRACTOR_APP = REPO_ROOT / "functions" / "extractor" / "app.py"
EXTRACTOR_LOGICAL_ID = "ExtractorFunction"
LOCAL_FUNCTION_NAME = "stratus-extractor"
# Short, so that stop() returns within about this long when the queue is idle.
DEFAULT_WAIT_SECONDS = 1
# After a failed receive (e.g. the emulator is stopping), before the next one.
ERROR_BACKOFF_SECONDS = 1.0
# SQS's most entries per *Batch call.
SQS_BATCH_LIMIT = 10

Handler = Callable[[dict[str, Any], Any], Any]


class InvalidBatchResponse(ValueError):
    """A handler answer that makes Lambda treat the whole batch as failed."""


# ---------------------------------------------------------------------------------------------
# What the template says


@dataclass(frozen=True)
class FunctionConfig:
    """The function's settings and its SQS event source, as the template declares them."""

    function_name: str
    timeout_seconds: float
    memory_mb: int
    batch_size: int
    reports_batch_item_failures: bool

    @classmethod
    def from_template(
        cls,
        template: dict[str, Any] | None = None,
        logical_id: str = EXTRACTOR_LOGICAL_ID,
        function_name: str = LOCAL_FUNCTION_NAME,
    ) -> FunctionConfig:
        template = template if template is not None else load_template()
        defaults = template.get("Globals", {}).get("Function", {})
        properties = template["Resources"][logical_id]["Properties"]
        sources = [e for e in (properties.get("Events") or {}).values() if e.get("Type") == "SQS"]
        if len(sources) != 1:
            raise ValueError(f"{logical_id} must have exactly one SQS event, found {len(sources)}")
        source = sources[0].get("Properties", {})
        return cls(
            function_name=function_name,
            # Lambda's defaults when neither the function nor Globals says: 3 s, 128 MB, 10.
            timeout_seconds=float(properties.get("Timeout", defaults.get("Timeout", 3))),
            memory_mb=int(properties.get("MemorySize", defaults.get("MemorySize", 128))),
            batch_size=int(source.get("BatchSize", 10)),
            reports_batch_item_failures="ReportBatchItemFailures" in source.get("FunctionResponseTypes", []),
        )


def load_handler(path: Path = EXTRACTOR_APP) -> Handler:
    """`handler` of a function's app.py, imported by path as Lambda does (no sys.path edits).
    Raises ImportError with the path in the message when the file is missing or broken."""
    if not path.is_file():
        raise ImportError(f"{path} does not exist")
    spec = importlib.util.spec_from_file_location(f"stratus_function_{path.parent.name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, "handler", None)
    if not callable(handler):
        raise ImportError(f"{path} has no callable `handler`")
    loaded: Handler = handler
    return loaded


# ---------------------------------------------------------------------------------------------
# The event and the context Lambda passes


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers (and Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float  # time.monotonic() at which Lambda would stop the invocation
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/stratus-extractor"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributes as Lambda spells them: camelCase keys, binaries in base64, and
    both list fields always present."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [b64encode(v).decode() for v in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = b64encode(value["BinaryValue"]).decode()
        converted[name] = entry
    return converted


def lambda_sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One received SQS message as a record of Lambda's SQS event."""
    body = str(message.get("Body", ""))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(response: Any, batch_ids: Sequence[str]) -> set[str]:
    """The messages a `ReportBatchItemFailures` answer lists as failed. No answer, an empty one
    or an empty/null list means all succeeded; anything malformed, or naming a message not in
    the batch, raises InvalidBatchResponse (Lambda then fails the whole batch)."""
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        raise InvalidBatchResponse(f"the answer is a {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            raise InvalidBatchResponse(f"batchItemFailures names no message of the batch: {failure!r}")
        failed.add(identifier)
    return failed


# ---------------------------------------------------------------------------------------------
# The worker


def default_pollers() -> int:
    """`STRATUS_INGEST_WORKERS`, else the machine's cores."""
    from stratus.settings import Settings

    configured = Settings.from_environment().ingest_workers
    return configured if configured is not None else max(1, os.cpu_count() or 1)


class IngestWorker:
    """`IngestWorker(sqs, queue_url, handler, config, pollers=2).start()` ... `.stop()`. The
    handler is called from `pollers` threads at once, as Lambda runs concurrent invocations
    (each in a container of its own; here they share the process, so the handler must be
    thread-safe, as the extractor is)."""

    # What the threads are named and the log lines call the function (a subclass serves another).
    THREAD_NAME = "stratus-local-ingest"
    LABEL = "extractor"

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        handler: Handler,
        config: FunctionConfig,
        wait_seconds: int = DEFAULT_WAIT_SECONDS,
        pollers: int = 1,
    ) -> None:
        if pollers < 1:
            raise ValueError(f"pollers must be at least 1, got {pollers}")
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._handler = handler
        self._config = config
        self._wait_seconds = wait_seconds
        self.pollers = pollers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue_arn = ""
        self._region = str(sqs_client.meta.region_name)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> Self:
        """Start polling. Looks the queue up first, so a missing queue fails here, loudly."""
        if self.running:
            return self
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"{self.THREAD_NAME}-{number}", daemon=True)
            for number in range(1, self.pollers + 1)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the loops to end and wait for them: at most one receive wait, plus the batches
        being handled. True if all ended within `timeout`."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.running:
            return False  # still `running`: a batch in hand outlasted the timeout
        self._threads = []
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive()
            except Exception:
                if self._stop.is_set():
                    break  # the emulator went away first; nothing to report
                logger.exception("%s poller: receiving from %s failed", self.LABEL, self._queue_url)
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            if messages:
                try:
                    self.handle_batch(messages)
                except Exception:
                    # Settling failed (emulator trouble): the messages come back after their
                    # visibility timeout, as they would in AWS.
                    logger.exception("%s poller: settling a batch of %d failed", self.LABEL, len(messages))

    def _receive(self) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._config.batch_size,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def handle_batch(self, messages: Sequence[Mapping[str, Any]]) -> set[str]:
        """Invoke the handler with one batch and settle it; returns the ids that failed."""
        event = {"Records": [lambda_sqs_record(m, self._queue_arn, self._region) for m in messages]}
        ids = [str(m["MessageId"]) for m in messages]
        failed = self._invoke(event, ids)
        self._delete([m for m in messages if m["MessageId"] not in failed])
        self._retry([m for m in messages if m["MessageId"] in failed])
        return failed

    def _invoke(self, event: dict[str, Any], ids: list[str]) -> set[str]:
        context = self._context()
        try:
            response = self._handler(event, context)
        except Exception:
            logger.exception("%s raised; the whole batch of %d will be retried", self.LABEL, len(ids))
            return set(ids)
        if context.get_remaining_time_in_millis() <= 0:
            logger.warning(
                "%s ran past its %.0f s Timeout; Lambda would have stopped it, so the whole "
                "batch of %d will be retried",
                self.LABEL,
                self._config.timeout_seconds,
                len(ids),
            )
            return set(ids)
        if not self._config.reports_batch_item_failures:
            return set()  # Lambda ignores the answer: returning is success
        try:
            return failed_message_ids(response, ids)
        except InvalidBatchResponse as error:
            logger.error("%s answered an invalid batch response (%s); retrying all", self.LABEL, error)
            return set(ids)

    def _context(self) -> LocalLambdaContext:
        account = self._queue_arn.split(":")[4] if self._queue_arn.count(":") >= 5 else "123456789012"
        name = self._config.function_name
        return LocalLambdaContext(
            function_name=name,
            memory_limit_in_mb=self._config.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self._region}:{account}:function:{name}",
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + self._config.timeout_seconds,
            log_group_name=f"/aws/lambda/{name}",
        )

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_BATCH_LIMIT):
            chunk = messages[start : start + SQS_BATCH_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            result = self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
            for failure in result.get("Failed", []):
                logger.warning("%s poller: could not delete a handled message: %s", self.LABEL, failure)

    def _retry_after(self, message: Mapping[str, Any]) -> int:
        """Seconds until a failed message is visible again: now, not after the queue's 720 s (see
        the module's docstring)."""
        return 0

    def _retry(self, messages: Sequence[Mapping[str, Any]]) -> None:
        # The receive count still grows with every receive, so RedrivePolicy applies as in AWS.
        for start in range(0, len(messages), SQS_BATCH_LIMIT):
            chunk = messages[start : start + SQS_BATCH_LIMIT]
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._retry_after(m)}
                for i, m in enumerate(chunk)
            ]
            result = self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
            for failure in result.get("Failed", []):
                logger.warning("%s poller: could not release a failed message: %s", self.LABEL, failure)
