"""The local stack's resources come from template.yaml: tables, the ingest queue and its
dead-letter queue, and the data bucket whose ObjectCreated notifications feed the queue.

Given a moto server (over HTTP, as the local stack uses it),
when `create_resources` builds the template in it,
then the queues carry the template's attributes (RedrivePolicy resolved to the local DLQ), and a
put_object into the bucket puts an S3 event notification, key URL-encoded, on the ingest queue."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from stratus_local import resources as local_resources
from stratus_local.bootstrap import LOCAL_NAMES, create_resources, unemulated_resources
from stratus_local.bootstrap.intrinsics import Intrinsics, LocalTemplateError, dependency_order
from stratus_local.bootstrap.queues import queue_attributes
from stratus_local.moto_server import DUMMY_CREDENTIALS, LocalAws
from stratus_local.template import load_template, resources_of_type

KEY = "ns_0123456789abcdef/bkt_0123456789abcdef/reports/q3 notes.txt"


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _client(endpoint_url: str, service: str) -> Any:
    # `service` is any name: boto3's typed overloads want one literal per service.
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh local names per test: moto's state is shared by every test of the process."""
    suffix = uuid.uuid4().hex[:8]
    return {logical_id: f"{name}-{suffix}" for logical_id, name in LOCAL_NAMES.items()}


@pytest.fixture
def created(local_aws: LocalAws, names: dict[str, str]) -> dict[str, str]:
    return create_resources(lambda service: _client(local_aws.endpoint_url, service), names)


def _queue(local_aws: LocalAws, name: str) -> tuple[str, dict[str, str]]:
    sqs = _client(local_aws.endpoint_url, "sqs")
    url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return url, attributes


def _drain(local_aws: LocalAws, url: str) -> list[dict[str, Any]]:
    """Every message now on the queue (deleted as read). moto's S3 sends its notification before
    put_object returns, and its short polls see every visible message, so no waiting is needed."""
    sqs = _client(local_aws.endpoint_url, "sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    ):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


# ---------------------------------------------------------------------------------------------
# Coverage of the template


def test_every_template_resource_is_created_or_deliberately_skipped() -> None:
    assert unemulated_resources() == {}


def test_a_resource_type_nobody_handles_is_reported() -> None:
    template = {"Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}, "Q": {"Type": "AWS::SQS::Queue"}}}
    assert unemulated_resources(template) == {"Alerts": "AWS::SNS::Topic"}


def test_the_stack_uses_the_local_names_of_the_bootstrap() -> None:
    assert {
        "MetadataTable": local_resources.TABLE_NAME,
        "IdempotencyTable": local_resources.IDEMPOTENCY_TABLE_NAME,
        "DataBucket": local_resources.DATA_BUCKET,
        "IngestQueue": local_resources.INGEST_QUEUE,
        "IngestDeadLetterQueue": local_resources.DEAD_LETTER_QUEUE,
        "BackfillQueue": local_resources.BACKFILL_QUEUE,
        "BackfillDeadLetterQueue": local_resources.BACKFILL_DEAD_LETTER_QUEUE,
    } == LOCAL_NAMES


# ---------------------------------------------------------------------------------------------
# Queues


def test_queues_carry_the_template_attributes(
    local_aws: LocalAws, names: dict[str, str], created: dict[str, str]
) -> None:
    template = load_template()
    expected = template["Resources"]["IngestQueue"]["Properties"]
    _, dlq = _queue(local_aws, created["IngestDeadLetterQueue"])
    _, queue = _queue(local_aws, created["IngestQueue"])

    assert queue["VisibilityTimeout"] == str(expected["VisibilityTimeout"])
    assert queue["MessageRetentionPeriod"] == str(expected["MessageRetentionPeriod"])
    assert queue["SqsManagedSseEnabled"] == "true"
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq["QueueArn"],
        "maxReceiveCount": template["Parameters"]["IngestMaxReceives"]["Default"],
    }
    assert dlq["QueueArn"].endswith(f":{names['IngestDeadLetterQueue']}")
    assert dlq["MessageRetentionPeriod"] == "1209600"
    assert "RedrivePolicy" not in dlq


def test_the_extractor_setting_matches_the_local_redrive_policy(
    local_aws: LocalAws, created: dict[str, str]
) -> None:
    _, queue = _queue(local_aws, created["IngestQueue"])
    environment = local_resources.api_environment("http://127.0.0.1:1", "/tmp/lancedb")
    max_receive_count = json.loads(queue["RedrivePolicy"])["maxReceiveCount"]
    assert environment["STRATUS_INGEST_MAX_RECEIVES"] == str(max_receive_count)
    assert environment["STRATUS_DATA_BUCKET"] == LOCAL_NAMES["DataBucket"]


def test_the_local_extractor_prints_no_metrics_and_never_traces() -> None:
    # The local stack runs the extractor's Lambda handler: JSON logs on the console, no EMF blobs,
    # no X-Ray daemon to send to (stratus/observability.py, docs/operating.md).
    environment = local_resources.api_environment("http://127.0.0.1:1", "/tmp/lancedb")
    assert environment["POWERTOOLS_METRICS_DISABLED"] == "true"
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_a_dead_letter_queue_is_created_before_the_queue_that_names_it() -> None:
    queues = resources_of_type(load_template(), "AWS::SQS::Queue")
    reversed_order = dict(reversed(list(queues.items())))
    for resources in (queues, reversed_order):
        order = dependency_order(resources)
        assert order.index("IngestDeadLetterQueue") < order.index("IngestQueue")


def test_a_queue_property_the_stack_cannot_apply_is_refused() -> None:
    intrinsics = Intrinsics(lambda service: None, {}, load_template())
    with pytest.raises(LocalTemplateError, match="RedriveEverything"):
        queue_attributes({"VisibilityTimeout": 30, "RedriveEverything": True}, intrinsics)


# ---------------------------------------------------------------------------------------------
# The data bucket


def test_the_bucket_notifies_the_ingest_queue_with_the_key_url_encoded(
    local_aws: LocalAws, created: dict[str, str]
) -> None:
    s3 = _client(local_aws.endpoint_url, "s3")
    url, _ = _queue(local_aws, created["IngestQueue"])
    # Setting the notification made S3 (and moto) send its test event first.
    assert [json.loads(m["Body"]).get("Event") for m in _drain(local_aws, url)] == ["s3:TestEvent"]

    s3.put_object(Bucket=created["DataBucket"], Key=KEY, Body=b"Revenue grew 12%.")

    (message,) = _drain(local_aws, url)
    (record,) = json.loads(message["Body"])["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == created["DataBucket"]
    key = record["s3"]["object"]["key"]
    assert " " not in key and "q3+notes.txt" in key  # S3 sends keys URL-encoded, space as '+'
    assert unquote_plus(key) == KEY


def test_the_bucket_keeps_the_template_encryption_and_cors(
    local_aws: LocalAws, created: dict[str, str]
) -> None:
    s3 = _client(local_aws.endpoint_url, "s3")
    bucket = created["DataBucket"]
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (cors,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors["AllowedMethods"] == ["PUT"] and cors["ExposeHeaders"] == ["ETag"]
    # SSE-S3: a single-part PUT's ETag is the MD5 of the body, which the API relies on.
    head = s3.put_object(Bucket=bucket, Key="etag-check", Body=b"abc")
    assert head["ETag"].strip('"') == "900150983cd24fb0d6963f7d28e17f72"
    assert head["ServerSideEncryption"] == "AES256"


def test_create_resources_is_idempotent_and_quiet(
    local_aws: LocalAws, names: dict[str, str], created: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = _queue(local_aws, created["IngestQueue"])
    _drain(local_aws, url)

    with caplog.at_level(logging.WARNING, logger="stratus_local"):
        again = create_resources(lambda service: _client(local_aws.endpoint_url, service), names)

    assert again == created
    assert caplog.records == []  # nothing of the template is left out
    # The existing bucket was left alone: no second s3:TestEvent.
    assert _drain(local_aws, url) == []
