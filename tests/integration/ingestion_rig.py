"""The in-process ingestion rig shared by the pipeline and objects API tests: moto S3 → SQS (real
ObjectCreated notifications) → the `extractor` entry point, the API over TestClient, real LanceDB
and the real minilm model; the tiny CLIP model for images."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_managed_content_api import TEXT_BODY
from tests.unit.test_template_drift import load_function_module
from tests.wiring import WiredApi

if TYPE_CHECKING:
    from stratus.container import Container

DATA_BUCKET = "test-data"
MAX_RECEIVES = 3
NOTES = {
    "cats.txt": "Cats purr and sleep on warm windowsills all afternoon.",
    "rockets.md": "# Launch\n\nThe rocket engine burns liquid oxygen and kerosene to reach orbit.",
    "bread.json": json.dumps(
        {"title": "Sourdough", "steps": ["Knead the dough", "Bake the loaf in a hot oven"]}
    ),
}


@dataclass
class Pipeline:
    client: TestClient
    s3: Any
    sqs: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    extractor: ModuleType
    api: WiredApi
    handled: list[dict[str, Any]] = field(default_factory=list)

    @property
    def container(self) -> Container:
        """The process's container: the API's and the extractor entry point's."""
        return self.api.container

    def rewire(self) -> None:
        """After the test changed the environment: a new process container, for the API and the
        extractor alike (as a new Lambda container would read it)."""
        from stratus.container import get_container, reset_container

        reset_container()
        self.api.use(get_container())

    def drain(self, max_rounds: int = 10) -> list[dict[str, Any]]:
        """Feed every queued message to the extractor, as Lambda's event source mapping does:
        delete the successes, make the failures visible again at once. Returns the responses."""
        responses: list[dict[str, Any]] = []
        for _ in range(max_rounds):
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not received:
                return responses
            response = self.extractor.handler(sqs_event(received), LambdaContext())
            responses.append(response)
            failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
            for message in received:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return responses

    def queued(self) -> list[dict[str, Any]]:
        """Take every message off the queue without processing it (to replay it later)."""
        taken: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return taken
            taken.extend(batch)
            for message in batch:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def dead_letters(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return messages


class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name = "stratus-extractor-test"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stratus-extractor-test"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test-ingest",
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_image_text_models import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture
def pipeline(
    aws_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_clip: Path,
    fresh_container: None,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Pipeline]:
    """The API and the extractor share the process's container, as one Lambda container would."""
    import boto3
    from moto import mock_aws

    from stratus.container import get_container
    from stratus.services.api_keys import create_api_key
    from stratus_local.bootstrap.tables import create_tables

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_IDEMPOTENCY_TABLE_NAME", "stratus-idempotency")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", DATA_BUCKET)
    monkeypatch.setenv("STRATUS_INGEST_MAX_RECEIVES", str(MAX_RECEIVES))
    monkeypatch.setenv("STRATUS_CLIP_WEIGHTS_URI", str(tiny_clip))
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(dynamodb, {"MetadataTable": "stratus", "IdempotencyTable": "stratus-idempotency"})
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq_url = sqs.create_queue(QueueName="test-ingest-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName="test-ingest",
            Attributes={
                "VisibilityTimeout": "720",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
                ),
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket=DATA_BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=DATA_BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        # Configuring the notification sends an s3:TestEvent; the extractor must shrug it off.
        from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

        metadata = DynamoDBMetadataStore("stratus", region="us-east-1")
        key = create_api_key(metadata, "org_a", "admin", ["read", "write", "admin"])[0]
        api = wired_api(get_container())
        with api.client() as client:
            client.headers["Authorization"] = f"Bearer {key}"
            extractor = load_function_module("extractor")
            yield Pipeline(client, s3, sqs, dynamodb, queue_url, dlq_url, extractor, api)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def setup_text(pipeline: Pipeline, **params: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A managed namespace with text_extractor (minilm), a bucket and a collection reading it."""
    body = json.loads(json.dumps(TEXT_BODY))
    body["feature_extractors"][0]["params"].update(params)
    namespace = ok(pipeline.client.post("/v1/namespaces", json=body))["namespace_id"]
    headers = {"X-Namespace": namespace}
    bucket = ok(pipeline.client.post("/v1/buckets", json={"bucket_name": "notes"}, headers=headers))
    collection = ok(
        pipeline.client.post(
            "/v1/collections",
            json={
                "collection_name": "notes-text",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "parameters": {"inference_service": "minilm_l6_v2", **params},
                },
            },
            headers=headers,
        )
    )
    return namespace, bucket, collection


def key_of(bucket: dict[str, Any], rest: str) -> str:
    return str(bucket["s3_uri"]).removeprefix(f"s3://{DATA_BUCKET}/") + rest


def search_text(
    pipeline: Pipeline, namespace: str, text: str, top_k: int = 10, **extra: Any
) -> list[dict[str, Any]]:
    body = {
        "namespace_id": namespace,
        "queries": [{"vector_name": "text_extractor_v1_embedding", "text": text, "top_k": top_k}],
        **extra,
    }
    results: list[dict[str, Any]] = ok(pipeline.client.post("/v1/search", json=body))["results"]
    return results


def objects_of(pipeline: Pipeline, namespace: str, bucket_id: str) -> list[dict[str, Any]]:
    listed = ok(
        pipeline.client.get(f"/v1/buckets/{bucket_id}/objects?limit=100", headers={"X-Namespace": namespace})
    )
    objects: list[dict[str, Any]] = listed["results"]
    return objects


def png(seed: int = 1) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (16, 16), color=(seed * 40 % 256, 80, 160))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
