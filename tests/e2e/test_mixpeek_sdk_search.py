"""Searching Stratus with the official Mixpeek SDK (mixpeek==1.3.783), through both of its
surfaces, against the local stack (LanceDB and Pinecone): the SDK queries through retrievers, so
every search here goes through `/v1/retrievers...` or `/v1/features/search`.

- The seed workflow: a standalone namespace, documents upserted with their vectors, an SDK
  search by vector (`Mixpeek.search(namespace_id=..., queries=[...])`: an ephemeral retriever
  created, executed and deleted), promotion to the in-process MiniLM, then SDK searches by text.
- A managed namespace searched through a saved retriever with a filter stage and a sort stage,
  managed and executed through the typed `RetrieversApi` (whose strict response models parse every
  answer) and through the high-level `mp.retrievers`.

Vectors come from the stack itself where they must match a text: after promotion the documents
are upserted again as raw text, embedded by the stack's MiniLM."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import pytest
from mixpeek import (
    AdhocExecuteRequest,
    AdhocRetrieversApi,
    CreateRetrieverRequest,
    ExecuteRetrieverRequest,
    FeatureSearchApi,
    FeatureSearchRequest,
    PatchRetrieverRequest,
    RetrieversApi,
    RetrieverStagesApi,
)

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

DIMENSION = 384  # minilm_l6_v2, the stack's in-process model
# The first MiniLM embedding loads torch and the model in the stack (slow on a busy machine).
MODEL_TIMEOUT_SECONDS = 180.0
TEXTS = {
    "nda": "Mutual non-disclosure agreement between Acme Corp and Globex",
    "finance": "Quarterly earnings report shows rising revenue and lower operating costs",
    "football": "The home team won the football match 3-1 thanks to a late goal",
    "memo": "Litigation memo on the pending patent infringement dispute",
}
PAYLOADS = {
    "nda": {"category": "contract", "year": 2023},
    "finance": {"category": "report", "year": 2024},
    "football": {"category": "news", "year": 2022},
    "memo": {"category": "contract", "year": 2025},
}


def unit_vector(seed: int) -> list[float]:
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


T = TypeVar("T")

VECTORS = {document_id: unit_vector(position) for position, document_id in enumerate(TEXTS)}


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def built(model: T | None) -> T:
    """A request model from the SDK's `from_dict` (typed as optional)."""
    assert model is not None
    return model


def as_dict(answer: object) -> dict[str, Any]:
    """The untyped answers (ad hoc execute, feature search, the high-level client's)."""
    assert isinstance(answer, dict), answer
    return answer


def document_ids(answer: Any) -> list[str]:
    return [str(document["document_id"]) for document in answer["documents"]]


@pytest.fixture
def api(local_stack: LocalStack) -> Iterator[httpx.Client]:
    with local_stack.client() as client:
        client.timeout = httpx.Timeout(MODEL_TIMEOUT_SECONDS)
        yield client


def create_standalone(api: httpx.Client) -> str:
    namespace_id = f"sdk-seed-{uuid.uuid4().hex[:8]}"
    body = {
        "namespace_id": namespace_id,
        "vector_configs": [{"name": "text_embedding", "dimension": DIMENSION}],
    }
    assert ok(api.post("/v1/namespaces/standalone", json=body))["mode"] == "standalone"
    return namespace_id


def promote_and_embed_the_texts(api: httpx.Client, namespace_id: str) -> None:
    """Promotion maps the index to MiniLM; the documents are then upserted again as raw text, which
    the stack embeds (and which warms its model before the SDK, with its 30 s timeout, asks)."""
    mapping = {"vector_mappings": [{"existing_index": "text_embedding", "inference_service": "minilm_l6_v2"}]}
    assert ok(api.post(f"/v1/namespaces/{namespace_id}/promote", json=mapping))["mode"] == "managed"
    documents = [
        {"document_id": doc_id, "vectors": {"text_embedding": {"text": text}}, "payload": PAYLOADS[doc_id]}
        for doc_id, text in TEXTS.items()
    ]
    ok(api.post(f"/v1/namespaces/{namespace_id}/documents/direct", json={"documents": documents}))


def test_the_seed_workflow_through_the_high_level_client(local_stack: LocalStack, api: httpx.Client) -> None:
    mp = local_stack.mixpeek()
    namespace_id = f"sdk-seed-{uuid.uuid4().hex[:8]}"
    created = mp.namespaces.create(
        namespace_id=namespace_id, vector_configs=[{"name": "text_embedding", "dimension": DIMENSION}]
    )
    assert created["namespace_id"] == namespace_id and created["mode"] == "standalone"
    mp.namespaces.documents.upsert(
        namespace_id=namespace_id,
        documents=[
            {
                "document_id": doc_id,
                "vectors": {"text_embedding": VECTORS[doc_id]},
                "payload": PAYLOADS[doc_id],
            }
            for doc_id in TEXTS
        ],
    )

    # Search by vector: the SDK creates a retriever, executes it and deletes it.
    found = mp.search(
        namespace_id=namespace_id,
        queries=[{"vector_name": "text_embedding", "vector": VECTORS["finance"], "top_k": 3}],
    )
    assert document_ids(found)[0] == "finance" and len(found["documents"]) == 3
    assert found["documents"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert found["documents"][0]["category"] == "report"
    assert found["execution_id"].startswith("exec_") and found["status"] == "completed"
    filtered = mp.search(
        namespace_id=namespace_id,
        queries=[{"vector_name": "text_embedding", "vector": VECTORS["finance"], "top_k": 4}],
        filters={"AND": [{"field": "category", "operator": "eq", "value": "contract"}]},
    )
    assert sorted(document_ids(filtered)) == ["memo", "nda"]
    scoped = local_stack.mixpeek(namespace=namespace_id)
    assert as_dict(scoped.retrievers.list())["results"] == []  # the ephemeral retrievers are gone

    promote_and_embed_the_texts(api, namespace_id)

    # Search by text: the index's inference service embeds the query.
    by_text = mp.search(
        namespace_id=namespace_id,
        queries=[{"vector_name": "text_embedding", "text": "who won the football game", "top_k": 2}],
    )
    assert document_ids(by_text)[0] == "football"
    # The quickstart form, `mp.search("text")`: flat stages, the namespace's text index.
    quick = scoped.search("company revenue and earnings", limit=2)
    assert document_ids(quick)[0] == "finance" and len(quick["documents"]) == 2
    mp.namespaces.delete(namespace_id)


def test_the_seed_workflow_through_the_typed_api(local_stack: LocalStack, api: httpx.Client) -> None:
    namespace_id = create_standalone(api)
    documents = [
        {"document_id": doc_id, "vectors": {"text_embedding": VECTORS[doc_id]}, "payload": PAYLOADS[doc_id]}
        for doc_id in TEXTS
    ]
    ok(api.post(f"/v1/namespaces/{namespace_id}/documents/upsert", json={"documents": documents}))
    client = local_stack.mixpeek_api(namespace=namespace_id)
    search_stage = {
        "stage_name": "search",
        "stage_type": "filter",
        "config": {
            "stage_id": "feature_search",
            "parameters": {
                "searches": [
                    {
                        "feature_uri": "text_embedding",
                        "query": {"input_mode": "vector", "value": "{{INPUT.vector}}"},
                    }
                ],
                "final_top_k": 2,
            },
        },
    }
    adhoc_request = AdhocExecuteRequest.from_dict(
        {"stages": [search_stage], "inputs": {"vector": VECTORS["nda"]}}
    )
    adhoc = as_dict(AdhocRetrieversApi(client).execute_adhoc_retriever(built(adhoc_request)))
    assert document_ids(adhoc)[0] == "nda" and len(adhoc["documents"]) == 2
    assert adhoc["documents"][0]["year"] == 2023
    vector_request = FeatureSearchRequest.from_dict(
        {
            "feature_uri": "text_embedding",
            "query": {"input_mode": "vector", "vector": VECTORS["memo"]},
            "top_k": 1,
        }
    )
    by_vector = as_dict(FeatureSearchApi(client).feature_search(built(vector_request)))
    assert document_ids(by_vector) == ["memo"]

    promote_and_embed_the_texts(api, namespace_id)

    # The SDK's FeatureSearchRequest defaults: input_mode "text", top_k 25.
    text_request = FeatureSearchRequest.from_dict(
        {"feature_uri": "text_embedding", "query": {"text": "a patent lawsuit memo"}}
    )
    by_text = as_dict(FeatureSearchApi(client).feature_search(built(text_request)))
    assert document_ids(by_text)[0] == "memo" and len(by_text["documents"]) == 4
    ok(api.delete(f"/v1/namespaces/{namespace_id}"))


# ---------------------------------------------------------------------------------------------
# A managed namespace through a saved retriever: a search, a filter stage and a sort stage

RETRIEVER_STAGES: list[dict[str, Any]] = [
    {
        "stage_name": "search",
        "config": {
            "stage_id": "feature_search",
            "parameters": {
                "searches": [
                    {
                        "feature_uri": "mixpeek://text_extractor@v1/embedding",
                        "query": {"input_mode": "text", "value": "{{INPUT.query}}"},
                        "top_k": 10,
                    }
                ],
                "final_top_k": 10,
            },
        },
    },
    {
        "stage_name": "contracts only",
        "config": {
            "stage_id": "attribute_filter",
            "parameters": {
                "conditions": {"AND": [{"field": "category", "operator": "eq", "value": "contract"}]}
            },
        },
    },
    {
        "stage_name": "newest first",
        "config": {"stage_id": "sort_attribute", "parameters": {"field": "year", "direction": "desc"}},
    },
]


@pytest.fixture
def managed(api: httpx.Client) -> Iterator[str]:
    """A managed namespace (text_extractor on MiniLM) with the documents upserted as raw text."""
    body = {
        "namespace_name": f"sdk-managed-{uuid.uuid4().hex[:8]}",
        "feature_extractors": [
            {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
        ],
    }
    namespace_id = str(ok(api.post("/v1/namespaces", json=body))["namespace_id"])
    documents = [
        {
            "document_id": doc_id,
            "vectors": {"text_extractor_v1_embedding": {"text": text}},
            "payload": PAYLOADS[doc_id],
        }
        for doc_id, text in TEXTS.items()
    ]
    ok(api.post(f"/v1/namespaces/{namespace_id}/documents/direct", json={"documents": documents}))
    yield namespace_id
    api.delete(f"/v1/namespaces/{namespace_id}")


def test_a_managed_namespace_through_a_saved_retriever_with_the_typed_api(
    local_stack: LocalStack, managed: str
) -> None:
    client = local_stack.mixpeek_api(namespace=managed)
    retrievers = RetrieversApi(client)
    request = CreateRetrieverRequest.from_dict(
        {
            "retriever_name": "contracts-by-topic",
            "stages": RETRIEVER_STAGES,
            "input_schema": {"query": {"type": "text", "required": True}},
        }
    )
    created = retrievers.create_retriever(built(request))
    assert created.retriever_id is not None and created.retriever_id.startswith("ret_")
    assert [stage.parameters for stage in created.stages] == [
        stage["config"]["parameters"] for stage in RETRIEVER_STAGES
    ]
    fetched = retrievers.get_retriever("contracts-by-topic")
    assert fetched.retriever_id == created.retriever_id and fetched.version == 1
    listed = retrievers.list_retrievers()  # the SDK sends no body
    assert [r.retriever_name for r in listed.results or []] == ["contracts-by-topic"]
    assert [r.retriever_name for r in retrievers.list_retrievers_get(limit=5).results or []] == [
        "contracts-by-topic"
    ]

    executed = retrievers.execute_retriever(
        created.retriever_id, ExecuteRetrieverRequest(inputs={"query": "a legal agreement or dispute"})
    )
    assert executed.execution_id.startswith("exec_") and executed.status == "completed"
    assert [d["document_id"] for d in executed.documents or []] == ["memo", "nda"]  # contracts, newest first
    assert executed.stage_statistics is not None and executed.stage_statistics.stages is not None
    statistics = executed.stage_statistics.stages
    assert (statistics["search"].output_count, statistics["contracts only"].output_count) == (4, 2)
    assert statistics["newest first"].input_count == 2

    patched = retrievers.patch_retriever(created.retriever_id, PatchRetrieverRequest(description="contracts"))
    assert patched.retriever.version == 2 and patched.retriever.description == "contracts"
    stages = RetrieverStagesApi(client).list_stages_retrievers()  # sent without a key
    assert {"feature_search", "attribute_filter", "sort_attribute", "mmr"} <= {s.stage_id for s in stages}
    retrievers.delete_retriever(created.retriever_id)
    assert retrievers.list_retrievers().results == []


def test_a_managed_namespace_through_a_saved_retriever_with_the_high_level_client(
    local_stack: LocalStack, managed: str
) -> None:
    mp = local_stack.mixpeek(namespace=managed)
    created = mp.retrievers.create(retriever_name="contracts-by-topic", stages=RETRIEVER_STAGES)
    retriever_id = created["retriever_id"]

    executed = mp.retrievers.execute(retriever_id, inputs={"query": "a legal agreement or dispute"})
    assert document_ids(executed) == ["memo", "nda"]
    by_name = mp.retrievers.execute("contracts-by-topic", inputs={"query": "anything"})
    assert document_ids(by_name) == ["memo", "nda"]  # the filter keeps the contracts only

    oldest_first = [*RETRIEVER_STAGES[:2], {"type": "sort_attribute", "field": "year", "direction": "asc"}]
    updated = mp.retrievers.update(retriever_id, stages=oldest_first)
    assert updated["retriever"]["version"] == 2
    assert document_ids(mp.retrievers.execute(retriever_id, inputs={"query": "agreement"})) == ["nda", "memo"]
    assert [r["retriever_name"] for r in as_dict(mp.retrievers.list())["results"]] == ["contracts-by-topic"]
    mp.retrievers.delete(retriever_id)
    assert as_dict(mp.retrievers.list())["results"] == []
