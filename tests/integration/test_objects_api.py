"""The objects and uploads routes: what they accept, what they refuse (a 4xx naming the field), and
that a failed S3 write leaves nothing behind."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from stratus import limits
from stratus.settings import Settings
from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    NOTES,
    Pipeline,
    objects_of,
    ok,
    pipeline,
    png,
    search_text,
    setup_text,
    tiny_clip,
)
from tests.unit.test_ingestion_parts import png_header

__all__ = ["pipeline", "tiny_clip"]  # fixtures


@pytest.fixture
def text_bucket(pipeline: Pipeline) -> tuple[str, dict[str, Any]]:
    namespace, bucket, _ = setup_text(pipeline)
    return namespace, bucket


def _post_object(pipeline: Pipeline, namespace: str, bucket_id: str, body: dict[str, Any]) -> Any:
    return pipeline.client.post(
        f"/v1/buckets/{bucket_id}/objects", json=body, headers={"X-Namespace": namespace}
    )


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["status"] == status
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("blob", "field", "words"),
    [
        ({"property": "p", "type": "image", "data": "not base64!!"}, "blobs[0].data", "base64"),
        (
            {"property": "p", "type": "image", "data": base64.b64encode(b"plain bytes").decode()},
            "blobs[0].data",
            "JPEG, PNG or WebP",
        ),
        ({"property": "p", "type": "image", "data": "data:image/png,abc"}, "blobs[0].data", "data URI"),
        ({"property": "p", "type": "text", "data": "http://example.com/a.txt"}, "blobs[0].data", "https"),
        ({"property": "p", "type": "text", "data": "https://127.0.0.1:9/a.txt"}, "blobs[0].data", "private"),
        (
            {
                "property": "p",
                "type": "text",
                "data": "data:text/plain;base64," + base64.b64encode(b"\xff").decode(),
            },
            "blobs[0].data",
            "UTF-8",
        ),
    ],
)
def test_bad_blobs_are_400s_naming_the_field(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]], blob: dict[str, Any], field: str, words: str
) -> None:
    namespace, bucket = text_bucket
    error = _error(_post_object(pipeline, namespace, bucket["bucket_id"], {"blobs": [blob]}), 400)
    assert error["details"]["field"] == field and words in error["message"]
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []


def test_images_past_the_objects_pixel_budget_are_refused_before_anything_is_stored(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    bomb = base64.b64encode(png_header(7000, 7000)).decode()  # 49 MP declared in 57 bytes
    blobs = [{"property": f"p{i}", "type": "image", "data": bomb} for i in range(16)]
    error = _error(_post_object(pipeline, namespace, bucket["bucket_id"], {"blobs": blobs}), 400)
    fitting = limits.MAX_OBJECT_IMAGE_PIXELS // (7000 * 7000)
    assert error["details"]["field"] == f"blobs[{fitting}]"
    assert error["details"]["limit"] == limits.MAX_OBJECT_IMAGE_PIXELS
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []


def test_object_rules(pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]) -> None:
    namespace, bucket = text_bucket
    text = {"property": "p", "type": "text", "data": "x"}
    repeated = _error(_post_object(pipeline, namespace, bucket["bucket_id"], {"blobs": [text, text]}), 400)
    assert repeated["details"]["field"] == "blobs[1].property"
    prefix = _error(
        _post_object(pipeline, namespace, bucket["bucket_id"], {"key_prefix": "a/../b", "blobs": [text]}), 400
    )
    assert prefix["details"]["field"] == "key_prefix"
    big = _error(
        _post_object(
            pipeline, namespace, bucket["bucket_id"], {"metadata": {"m": "x" * 17_000}, "blobs": [text]}
        ),
        413,
    )
    assert big["details"]["field"] == "metadata"
    assert _error(_post_object(pipeline, namespace, bucket["bucket_id"], {"blobs": []}), 422)
    assert _error(_post_object(pipeline, namespace, "bkt_missing", {"blobs": [text]}), 404)["details"] == {
        "resource": "bucket",
        "id": "bkt_missing",
    }
    missing_header = pipeline.client.post(
        f"/v1/buckets/{bucket['bucket_id']}/objects", json={"blobs": [text]}
    )
    assert _error(missing_header, 400)["details"] == {"header": "X-Namespace"}
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []


def test_an_object_with_text_and_image_blobs_is_one_object_read_by_each_extractor_it_suits(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    body = {
        "metadata": {"sku": "A-1"},
        "blobs": [
            {"property": "title", "type": "text", "data": NOTES["cats.txt"]},
            {
                "property": "photo",
                "type": "image",
                "data": "data:image/png;base64," + base64.b64encode(png()).decode(),
            },
        ],
    }
    created = ok(_post_object(pipeline, namespace, bucket["bucket_id"], body))
    assert [(b["property"], b["type"], b["content_type"]) for b in created["blobs"]] == [
        ("title", "text", "text/plain"),
        ("photo", "image", "image/png"),
    ]
    stored = pipeline.s3.head_object(Bucket=DATA_BUCKET, Key=created["key"])
    assert stored["ETag"].strip('"') == created["etag"]  # the task id was right before the write

    pipeline.drain()

    (done,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert done["status"] == "COMPLETED" and done["document_count"] == 1  # text_extractor skips the image
    (hit,) = search_text(pipeline, namespace, "kitten")
    assert hit["payload"]["property"] == "title" and hit["payload"]["metadata"] == {"sku": "A-1"}


class _Files(http.server.BaseHTTPRequestHandler):
    body = b"The lighthouse keeper watched the storm roll in over the harbour."

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def file_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/story.txt"
    server.shutdown()
    server.server_close()


def test_a_blob_url_is_fetched_once_when_private_urls_are_allowed(
    pipeline: Pipeline,
    text_bucket: tuple[str, dict[str, Any]],
    file_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    namespace, bucket = text_bucket
    blob = {"property": "story", "type": "text", "data": file_server}
    refused = _error(_post_object(pipeline, namespace, bucket["bucket_id"], {"blobs": [blob]}), 400)
    assert "only https" in refused["message"]

    monkeypatch.setenv("STRATUS_ALLOW_PRIVATE_URLS", "true")
    pipeline.rewire()
    ok(_post_object(pipeline, namespace, bucket["bucket_id"], {"blobs": [blob]}))
    pipeline.drain()

    (hit,) = search_text(pipeline, namespace, "a storm at sea")
    assert hit["payload"]["text"] == _Files.body.decode()


def test_a_failed_s3_write_leaves_no_object_behind(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    namespace, bucket = text_bucket

    def unreachable(**kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://s3.example")

    # The container's own S3 client, as the route uses it: only its PutObject fails.
    monkeypatch.setattr(pipeline.container.blobs.client, "put_object", unreachable)  # type: ignore[attr-defined]
    response = _post_object(
        pipeline, namespace, bucket["bucket_id"], {"blobs": [{"property": "p", "type": "text", "data": "x"}]}
    )

    error = _error(response, 503)
    assert response.headers["Retry-After"] == "1" and error["details"]["dependency"] == "s3"
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []
    assert (
        ok(pipeline.client.get(f"/v1/buckets/{bucket['bucket_id']}", headers={"X-Namespace": namespace}))[
            "object_count"
        ]
        == 0
    )


# ---------------------------------------------------------------------------------------------
# Presigned uploads


def _upload(pipeline: Pipeline, namespace: str, bucket_id: str, body: dict[str, Any]) -> Any:
    return pipeline.client.post(
        f"/v1/buckets/{bucket_id}/uploads", json=body, headers={"X-Namespace": namespace}
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "slides.pdf", "content_type": "application/pdf"}, "filename"),
        ({"filename": "../etc/passwd.txt", "content_type": "text/plain"}, "filename"),
        ({"filename": "notes.txt", "content_type": "text plain"}, "content_type"),
        ({"filename": "notes.txt", "content_type": "text/plain", "key_prefix": "/.."}, "key_prefix"),
    ],
)
def test_bad_uploads_are_400s_naming_the_field(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    namespace, bucket = text_bucket
    assert _error(_upload(pipeline, namespace, bucket["bucket_id"], body), 400)["details"]["field"] == field
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []


def test_a_put_to_the_presigned_url_is_processed_like_any_object(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    upload = ok(
        _upload(
            pipeline,
            namespace,
            bucket["bucket_id"],
            {"filename": "rockets.md", "content_type": "text/markdown", "metadata": {"team": "propulsion"}},
        )
    )
    assert upload["upload_id"].startswith("upl_") and upload["method"] == "PUT"
    assert upload["s3_key"].endswith(f"{upload['upload_id']}/rockets.md")
    # No object before its file arrives (an upload never PUT leaves nothing behind).
    assert upload["status"] == "PENDING" and objects_of(pipeline, namespace, bucket["bucket_id"]) == []

    put = requests.put(
        upload["presigned_url"], data=NOTES["rockets.md"].encode(), headers=upload["headers"], timeout=10
    )
    assert put.status_code == 200, put.text
    pipeline.drain()

    (done,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert done["status"] == "COMPLETED" and done["source"] == "upload" and done["task_id"]
    assert done["object_id"] == upload["object_id"] and done["size_bytes"] == len(
        NOTES["rockets.md"].encode()
    )
    (hit,) = search_text(pipeline, namespace, "orbital launch vehicle")
    assert hit["payload"]["metadata"] == {"team": "propulsion"} and hit["payload"]["filename"] == "rockets.md"


def test_an_upload_that_declares_its_size_gets_a_url_for_exactly_that_many_bytes(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    data = NOTES["rockets.md"].encode()
    body = {"filename": "rockets.md", "content_type": "text/markdown", "file_size_bytes": len(data)}
    upload = ok(_upload(pipeline, namespace, bucket["bucket_id"], body))
    assert upload["headers"] == {"Content-Type": "text/markdown", "Content-Length": str(len(data))}
    signed = parse_qs(urlsplit(upload["presigned_url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "content-length" in signed  # S3 refuses a PUT of any other length
    put = requests.put(upload["presigned_url"], data=data, headers=upload["headers"], timeout=10)
    assert put.status_code == 200, put.text
    pipeline.drain()
    (done,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert done["status"] == "COMPLETED"


def test_an_upload_larger_than_the_extractor_reads_is_refused_before_any_url_is_made(
    pipeline: Pipeline, text_bucket: tuple[str, dict[str, Any]]
) -> None:
    namespace, bucket = text_bucket
    limit = Settings().max_object_bytes
    body = {"filename": "big.txt", "content_type": "text/plain", "file_size_bytes": limit + 1}
    error = _error(_upload(pipeline, namespace, bucket["bucket_id"], body), 413)
    assert error["details"] == {"field": "file_size_bytes", "size": limit + 1, "limit": limit}
    zero = _error(_upload(pipeline, namespace, bucket["bucket_id"], {**body, "file_size_bytes": 0}), 422)
    assert zero["details"]["validation_errors"][0]["location"] == "file_size_bytes"
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []
