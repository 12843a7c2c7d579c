"""The ingestion pipeline in one process: the API (TestClient) writes objects, moto's S3 sends its
real ObjectCreated notifications to moto's SQS, and the `extractor` entry point
(`functions/extractor/app.py`: Powertools BatchProcessor + Idempotency on moto DynamoDB) consumes
them into real LanceDB with the real minilm model — then we search.

The e2e suite runs the same over HTTP on the local stack; this one reaches inside (receive counts,
faults, the idempotency table) cheaply."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    MAX_RECEIVES,
    NOTES,
    LambdaContext,
    Pipeline,
    key_of,
    objects_of,
    ok,
    pipeline,
    png,
    search_text,
    setup_text,
    sqs_event,
    tiny_clip,
)

__all__ = ["pipeline", "tiny_clip"]  # fixtures


# ---------------------------------------------------------------------------------------------
# Text: three ways in, found by text


def test_text_via_objects_api_and_plain_put_are_found_by_text_with_the_right_file_first(
    pipeline: Pipeline,
) -> None:
    namespace, bucket, collection = setup_text(pipeline)
    headers = {"X-Namespace": namespace}
    created = ok(
        pipeline.client.post(
            f"/v1/buckets/{bucket['bucket_id']}/objects",
            json={
                "key_prefix": "docs",
                "metadata": {"author": "ada"},
                "blobs": [{"property": "content", "type": "text", "data": NOTES["cats.txt"]}],
            },
            headers=headers,
        )
    )
    assert created["status"] == "PENDING" and created["task_id"].startswith("task_")
    assert created["object_id"].startswith("obj_") and created["key"].startswith(key_of(bucket, "docs/"))
    for name in ("rockets.md", "bread.json"):
        pipeline.s3.put_object(
            Bucket=DATA_BUCKET, Key=key_of(bucket, f"plain/{name}"), Body=NOTES[name].encode()
        )

    responses = pipeline.drain()

    assert all(response["batchItemFailures"] == [] for response in responses)
    objects = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert sorted(o["status"] for o in objects) == ["COMPLETED"] * 3
    assert {o["source"] for o in objects} == {"api", "s3"}
    task = ok(pipeline.client.get(f"/v1/tasks/{created['task_id']}", headers=headers))
    assert task["status"] == "COMPLETED" and task["outputs"][0]["collections"] == {
        collection["collection_id"]: 1
    }
    for query, expected in [
        ("a sleepy kitten", "Cats"),
        ("spacecraft propulsion fuel", "rocket"),
        ("baking a loaf of bread", "Sourdough"),
    ]:
        top = search_text(pipeline, namespace, query)[0]["payload"]
        assert expected in top["text"], (query, top)
        assert top["bucket_id"] == bucket["bucket_id"] and top["collection_id"] == collection["collection_id"]
    api_doc = next(
        r
        for r in search_text(pipeline, namespace, "cats")
        if r["payload"]["object_id"] == created["object_id"]
    )
    assert api_doc["payload"]["metadata"] == {"author": "ada"}
    described = ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))
    assert described["object_count"] == 3 and described["document_count"] == 3
    assert ok(pipeline.client.get(f"/v1/buckets/{bucket['bucket_id']}", headers=headers))["object_count"] == 3


def test_chunked_text_makes_one_document_per_chunk_and_a_new_version_drops_stale_chunks(
    pipeline: Pipeline,
) -> None:
    namespace, bucket, _ = setup_text(pipeline, split_by="paragraphs", chunk_size=60)
    key = key_of(bucket, "long.txt")
    paragraphs = [f"Paragraph {i} talks about topic number {i} at length." for i in range(5)]
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body="\n\n".join(paragraphs).encode())
    pipeline.drain()
    (stored,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert stored["document_count"] == 5
    assert sorted(r["payload"]["chunk_index"] for r in search_text(pipeline, namespace, "topic")) == [
        0,
        1,
        2,
        3,
        4,
    ]

    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body="\n\n".join(paragraphs[:2]).encode())
    pipeline.drain()

    (updated,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert updated["object_id"] == stored["object_id"] and updated["etag"] != stored["etag"]
    assert updated["document_count"] == 2 and updated["task_id"] != stored["task_id"]
    assert sorted(r["payload"]["chunk_index"] for r in search_text(pipeline, namespace, "topic")) == [0, 1]
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["object_count"] == 1


# ---------------------------------------------------------------------------------------------
# Redelivery and failures


def test_the_same_message_delivered_twice_makes_no_duplicates_and_leaves_counts_alone(
    pipeline: Pipeline,
) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    pipeline.s3.put_object(
        Bucket=DATA_BUCKET, Key=key_of(bucket, "cats.txt"), Body=NOTES["cats.txt"].encode()
    )
    messages = [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]
    assert len(messages) == 1

    first = pipeline.extractor.handler(sqs_event(messages), LambdaContext())
    before = ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))
    (object_before,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    second = pipeline.extractor.handler(sqs_event(messages), LambdaContext())
    after = ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))
    (object_after,) = objects_of(pipeline, namespace, bucket["bucket_id"])

    assert first["batchItemFailures"] == [] and second["batchItemFailures"] == []
    assert before["document_count"] == after["document_count"] == 1
    assert before["object_count"] == after["object_count"] == 1
    assert object_after == object_before  # skipped: not even updated_at moved
    assert len(search_text(pipeline, namespace, "cats")) == 1


def test_a_repeated_step_after_a_crash_is_answered_from_the_idempotency_record(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object record still says PROCESSING (the Lambda died after the vector write), so the
    pipeline runs again; Powertools returns the saved step result instead of embedding again."""
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

    namespace, bucket, _ = setup_text(pipeline)
    pipeline.s3.put_object(
        Bucket=DATA_BUCKET, Key=key_of(bucket, "cats.txt"), Body=NOTES["cats.txt"].encode()
    )
    messages = [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]
    pipeline.extractor.handler(sqs_event(messages), LambdaContext())
    (done,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    metadata = DynamoDBMetadataStore("stratus", region="us-east-1")
    record = metadata.get_object("org_a", namespace, bucket["bucket_id"], done["object_id"])
    assert record is not None
    metadata.put_object(record.model_copy(update={"status": "PROCESSING"}))  # as if killed before this write
    saved = pipeline.dynamodb.scan(TableName="stratus-idempotency")["Items"]
    assert [item["status"]["S"] for item in saved] == ["COMPLETED"]

    from stratus.adapters.inference import minilm as minilm_embedder

    def no_embedding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("embedded again")

    monkeypatch.setattr(minilm_embedder.MiniLMEmbedder, "embed_texts", no_embedding)
    again = pipeline.extractor.handler(sqs_event(messages), LambdaContext())

    assert again["batchItemFailures"] == []
    (redone,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert redone["status"] == "COMPLETED" and redone["document_count"] == 1
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == 1


def _setup_images(pipeline: Pipeline) -> tuple[str, dict[str, Any]]:
    body = {
        "namespace_name": "photos",
        "feature_extractors": [
            {"feature_extractor_name": "image_extractor", "params": {"model": "clip_vit_b32"}}
        ],
    }
    namespace = ok(pipeline.client.post("/v1/namespaces", json=body))["namespace_id"]
    headers = {"X-Namespace": namespace}
    bucket = ok(pipeline.client.post("/v1/buckets", json={"bucket_name": "photos"}, headers=headers))
    ok(
        pipeline.client.post(
            "/v1/collections",
            json={
                "collection_name": "photos-clip",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "image_extractor",
                    "version": "v1",
                    "parameters": {"model": "clip_vit_b32"},
                },
            },
            headers=headers,
        )
    )
    return namespace, bucket


def test_images_through_the_tiny_clip_model_land_with_the_index_dimension(pipeline: Pipeline) -> None:
    namespace, bucket = _setup_images(pipeline)
    headers = {"X-Namespace": namespace}
    created = ok(
        pipeline.client.post(
            f"/v1/buckets/{bucket['bucket_id']}/objects",
            json={
                "blobs": [{"property": "photo", "type": "image", "data": base64.b64encode(png(1)).decode()}]
            },
            headers=headers,
        )
    )
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "b.png"), Body=png(2))
    assert all(r["batchItemFailures"] == [] for r in pipeline.drain())

    assert [o["status"] for o in objects_of(pipeline, namespace, bucket["bucket_id"])] == ["COMPLETED"] * 2
    listed = ok(
        pipeline.client.post(
            f"/v1/namespaces/{namespace}/documents/list", json={"limit": 10, "return_vectors": True}
        )
    )["results"]
    assert len(listed) == 2
    assert all(len(doc["vectors"]["image_extractor_v1_embedding"]) == 512 for doc in listed)
    assert {doc["payload"]["modality"] for doc in listed} == {"image"}
    assert created["object_id"] in {doc["payload"]["object_id"] for doc in listed}
    found = ok(
        pipeline.client.post(
            "/v1/search",
            json={
                "namespace_id": namespace,
                "queries": [{"vector_name": "image_extractor_v1_embedding", "text": "a photo", "top_k": 5}],
            },
        )
    )["results"]
    assert len(found) == 2  # the shared space answers text queries (semantics: not with a tiny model)


def test_a_corrupt_image_fails_with_the_reason_while_the_rest_of_the_batch_succeeds_then_dead_letters(
    pipeline: Pipeline,
) -> None:
    namespace, bucket = _setup_images(pipeline)
    broken = b"\x89PNG\r\n\x1a\n" + b"this is not really a png"
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "good.png"), Body=png(3))
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "broken.png"), Body=broken)

    responses = pipeline.drain(max_rounds=MAX_RECEIVES + 2)

    assert len(responses[0]["batchItemFailures"]) == 1
    objects = {o["key"].rsplit("/", 1)[-1]: o for o in objects_of(pipeline, namespace, bucket["bucket_id"])}
    assert objects["good.png"]["status"] == "COMPLETED"
    assert objects["broken.png"]["status"] == "FAILED"
    assert "image" in objects["broken.png"]["error"].lower()
    task = ok(
        pipeline.client.get(
            f"/v1/tasks/{objects['broken.png']['task_id']}", headers={"X-Namespace": namespace}
        )
    )
    assert task["status"] == "FAILED" and task["error"] == objects["broken.png"]["error"]
    dead = pipeline.dead_letters()
    assert len(dead) == 1 and "broken.png" in json.loads(dead[0]["Body"])["Records"][0]["s3"]["object"]["key"]
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == 1


def test_an_embedding_outage_is_retried_then_fails_on_the_last_receive(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stratus.adapters.inference import minilm as minilm_embedder
    from stratus.errors import InferenceServiceUnavailableError

    namespace, bucket, _ = setup_text(pipeline)
    calls = []

    def down(self: Any, texts: Any) -> Any:
        calls.append(len(texts))
        raise InferenceServiceUnavailableError("minilm is down", {"service": "minilm_l6_v2"})

    monkeypatch.setattr(minilm_embedder.MiniLMEmbedder, "embed_texts", down)
    pipeline.s3.put_object(
        Bucket=DATA_BUCKET, Key=key_of(bucket, "cats.txt"), Body=NOTES["cats.txt"].encode()
    )
    messages = [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]

    for receive in range(1, MAX_RECEIVES + 1):
        for message in messages:
            message["Attributes"]["ApproximateReceiveCount"] = str(receive)
        response = pipeline.extractor.handler(sqs_event(messages), LambdaContext())
        assert len(response["batchItemFailures"]) == 1
        (stored,) = objects_of(pipeline, namespace, bucket["bucket_id"])
        if receive < MAX_RECEIVES:
            assert stored["status"] == "PROCESSING"
            assert stored["error"].startswith(
                f"attempt {receive} of {MAX_RECEIVES} failed, retrying: minilm is down"
            )
        else:
            assert stored["status"] == "FAILED" and stored["error"] == "minilm is down"
    assert calls == [1] * MAX_RECEIVES  # no idempotency record kept a failure
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == 0

    monkeypatch.undo()  # the service is back: a redrive of the message completes the object
    for message in messages:
        message["Attributes"]["ApproximateReceiveCount"] = "1"
    assert pipeline.extractor.handler(sqs_event(messages), LambdaContext())["batchItemFailures"] == []
    (stored,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert stored["status"] == "COMPLETED" and stored["error"] is None


def test_unsupported_files_fail_at_once_and_keys_outside_any_bucket_are_ignored(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "slides.pdf"), Body=b"%PDF-1.4")
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key="stray/file.txt", Body=b"nobody's")
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key="ns_gone/bkt_gone/file.txt", Body=b"deleted bucket")

    first = pipeline.drain(max_rounds=1)[0]

    assert len(first["batchItemFailures"]) == 1  # only the pdf: the others have no bucket to go to
    (pdf,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert pdf["status"] == "FAILED" and "unsupported file type .pdf" in pdf["error"]


def test_malformed_messages_fail_alone(pipeline: Pipeline) -> None:
    pipeline.queued()  # the s3:TestEvent of the notification setup
    event = sqs_event(
        [
            {
                "MessageId": "m1",
                "ReceiptHandle": "r1",
                "Body": "not json",
                "MD5OfBody": "x",
                "Attributes": {},
            },
            {
                "MessageId": "m2",
                "ReceiptHandle": "r2",
                "Body": json.dumps({"Event": "s3:TestEvent"}),
                "MD5OfBody": "x",
                "Attributes": {},
            },
        ]
    )
    assert pipeline.extractor.handler(event, LambdaContext())["batchItemFailures"] == [
        {"itemIdentifier": "m1"}
    ]


def test_the_s3_test_event_of_the_notification_setup_is_consumed_quietly(pipeline: Pipeline) -> None:
    responses = pipeline.drain()
    assert responses and all(r["batchItemFailures"] == [] for r in responses)


# ---------------------------------------------------------------------------------------------
# Promoted namespaces, deletes


def test_in_a_promoted_namespace_standalone_and_extracted_documents_share_one_index(
    pipeline: Pipeline,
) -> None:
    from stratus.adapters.inference.minilm import MiniLMEmbedder

    client = pipeline.client
    ok(client.post("/v1/namespaces/standalone", json={"namespace_id": "kb"}))
    vector = MiniLMEmbedder().embed_texts(["Dogs bark at the mail carrier every morning."])[0]
    ok(
        client.post(
            "/v1/namespaces/kb/documents/direct",
            json={
                "documents": [
                    {"document_id": "dog", "vectors": {"text_embedding": vector}, "payload": {"k": 1}}
                ]
            },
        )
    )
    ok(
        client.post(
            "/v1/namespaces/kb/promote",
            json={
                "vector_mappings": [{"existing_index": "text_embedding", "inference_service": "minilm_l6_v2"}]
            },
        )
    )
    headers = {"X-Namespace": "kb"}
    bucket = ok(client.post("/v1/buckets", json={"bucket_name": "docs"}, headers=headers))
    collection = ok(
        client.post(
            "/v1/collections",
            json={
                "collection_name": "docs",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "parameters": {"inference_service": "minilm_l6_v2"},
                },
            },
            headers=headers,
        )
    )
    assert collection["vector_index"] == "text_embedding"
    pipeline.s3.put_object(
        Bucket=DATA_BUCKET, Key=key_of(bucket, "cats.txt"), Body=NOTES["cats.txt"].encode()
    )
    pipeline.drain()

    results = ok(
        client.post(
            "/v1/search",
            json={
                "namespace_id": "kb",
                "queries": [{"vector_name": "text_embedding", "text": "pets", "top_k": 5}],
            },
        )
    )["results"]
    assert {r["document_id"] for r in results} >= {"dog"} and len(results) == 2
    assert any(r["payload"].get("collection_id") == collection["collection_id"] for r in results)
    assert ok(client.get("/v1/namespaces/kb"))["document_count"] == 2


def test_deleting_a_bucket_removes_its_objects_files_and_documents(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    headers = {"X-Namespace": namespace}
    pipeline.s3.put_object(
        Bucket=DATA_BUCKET, Key=key_of(bucket, "cats.txt"), Body=NOTES["cats.txt"].encode()
    )
    pipeline.drain()
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == 1

    ok(pipeline.client.delete(f"/v1/buckets/{bucket['bucket_id']}", headers=headers))

    described = ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))
    assert described["document_count"] == 0 and described["object_count"] == 0
    listed = pipeline.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=key_of(bucket, ""))
    assert listed.get("KeyCount", 0) == 0
    # A late event for the deleted bucket's key is ignored, not retried forever.
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "late.txt"), Body=b"late")
    assert all(r["batchItemFailures"] == [] for r in pipeline.drain())
