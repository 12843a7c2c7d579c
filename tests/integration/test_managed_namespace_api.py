"""`POST /v1/namespaces` over the app in-process (moto DynamoDB + real LanceDB): the exact body
of create-namespace.txt, and the guard on extractor-required payload indexes."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.seed_bodies import CREATE_NAMESPACE_SEED_BODY
from tests.wiring import WiredApi

SEED_BODY = CREATE_NAMESPACE_SEED_BODY

DOCUMENTED_FIELDS = {
    "namespace_name", "namespace_id", "infrastructure", "cluster_id", "description", "feature_extractors",
    "payload_indexes", "document_count", "bucket_count", "collection_count", "object_count",
    "auto_create_indexes", "vector_inference_map", "created_at", "updated_at",
}  # fmt: skip


@pytest.fixture
def client(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[TestClient]:
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    key = create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0]
    with wired_api().client() as test_client:
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


def test_the_seeds_exact_body_succeeds_with_the_documented_shape(client: TestClient) -> None:
    response = client.post("/v1/namespaces", json=SEED_BODY)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= DOCUMENTED_FIELDS
    assert body["namespace_id"].startswith("ns_") and body["mode"] == "managed"
    assert body["vector_inference_map"] == {
        "multimodal_extractor_v1_embedding": "clip_vit_b32",
        "image_extractor_v1_embedding": "google_siglip_base_v1",
    }
    assert {(c["name"], c["dimension"]) for c in body["vector_configs"]} == {
        ("multimodal_extractor_v1_embedding", 512),
        ("image_extractor_v1_embedding", 768),
    }
    indexes = {index["field_name"]: index for index in body["payload_indexes"]}
    assert indexes["metadata.title"]["type"] == "text" and indexes["metadata.title"]["state"] == "ready"
    assert indexes["metadata.description"]["type"] == "keyword"
    assert body["auto_create_indexes"] is True and body["document_count"] == 0
    assert (
        client.get(f"/v1/namespaces/{body['namespace_id']}").json()["namespace_name"]
        == "spotify_playlists_dev"
    )
    assert client.get("/v1/namespaces/spotify_playlists_dev").status_code == 200


def test_the_same_name_twice_is_409(client: TestClient) -> None:
    assert client.post("/v1/namespaces", json=SEED_BODY).status_code == 200

    response = client.post("/v1/namespaces", json=SEED_BODY)

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "AlreadyExistsError"


def test_an_unknown_extractor_is_400_listing_the_available_ones(client: TestClient) -> None:
    body = copy.deepcopy(SEED_BODY)
    body["feature_extractors"][0]["feature_extractor_name"] = "video_extractor"
    body["feature_extractors"][0].pop("feature_extractor_id")

    response = client.post("/v1/namespaces", json=body)

    assert response.status_code == 400, response.text
    assert "text_extractor_v1" in response.json()["error"]["details"]["available_extractors"]


def test_an_extractor_required_index_cannot_change_type(client: TestClient) -> None:
    namespace_id = client.post("/v1/namespaces", json=SEED_BODY).json()["namespace_id"]

    response = client.post(
        f"/v1/namespaces/{namespace_id}/payload-indexes", json={"field_name": "modality", "type": "integer"}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["required_type"] == "keyword"
    indexes = {
        i["field_name"]: i for i in client.get(f"/v1/namespaces/{namespace_id}").json()["payload_indexes"]
    }
    assert indexes["modality"]["type"] == "keyword"
