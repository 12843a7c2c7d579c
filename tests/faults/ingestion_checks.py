"""Ingestion helpers of the fault tests: a managed namespace whose text_extractor embeds with
`openai_text_3_small` (the real OpenAI client, served by the loopback server), and deliveries
that play Lambda's SQS event source mapping one receive at a time, including a Lambda that dies
mid-invocation (its messages come back when the visibility timeout ends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.integration.ingestion_rig import LambdaContext, Pipeline, key_of, ok, sqs_event

SERVICE = "openai_text_3_small"
INDEX = "text_extractor_v1_embedding"


@dataclass
class Text:
    namespace: str
    bucket: dict[str, Any]
    collection: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Namespace": self.namespace}

    def key(self, rest: str) -> str:
        return key_of(self.bucket, rest)


def setup_openai_text(pipeline: Pipeline, name: str = "notes", **params: Any) -> Text:
    body = {
        "namespace_name": name,
        "feature_extractors": [
            {"feature_extractor_name": "text_extractor", "params": {"inference_service": SERVICE, **params}}
        ],
    }
    namespace = ok(pipeline.client.post("/v1/namespaces", json=body))["namespace_id"]
    headers = {"X-Namespace": namespace}
    bucket = ok(pipeline.client.post("/v1/buckets", json={"bucket_name": name}, headers=headers))
    collection = ok(
        pipeline.client.post(
            "/v1/collections",
            json={
                "collection_name": f"{name}-text",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "parameters": {"inference_service": SERVICE, **params},
                },
            },
            headers=headers,
        )
    )
    assert collection["vector_index"] == INDEX
    return Text(namespace, bucket, collection)


class ShortLivedContext(LambdaContext):
    """An invocation about to hit its timeout: Powertools' in-progress record of a step it starts
    expires almost at once, as a killed invocation's does when the message comes back."""

    def get_remaining_time_in_millis(self) -> int:
        return 100


@dataclass
class Delivery:
    messages: list[dict[str, Any]]
    response: dict[str, Any] | None = None
    failed: set[str] = field(default_factory=set)

    @property
    def receive_counts(self) -> list[int]:
        return [int(m["Attributes"]["ApproximateReceiveCount"]) for m in self.messages]


def deliver(pipeline: Pipeline, context: LambdaContext | None = None) -> Delivery:
    """One receive of the queue handed to the extractor: successes deleted, failures visible again
    at once (the rig's drain, one round). A BaseException (the Lambda killed) leaves nothing
    deleted and makes every message visible again, as the visibility timeout would."""
    received = pipeline.sqs.receive_message(
        QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", [])
    delivery = Delivery(received)
    if not received:
        return delivery
    try:
        delivery.response = pipeline.extractor.handler(sqs_event(received), context or LambdaContext())
    except BaseException:
        for message in received:
            _visible_again(pipeline, message)
        raise
    delivery.failed = {failure["itemIdentifier"] for failure in delivery.response["batchItemFailures"]}
    for message in received:
        if message["MessageId"] in delivery.failed:
            _visible_again(pipeline, message)
        else:
            pipeline.sqs.delete_message(QueueUrl=pipeline.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return delivery


def _visible_again(pipeline: Pipeline, message: dict[str, Any]) -> None:
    pipeline.sqs.change_message_visibility(
        QueueUrl=pipeline.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )


def replay(pipeline: Pipeline, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The same S3 notifications delivered again (a duplicate event), straight to the extractor."""
    response: dict[str, Any] = pipeline.extractor.handler(sqs_event(messages), LambdaContext())
    return response


def object_events(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Take the queued ObjectCreated notifications off the queue (to deliver or replay later)."""
    return [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]


def the_object(pipeline: Pipeline, text: Text) -> dict[str, Any]:
    listed = ok(
        pipeline.client.get(f"/v1/buckets/{text.bucket['bucket_id']}/objects?limit=100", headers=text.headers)
    )["results"]
    assert len(listed) == 1, listed
    found: dict[str, Any] = listed[0]
    return found


def task_of(pipeline: Pipeline, text: Text, task_id: str) -> dict[str, Any]:
    return ok(pipeline.client.get(f"/v1/tasks/{task_id}", headers=text.headers))


def documents(pipeline: Pipeline, text: Text, vectors: bool = False) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(
        pipeline.client.post(
            f"/v1/namespaces/{text.namespace}/documents/list", json={"limit": 100, "return_vectors": vectors}
        )
    )["results"]
    return listed


def counts(pipeline: Pipeline, text: Text) -> dict[str, int]:
    """The namespace's document and object counts, the bucket's object count, and the number of
    records in the index as the store itself counts them (a duplicate record would show)."""
    from stratus.services.spaces import space_of

    described = ok(pipeline.client.get(f"/v1/namespaces/{text.namespace}"))
    bucket = ok(pipeline.client.get(f"/v1/buckets/{text.bucket['bucket_id']}", headers=text.headers))
    stores = pipeline.container
    namespace = stores.metadata.get_namespace("org_a", text.namespace)
    assert namespace is not None
    space = space_of(namespace, INDEX)
    assert space is not None
    return {
        "namespace.document_count": described["document_count"],
        "namespace.object_count": described["object_count"],
        "bucket.object_count": bucket["object_count"],
        "index.records": stores.vectors.count(space),
        "index.ids": len(stores.vectors.ids(space)),
    }
