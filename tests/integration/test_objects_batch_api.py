"""`POST /v1/buckets/{id}/objects/batch`: up to 100 objects in one call. The whole batch is checked
first (a 4xx naming `objects[i]...`, nothing written), the records move the bucket's count in as
few DynamoDB transactions as its 100-item limit allows, and the objects then travel S3 → SQS →
extractor like any other. Real components: moto (S3, SQS, DynamoDB), LanceDB, minilm."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from stratus.errors import BlobStoreUnavailableError
from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    Pipeline,
    objects_of,
    ok,
    pipeline,
    search_text,
    setup_text,
    tiny_clip,
)

__all__ = ["pipeline", "tiny_clip"]  # fixtures


@pytest.fixture
def text_bucket(pipeline: Pipeline) -> tuple[str, dict[str, Any]]:
    namespace, bucket, _ = setup_text(pipeline)
    return namespace, bucket


def _text_object(n: int) -> dict[str, Any]:
    return {
        "key_prefix": "migrated",
        "metadata": {"n": n},
        "blobs": [{"property": "body", "type": "text", "data": f"Note {n} about the harbour lighthouse."}],
    }


def _post(pipeline: Pipeline, namespace: str, bucket_id: str, body: Any, **params: Any) -> Any:
    return pipeline.client.post(
        f"/v1/buckets/{bucket_id}/objects/batch", json=body, params=params, headers={"X-Namespace": namespace}
    )


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["status"] == status
    error: dict[str, Any] = body["error"]
    return error


def _bucket_count(pipeline: Pipeline, namespace: str, bucket_id: str) -> int:
    described = ok(pipeline.client.get(f"/v1/buckets/{bucket_id}", headers={"X-Namespace": namespace}))
    return int(described["object_count"])


def _stored_keys(pipeline: Pipeline, bucket: dict[str, Any]) -> list[str]:
    prefix = str(bucket["s3_uri"]).removeprefix(f"s3://{DATA_BUCKET}/")
    listed = pipeline.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def dynamodb_calls(pipeline: Pipeline) -> Iterator[list[str]]:
    """The DynamoDB operations the metadata store sends (botocore's own event hooks)."""
    calls: list[str] = []
    client: Any = pipeline.container.metadata.client  # type: ignore[attr-defined]

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)
    yield calls
    client.meta.events.unregister("before-call.dynamodb", record)


# ---------------------------------------------------------------------------------------------
# Creating


def test_a_batch_creates_every_object_in_order_counts_them_and_they_are_ingested(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    body = {"objects": [_text_object(n) for n in range(12)]}

    answer = ok(_post(pipeline, namespace, bucket["bucket_id"], body, auto_process="true"))

    assert answer["total_requested"] == answer["succeeded_count"] == 12
    assert answer["failed"] == [] and answer["failed_count"] == 0
    assert [item["object_index"] for item in answer["succeeded"]] == list(range(12))
    assert [item["metadata"]["n"] for item in answer["succeeded"]] == list(range(12))
    assert {item["status"] for item in answer["succeeded"]} == {"PENDING"}
    assert all(item["key"].endswith(".stratus-object.json") for item in answer["succeeded"])
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == 12
    assert len(_stored_keys(pipeline, bucket)) == 12  # one manifest each
    for item in answer["succeeded"]:  # each task exists before the extractor runs
        task = ok(pipeline.client.get(f"/v1/tasks/{item['task_id']}", headers={"X-Namespace": namespace}))
        assert task["status"] == "PENDING"

    responses = pipeline.drain()

    assert all(response["batchItemFailures"] == [] for response in responses)
    assert (
        sorted(o["status"] for o in objects_of(pipeline, namespace, bucket["bucket_id"]))
        == ["COMPLETED"] * 12
    )
    top = search_text(pipeline, namespace, "Note 7 about the harbour lighthouse", top_k=1)[0]
    assert top["payload"]["metadata"] == {"n": 7}
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == 12


@pytest.mark.parametrize(("count", "transactions"), [(49, 1), (50, 2)])
def test_the_records_and_the_count_move_together_in_as_few_transactions_as_dynamodb_allows(
    pipeline: Pipeline,
    text_bucket: tuple[str, dict[str, Any]],
    dynamodb_calls: list[str],
    count: int,
    transactions: int,
) -> None:
    namespace, bucket = text_bucket
    dynamodb_calls.clear()

    answer = ok(
        _post(pipeline, namespace, bucket["bucket_id"], {"objects": [_text_object(n) for n in range(count)]})
    )

    assert answer["succeeded_count"] == count
    # 49 object puts, their 49 content-hash claims and the bucket's totals fill one transaction
    # (DynamoDB takes 100 items).
    assert dynamodb_calls.count("TransactWriteItems") == transactions
    assert dynamodb_calls.count("BatchWriteItem") == -(-count // 25)  # the tasks, 25 per call
    assert "PutItem" not in dynamodb_calls
    assert dynamodb_calls.count("UpdateItem") == 1  # the organization's rate-limit counter
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == count


def _bucket(pipeline: Pipeline, namespace: str, bucket_id: str) -> dict[str, Any]:
    described: dict[str, Any] = ok(
        pipeline.client.get(f"/v1/buckets/{bucket_id}", headers={"X-Namespace": namespace})
    )
    return described


def test_identical_objects_in_one_batch_are_all_created_and_the_first_holds_their_content(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    bucket_id = bucket["bucket_id"]

    answer = ok(_post(pipeline, namespace, bucket_id, {"objects": [_text_object(1), _text_object(1)]}))

    first, second = answer["succeeded"]
    assert first["object_id"] != second["object_id"] and not first["replayed"] and not second["replayed"]
    described = _bucket(pipeline, namespace, bucket_id)
    assert described["object_count"] == 2
    assert described["total_size_bytes"] == first["size_bytes"] + second["size_bytes"] > 0
    # The content is claimed by the first: a later object with skip_duplicates is answered with it.
    again = pipeline.client.post(
        f"/v1/buckets/{bucket_id}/objects",
        json={**_text_object(1), "skip_duplicates": True},
        headers={"X-Namespace": namespace},
    )
    assert ok(again)["replayed"] is True and ok(again)["object_id"] == first["object_id"]


def test_an_object_with_skip_duplicates_whose_content_the_bucket_holds_is_answered_with_its_holder(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    bucket_id = bucket["bucket_id"]
    held = ok(_post(pipeline, namespace, bucket_id, {"objects": [_text_object(1)]}))["succeeded"][0]

    objects = [{**_text_object(1), "skip_duplicates": True}, {**_text_object(2), "skip_duplicates": True}]
    answer = ok(_post(pipeline, namespace, bucket_id, {"objects": objects}))

    replayed, created = answer["succeeded"]
    assert (replayed["object_index"], replayed["object_id"]) == (0, held["object_id"])
    assert replayed["replayed"] is True and replayed["replayed_by"] == "skip_duplicates"
    assert (created["object_index"], created["replayed"]) == (1, False)
    assert created["object_id"] != held["object_id"]
    assert _bucket_count(pipeline, namespace, bucket_id) == 2
    assert len(_stored_keys(pipeline, bucket)) == 2  # no manifest for the replayed one


def test_the_answer_parses_as_the_mixpeek_sdk_s_response(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    from mixpeek.models.create_objects_batch_response import CreateObjectsBatchResponse

    namespace, bucket = text_bucket
    answer = ok(
        _post(pipeline, namespace, bucket["bucket_id"], {"objects": [_text_object(1), _text_object(2)]})
    )

    parsed = CreateObjectsBatchResponse.from_dict(answer)

    assert parsed is not None and parsed.succeeded_count == 2 and parsed.failed == []
    assert [row.object_index for row in parsed.succeeded] == [0, 1]
    assert {row.bucket_id for row in parsed.succeeded} == {bucket["bucket_id"]}


# ---------------------------------------------------------------------------------------------
# Refusing: the whole batch, before anything is written


@pytest.mark.parametrize(("count", "words"), [(0, "at least 1"), (101, "at most 100")])
def test_an_empty_or_oversized_batch_is_a_422_naming_objects(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]], count: int, words: str
) -> None:
    namespace, bucket = text_bucket
    error = _error(
        _post(pipeline, namespace, bucket["bucket_id"], {"objects": [_text_object(0)] * count}), 422
    )
    assert error["details"]["validation_errors"][0]["location"] == "objects"
    assert words in error["message"]
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == 0


@pytest.mark.parametrize(
    ("bad", "status", "field", "words"),
    [
        (
            {"property": "p", "type": "image", "data": "not base64!!"},
            400,
            "objects[2].blobs[0].data",
            "base64",
        ),
        (
            {"property": "p", "type": "image", "data": base64.b64encode(b"plain bytes").decode()},
            400,
            "objects[2].blobs[0].data",
            "JPEG, PNG or WebP",
        ),
        (
            {"property": "p", "type": "text", "data": "http://example.com/a.txt"},
            400,
            "objects[2].blobs[0].data",
            "https",
        ),
        # The SDK's blob types are accepted by the model; Stratus refuses the ones it cannot extract.
        ({"property": "p", "type": "video", "data": "x"}, 400, "objects[2].blobs[0].type", "not extracted"),
    ],
)
def test_one_bad_blob_refuses_the_batch_naming_its_object_and_writes_nothing(
    pipeline: Pipeline,
    text_bucket: tuple[str, dict[str, Any]],
    bad: dict[str, Any],
    status: int,
    field: str,
    words: str,
) -> None:
    namespace, bucket = text_bucket
    objects = [_text_object(n) for n in range(5)]
    objects[2] = {"blobs": [bad]}

    error = _error(_post(pipeline, namespace, bucket["bucket_id"], {"objects": objects}), status)

    if status == 400:
        assert error["details"]["field"] == field and field in error["message"] and words in error["message"]
    else:
        assert error["details"]["validation_errors"][0]["location"] == field
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == 0
    assert _stored_keys(pipeline, bucket) == []


def test_repeated_properties_and_oversized_metadata_name_their_object(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    twice = {
        "blobs": [
            {"property": "p", "type": "text", "data": "a"},
            {"property": "p", "type": "text", "data": "b"},
        ]
    }
    error = _error(
        _post(pipeline, namespace, bucket["bucket_id"], {"objects": [_text_object(0), twice]}), 400
    )
    assert error["details"]["field"] == "objects[1].blobs[1].property"
    assert "repeats objects[1].blobs[0]" in error["message"]

    heavy = {**_text_object(0), "metadata": {"big": "x" * 20_000}}
    error = _error(_post(pipeline, namespace, bucket["bucket_id"], {"objects": [heavy]}), 413)
    assert error["details"]["field"] == "objects[0].metadata"
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []


def test_an_unknown_bucket_is_a_404(pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]) -> None:
    namespace, _ = text_bucket
    error = _error(_post(pipeline, namespace, "bkt_missing", {"objects": [_text_object(0)]}), 404)
    assert error["details"]["resource"] == "bucket"


# ---------------------------------------------------------------------------------------------
# Storage faults: per object, never half an object


def _failing_puts(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, fails: Any) -> None:
    """The data bucket refuses the manifests `fails(n)` picks (n: the put's order in the batch's
    metadata n); the others go through to moto's S3."""
    blobs = pipeline.container.blobs
    real_put = blobs.put

    def put(key: str, data: bytes, content_type: str, metadata: Any) -> str:
        import json

        if fails(json.loads(data)["metadata"].get("n")):
            raise BlobStoreUnavailableError("the blob store is temporarily unavailable; retry the request")
        return real_put(key, data, content_type, metadata)

    monkeypatch.setattr(blobs, "put", put)


def test_an_object_whose_manifest_cannot_be_stored_is_listed_as_failed_and_removed(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace, bucket = text_bucket
    _failing_puts(pipeline, monkeypatch, lambda n: n == 3)

    answer = ok(
        _post(pipeline, namespace, bucket["bucket_id"], {"objects": [_text_object(n) for n in range(6)]})
    )

    assert answer["succeeded_count"] == 5 and answer["failed_count"] == 1
    assert answer["failed"] == [
        {
            "object_index": 3,
            "error": "the blob store is temporarily unavailable; retry the request",
            "error_type": "ServiceUnavailableError",
        }
    ]
    assert [item["object_index"] for item in answer["succeeded"]] == [0, 1, 2, 4, 5]
    listed = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert sorted(o["metadata"]["n"] for o in listed) == [0, 1, 2, 4, 5]
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == 5


def test_a_batch_none_of_whose_manifests_can_be_stored_is_a_503_leaving_nothing(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace, bucket = text_bucket
    _failing_puts(pipeline, monkeypatch, lambda n: True)

    error = _error(
        _post(pipeline, namespace, bucket["bucket_id"], {"objects": [_text_object(n) for n in range(3)]}), 503
    )

    assert error["type"] == "ServiceUnavailableError"
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []
    assert _bucket_count(pipeline, namespace, bucket["bucket_id"]) == 0
