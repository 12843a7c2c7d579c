"""The seed's standalone workflow (namespace-promotion.txt, "Start standalone" and "Load and
validate") over real HTTP, plus the bad inputs a real client can send.

Given the local stack and the dev key (org `local`),
when a caller creates `legal-docs`, upserts 1536-d embeddings and searches by vector,
then the nearest document comes first with cosine similarity ~1.0 - and another organization
cannot see any of it."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LocalStack
from tests.seed_bodies import seed_text

pytestmark = pytest.mark.e2e

DIMENSION = 1536
# Exactly the seed's body (namespace-promotion.txt, "Start standalone").
CREATE_BODY = seed_text("promotion-create-standalone.json")
DOCUMENTS = {
    "nda-2024": {"category": "contract", "title": "Mutual NDA", "year": 2024},
    "msa-2023": {"category": "contract", "title": "Master services agreement", "year": 2023},
    "memo-q1": {"category": "memo", "title": "Q1 litigation memo", "year": 2024},
    "brief-7": {"category": "brief", "title": "Appellate brief", "year": 2022},
}


def unit_vector(seed: int) -> list[float]:
    """A deterministic random direction: distinct seeds are nearly orthogonal in 1536-d."""
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


VECTORS = {document_id: unit_vector(index) for index, document_id in enumerate(DOCUMENTS)}


def search_body(vector: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "namespace_id": "legal-docs",
        "queries": [{"vector_name": "text_embedding", "vector": vector, "top_k": 5}],
        **extra,
    }


def assert_error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["status"] == status
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    return body


@pytest.fixture(scope="module")
def legal_docs(local_stack: LocalStack) -> Iterator[httpx.Client]:
    """`legal-docs` created with the seed's body and loaded with DOCUMENTS (once per module)."""
    with local_stack.client() as client:
        created = client.post(
            "/v1/namespaces/standalone", content=CREATE_BODY, headers={"Content-Type": "application/json"}
        )
        assert created.status_code == 200, created.text
        upserted = client.post(
            "/v1/namespaces/legal-docs/documents/direct",
            json={
                "documents": [
                    {
                        "document_id": document_id,
                        "vectors": {"text_embedding": VECTORS[document_id]},
                        "payload": payload,
                    }
                    for document_id, payload in DOCUMENTS.items()
                ]
            },
        )
        assert upserted.status_code == 200, upserted.text
        assert upserted.json()["inserted"] == len(DOCUMENTS)
        assert sorted(upserted.json()["document_ids"]) == sorted(DOCUMENTS)
        yield client


# --- the seed's steps ----------------------------------------------------------------------------


def test_created_namespace_is_standalone_with_the_seed_index(legal_docs: httpx.Client) -> None:
    namespace = legal_docs.get("/v1/namespaces/legal-docs").json()
    assert namespace["namespace_id"] == "legal-docs"
    assert namespace["namespace_name"] == "legal-docs"
    assert namespace["mode"] == "standalone"
    assert namespace["status"] == "active"
    assert namespace["vector_configs"] == [{"name": "text_embedding", "dimension": 1536, "metric": "cosine"}]
    assert namespace["vector_inference_map"] == {}


def test_creating_it_again_is_a_conflict(legal_docs: httpx.Client) -> None:
    again = legal_docs.post(
        "/v1/namespaces/standalone", content=CREATE_BODY, headers={"Content-Type": "application/json"}
    )
    assert_error(again, 409, "AlreadyExistsError")


def test_documents_read_back_with_their_payload(legal_docs: httpx.Client) -> None:
    response = legal_docs.get("/v1/namespaces/legal-docs/documents/memo-q1")
    assert response.status_code == 200, response.text
    assert response.json()["document_id"] == "memo-q1"
    assert response.json()["payload"] == DOCUMENTS["memo-q1"]


@pytest.mark.parametrize("document_id", list(DOCUMENTS))
def test_search_by_vector_finds_the_nearest_document_first(
    legal_docs: httpx.Client, document_id: str
) -> None:
    response = legal_docs.post("/v1/search", json=search_body(VECTORS[document_id]))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["document_id"] for r in results][:1] == [document_id]
    assert len(results) == len(DOCUMENTS)  # top_k 5 > 4 documents: all of them
    top = results[0]
    # Cosine similarity, higher is better: ~1.0 for the identical vector, ~0 for the others.
    assert top["score"] == pytest.approx(1.0, abs=1e-3)
    assert all(abs(r["score"]) < 0.2 for r in results[1:]), results
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert top["payload"] == DOCUMENTS[document_id]
    assert top["scores"]["text_embedding"] == pytest.approx(top["score"], abs=1e-6)


def test_a_nearby_vector_ranks_by_similarity(legal_docs: httpx.Client) -> None:
    # 0.8·nda + 0.6·msa: nda first, msa second, scores ~0.8 and ~0.6.
    query = [0.8 * a + 0.6 * b for a, b in zip(VECTORS["nda-2024"], VECTORS["msa-2023"], strict=True)]
    results = legal_docs.post("/v1/search", json=search_body(query)).json()["results"]
    assert [r["document_id"] for r in results[:2]] == ["nda-2024", "msa-2023"]
    assert results[0]["score"] == pytest.approx(0.8, abs=0.05)
    assert results[1]["score"] == pytest.approx(0.6, abs=0.05)


def test_search_with_a_filter_returns_only_matching_documents(legal_docs: httpx.Client) -> None:
    response = legal_docs.post(
        "/v1/search",
        json=search_body(
            VECTORS["memo-q1"],
            filters={"AND": [{"field": "category", "operator": "eq", "value": "contract"}]},
        ),
    )
    assert response.status_code == 200, response.text
    assert sorted(r["document_id"] for r in response.json()["results"]) == ["msa-2023", "nda-2024"]


def test_search_with_a_range_filter(legal_docs: httpx.Client) -> None:
    response = legal_docs.post(
        "/v1/search",
        json=search_body(
            VECTORS["brief-7"], filters={"AND": [{"field": "year", "operator": "gte", "value": 2024}]}
        ),
    )
    assert response.status_code == 200, response.text
    assert sorted(r["document_id"] for r in response.json()["results"]) == ["memo-q1", "nda-2024"]


# --- organization isolation ----------------------------------------------------------------------


def test_another_org_cannot_see_the_namespace(
    legal_docs: httpx.Client, other_org_client: httpx.Client
) -> None:
    assert_error(other_org_client.get("/v1/namespaces/legal-docs"), 404, "NotFoundError")
    listed = other_org_client.get("/v1/namespaces")
    assert listed.status_code == 200, listed.text
    assert "legal-docs" not in [n["namespace_id"] for n in listed.json()["results"]]


def test_another_org_cannot_search_it(legal_docs: httpx.Client, other_org_client: httpx.Client) -> None:
    response = other_org_client.post("/v1/search", json=search_body(VECTORS["nda-2024"]))
    assert_error(response, 404, "NotFoundError")


def test_another_org_cannot_write_into_it(legal_docs: httpx.Client, other_org_client: httpx.Client) -> None:
    response = other_org_client.post(
        "/v1/namespaces/legal-docs/documents/direct",
        json={"documents": [{"document_id": "intruder", "vectors": {"text_embedding": VECTORS["nda-2024"]}}]},
    )
    assert_error(response, 404, "NotFoundError")
    assert legal_docs.get("/v1/namespaces/legal-docs/documents/intruder").status_code == 404


# --- bad input through the real server -----------------------------------------------------------


def test_no_key_is_401_with_the_error_envelope(local_stack: LocalStack) -> None:
    with local_stack.client(authenticated=False) as anonymous:
        body = assert_error(anonymous.get("/v1/namespaces"), 401, "UnauthorizedError")
    assert "Authorization" in json.dumps(body)


def test_unknown_key_is_401(local_stack: LocalStack) -> None:
    with local_stack.client("sk_" + "x" * 32) as client:
        assert_error(client.get("/v1/namespaces"), 401, "UnauthorizedError")


def test_body_over_6_mb_is_413(legal_docs: httpx.Client) -> None:
    padding = " " * (6 * 1024 * 1024)
    response = legal_docs.post(
        "/v1/namespaces/legal-docs/documents/direct",
        content=f'{{"documents": []{padding}}}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 413, "PayloadTooLargeError")


def test_wrong_dimension_is_a_4xx_naming_the_index(legal_docs: httpx.Client) -> None:
    response = legal_docs.post(
        "/v1/namespaces/legal-docs/documents/direct",
        json={"documents": [{"document_id": "short", "vectors": {"text_embedding": [0.1, 0.2, 0.3]}}]},
    )
    assert response.status_code in (400, 422), response.text
    text = json.dumps(response.json())
    assert "text_embedding" in text and "1536" in text, text


def test_wrong_query_dimension_is_a_4xx_naming_the_index(legal_docs: httpx.Client) -> None:
    response = legal_docs.post("/v1/search", json=search_body([0.1, 0.2, 0.3]))
    assert response.status_code in (400, 422), response.text
    text = json.dumps(response.json())
    assert "text_embedding" in text and "1536" in text, text


def test_nan_in_a_vector_is_a_4xx_naming_the_field(legal_docs: httpx.Client) -> None:
    vector = [0.0] * DIMENSION
    vector[7] = math.nan
    raw = json.dumps({"documents": [{"document_id": "nan", "vectors": {"text_embedding": vector}}]})
    assert "NaN" in raw  # raw JSON text with a bare NaN token, as some clients send
    response = legal_docs.post(
        "/v1/namespaces/legal-docs/documents/direct",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["success"] is False
    text = json.dumps(response.json())
    assert "text_embedding" in text or "vectors" in text, text
    assert legal_docs.get("/v1/namespaces/legal-docs/documents/nan").status_code == 404


def test_infinity_in_a_query_vector_is_a_4xx(legal_docs: httpx.Client) -> None:
    raw = json.dumps(search_body([math.inf] + [0.0] * (DIMENSION - 1)))
    response = legal_docs.post("/v1/search", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "vector" in json.dumps(response.json())
