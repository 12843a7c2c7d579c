"""The extractor ingests a batch together: one embedding call per inference service for all the
batch's objects (OpenAI: one request), one vector upsert per index, two status transactions, while
failures stay per object, a redelivery embeds nothing twice, and an object that would overrun the
invocation fails alone (issue 17 item 2).

Real components: moto S3 → SQS (real notifications, a real redrive policy) → the `extractor`
entry point (Powertools batch + idempotency on moto DynamoDB) → LanceDB; the real minilm model,
and the real OpenAI client against the loopback server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from stratus_local.ingest_worker import LocalLambdaContext
from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    LambdaContext,
    Pipeline,
    key_of,
    objects_of,
    ok,
    pipeline,
    search_text,
    setup_text,
    sqs_event,
    tiny_clip,
)
from tests.loopback_openai import LoopbackOpenAI

__all__ = ["pipeline", "tiny_clip"]  # fixtures

OPENAI = "openai_text_3_small"


def _note(n: int) -> str:
    return f"Note {n}: the harbour lighthouse keeper logged {n} ships today."


def _put_notes(pipeline: Pipeline, bucket: dict[str, Any], numbers: range) -> None:
    for n in numbers:
        pipeline.s3.put_object(
            Bucket=DATA_BUCKET, Key=key_of(bucket, f"notes/{n:03d}.txt"), Body=_note(n).encode()
        )


def _taken(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The queued ObjectCreated messages, taken off the queue (to deliver as one batch)."""
    return [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]


def _deliver(pipeline: Pipeline, messages: list[dict[str, Any]], context: Any = None) -> set[str]:
    """One invocation with `messages` as its batch; the ids it reports failed."""
    response = pipeline.extractor.handler(sqs_event(messages), context or LambdaContext())
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def _message_of(messages: list[dict[str, Any]], name: str) -> str:
    return str(next(m["MessageId"] for m in messages if name in m["Body"]))


@pytest.fixture
def text_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The real minilm embedder, counted: the number of texts of each `embed_texts` call."""
    from stratus.adapters.inference.minilm import MiniLMEmbedder

    calls: list[int] = []
    real = MiniLMEmbedder.embed_texts

    def counted(self: MiniLMEmbedder, texts: Any) -> list[list[float]]:
        calls.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(MiniLMEmbedder, "embed_texts", counted)
    return calls


@pytest.fixture
def upserts(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The vector store's upserts: the number of records of each."""
    vectors = pipeline.container.vectors
    real = vectors.upsert
    calls: list[int] = []

    def counted(space: Any, records: Any) -> None:
        calls.append(len(records))
        real(space, records)

    monkeypatch.setattr(vectors, "upsert", counted)
    return calls


@pytest.fixture
def dynamodb_calls(pipeline: Pipeline) -> Iterator[list[str]]:
    """The operations the metadata store sends to DynamoDB (botocore's event hooks)."""
    calls: list[str] = []
    client: Any = pipeline.container.metadata.client  # type: ignore[attr-defined]

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)
    yield calls
    client.meta.events.unregister("before-call.dynamodb", record)


@pytest.fixture
def openai(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackOpenAI]:
    """`openai_text_3_small` served by the loopback server, through the real OpenAI client."""
    with LoopbackOpenAI() as server:
        monkeypatch.setenv("STRATUS_OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("STRATUS_OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("STRATUS_OPENAI_MAX_ATTEMPTS", "1")
        monkeypatch.setenv("STRATUS_OPENAI_TIMEOUT_SECONDS", "5")
        pipeline.rewire()
        yield server


# ---------------------------------------------------------------------------------------------
# One call per service, one upsert per index, two status transactions


def test_a_batch_of_ten_files_is_one_embedding_call_one_upsert_and_two_status_transactions(
    pipeline: Pipeline, text_calls: list[int], upserts: list[int], dynamodb_calls: list[str]
) -> None:
    namespace, bucket, collection = setup_text(pipeline)
    pipeline.queued()  # the notification set-up's s3:TestEvent
    _put_notes(pipeline, bucket, range(10))
    messages = _taken(pipeline)
    assert len(messages) == 10
    dynamodb_calls.clear()

    assert _deliver(pipeline, messages) == set()

    assert text_calls == [10], "one call for the batch's ten texts"
    assert upserts == [10], "one upsert for the batch's ten documents"
    # Whatever the number of objects: the bucket's route and the namespace (GetItem), its
    # collections (Query), the objects' records in one BatchGetItem; PROCESSING (new objects and
    # the bucket's count with them) in one transaction, COMPLETED in another.
    assert sorted(dynamodb_calls) == sorted(
        ["GetItem", "GetItem", "Query", "BatchGetItem", "TransactWriteItems", "TransactWriteItems"]
    )
    objects = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert sorted(o["status"] for o in objects) == ["COMPLETED"] * 10
    assert (
        ok(pipeline.client.get(f"/v1/buckets/{bucket['bucket_id']}", headers={"X-Namespace": namespace}))[
            "object_count"
        ]
        == 10
    )
    task = ok(pipeline.client.get(f"/v1/tasks/{objects[0]['task_id']}", headers={"X-Namespace": namespace}))
    assert task["status"] == "COMPLETED" and task["outputs"][0]["collections"] == {
        collection["collection_id"]: 1
    }
    top = search_text(pipeline, namespace, _note(4), top_k=1)[0]
    assert top["payload"]["text"] == _note(4)


def test_an_openai_service_gets_one_request_for_the_batch(pipeline: Pipeline, openai: LoopbackOpenAI) -> None:
    namespace, bucket, _ = setup_text(pipeline, inference_service=OPENAI)
    pipeline.queued()
    _put_notes(pipeline, bucket, range(10))
    messages = _taken(pipeline)

    assert _deliver(pipeline, messages) == set()

    assert [sorted(request.inputs) for request in openai.requests] == [sorted(_note(n) for n in range(10))]
    assert (
        sorted(o["status"] for o in objects_of(pipeline, namespace, bucket["bucket_id"]))
        == ["COMPLETED"] * 10
    )


# ---------------------------------------------------------------------------------------------
# Failures stay per object


def test_bad_objects_fail_alone_with_their_reasons_and_their_batch_mates_complete(
    pipeline: Pipeline, text_calls: list[int]
) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    pipeline.queued()
    _put_notes(pipeline, bucket, range(8))
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "slides.pdf"), Body=b"%PDF-1.4")
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "broken.json"), Body=b'{"not": json')
    messages = _taken(pipeline)
    assert len(messages) == 10

    failed = _deliver(pipeline, messages)

    assert failed == {_message_of(messages, "slides.pdf"), _message_of(messages, "broken.json")}
    assert text_calls == [8]
    objects = {o["key"].rsplit("/", 1)[-1]: o for o in objects_of(pipeline, namespace, bucket["bucket_id"])}
    assert objects["slides.pdf"]["status"] == "FAILED"
    assert "unsupported file type .pdf" in objects["slides.pdf"]["error"]
    assert objects["broken.json"]["status"] == "FAILED" and objects["broken.json"]["error"]
    assert sorted(o["status"] for name, o in objects.items() if name.endswith(".txt")) == ["COMPLETED"] * 8
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == 8


def test_an_outage_fails_the_batch_for_a_retry_and_the_retry_embeds_it_once(
    pipeline: Pipeline, openai: LoopbackOpenAI
) -> None:
    namespace, bucket, _ = setup_text(pipeline, inference_service=OPENAI)
    pipeline.queued()
    _put_notes(pipeline, bucket, range(4))
    messages = _taken(pipeline)
    openai.fail_next(1, status=503)

    assert _deliver(pipeline, messages) == {m["MessageId"] for m in messages}
    objects = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert {o["status"] for o in objects} == {"PROCESSING"}
    assert all(o["error"].startswith("attempt 1 of 3 failed, retrying:") for o in objects)

    assert _deliver(pipeline, messages) == set()

    assert len(openai.requests) == 2 and len(openai.requests[1].inputs) == 4
    assert {o["status"] for o in objects_of(pipeline, namespace, bucket["bucket_id"])} == {"COMPLETED"}


# ---------------------------------------------------------------------------------------------
# Redelivery


def test_a_redelivered_batch_embeds_nothing_twice(pipeline: Pipeline, openai: LoopbackOpenAI) -> None:
    """Delivered again as it was: every object is COMPLETED at its ETag, nothing runs. Delivered
    again after its COMPLETED writes were lost (the objects still PROCESSING): the job ledger
    answers with the saved results. Only an object new in the batch is embedded."""
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

    namespace, bucket, _ = setup_text(pipeline, inference_service=OPENAI)
    pipeline.queued()
    _put_notes(pipeline, bucket, range(10))
    messages = _taken(pipeline)
    assert _deliver(pipeline, messages) == set()
    assert len(openai.requests) == 1
    documents_before = ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"]

    assert _deliver(pipeline, messages) == set()
    assert len(openai.requests) == 1

    metadata = DynamoDBMetadataStore("stratus", region="us-east-1")
    lost = objects_of(pipeline, namespace, bucket["bucket_id"])[:3]
    for stored in lost:
        record = metadata.get_object("org_a", namespace, bucket["bucket_id"], stored["object_id"])
        assert record is not None
        metadata.put_object(record.model_copy(update={"status": "PROCESSING"}))
    _put_notes(pipeline, bucket, range(10, 11))
    lost_names = {o["key"].rsplit("/", 1)[-1] for o in lost}
    again = [m for m in messages if any(name in m["Body"] for name in lost_names)]
    assert len(again) == 3

    assert _deliver(pipeline, again + _taken(pipeline)) == set()

    assert len(openai.requests) == 2 and openai.requests[1].inputs == [_note(10)]
    objects = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert sorted(o["status"] for o in objects) == ["COMPLETED"] * 11
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == documents_before + 1


# ---------------------------------------------------------------------------------------------
# The invocation's time


BIG_PARAGRAPHS = 1900
HANG_SECONDS = 1.2


def test_an_object_that_would_overrun_the_invocation_fails_alone_and_its_batch_mates_complete(
    pipeline: Pipeline, openai: LoopbackOpenAI
) -> None:
    """Six objects of one batch in a 6 s invocation; five small ones and one that makes 1,900
    chunks: 8 embedding requests of 256 inputs, each answered after 1.2 s by the loopback server,
    so it needs at least 9.6 s. The small ones go in the first request; after each request the
    extractor checks the time left against the time a request takes, and stops before the one
    that would overrun: the big object alone is FAILED with the reason, the others complete."""
    namespace, bucket, _ = setup_text(
        pipeline, inference_service=OPENAI, split_by="paragraphs", chunk_size=60
    )
    pipeline.queued()
    _put_notes(pipeline, bucket, range(5))
    paragraphs = [
        f"Paragraph {i} talks about topic number {i} at some length." for i in range(BIG_PARAGRAPHS)
    ]
    big_key = key_of(bucket, "big.txt")
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=big_key, Body="\n\n".join(paragraphs).encode())
    messages = _taken(pipeline)
    assert len(messages) == 6
    openai.hang_next(20, seconds=HANG_SECONDS)
    context = LocalLambdaContext(
        function_name="stratus-extractor-test",
        memory_limit_in_mb=2048,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:stratus-extractor-test",
        aws_request_id="budget",
        deadline=time.monotonic() + 6.0,
    )

    failed = _deliver(pipeline, messages, context)

    assert failed == {_message_of(messages, "big.txt")}
    assert context.get_remaining_time_in_millis() > 0, "the invocation ended in time"
    assert 2 <= len(openai.requests) < 8
    objects = {o["key"]: o for o in objects_of(pipeline, namespace, bucket["bucket_id"])}
    big = objects.pop(big_key)
    assert big["status"] == "FAILED"
    assert big["error"].startswith(
        "the object needs more time to embed its texts than this invocation had left"
    )
    assert sorted(o["status"] for o in objects.values()) == ["COMPLETED"] * 5
    assert ok(pipeline.client.get(f"/v1/namespaces/{namespace}"))["document_count"] == 5
    task = ok(pipeline.client.get(f"/v1/tasks/{big['task_id']}", headers={"X-Namespace": namespace}))
    assert task["status"] == "FAILED" and task["error"] == big["error"]


class _SlowInvocation(LambdaContext):
    """10 s left when the batch starts, 4 s at every later look: reading has used up its half
    before a single object is read."""

    def __init__(self) -> None:
        self.looks = 0

    def get_remaining_time_in_millis(self) -> int:
        self.looks += 1
        return 10_000 if self.looks == 1 else 4_000


def test_a_batch_none_of_whose_objects_could_be_read_in_time_is_retried_not_failed(
    pipeline: Pipeline, text_calls: list[int]
) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    pipeline.queued()
    _put_notes(pipeline, bucket, range(3))
    messages = _taken(pipeline)

    failed = _deliver(pipeline, messages, _SlowInvocation())

    assert failed == {m["MessageId"] for m in messages} and text_calls == []
    objects = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert {o["status"] for o in objects} == {"PROCESSING"}  # the whole batch was slow: not their fault
    assert all(
        o["error"].startswith("attempt 1 of 3 failed, retrying: no object of the batch") for o in objects
    )

    assert _deliver(pipeline, messages) == set()  # the next delivery, in time
    assert {o["status"] for o in objects_of(pipeline, namespace, bucket["bucket_id"])} == {"COMPLETED"}


def test_uploads_files_in_one_batch_become_their_objects_with_the_chosen_property(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    scope = {"X-Namespace": namespace}
    pipeline.queued()  # the notification set-up's s3:TestEvent
    sizes = []
    for n in range(2):
        body = {"filename": f"upload-{n}.txt", "content_type": "text/plain", "blob_property": "content"}
        upload = ok(
            pipeline.client.post(f"/v1/buckets/{bucket['bucket_id']}/uploads", json=body, headers=scope)
        )
        data = _note(n).encode()
        sizes.append(len(data))
        put = requests.put(upload["presigned_url"], data=data, headers=upload["headers"], timeout=10)
        assert put.status_code == 200, put.text
    _put_notes(pipeline, bucket, range(2, 3))
    sizes.append(len(_note(2).encode()))
    messages = _taken(pipeline)
    assert len(messages) == 3

    assert _deliver(pipeline, messages) == set()

    objects = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert sorted(o["status"] for o in objects) == ["COMPLETED"] * 3
    assert sorted(o["source"] for o in objects) == ["s3", "upload", "upload"]
    assert {o["blobs"][0]["property"] for o in objects if o["source"] == "upload"} == {"content"}
    assert search_text(pipeline, namespace, _note(1), top_k=1)[0]["payload"]["property"] == "content"
    described = ok(pipeline.client.get(f"/v1/buckets/{bucket['bucket_id']}", headers=scope))
    assert (described["object_count"], described["total_size_bytes"]) == (3, sum(sizes))
