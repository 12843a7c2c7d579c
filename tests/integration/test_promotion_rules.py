"""Every promotion rule of api.md through the whole app in-process (Starlette's TestClient, moto's
DynamoDB with the template's table, LanceDB in a temp directory), and atomicity: a failure
injected after validation and before or at the commit leaves the namespace item byte-for-byte
as it was, writes no audit record, and a retry without the fault succeeds.

Concurrency is tests/integration/test_promotion_concurrency.py's job (on DynamoDB Local)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.container import Container
from tests.wiring import WiredApi

TABLE = "stratus"  # the moto_dynamodb fixture's table
DIM = 384  # minilm_l6_v2's output dimension
NS = "legal-docs"
PROMOTE = f"/v1/namespaces/{NS}/promote"
MINILM_MAPPING = {"existing_index": "text_embedding", "inference_service": "minilm_l6_v2"}
RESPONSE_KEYS = {"namespace_id", "previous_mode", "mode", "status", "vector_configs", "vector_inference_map"}
CATALOGUE_NAMES = {
    "openai_text_3_small",
    "openai_text_3_large",
    "minilm_l6_v2",
    "clip_vit_b32",
    "google_siglip_base_v1",
}


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]  # "a" (admin, org_a), "a_read" (read-only, org_a), "b" (admin, org_b)
    store: DynamoDBMetadataStore  # the fixture's store: same moto table as the app's
    container: Container  # the app's

    def call(self, method: str, path: str, key: str = "a", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[key]}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def raw_namespace(self, namespace_id: str = NS) -> dict[str, Any]:
        """The namespace item exactly as DynamoDB holds it (every attribute, typed)."""
        key = {"PK": {"S": "ORG#org_a"}, "SK": {"S": f"NS#{namespace_id}"}}
        response = self.store.client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
        item: dict[str, Any] = response["Item"]
        return item

    def promotion_records(self, namespace_id: str = NS) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.store.client.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": "ORG#org_a"},
                ":prefix": {"S": f"PROMOTION#{namespace_id}#"},
            },
            ConsistentRead=True,
        )["Items"]
        return items


@pytest.fixture
def api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    # The same setup as test_api_contract.py's fixture (copied, not imported: test modules stay
    # independent of each other).
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", TABLE)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    keys = {
        "a": create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0],
        "a_read": create_api_key(moto_dynamodb, "org_a", "reader", ["read"])[0],
        "b": create_api_key(moto_dynamodb, "org_b", "admin", ["read", "write", "admin"])[0],
    }
    wired = wired_api()
    with wired.client() as client:
        yield Api(client, keys, moto_dynamodb, wired.container)


def _create(api: Api, *vector_configs: dict[str, Any]) -> None:
    configs = list(vector_configs) or [{"name": "text_embedding", "dimension": DIM, "metric": "cosine"}]
    body = {"namespace_id": NS, "vector_configs": configs}
    response = api.call("POST", "/v1/namespaces/standalone", json=body)
    assert response.status_code == 200, response.text


def _error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["status"] == status
    assert body["error"]["type"] == error_type, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def _refused_without_change(
    api: Api, body: Any, status: int, error_type: str, key: str = "a"
) -> dict[str, Any]:
    """Promote with `body`, expect the error, and check that nothing at all was written."""
    before = api.raw_namespace()
    error = _error(api.call("POST", PROMOTE, key=key, json=body), status, error_type)
    assert api.raw_namespace() == before
    assert api.promotion_records() == []
    return error


def _vec(seed: float) -> list[float]:
    return [seed, *([0.0] * (DIM - 1))]


# --- the rules ---------------------------------------------------------------------------------


def test_a_managed_namespace_cannot_be_promoted_again(api: Api) -> None:
    _create(api)
    assert api.call("POST", PROMOTE, json={}).status_code == 200
    before = api.raw_namespace()
    again = api.call("POST", PROMOTE, json={"vector_mappings": [MINILM_MAPPING]})
    error = _error(again, 409, "ConflictError")
    assert "promotion is one-way" in error["message"]
    assert error["details"] == {"resource": "namespace", "id": NS, "mode": "managed"}
    assert api.raw_namespace() == before
    assert len(api.promotion_records()) == 1  # only the first promotion's


def test_an_unknown_existing_index_is_400_listing_the_available_indexes(api: Api) -> None:
    _create(api, {"name": "text_embedding", "dimension": DIM}, {"name": "title", "dimension": 8})
    body = {"vector_mappings": [{"existing_index": "nope", "inference_service": "minilm_l6_v2"}]}
    error = _refused_without_change(api, body, 400, "BadRequestError")
    assert error["details"]["available_indexes"] == ["text_embedding", "title"]
    assert error["details"]["field"] == "vector_mappings[0].existing_index"
    assert "nope" in error["message"]


def test_an_add_vectors_name_equal_to_an_existing_index_is_409_listing_existing_names(api: Api) -> None:
    _create(api)
    body = {"add_vectors": [{"name": "text_embedding", "dimension": DIM}]}
    error = _refused_without_change(api, body, 409, "AlreadyExistsError")
    assert error["details"]["existing_indexes"] == ["text_embedding"]
    assert error["details"]["conflicting_names"] == ["text_embedding"]
    assert "text_embedding" in error["message"]


def test_a_repeated_add_vectors_name_is_409(api: Api) -> None:
    _create(api)
    body = {"add_vectors": [{"name": "extra", "dimension": DIM}, {"name": "extra", "dimension": 8}]}
    error = _refused_without_change(api, body, 409, "AlreadyExistsError")
    assert error["details"]["conflicting_names"] == ["extra"]
    assert error["details"]["existing_indexes"] == ["text_embedding"]
    assert "extra" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"vector_mappings": [{"existing_index": "text_embedding", "inference_service": "word2vec"}]},
        {"add_vectors": [{"name": "extra", "dimension": DIM, "inference_service": "word2vec"}]},
    ],
    ids=["vector_mappings", "add_vectors"],
)
def test_an_unknown_inference_service_is_400_listing_the_available_services(
    api: Api, body: dict[str, Any]
) -> None:
    _create(api)
    error = _refused_without_change(api, body, 400, "BadRequestError")
    assert set(error["details"]["available_services"]) == CATALOGUE_NAMES
    assert "word2vec" in error["message"]


def test_a_dimension_mismatch_is_400_naming_both_dimensions(api: Api) -> None:
    _create(api, {"name": "text_embedding", "dimension": 1536, "metric": "cosine"})
    error = _refused_without_change(api, {"vector_mappings": [MINILM_MAPPING]}, 400, "BadRequestError")
    assert error["details"]["index_dimension"] == 1536
    assert error["details"]["service_dimension"] == 384
    assert "1536" in error["message"] and "384" in error["message"]
    assert error["details"]["field"] == "vector_mappings[0].inference_service"


def test_a_metric_the_service_does_not_support_is_400(api: Api) -> None:
    _create(api)
    image = {"name": "image", "dimension": 512, "metric": "euclidean", "inference_service": "clip_vit_b32"}
    error = _refused_without_change(api, {"add_vectors": [image]}, 400, "BadRequestError")
    assert error["details"]["metric"] == "euclidean"
    assert error["details"]["supported_metrics"] == ["cosine", "dot"]
    assert error["details"]["field"] == "add_vectors[0].inference_service"
    assert "euclidean" in error["message"] and "clip_vit_b32" in error["message"]


@pytest.mark.parametrize("send", [{"content": b""}, {"json": {}}], ids=["no-body", "empty-object"])
def test_both_lists_are_optional_and_the_answer_has_exactly_the_documented_shape(
    api: Api, send: dict[str, Any]
) -> None:
    _create(api)
    response = api.call("POST", PROMOTE, **send)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "namespace_id": NS,
        "previous_mode": "standalone",
        "mode": "managed",
        "status": "active",
        "vector_configs": [{"name": "text_embedding", "dimension": DIM, "metric": "cosine"}],
        "vector_inference_map": {},
    }
    assert set(response.json()) == RESPONSE_KEYS
    assert len(api.promotion_records()) == 1


def test_a_read_only_key_is_403(api: Api) -> None:
    _create(api)
    body = {"vector_mappings": [MINILM_MAPPING]}
    error = _refused_without_change(api, body, 403, "ForbiddenError", key="a_read")
    assert error["details"]["granted_permissions"] == ["read"]
    assert error["details"]["required_permission"] != "read"


def test_another_organizations_namespace_is_404(api: Api) -> None:
    _create(api)
    body = {"vector_mappings": [MINILM_MAPPING]}
    error = _refused_without_change(api, body, 404, "NotFoundError", key="b")
    assert error["details"] == {"resource": "namespace", "id": NS}


def test_after_promotion_the_new_index_takes_upserts_at_once_and_the_old_one_keeps_working(api: Api) -> None:
    _create(api)
    body = {"vector_mappings": [MINILM_MAPPING], "add_vectors": [{"name": "summary", "dimension": 16}]}
    promoted = api.call("POST", PROMOTE, json=body)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["vector_configs"] == [
        {"name": "text_embedding", "dimension": DIM, "metric": "cosine"},
        {"name": "summary", "dimension": 16, "metric": "cosine"},
    ]
    assert promoted.json()["vector_inference_map"] == {"text_embedding": "minilm_l6_v2"}

    new_index = {"documents": [{"document_id": "d1", "vectors": {"summary": [1.0] + [0.0] * 15}}]}
    old_index = {"documents": [{"document_id": "d2", "vectors": {"text_embedding": _vec(1.0)}}]}
    for upsert in (new_index, old_index):
        response = api.call("POST", f"/v1/namespaces/{NS}/documents/direct", json=upsert)
        assert response.status_code == 200, response.text
        assert response.json()["inserted"] == 1

    search = {"namespace_id": NS, "queries": [{"vector_name": "summary", "vector": [1.0] + [0.0] * 15}]}
    found = api.call("POST", "/v1/search", json=search)
    assert found.status_code == 200, found.text
    assert [result["document_id"] for result in found.json()["results"]] == ["d1"]


def test_after_promotion_the_namespace_reads_as_managed_with_its_inference_map(api: Api) -> None:
    _create(api)
    image = {"name": "image", "dimension": 512, "metric": "dot", "inference_service": "clip_vit_b32"}
    body = {"vector_mappings": [MINILM_MAPPING], "add_vectors": [image]}
    assert api.call("POST", PROMOTE, json=body).status_code == 200
    namespace = api.call("GET", f"/v1/namespaces/{NS}").json()
    assert namespace["mode"] == "managed"
    assert namespace["vector_inference_map"] == {"text_embedding": "minilm_l6_v2", "image": "clip_vit_b32"}
    assert [config["name"] for config in namespace["vector_configs"]] == ["text_embedding", "image"]
    assert api.raw_namespace()["version"] == {"N": "2"}
    [record] = api.promotion_records()
    assert record["from_version"] == {"N": "1"}


# --- atomicity ---------------------------------------------------------------------------------

Fault = Callable[[pytest.MonkeyPatch, Container], list[str]]


def _transact_fault(error: ClientError) -> Fault:
    """Make the app's DynamoDB client fail the one TransactWriteItems of the promotion."""

    def install(monkeypatch: pytest.MonkeyPatch, container: Container) -> list[str]:
        calls: list[str] = []
        client = container.metadata.client  # type: ignore[attr-defined]

        def transact_write_items(**kwargs: Any) -> Any:
            calls.append("transact_write_items")
            raise error

        monkeypatch.setattr(client, "transact_write_items", transact_write_items)
        return calls

    return install


def _vector_store_fault(monkeypatch: pytest.MonkeyPatch, container: Container) -> list[str]:
    """Make the vector store fail while preparing the new index (after validation, before commit)."""
    from stratus.errors import VectorStoreUnavailableError

    calls: list[str] = []
    vectors = container.vectors

    def ensure_space(space: Any) -> None:
        calls.append("ensure_space")
        raise VectorStoreUnavailableError("injected vector store fault", {"space": space.name})

    monkeypatch.setattr(vectors, "ensure_space", ensure_space)
    return calls


_INTERNAL_ERROR = ClientError(
    {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "TransactWriteItems"
)
# DynamoDB cancels a transaction that collides with another one in flight on the same item.
_TRANSACTION_CONFLICT = ClientError(
    {
        "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
        "CancellationReasons": [{"Code": "TransactionConflict", "Message": "injected"}, {"Code": "None"}],
    },
    "TransactWriteItems",
)


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (_transact_fault(_INTERNAL_ERROR), "ServiceUnavailableError"),
        (_transact_fault(_TRANSACTION_CONFLICT), "ServiceUnavailableError"),
        (_vector_store_fault, "VectorStoreUnavailableError"),
    ],
    ids=["dynamodb-internal-error", "transaction-cancelled-conflict", "vector-store-down"],
)
def test_a_failure_between_validation_and_commit_changes_nothing_and_a_retry_succeeds(
    api: Api, monkeypatch: pytest.MonkeyPatch, fault: Fault, error_type: str
) -> None:
    _create(api)
    body = {"vector_mappings": [MINILM_MAPPING], "add_vectors": [{"name": "extra", "dimension": DIM}]}
    before = api.raw_namespace()

    with monkeypatch.context() as patch:
        calls = fault(patch, api.container)
        response = api.call("POST", PROMOTE, json=body)
    assert calls, "the fault was never reached: validation must have passed for this test to mean anything"
    error = _error(response, 503, error_type)
    assert response.headers["Retry-After"].isdigit()
    assert "retry" in error["message"] or error_type == "VectorStoreUnavailableError"
    assert api.raw_namespace() == before
    assert api.promotion_records() == []
    assert api.call("GET", f"/v1/namespaces/{NS}").json()["mode"] == "standalone"

    retry = api.call("POST", PROMOTE, json=body)
    assert retry.status_code == 200, retry.text
    assert retry.json()["mode"] == "managed"
    assert api.raw_namespace()["version"] == {"N": str(int(before["version"]["N"]) + 1)}
    assert len(api.promotion_records()) == 1
