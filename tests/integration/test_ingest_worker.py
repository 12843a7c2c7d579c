"""The local ingest worker plays Lambda's SQS event source mapping for the extractor.

Given the template's ingest queue and dead-letter queue in a moto server (real SQS semantics:
receive counts, visibility, RedrivePolicy),
when the worker feeds a handler,
then it builds Lambda's SQS event, deletes what succeeded, makes what failed visible again,
lets the queue's redrive move a message that keeps failing to the DLQ after maxReceiveCount
receives, survives handlers that raise, and stops promptly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.config import Config

from stratus_local.bootstrap import LOCAL_NAMES, create_resources
from stratus_local.bootstrap.queues import create_queues
from stratus_local.ingest_worker import (
    EXTRACTOR_APP,
    FunctionConfig,
    IngestWorker,
    InvalidBatchResponse,
    default_pollers,
    failed_message_ids,
    lambda_message_attributes,
    load_handler,
)
from stratus_local.moto_server import DUMMY_CREDENTIALS, LocalAws
from stratus_local.template import load_template

TEMPLATE_MAX_RECEIVES = int(load_template()["Parameters"]["IngestMaxReceives"]["Default"])
# The most any wait in these tests should take; real waits are well under a second.
PATIENCE_SECONDS = 15.0


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _client(endpoint_url: str, service: str, **config: Any) -> Any:
    # `service` is any name: boto3's typed overloads want one literal per service.
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(**config) if config else None,
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


@dataclasses.dataclass
class Queues:
    sqs: Any
    url: str
    arn: str
    dlq_url: str

    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def count(self, url: str | None = None) -> int:
        """Messages on the queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> list[str]:
        response = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10)
        return [m["Body"] for m in response.get("Messages", [])]


@pytest.fixture
def queues(local_aws: LocalAws) -> Queues:
    """The template's ingest queue and DLQ (RedrivePolicy and all), under fresh names."""
    suffix = uuid.uuid4().hex[:8]
    names = {"IngestQueue": f"ingest-{suffix}", "IngestDeadLetterQueue": f"ingest-dlq-{suffix}"}
    create_queues(lambda service: _client(local_aws.endpoint_url, service), names)
    sqs = _client(local_aws.endpoint_url, "sqs")
    url = sqs.get_queue_url(QueueName=names["IngestQueue"])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_url = sqs.get_queue_url(QueueName=names["IngestDeadLetterQueue"])["QueueUrl"]
    return Queues(sqs, url, arn, dlq_url)


class RecordingHandler:
    """A stand-in extractor: records every invocation; `answer(record, call)` returns True for
    a success, False for a listed failure; raising fails the whole invocation."""

    def __init__(self, answer: Callable[[dict[str, Any], int], bool] = lambda record, call: True) -> None:
        self.answer = answer
        self.calls: list[tuple[dict[str, Any], Any, int]] = []  # (event, context, remaining ms)
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            call = len(self.calls)
            self.calls.append((event, context, context.get_remaining_time_in_millis()))
        failures = [r["messageId"] for r in event["Records"] if not self.answer(r, call)]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}

    def receives(self, body: str) -> list[str]:
        """ApproximateReceiveCount of each delivery of `body`, in order."""
        return [
            r["attributes"]["ApproximateReceiveCount"]
            for event, _, _ in list(self.calls)
            for r in event["Records"]
            if r["body"] == body
        ]


@pytest.fixture
def start_worker(queues: Queues) -> Iterator[Callable[..., IngestWorker]]:
    started: list[IngestWorker] = []

    def start(
        handler: Any, config: FunctionConfig | None = None, url: str | None = None, pollers: int = 1
    ) -> IngestWorker:
        config = config or FunctionConfig.from_template()
        worker = IngestWorker(queues.sqs, url or queues.url, handler, config, pollers=pollers)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        assert worker.stop(timeout=10)


# ---------------------------------------------------------------------------------------------
# What the worker reads from the template


def test_the_function_settings_come_from_the_template() -> None:
    config = FunctionConfig.from_template()
    assert config.timeout_seconds == 120
    assert config.memory_mb == 2048
    assert config.batch_size == 10
    assert config.reports_batch_item_failures is True


def test_the_extractor_entry_point_loads_by_path() -> None:
    assert callable(load_handler(EXTRACTOR_APP))


def test_a_missing_or_handlerless_app_is_an_import_error(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match="does not exist"):
        load_handler(tmp_path / "nope" / "app.py")
    app = tmp_path / "app.py"
    app.write_text("value = 1\n", encoding="utf-8")
    with pytest.raises(ImportError, match="no callable `handler`"):
        load_handler(app)


# ---------------------------------------------------------------------------------------------
# The event and the context


def test_the_handler_gets_lambdas_sqs_event(
    queues: Queues, start_worker: Callable[..., IngestWorker]
) -> None:
    queues.sqs.send_message(
        QueueUrl=queues.url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "origin": {"DataType": "String", "StringValue": "test"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    handler = RecordingHandler()
    start_worker(handler)
    wait_until(lambda: bool(handler.calls), "the handler was invoked")

    (event, context, remaining_ms) = handler.calls[0]
    (record,) = event["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == '{"hello": "world"}'
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues.arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    no_lists: dict[str, list[str]] = {"stringListValues": [], "binaryListValues": []}
    assert record["messageAttributes"] == {
        "origin": {"stringValue": "test", **no_lists, "dataType": "String"},
        "blob": {"binaryValue": "AAE=", **no_lists, "dataType": "Binary"},
    }
    # The context counts down from the template's Timeout (120 s).
    assert context.function_name == "stratus-extractor"
    assert context.memory_limit_in_mb == 2048
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:stratus-extractor"
    assert 110_000 < remaining_ms <= 120_000
    wait_until(lambda: queues.count() == 0, "the handled message was deleted")


def test_message_attributes_convert_like_lambdas() -> None:
    converted = lambda_message_attributes(
        {"tags": {"DataType": "String.List", "StringListValues": ["a"], "BinaryListValues": [b"z"]}}
    )
    assert converted == {
        "tags": {"stringListValues": ["a"], "binaryListValues": ["eg=="], "dataType": "String.List"}
    }


def test_the_pollers_are_stratus_ingest_workers_else_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUS_INGEST_WORKERS", "3")
    assert default_pollers() == 3
    monkeypatch.delenv("STRATUS_INGEST_WORKERS")
    assert default_pollers() == (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="pollers"):
        IngestWorker(_client("http://127.0.0.1:1", "sqs"), "url", RecordingHandler(), _config(), pollers=0)


def _config() -> FunctionConfig:
    return FunctionConfig.from_template()


# ---------------------------------------------------------------------------------------------
# Batches and concurrency, as the event source mapping


class ConcurrencyProbe:
    """A handler that holds each invocation until another one is in flight (or `patience` ends),
    recording the most invocations it saw at once and each batch's size."""

    def __init__(self, patience: float) -> None:
        self.patience = patience
        self.in_flight = 0
        self.most = 0
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()
        self._together = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.batch_sizes.append(len(event["Records"]))
            if self.in_flight >= 2:
                self._together.set()
        self._together.wait(self.patience)
        with self._lock:
            self.in_flight -= 1
        return {"batchItemFailures": []}


@pytest.mark.parametrize("pollers", [1, 2])
def test_pollers_run_that_many_invocations_at_once(
    queues: Queues, start_worker: Callable[..., IngestWorker], pollers: int
) -> None:
    probe = ConcurrencyProbe(patience=PATIENCE_SECONDS / 3 if pollers > 1 else 1.0)
    start_worker(probe, pollers=pollers)
    queues.send("first")
    wait_until(lambda: len(probe.batch_sizes) == 1, "the first batch is being handled")
    queues.send("second")  # only another poller can take it while the first batch is held

    wait_until(lambda: queues.count() == 0, "both messages were handled")

    assert probe.most == pollers
    assert probe.batch_sizes == [1, 1]


def test_a_receive_takes_up_to_the_batch_size(
    queues: Queues, start_worker: Callable[..., IngestWorker]
) -> None:
    queues.send(*[f"message-{n}" for n in range(25)])
    probe = ConcurrencyProbe(patience=0.0)
    start_worker(probe)

    wait_until(lambda: queues.count() == 0, "every message was handled")

    assert sum(probe.batch_sizes) == 25
    assert max(probe.batch_sizes) == 10 and all(size <= 10 for size in probe.batch_sizes)


# ---------------------------------------------------------------------------------------------
# Settling a batch


def test_successes_are_deleted_and_failures_retried(
    queues: Queues, start_worker: Callable[..., IngestWorker]
) -> None:
    queues.send("ok-1", "ok-2", "flaky")
    # `flaky` fails on its first delivery only.
    handler = RecordingHandler(
        lambda r, _: r["body"] != "flaky" or r["attributes"]["ApproximateReceiveCount"] != "1"
    )
    start_worker(handler)

    wait_until(lambda: handler.receives("flaky") == ["1", "2"], "flaky was delivered again")
    wait_until(lambda: queues.count() == 0, "the queue is empty")
    # The successes were deleted, not redelivered; nothing reached the DLQ.
    assert handler.receives("ok-1") == ["1"]
    assert handler.receives("ok-2") == ["1"]
    assert queues.count(queues.dlq_url) == 0


def test_a_message_that_always_fails_goes_to_the_dlq_after_max_receives(
    queues: Queues, start_worker: Callable[..., IngestWorker]
) -> None:
    queues.send("poison")
    handler = RecordingHandler(lambda r, _: r["body"] != "poison")
    start_worker(handler)

    wait_until(lambda: queues.count(queues.dlq_url) == 1, "the message reached the dead-letter queue")
    # The queue's own RedrivePolicy moved it: delivered exactly maxReceiveCount times.
    assert handler.receives("poison") == [str(n) for n in range(1, TEMPLATE_MAX_RECEIVES + 1)]
    assert queues.count() == 0
    assert queues.dead_letters() == ["poison"]


def test_a_raising_handler_fails_the_whole_batch_and_the_worker_goes_on(
    queues: Queues, start_worker: Callable[..., IngestWorker], caplog: pytest.LogCaptureFixture
) -> None:
    queues.send("first", "second")

    def answer(record: dict[str, Any], call: int) -> bool:
        if call == 0:
            raise RuntimeError("the extractor crashed")
        return True

    handler = RecordingHandler(answer)
    with caplog.at_level(logging.ERROR, logger="stratus_local"):
        worker = start_worker(handler)
        wait_until(lambda: queues.count() == 0, "both messages were handled after the crash")

    first_batch = sorted(r["body"] for r in handler.calls[0][0]["Records"])
    assert first_batch == ["first", "second"]
    assert handler.receives("first") == ["1", "2"]
    assert handler.receives("second") == ["1", "2"]
    assert worker.running
    assert any("the extractor crashed" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_an_invalid_batch_response_fails_the_whole_batch(
    queues: Queues, start_worker: Callable[..., IngestWorker]
) -> None:
    queues.send("only")
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        if len(calls) == 1:  # names a message that is not in the batch
            return {"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}
        return {"batchItemFailures": []}

    start_worker(handler)
    wait_until(lambda: len(calls) == 2, "the message was delivered again")
    wait_until(lambda: queues.count() == 0, "the second delivery was deleted")


def test_a_handler_past_its_timeout_fails_the_batch(
    queues: Queues, start_worker: Callable[..., IngestWorker]
) -> None:
    queues.send("slow")

    def answer(record: dict[str, Any], call: int) -> bool:
        if call == 0:  # runs until its context says the 0.2 s Timeout below has passed
            context = handler.calls[0][1]
            wait_until(lambda: context.get_remaining_time_in_millis() <= 0, "the Timeout passed")
        return True

    handler = RecordingHandler(answer)
    start_worker(handler, dataclasses.replace(FunctionConfig.from_template(), timeout_seconds=0.2))
    wait_until(lambda: handler.receives("slow") == ["1", "2"], "the timed-out message was delivered again")
    wait_until(lambda: queues.count() == 0, "the second, quick delivery was deleted")
    assert handler.calls[0][2] <= 200


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
    ],
)
def test_batch_responses_lambda_accepts(response: Any, failed: set[str]) -> None:
    assert failed_message_ids(response, ["a", "b"]) == failed


@pytest.mark.parametrize(
    "response",
    [
        "ok",
        {"batchItemFailures": "b"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"messageId": "b"}]},
        {"batchItemFailures": [{"itemIdentifier": "c"}]},
    ],
)
def test_batch_responses_that_fail_the_whole_batch(response: Any) -> None:
    with pytest.raises(InvalidBatchResponse):
        failed_message_ids(response, ["a", "b"])


# ---------------------------------------------------------------------------------------------
# Lifecycle


def test_stop_is_prompt_when_idle(queues: Queues, long_poll_waiting: threading.Event) -> None:
    worker = IngestWorker(queues.sqs, queues.url, RecordingHandler(), FunctionConfig.from_template()).start()
    assert long_poll_waiting.wait(PATIENCE_SECONDS), "the worker never waited in a long poll"
    started = time.monotonic()
    assert worker.stop(timeout=5)
    assert time.monotonic() - started < 3
    assert not worker.running


def test_the_worker_survives_the_emulator_going_away(caplog: pytest.LogCaptureFixture) -> None:
    aws = LocalAws().start()
    sqs = _client(aws.endpoint_url, "sqs", retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5)
    url = sqs.create_queue(QueueName=f"orphan-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    worker = IngestWorker(sqs, url, RecordingHandler(), FunctionConfig.from_template()).start()
    with caplog.at_level(logging.ERROR, logger="stratus_local"):
        aws.stop()
        wait_until(lambda: any("receiving" in r.getMessage() for r in caplog.records), "a failed receive")
    assert worker.running
    assert worker.stop(timeout=5)


# ---------------------------------------------------------------------------------------------
# With the template's whole wiring: bucket → notification → queue → worker


def test_an_object_put_in_the_bucket_reaches_the_handler(local_aws: LocalAws) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {logical_id: f"{name}-{suffix}" for logical_id, name in LOCAL_NAMES.items()}
    create_resources(lambda service: _client(local_aws.endpoint_url, service), names)
    sqs = _client(local_aws.endpoint_url, "sqs")
    url = sqs.get_queue_url(QueueName=names["IngestQueue"])["QueueUrl"]
    handler = RecordingHandler()
    worker = IngestWorker(sqs, url, handler, FunctionConfig.from_template()).start()
    try:
        key = "ns_0123456789abcdef/bkt_0123456789abcdef/reports/q3 notes.txt"
        _client(local_aws.endpoint_url, "s3").put_object(Bucket=names["DataBucket"], Key=key, Body=b"notes")

        def keys() -> list[str]:
            """The object keys of every S3 record delivered so far (not the s3:TestEvent)."""
            bodies = [json.loads(r["body"]) for event, _, _ in list(handler.calls) for r in event["Records"]]
            records = [record for body in bodies for record in body.get("Records", [])]
            return [unquote_plus(record["s3"]["object"]["key"]) for record in records]

        wait_until(lambda: keys() == [key], "the notification reached the handler")
    finally:
        assert worker.stop(timeout=10)
