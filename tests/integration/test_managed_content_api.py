"""Buckets, collections, tasks and the extractor catalogue over the app in-process (moto DynamoDB +
real LanceDB): CRUD, the `X-Namespace` header, organization isolation and the collection rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.integration.test_managed_namespace_api import SEED_BODY
from tests.wiring import WiredApi

TEXT_BODY: dict[str, Any] = {
    "namespace_name": "notes",
    "feature_extractors": [
        {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
    ],
}


@pytest.fixture
def stratus(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[tuple[TestClient, str]]:
    """A client of org_a, and the raw key of org_b (for isolation checks)."""
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", "test-data")
    import boto3

    # Deletes of buckets and namespaces clear their folder of the data bucket.
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="test-data")
    key_a = create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0]
    key_b = create_api_key(moto_dynamodb, "org_b", "admin", ["read", "write", "admin"])[0]
    with wired_api().client() as test_client:
        test_client.headers["Authorization"] = f"Bearer {key_a}"
        yield test_client, key_b


@pytest.fixture
def client(stratus: tuple[TestClient, str]) -> TestClient:
    return stratus[0]


def _namespace(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/namespaces", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def _bucket(client: TestClient, namespace: str, name: str = "photos") -> dict[str, Any]:
    response = client.post(
        "/v1/buckets",
        json={"bucket_name": name, "description": "d", "bucket_schema": {"title": "text"}},
        headers={"X-Namespace": namespace},
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def _collection_body(bucket_ids: list[str], name: str, **extractor: Any) -> dict[str, Any]:
    return {
        "collection_name": "c1",
        "source": {"type": "bucket", "bucket_ids": bucket_ids},
        "feature_extractor": {"feature_extractor_name": name, "version": "v1", **extractor},
    }


def test_bucket_crud(client: TestClient) -> None:
    namespace = _namespace(client, SEED_BODY)
    headers = {"X-Namespace": namespace["namespace_id"]}

    bucket = _bucket(client, namespace["namespace_name"])  # the header takes the name too

    assert bucket["bucket_id"].startswith("bkt_")
    assert bucket["s3_uri"].startswith("s3://test-data/") and bucket["s3_uri"].endswith(
        f"/{bucket['bucket_id']}/"
    )
    assert bucket["namespace_id"] == namespace["namespace_id"] and bucket["object_count"] == 0
    assert bucket["bucket_schema"] == {"title": "text"}
    assert bucket["total_size_bytes"] == 0 and bucket.pop("warnings") == []
    got = client.get(f"/v1/buckets/{bucket['bucket_id']}", headers=headers)
    assert got.status_code == 200 and got.json() == bucket
    second = _bucket(client, namespace["namespace_id"], "docs")
    listed = client.get("/v1/buckets?limit=1&include_total=true", headers=headers).json()
    assert listed["pagination"]["page_size"] == 1 and listed["pagination"]["total"] == 2
    rest = client.get(f"/v1/buckets?cursor={listed['pagination']['next_cursor']}", headers=headers).json()
    assert {b["bucket_id"] for b in listed["results"] + rest["results"]} == {
        bucket["bucket_id"],
        second["bucket_id"],
    }
    assert rest["pagination"]["next_cursor"] is None

    deleted = client.delete(f"/v1/buckets/{bucket['bucket_id']}", headers=headers)

    assert deleted.status_code == 200, deleted.text
    assert client.get(f"/v1/buckets/{bucket['bucket_id']}", headers=headers).status_code == 404
    assert _bucket(client, namespace["namespace_id"])["bucket_name"] == "photos"  # the name is free again


def test_duplicate_bucket_name_is_409(client: TestClient) -> None:
    namespace = _namespace(client, SEED_BODY)["namespace_id"]
    _bucket(client, namespace)

    response = client.post("/v1/buckets", json={"bucket_name": "photos"}, headers={"X-Namespace": namespace})

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "AlreadyExistsError"


def test_missing_header_is_400_and_unknown_namespace_404(client: TestClient) -> None:
    missing = client.get("/v1/buckets")
    assert missing.status_code == 400
    assert "X-Namespace" in missing.json()["error"]["message"]
    unknown = client.get("/v1/collections", headers={"X-Namespace": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["details"]["resource"] == "namespace"


def test_another_organization_sees_nothing(stratus: tuple[TestClient, str]) -> None:
    client, key_b = stratus
    namespace = _namespace(client, SEED_BODY)["namespace_id"]
    bucket = _bucket(client, namespace)
    other = {"Authorization": f"Bearer {key_b}"}

    assert client.get("/v1/buckets", headers={**other, "X-Namespace": namespace}).status_code == 404
    own = _namespace_of_b(client, other)
    response = client.get(f"/v1/buckets/{bucket['bucket_id']}", headers={**other, "X-Namespace": own})
    assert response.status_code == 404
    assert response.json()["error"]["details"]["resource"] == "bucket"


def _namespace_of_b(client: TestClient, other: dict[str, str]) -> str:
    response = client.post("/v1/namespaces", json=SEED_BODY, headers=other)
    assert response.status_code == 200, response.text
    namespace_id: str = response.json()["namespace_id"]
    return namespace_id


def test_collection_crud_on_the_seed_namespace_and_counts(client: TestClient) -> None:
    namespace = _namespace(client, SEED_BODY)["namespace_id"]
    headers = {"X-Namespace": namespace}
    bucket = _bucket(client, namespace)["bucket_id"]

    response = client.post(
        "/v1/collections",
        json=_collection_body([bucket], "image_extractor", input_mappings={"image": "photo"}),
        headers=headers,
    )

    assert response.status_code == 200, response.text
    collection = response.json()
    assert collection["collection_id"].startswith("col_") and collection["enabled"] is True
    assert collection["vector_index"] == "image_extractor_v1_embedding"
    assert collection["feature_extractor"]["parameters"] == {"model": "siglip_base"}
    assert collection["feature_extractor"]["input_mappings"] == {"image": "photo"}
    assert collection["source"] == {"type": "bucket", "bucket_ids": [bucket], "field_map": {}}
    assert collection.pop("warnings") == []
    path = f"/v1/collections/{collection['collection_id']}"
    assert client.get(path, headers=headers).json() == collection
    assert [c["collection_id"] for c in client.get("/v1/collections", headers=headers).json()["results"]] == [
        collection["collection_id"]
    ]
    counts = client.get(f"/v1/namespaces/{namespace}").json()
    assert (counts["bucket_count"], counts["collection_count"]) == (1, 1)
    assert len(client.get("/v1/namespaces").json()["results"]) == 1  # buckets are not namespaces

    assert client.delete(path, headers=headers).status_code == 200
    assert client.get(path, headers=headers).status_code == 404
    assert client.get(f"/v1/namespaces/{namespace}").json()["collection_count"] == 0


def test_text_extractor_collection_uses_the_minilm_index(client: TestClient) -> None:
    namespace = _namespace(client, TEXT_BODY)["namespace_id"]
    bucket = _bucket(client, namespace)["bucket_id"]
    body = _collection_body([bucket], "text_extractor", parameters={"inference_service": "minilm_l6_v2"})

    response = client.post("/v1/collections", json=body, headers={"X-Namespace": namespace})

    assert response.status_code == 200, response.text
    assert response.json()["vector_index"] == "text_extractor_v1_embedding"
    assert response.json()["feature_extractor"]["parameters"]["chunk_size"] == 1000


def test_extractor_without_a_mapped_index_is_400(client: TestClient) -> None:
    namespace = _namespace(client, TEXT_BODY)["namespace_id"]
    bucket = _bucket(client, namespace)["bucket_id"]

    # text_extractor defaults to openai_text_3_small, which no index of this namespace uses.
    response = client.post(
        "/v1/collections",
        json=_collection_body([bucket], "text_extractor"),
        headers={"X-Namespace": namespace},
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["inference_service"] == "openai_text_3_small"


def test_missing_source_bucket_is_400_naming_it(client: TestClient) -> None:
    namespace = _namespace(client, SEED_BODY)["namespace_id"]

    response = client.post(
        "/v1/collections",
        json=_collection_body(["bkt_missing"], "image_extractor"),
        headers={"X-Namespace": namespace},
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["missing_bucket_ids"] == ["bkt_missing"]


def test_collection_on_a_standalone_namespace_is_400(client: TestClient) -> None:
    body = {"namespace_id": "plain", "vector_configs": [{"name": "v", "dimension": 4}]}
    assert client.post("/v1/namespaces/standalone", json=body).status_code == 200
    bucket = _bucket(client, "plain")["bucket_id"]

    response = client.post(
        "/v1/collections",
        json=_collection_body([bucket], "image_extractor"),
        headers={"X-Namespace": "plain"},
    )

    assert response.status_code == 400
    assert "standalone" in response.json()["error"]["message"]


def test_extractor_catalogue_lists_three_extractors_without_a_key(client: TestClient) -> None:
    # The SDK's FeatureExtractorsApi sends neither a key nor X-Namespace, and wants a bare array.
    response = client.get("/v1/collections/features/extractors", headers={"Authorization": ""})

    assert response.status_code == 200, response.text
    extractors = {item["feature_extractor_id"]: item for item in response.json()}
    assert set(extractors) == {"text_extractor_v1", "image_extractor_v1", "multimodal_extractor_v1"}
    for extractor in extractors.values():
        assert extractor["vector_index"]["name"] == f"{extractor['feature_extractor_id']}_embedding"
        assert extractor["parameter_schema"]["properties"]
    assert extractors["image_extractor_v1"]["vector_index"]["inference_service"] == "google_siglip_base_v1"
    one = client.get("/v1/collections/features/extractors/image_extractor", headers={"Authorization": ""})
    assert one.status_code == 200 and one.json() == extractors["image_extractor_v1"]
    missing = client.get("/v1/collections/features/extractors/video_extractor_v9")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFoundError"


def test_tasks_are_scoped_and_unknown_ids_404(
    client: TestClient, moto_dynamodb: DynamoDBMetadataStore
) -> None:
    from stratus.models.managed_content import Task

    namespace = _namespace(client, SEED_BODY)["namespace_id"]
    headers = {"X-Namespace": namespace}
    assert client.get("/v1/tasks/task_unknown", headers=headers).status_code == 404
    task = Task(
        task_id="task_1",
        task_type="object_processing",
        status="PROCESSING",
        inputs={"object_id": "obj_1"},
        org_id="org_a",
        namespace_id=namespace,
        created_at="2025-01-01T00:00:00Z",
        updated_at="2025-01-01T00:00:00Z",
    )
    moto_dynamodb.put_task(task)

    response = client.get("/v1/tasks/task_1", headers=headers)

    assert response.status_code == 200, response.text
    # The SDK's TaskResponse: a TaskType value, inputs and outputs as arrays (api.md, decisions).
    assert response.json() == {
        "task_id": "task_1",
        "task_type": "engine_object_processing",
        "status": "PROCESSING",
        "inputs": [{"object_id": "obj_1"}],
        "outputs": [],
        "additional_data": {
            "namespace_id": namespace,
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z",
        },
        "error": None,
        # A backfill's progress (services/backfill); none on other tasks.
        "processed": None,
        "skipped": None,
        "failed": None,
        "total": None,
        "eta_seconds": None,
    }
    # Found by id within the caller's organization: X-Namespace is optional (the SDK's TasksApi
    # never sends it), and when given it must be the task's namespace.
    assert client.get("/v1/tasks/task_1").json() == response.json()
    other = _namespace(client, {**SEED_BODY, "namespace_name": "another"})["namespace_id"]
    assert client.get("/v1/tasks/task_1", headers={"X-Namespace": other}).status_code == 404
    moto_dynamodb.put_task(task.model_copy(update={"task_id": "task_2", "org_id": "org_b"}))
    assert client.get("/v1/tasks/task_2", headers=headers).status_code == 404
    assert client.get("/v1/tasks/task_2").status_code == 404


def test_deleting_the_namespace_takes_its_buckets_and_collections_along(client: TestClient) -> None:
    created = client.post("/v1/namespaces/standalone", json={"namespace_id": "reborn"})
    assert created.status_code == 200, created.text
    bucket = client.post("/v1/buckets", json={"bucket_name": "raw"}, headers={"X-Namespace": "reborn"})
    assert bucket.status_code == 200, bucket.text

    assert client.delete("/v1/namespaces/reborn").status_code == 200
    assert client.post("/v1/namespaces/standalone", json={"namespace_id": "reborn"}).status_code == 200

    listed = client.get("/v1/buckets", headers={"X-Namespace": "reborn"}).json()
    assert listed["results"] == []
    assert client.get("/v1/namespaces/reborn").json()["bucket_count"] == 0
