"""The in-process backfill rig: moto (DynamoDB with the template's table, the backfill queue and its
dead-letter queue, the data bucket), the whole API over TestClient, the deployed entry point
`functions/backfill/app.py` fed one message at a time as Lambda's event source mapping does
(BatchSize 1), real LanceDB or the real Pinecone client against the loopback server, the real
minilm model and the tiny CLIP model (`clip_vit_b32`)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.test_template_drift import load_function_module
from tests.wiring import WiredApi

if TYPE_CHECKING:
    from stratus.container import Container
    from stratus.ports.inference import Embedder

PAGE_SIZE = 40
MAX_RECEIVES = 3
DATA_BUCKET = "test-data"


class LambdaContext:
    function_name = "stratus-backfill-test"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stratus-backfill-test"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class CountingEmbedder:
    """An embedder that counts every input it is asked to embed, and can be made to fail."""

    def __init__(self, inner: Embedder, counts: Counter[str], fail: Callable[[Sequence[str]], None]) -> None:
        self._inner = inner
        self._counts = counts
        self._fail = fail

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        self._fail(texts)
        vectors = self._inner.embed_texts(texts)
        self._counts.update(f"{self.name}:{text}" for text in texts)
        return vectors

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        return self._inner.embed_images(images)


@dataclass
class Rig:
    client: TestClient
    sqs: Any
    queue_url: str
    dlq_url: str
    backfill: ModuleType
    api: WiredApi
    # service:text → how many times the model embedded it (through `counting()`).
    embedded: Counter[str] = field(default_factory=Counter)
    # Raise from an embedding call: set by a test (receives the texts of the call).
    fail: Callable[[Sequence[str]], None] = lambda texts: None

    @property
    def container(self) -> Container:
        return self.api.container

    # -- the queue ---------------------------------------------------------------------------

    def receive(self) -> dict[str, Any] | None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        return messages[0] if messages else None

    def deliver(self, message: dict[str, Any]) -> bool:
        """Hand one message to the function and settle it as Lambda does: True if it succeeded
        (deleted); a failure is made visible again at once (its retry comes now, not after the
        backoff the function asked for)."""
        response = self.backfill.handler(sqs_event([message]), LambdaContext())
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        if message["MessageId"] in failed:
            self.release(message)
            return False
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def release(self, message: dict[str, Any]) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    def drain(self, max_messages: int = 500, crash: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """Deliver messages until the queue is empty; returns how many deliveries it took. With
        `crash`, a delivery for which it answers True dies (SystemExit, as a killed process) and
        its message comes back, as after the visibility timeout."""
        handled = 0
        while handled < max_messages:
            message = self.receive()
            if message is None:
                return handled
            handled += 1
            try:
                self.deliver(message)
            except SystemExit:
                assert crash is not None
                self.release(message)
        raise AssertionError(f"the queue did not empty in {max_messages} deliveries")

    def queued_kinds(self) -> list[str]:
        """The kinds of the messages waiting (received and released again at once)."""
        kinds: list[str] = []
        taken: list[dict[str, Any]] = []
        while (message := self.receive()) is not None:
            taken.append(message)
            kinds.append(json.loads(message["Body"])["kind"])
        for message in taken:
            self.release(message)
        return kinds

    def dead_letters(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return messages

    # -- the API -----------------------------------------------------------------------------

    def ok(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def task(self, task_id: str, namespace: str) -> dict[str, Any]:
        return self.ok(self.client.get(f"/v1/tasks/{task_id}", headers={"X-Namespace": namespace}))

    def namespace(self, namespace: str) -> dict[str, Any]:
        return self.ok(self.client.get(f"/v1/namespaces/{namespace}"))

    def upsert(self, namespace: str, documents: list[dict[str, Any]]) -> None:
        for start in range(0, len(documents), 500):
            self.ok(
                self.client.post(
                    f"/v1/namespaces/{namespace}/documents/upsert",
                    json={"documents": documents[start : start + 500]},
                )
            )

    def search_text(self, namespace: str, index: str, text: str, top_k: int = 5) -> list[dict[str, Any]]:
        body = {"namespace_id": namespace, "queries": [{"vector_name": index, "text": text, "top_k": top_k}]}
        results: list[dict[str, Any]] = self.ok(self.client.post("/v1/search", json=body))["results"]
        return results

    def documents(self, namespace: str) -> dict[str, dict[str, Any]]:
        """Every document (id → payload, vectors) of the namespace, through the list route."""
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"limit": 1000, "return_vectors": True}
            if cursor:
                body["cursor"] = cursor
            page = self.ok(self.client.post(f"/v1/namespaces/{namespace}/documents/list", json=body))
            for doc in page["results"]:
                found[doc["document_id"]] = doc
            cursor = page["pagination"]["next_cursor"]
            if not cursor:
                return found

    def ingest(self, namespace: str, bucket_id: str, blobs: list[dict[str, Any]]) -> dict[str, Any]:
        """An object through the objects API, then its S3 notification straight into the
        extractor's entry point (functions/extractor/app.py), as its queue would hand it over."""
        from urllib.parse import quote_plus

        created = self.ok(
            self.client.post(
                f"/v1/buckets/{bucket_id}/objects", json={"blobs": blobs}, headers={"X-Namespace": namespace}
            )
        )
        record = {
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": DATA_BUCKET},
                "object": {"key": quote_plus(created["key"]), "eTag": created["etag"]},
            },
        }
        message = {
            "MessageId": f"ingest-{created['object_id']}",
            "ReceiptHandle": "r",
            "Body": json.dumps({"Records": [record]}),
            "MD5OfBody": "x",
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        answer = load_function_module("extractor").handler(sqs_event([message]), LambdaContext())
        assert answer == {"batchItemFailures": []}, answer
        return self.ok(
            self.client.get(
                f"/v1/buckets/{bucket_id}/objects/{created['object_id']}", headers={"X-Namespace": namespace}
            )
        )

    def counting(self) -> None:
        """From now on, every embedding call goes through `CountingEmbedder` (and `fail`)."""
        registry = self.container.embedders
        original = registry.get
        wrapped: dict[str, CountingEmbedder] = {}

        def get(service_name: str) -> Embedder:
            if service_name not in wrapped:
                wrapped[service_name] = CountingEmbedder(
                    original(service_name), self.embedded, lambda texts: self.fail(texts)
                )
            return wrapped[service_name]

        registry.get = get  # type: ignore[method-assign]


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
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test-backfill",
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }


@pytest.fixture(scope="session")
def tiny_clip_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_image_text_models import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(params=["lancedb", "pinecone"])
def rig(
    request: pytest.FixtureRequest,
    aws_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_clip_weights: Path,
    fresh_container: None,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Rig]:
    import boto3
    from moto import mock_aws

    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus.container import get_container, reset_container
    from stratus.services.api_keys import create_api_key
    from stratus_local.bootstrap import create_tables

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_IDEMPOTENCY_TABLE_NAME", "stratus-idempotency")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_NAMESPACE_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", DATA_BUCKET)
    monkeypatch.setenv("STRATUS_CLIP_WEIGHTS_URI", str(tiny_clip_weights))
    monkeypatch.setattr("stratus.services.backfill.messages.SETTLE_SECONDS", 0)
    # Small pages, so that a hundred documents make several; the queue's own receive limit.
    monkeypatch.setattr("stratus.services.backfill.messages.PAGE_SIZE", PAGE_SIZE)
    monkeypatch.setattr("stratus.services.backfill.messages.MAX_RECEIVES", MAX_RECEIVES)
    with contextlib.ExitStack() as resources:
        if request.param == "pinecone":
            from tests.loopback_pinecone import LoopbackPinecone, reset_client_retry_state

            reset_client_retry_state()
            server = resources.enter_context(LoopbackPinecone())
            monkeypatch.setenv("STRATUS_VECTOR_STORE", "pinecone")
            monkeypatch.setenv("STRATUS_PINECONE_API_KEY", server.api_key)
            monkeypatch.setenv("STRATUS_PINECONE_CONTROL_PLANE_HOST", server.url)
        resources.enter_context(mock_aws())
        create_tables(
            boto3.client("dynamodb", region_name="us-east-1"),
            {"MetadataTable": "stratus", "IdempotencyTable": "stratus-idempotency"},
        )
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=DATA_BUCKET)
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq_url = sqs.create_queue(QueueName="test-backfill-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName="test-backfill",
            Attributes={
                "VisibilityTimeout": "5400",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
                ),
            },
        )["QueueUrl"]
        monkeypatch.setenv("STRATUS_BACKFILL_QUEUE_URL", queue_url)
        reset_container()
        metadata = DynamoDBMetadataStore("stratus", region="us-east-1")
        key = create_api_key(metadata, "org_a", "admin", ["read", "write", "admin"])[0]
        api = wired_api(get_container())
        with api.client() as client:
            client.headers["Authorization"] = f"Bearer {key}"
            yield Rig(client, sqs, queue_url, dlq_url, load_function_module("backfill"), api)


# -- documents ------------------------------------------------------------------------------

TOPICS = ("volcano", "violin", "harbor", "orchard", "glacier", "telescope", "bakery", "marathon")


def text_of(number: int) -> str:
    topic = TOPICS[number % len(TOPICS)]
    return f"Document {number} is a note about a {topic}, number {number} in the {topic} series."


def standalone_documents(
    count: int, without_text: Sequence[int] = (), dimension: int = 8
) -> list[dict[str, Any]]:
    """Documents with a precomputed (toy) vector and their text in `payload.text`; those in
    `without_text` have no text."""
    documents = []
    for number in range(count):
        payload: dict[str, Any] = {"n": number}
        if number not in without_text:
            payload["text"] = text_of(number)
        vector = [float((number * 7 + i) % 11) + 1.0 for i in range(dimension)]
        documents.append({"document_id": f"doc-{number:05d}", "vectors": {"emb": vector}, "payload": payload})
    return documents
