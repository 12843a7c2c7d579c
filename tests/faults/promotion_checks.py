"""The promotion scenario shared by the moto and DynamoDB Local fault tests: a fresh standalone
namespace with one 384-dimension index, promoted with a mapping and one added index."""

from __future__ import annotations

from typing import Any

from tests.faults.api import Api

PROMOTE = "TransactWriteItems"
DIM = 384  # minilm_l6_v2's dimension
BODY: dict[str, Any] = {
    "vector_mappings": [{"existing_index": "text_embedding", "inference_service": "minilm_l6_v2"}],
    "add_vectors": [{"name": "extra", "dimension": DIM, "metric": "cosine"}],
}


def create_standalone(api: Api, namespace_id: str) -> Any:
    index = {"name": "text_embedding", "dimension": DIM, "metric": "cosine"}
    response = api.client.post(
        "/v1/namespaces/standalone", json={"namespace_id": namespace_id, "vector_configs": [index]}
    )
    assert response.status_code == 200, response.text
    return api.namespace(namespace_id)


def promote(api: Api, namespace_id: str) -> Any:
    return api.client.post(f"/v1/namespaces/{namespace_id}/promote", json=BODY)


def assert_untouched(api: Api, before: Any) -> None:
    assert api.namespace(before.namespace_id) == before
    assert api.promotion_records(before.namespace_id) == []


def assert_promoted_once(api: Api, before: Any) -> None:
    """Managed, version bumped exactly once, exactly one audit record of that one transition."""
    after = api.namespace(before.namespace_id)
    assert after.mode == "managed"
    assert after.version == before.version + 1
    assert [config.name for config in after.vector_configs] == ["text_embedding", "extra"]
    assert after.vector_inference_map == {"text_embedding": "minilm_l6_v2"}
    (audit,) = api.promotion_records(before.namespace_id)
    assert audit["from_version"] == {"N": str(before.version)}
    assert "extra" in str(audit["add_vectors"])


def assert_already_managed(response: Any, namespace_id: str) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["type"] == "ConflictError" and "already managed" in error["message"], error
    assert error["details"] == {"resource": "namespace", "id": namespace_id, "mode": "managed"}
