"""The direct-upsert scenario shared by the vector-store and metadata fault tests: a standalone
namespace with one index (`emb`, 4 dimensions) holding one document, then a batch that also
writes a new index by schema-on-write (`fresh`, 3 dimensions: a second Pinecone pool)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.api import Api

NS = "kb"
IDS = ["a", "b", "c"]


def vector(seed: int, dimension: int) -> list[float]:
    # Exact in float32 and never all zero (Pinecone refuses zero vectors).
    return [(seed + 1) * 0.125 + i * 0.0625 for i in range(dimension)]


BATCH: dict[str, Any] = {
    "documents": [
        {"document_id": doc_id, "vectors": {"emb": vector(i, 4), "fresh": vector(i, 3)}, "payload": {"n": i}}
        for i, doc_id in enumerate(IDS)
    ]
}


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def standalone_with_one_document(api: Api) -> Any:
    """The namespace record before the faulty request."""
    ok(
        api.client.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": NS, "vector_configs": [{"name": "emb", "dimension": 4}]},
        )
    )
    seed = {"document_id": "seed", "vectors": {"emb": vector(9, 4)}, "payload": {"n": 9}}
    ok(api.client.post(f"/v1/namespaces/{NS}/documents/direct", json={"documents": [seed]}))
    return api.namespace(NS)


def upsert_batch(api: Api) -> Any:
    return api.client.post(f"/v1/namespaces/{NS}/documents/direct", json=BATCH)


def assert_retryable_503(response: Any, error_type: str, retry_after: str = "1") -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers.get("Retry-After") == retry_after, dict(response.headers)
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["status"] == 503
    assert body["error"]["type"] == error_type, body
    return body


def space_ids(api: Api, index: str) -> tuple[set[str], int]:
    """(ids, record count) of one index of the namespace, read from the store itself: a duplicate
    record of an id would show as count > len(ids)."""
    from stratus.services.spaces import space_of

    namespace = api.namespace(NS)
    space = space_of(namespace, index)
    assert space is not None, index
    vectors = api.stores.vectors
    return vectors.ids(space), vectors.count(space)


def assert_landed_exactly_once(api: Api, before: Any) -> None:
    """The batch and the seed document, each once, with their vectors; `fresh` registered once."""
    after = api.namespace(NS)
    assert [c.name for c in after.vector_configs] == ["emb", "fresh"]
    assert after.version == before.version + 1, "the namespace is saved once (schema-on-write)"
    listed = ok(
        api.client.post(f"/v1/namespaces/{NS}/documents/list", json={"limit": 100, "return_vectors": True})
    )["results"]
    assert [doc["document_id"] for doc in listed] == [*IDS, "seed"]
    for i, doc in enumerate(listed[:3]):
        assert doc["payload"] == {"n": i}
        assert doc["vectors"]["emb"] == pytest.approx(vector(i, 4))
        assert doc["vectors"]["fresh"] == pytest.approx(vector(i, 3))
    assert set(listed[3]["vectors"]) == {"emb"}
    assert ok(api.client.get(f"/v1/namespaces/{NS}"))["document_count"] == 4
    assert space_ids(api, "emb") == ({*IDS, "seed"}, 4)
    assert space_ids(api, "fresh") == (set(IDS), 3)
    query = {"vector_name": "fresh", "vector": vector(0, 3), "top_k": 10}
    found = ok(api.client.post("/v1/search", json={"namespace_id": NS, "queries": [query]}))["results"]
    assert sorted(hit["document_id"] for hit in found) == IDS
