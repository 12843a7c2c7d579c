"""`queries[].url`: the server fetches the image (https, public hosts only; loopback allowed here by
setting) and embeds it with the index's image-text service (the tiny CLIP model)."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.ingestion_rig import Pipeline, ok, pipeline, png, tiny_clip

__all__ = ["pipeline", "tiny_clip"]  # fixtures

IMAGES = {f"/{shade}.png": png(shade) for shade in (1, 5)}


class _Images(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = IMAGES.get(self.path)
        if body is None:
            self.send_response(302 if self.path == "/redirect" else 404)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def photos(pipeline: Pipeline) -> str:
    """A managed namespace (image_extractor, clip_vit_b32) holding both images as documents."""
    body = {
        "namespace_name": "photos",
        "feature_extractors": [
            {"feature_extractor_name": "image_extractor", "params": {"model": "clip_vit_b32"}}
        ],
    }
    namespace = str(ok(pipeline.client.post("/v1/namespaces", json=body))["namespace_id"])
    headers = {"X-Namespace": namespace}
    bucket = ok(pipeline.client.post("/v1/buckets", json={"bucket_name": "photos"}, headers=headers))
    ok(
        pipeline.client.post(
            "/v1/collections",
            json={
                "collection_name": "clip",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "image_extractor",
                    "parameters": {"model": "clip_vit_b32"},
                },
            },
            headers=headers,
        )
    )
    for path, image in IMAGES.items():
        ok(
            pipeline.client.post(
                f"/v1/buckets/{bucket['bucket_id']}/objects",
                json={
                    "metadata": {"path": path},
                    "blobs": [
                        {"property": "photo", "type": "image", "data": base64.b64encode(image).decode()}
                    ],
                },
                headers=headers,
            )
        )
    pipeline.drain()
    return namespace


def _search(pipeline: Pipeline, namespace: str, url: str) -> Any:
    return pipeline.client.post(
        "/v1/search",
        json={
            "namespace_id": namespace,
            "queries": [{"vector_name": "image_extractor_v1_embedding", "url": url}],
        },
    )


def test_an_image_url_query_finds_the_same_image_first(
    pipeline: Pipeline, photos: str, image_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATUS_ALLOW_PRIVATE_URLS", "true")
    pipeline.rewire()
    for path in IMAGES:
        results = ok(_search(pipeline, photos, f"{image_server}{path}"))["results"]
        assert results[0]["payload"]["metadata"] == {"path": path}
        assert results[0]["score"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/a.png", "only https"),
        ("https://127.0.0.1:9/a.png", "private or local address"),
        ("https://localhost/a.png", "private or local address"),
    ],
)
def test_urls_that_are_not_public_https_are_400s_naming_the_field(
    pipeline: Pipeline, photos: str, url: str, words: str
) -> None:
    answer = _search(pipeline, photos, url)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["details"]["field"] == "queries[0].url" and words in error["message"]


def test_a_redirect_is_not_followed(
    pipeline: Pipeline, photos: str, image_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATUS_ALLOW_PRIVATE_URLS", "true")
    pipeline.rewire()
    answer = _search(pipeline, photos, f"{image_server}/redirect")
    assert answer.status_code == 400 and "without a redirect" in answer.json()["error"]["message"]


def test_a_url_on_a_text_only_index_is_a_400(pipeline: Pipeline, image_server: str) -> None:
    body = {
        "namespace_name": "notes",
        "feature_extractors": [
            {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
        ],
    }
    namespace = ok(pipeline.client.post("/v1/namespaces", json=body))["namespace_id"]
    answer = pipeline.client.post(
        "/v1/search",
        json={
            "namespace_id": namespace,
            "queries": [{"vector_name": "text_extractor_v1_embedding", "url": f"{image_server}/1.png"}],
        },
    )
    assert answer.status_code == 400 and "takes text only" in answer.json()["error"]["message"]
