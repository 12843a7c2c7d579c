"""Managed ingestion end to end on the local stack, over HTTP and the emulated AWS APIs, exactly
as a user would: create a managed namespace, a bucket and a collection, put files in by the
objects API, a presigned URL and a plain `put_object` into the bucket's prefix, wait for the
tasks, and search by raw text. The stack's worker long-polls the emulated queue and calls the
deployed entry point `functions/extractor/app.py`. Runs on both vector stores."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import httpx
import pytest

from tests.e2e.conftest import LocalStack, free_port, start_stack

WAIT_SECONDS = 90.0
FILES = {
    "cats.txt": "Cats purr and sleep on warm windowsills all afternoon.",
    "rockets.md": "# Launch\n\nThe rocket engine burns liquid oxygen and kerosene to reach orbit.",
    "bread.json": json.dumps(
        {"title": "Sourdough", "steps": ["Knead the dough", "Bake the loaf in a hot oven"]}
    ),
}


@pytest.fixture(scope="module", params=["lancedb", "pinecone"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack whose image services run the tiny CLIP model (the real loading code, tiny weights)."""
    from tests.tiny_image_text_models import build_tiny_clip

    workdir = tmp_path_factory.mktemp(f"ingest-{request.param}")
    env = {"STRATUS_CLIP_WEIGHTS_URI": str(build_tiny_clip(workdir / "clip"))}
    with contextlib.ExitStack() as resources:
        if request.param == "pinecone":
            from tests.loopback_pinecone import LoopbackPinecone

            server = resources.enter_context(LoopbackPinecone())
            env |= {
                "STRATUS_VECTOR_STORE": "pinecone",
                "STRATUS_PINECONE_API_KEY": server.api_key,
                "STRATUS_PINECONE_CONTROL_PLANE_HOST": server.url,
            }
        running = start_stack(workdir, port=free_port(), env=env)
        yield running
        running.assert_stops_cleanly()


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


def _aws(stack: LocalStack, service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=stack.aws_endpoint_url)  # type: ignore[call-overload]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_for(what: str, check: Callable[[], Any], stack: LocalStack) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}\n{stack.log()[-4000:]}")


def _objects(api: httpx.Client, namespace: str, bucket_id: str) -> list[dict[str, Any]]:
    listed = _ok(
        api.get(f"/v1/buckets/{bucket_id}/objects", params={"limit": 100}, headers={"X-Namespace": namespace})
    )
    objects: list[dict[str, Any]] = listed["results"]
    return objects


def _settled(api: httpx.Client, namespace: str, bucket_id: str, count: int) -> list[dict[str, Any]] | None:
    objects = _objects(api, namespace, bucket_id)
    done = [o for o in objects if o["status"] in ("COMPLETED", "FAILED")]
    return objects if len(objects) == count and len(done) == count else None


def _managed(
    api: httpx.Client, name: str, extractor: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    namespace = _ok(
        api.post("/v1/namespaces", json={"namespace_name": name, "feature_extractors": [extractor]})
    )
    headers = {"X-Namespace": namespace["namespace_id"]}
    bucket = _ok(api.post("/v1/buckets", json={"bucket_name": f"{name}-files"}, headers=headers))
    collection = _ok(
        api.post(
            "/v1/collections",
            json={
                "collection_name": f"{name}-collection",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": extractor["feature_extractor_name"],
                    "version": "v1",
                    "parameters": extractor.get("params", {}),
                },
            },
            headers=headers,
        )
    )
    return namespace["namespace_id"], bucket, collection


def _bucket_key(stack: LocalStack, bucket: dict[str, Any], rest: str) -> str:
    return str(bucket["s3_uri"]).removeprefix(f"s3://{stack.info['data_bucket']}/") + rest


def _png(shade: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), color=(shade, 255 - shade, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_three_ways_in_and_each_file_is_found_first_by_its_own_words(
    stack: LocalStack, api: httpx.Client
) -> None:
    extractor = {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
    namespace, bucket, collection = _managed(api, "e2e-notes", extractor)
    headers = {"X-Namespace": namespace}
    # 1. the objects API
    via_api = _ok(
        api.post(
            f"/v1/buckets/{bucket['bucket_id']}/objects",
            json={
                "metadata": {"via": "api"},
                "blobs": [{"property": "body", "type": "text", "data": FILES["cats.txt"]}],
            },
            headers=headers,
        )
    )
    # 2. a presigned URL: one plain HTTP PUT, no AWS SDK
    upload = _ok(
        api.post(
            f"/v1/buckets/{bucket['bucket_id']}/uploads",
            json={"filename": "rockets.md", "content_type": "text/markdown", "metadata": {"via": "upload"}},
            headers=headers,
        )
    )
    put = httpx.put(upload["presigned_url"], content=FILES["rockets.md"].encode(), headers=upload["headers"])
    assert put.status_code == 200, put.text
    # 3. a plain S3 put into the bucket's prefix (a space in the key: it arrives URL-encoded)
    _aws(stack, "s3").put_object(
        Bucket=stack.info["data_bucket"],
        Key=_bucket_key(stack, bucket, "kitchen notes/bread.json"),
        Body=FILES["bread.json"].encode(),
        Metadata={"via": "s3"},
    )

    objects = _wait_for(
        "three objects processed", lambda: _settled(api, namespace, bucket["bucket_id"], 3), stack
    )

    assert {o["status"] for o in objects} == {"COMPLETED"}, objects
    assert {o["source"] for o in objects} == {"api", "upload", "s3"}
    for listed in objects:
        task = _ok(api.get(f"/v1/tasks/{listed['task_id']}", headers=headers))
        assert task["status"] == "COMPLETED" and task["outputs"][0]["collections"] == {
            collection["collection_id"]: 1
        }
    assert via_api["object_id"] in {o["object_id"] for o in objects}
    for query, via, words in [
        ("a kitten napping in the sun", "api", "Cats purr"),
        ("spacecraft propulsion", "upload", "rocket engine"),
        ("baking bread at home", "s3", "Sourdough"),
    ]:
        found = _ok(
            api.post(
                "/v1/search",
                json={
                    "namespace_id": namespace,
                    "queries": [{"vector_name": "text_extractor_v1_embedding", "text": query, "top_k": 3}],
                },
            )
        )["results"]
        assert found[0]["payload"]["metadata"] == {"via": via} and words in found[0]["payload"]["text"], (
            query,
            found,
        )
    described = _ok(api.get(f"/v1/namespaces/{namespace}"))
    assert (described["object_count"], described["document_count"], described["bucket_count"]) == (3, 3, 1)


def test_images_are_embedded_by_the_image_model_at_the_index_dimension(
    stack: LocalStack, api: httpx.Client
) -> None:
    extractor = {"feature_extractor_name": "image_extractor", "params": {"model": "clip_vit_b32"}}
    namespace, bucket, _ = _managed(api, "e2e-photos", extractor)
    headers = {"X-Namespace": namespace}
    _ok(
        api.post(
            f"/v1/buckets/{bucket['bucket_id']}/objects",
            json={
                "blobs": [{"property": "photo", "type": "image", "data": base64.b64encode(_png(10)).decode()}]
            },
            headers=headers,
        )
    )
    _aws(stack, "s3").put_object(
        Bucket=stack.info["data_bucket"], Key=_bucket_key(stack, bucket, "b.png"), Body=_png(200)
    )

    objects = _wait_for(
        "two images processed", lambda: _settled(api, namespace, bucket["bucket_id"], 2), stack
    )

    assert {o["status"] for o in objects} == {"COMPLETED"}, objects
    documents = _ok(
        api.post(f"/v1/namespaces/{namespace}/documents/list", json={"limit": 10, "return_vectors": True})
    )["results"]
    assert len(documents) == 2
    assert {len(d["vectors"]["image_extractor_v1_embedding"]) for d in documents} == {512}
    assert {d["payload"]["content_type"] for d in documents} == {"image/png"}


def test_a_corrupt_image_fails_with_its_reason_and_its_message_ends_in_the_dead_letter_queue(
    stack: LocalStack, api: httpx.Client
) -> None:
    extractor = {"feature_extractor_name": "image_extractor", "params": {"model": "clip_vit_b32"}}
    namespace, bucket, _ = _managed(api, "e2e-broken", extractor)
    key = _bucket_key(stack, bucket, "broken.png")
    _aws(stack, "s3").put_object(
        Bucket=stack.info["data_bucket"], Key=key, Body=b"\x89PNG\r\n\x1a\nnot an image"
    )
    _aws(stack, "s3").put_object(
        Bucket=stack.info["data_bucket"], Key=_bucket_key(stack, bucket, "ok.png"), Body=_png(1)
    )

    objects = _wait_for(
        "both images settled", lambda: _settled(api, namespace, bucket["bucket_id"], 2), stack
    )
    by_name = {o["key"].rsplit("/", 1)[-1]: o for o in objects}
    assert by_name["ok.png"]["status"] == "COMPLETED"
    assert by_name["broken.png"]["status"] == "FAILED" and "image" in by_name["broken.png"]["error"].lower()

    sqs = _aws(stack, "sqs")

    def dead_lettered() -> bool:
        messages = sqs.receive_message(
            QueueUrl=stack.info["dead_letter_queue_url"], MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return any(
            key in unquote_plus(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"]) for m in messages
        )

    _wait_for("the poison message in the dead-letter queue", dead_lettered, stack)


def test_a_redelivered_notification_changes_nothing(stack: LocalStack, api: httpx.Client) -> None:
    extractor = {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
    namespace, bucket, _ = _managed(api, "e2e-redelivery", extractor)
    key = _bucket_key(stack, bucket, "cats.txt")
    s3 = _aws(stack, "s3")
    s3.put_object(Bucket=stack.info["data_bucket"], Key=key, Body=FILES["cats.txt"].encode())
    (first,) = _wait_for(
        "the object processed", lambda: _settled(api, namespace, bucket["bucket_id"], 1), stack
    )
    before = _ok(api.get(f"/v1/namespaces/{namespace}"))
    etag = s3.head_object(Bucket=stack.info["data_bucket"], Key=key)["ETag"].strip('"')
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": stack.info["data_bucket"]},
                    "object": {"key": key.replace(" ", "+"), "eTag": etag, "size": len(FILES["cats.txt"])},
                },
            }
        ]
    }
    sqs = _aws(stack, "sqs")
    for _ in range(2):  # at-least-once delivery, twice more
        sqs.send_message(QueueUrl=stack.info["ingest_queue_url"], MessageBody=json.dumps(notification))

    _wait_for(
        "the queue to drain",
        lambda: (
            sqs.get_queue_attributes(
                QueueUrl=stack.info["ingest_queue_url"],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
        ),
        stack,
    )
    after = _ok(api.get(f"/v1/namespaces/{namespace}"))
    assert (
        (after["document_count"], after["object_count"])
        == (before["document_count"], before["object_count"])
        == (1, 1)
    )
    assert _objects(api, namespace, bucket["bucket_id"]) == [first]


def test_a_key_outside_any_bucket_is_consumed_quietly(stack: LocalStack) -> None:
    """Keys outside any Stratus bucket are ignored by the extractor, never retried forever."""
    s3 = _aws(stack, "s3")
    s3.put_object(Bucket=stack.info["data_bucket"], Key="not-a-bucket/file.txt", Body=b"stray")
    sqs = _aws(stack, "sqs")
    _wait_for(
        "the stray event consumed",
        lambda: (
            sqs.get_queue_attributes(
                QueueUrl=stack.info["ingest_queue_url"],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
        ),
        stack,
    )
    assert "Traceback" not in stack.log()
