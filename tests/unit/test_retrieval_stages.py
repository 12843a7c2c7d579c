"""The retrieval engine's stages, over in-memory stores: every stage, both forms and both
spellings of their parameters, templates, and every refusal (400 naming the field and what would
be accepted; 422 for a shape unknown to both the SDK and api.md).

A deterministic stand-in embeds texts and images (a hash of the input as a unit vector), so a
text query finds exactly the document whose text it repeats; the real models are exercised by
tests/e2e/test_mixpeek_sdk_search.py."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from typing import Any

import pytest

from stratus.errors import BadRequestError, RequestValidationError
from stratus.filters import parse_filter
from stratus.models.managed import CreateNamespaceRequest
from stratus.models.namespaces import CreateStandaloneNamespaceRequest
from stratus.models.retrievers import (
    AdhocExecuteRequest,
    CreateRetrieverRequest,
    ExecuteRetrieverRequest,
    ExecutionResponse,
    FeatureSearchRequest,
)
from stratus.models.search import SearchRequest
from stratus.ports import Embedder
from stratus.services import documents, namespaces, retrievers, search
from stratus.services.managed_namespaces import create_managed_namespace
from stratus.services.retrieval import executions
from stratus.services.spaces import resolve_namespace
from tests.fakes import InMemoryMetadataStore, InMemoryVectorStore
from tests.static_stores import StaticStores

ORG = "org_a"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
TEXT_INDEX = "text_extractor_v1_embedding"
CLIP_INDEX = "multimodal_extractor_v1_embedding"


def hashed_vector(data: bytes, dimension: int) -> list[float]:
    values: list[float] = []
    counter = 0
    while len(values) < dimension:
        digest = hashlib.sha256(data + counter.to_bytes(4, "big")).digest()
        values.extend((byte - 127.5) for byte in digest)
        counter += 1
    norm = math.sqrt(sum(v * v for v in values[:dimension]))
    return [v / norm for v in values[:dimension]]


class HashedEmbedder:
    def __init__(self, name: str, dimension: int, images: bool) -> None:
        self.name = name
        self.dimension = dimension
        self.images = images
        self.texts_seen: list[str] = []

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts_seen.extend(texts)
        return [hashed_vector(text.encode(), self.dimension) for text in texts]

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        if not self.images:
            raise BadRequestError("text only")
        return [hashed_vector(image, self.dimension) for image in images]


class HashedEmbedders:
    def __init__(self) -> None:
        self.built = {
            "minilm_l6_v2": HashedEmbedder("minilm_l6_v2", 384, images=False),
            "clip_vit_b32": HashedEmbedder("clip_vit_b32", 512, images=True),
        }

    def get(self, service_name: str) -> Embedder:
        return self.built[service_name]


# Standalone "docs": index `emb` (4 dims), the document vectors chosen so that the query
# [1, 0, 0, 0] ranks them d1 > d2 > d3 > d4 > d5 > d6.
DOCS: dict[str, tuple[list[float], dict[str, Any]]] = {
    "d1": ([1.0, 0.0, 0.0, 0.0], {"category": "contract", "year": 2024, "object_id": "o1", "price": 5}),
    "d2": ([0.95, 0.31, 0.0, 0.0], {"category": "memo", "year": 2021, "object_id": "o1", "price": 50}),
    "d3": ([0.9, 0.0, 0.43, 0.0], {"category": "contract", "year": 2023, "object_id": "o2"}),
    "d4": ([0.8, 0.0, 0.0, 0.6], {"category": "brief", "year": 2022, "object_id": "o2", "price": 1}),
    "d5": ([0.5, 0.86, 0.0, 0.0], {"category": "contract", "year": 2020, "object_id": "o3", "price": 7}),
    "d6": ([0.1, 0.0, 0.99, 0.0], {"category": "memo", "year": 2025, "object_id": "o3", "price": 3}),
}
QUERY = [1.0, 0.0, 0.0, 0.0]
TEXTS = {
    "t1": "Mutual non-disclosure agreement between Acme and Globex",
    "t2": "Quarterly earnings report with rising revenue",
    "t3": "The home team won the football match",
}


@pytest.fixture
def stores() -> StaticStores:
    built = StaticStores(
        metadata=InMemoryMetadataStore(), vectors=InMemoryVectorStore(), embedders=HashedEmbedders()
    )
    namespaces.create_standalone_namespace(
        built,
        ORG,
        CreateStandaloneNamespaceRequest.model_validate(
            {"namespace_id": "docs", "vector_configs": [{"name": "emb", "dimension": 4}]}
        ),
    )
    upsert(
        built, "docs", [{"document_id": i, "vectors": {"emb": v}, "payload": p} for i, (v, p) in DOCS.items()]
    )
    create_managed_namespace(
        built,
        ORG,
        CreateNamespaceRequest.model_validate(
            {
                "namespace_name": "media",
                "feature_extractors": [
                    {
                        "feature_extractor_name": "text_extractor",
                        "version": "v1",
                        "params": {"inference_service": "minilm_l6_v2"},
                    },
                    {"feature_extractor_name": "multimodal_extractor", "version": "v1"},
                ],
            }
        ),
    )
    upsert(
        built,
        "media",
        [
            {
                "document_id": doc_id,
                "vectors": {TEXT_INDEX: hashed_vector(text.encode(), 384)},
                "payload": {"text": text, "collection_id": "col_text", "kind": "text"},
            }
            for doc_id, text in TEXTS.items()
        ]
        + [
            {
                "document_id": "img1",
                "vectors": {CLIP_INDEX: hashed_vector(PNG, 512)},
                "payload": {"collection_id": "col_images", "kind": "image"},
            }
        ],
    )
    return built


def upsert(stores: StaticStores, namespace_id: str, docs: list[dict[str, Any]]) -> None:
    from stratus.models.documents import UpsertDocumentsRequest

    namespace = resolve_namespace(stores.metadata, ORG, namespace_id)
    documents.upsert_documents(stores, namespace, UpsertDocumentsRequest.model_validate({"documents": docs}))


def adhoc(
    stores: StaticStores, stages: list[dict[str, Any]], namespace_id: str = "docs", **body: Any
) -> ExecutionResponse:
    namespace = resolve_namespace(stores.metadata, ORG, namespace_id)
    request = AdhocExecuteRequest.model_validate({"stages": stages, **body})
    return executions.execute_adhoc(stores, namespace, request)


def search_stage(*searches: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {
        "stage_name": "search",
        "config": {"stage_id": "feature_search", "parameters": {"searches": list(searches), **parameters}},
    }


def vector_search(vector: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    return {"feature_uri": "emb", "query": {"input_mode": "vector", "value": vector or QUERY}, **extra}


def stage(stage_id: str, /, **parameters: Any) -> dict[str, Any]:
    return {"stage_name": stage_id, "config": {"stage_id": stage_id, "parameters": parameters}}


def ids(answer: ExecutionResponse) -> list[str]:
    return [str(document["document_id"]) for document in answer.documents]


def refusal(
    stores: StaticStores, stages: list[dict[str, Any]], namespace_id: str = "docs", **body: Any
) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        adhoc(stores, stages, namespace_id, **body)
    return caught.value


# ---------------------------------------------------------------------------------------------
# feature_search


def test_a_vector_search_ranks_by_similarity_and_answers_the_sdk_shape(stores: StaticStores) -> None:
    answer = adhoc(stores, [search_stage(vector_search(), final_top_k=3)])

    assert ids(answer) == ["d1", "d2", "d3"]
    first = answer.documents[0]
    assert first["score"] == pytest.approx(1.0) and first["category"] == "contract" and first["year"] == 2024
    assert first["scores"] == {"emb": pytest.approx(1.0)}
    assert answer.execution_id.startswith("exec_") and answer.status == "completed"
    statistics = answer.stage_statistics.stages["search"]
    assert (statistics.input_count, statistics.output_count) == (6, 3)
    assert answer.pagination["total"] == 3


def test_search_and_the_retriever_routes_share_one_engine(stores: StaticStores) -> None:
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    filters = {"field": "category", "operator": "eq", "value": "contract"}
    by_search = search.search(
        stores,
        ORG,
        SearchRequest.model_validate(
            {
                "namespace_id": "docs",
                "queries": [{"vector_name": "emb", "vector": QUERY, "top_k": 5}],
                "filters": filters,
            }
        ),
    )
    by_adhoc = adhoc(stores, [search_stage(vector_search(top_k=5), final_top_k=10)], filters=filters)
    by_feature = executions.feature_search(
        stores,
        namespace,
        FeatureSearchRequest.model_validate(
            {
                "feature_uri": "emb",
                "query": {"input_mode": "vector", "vector": QUERY},
                "top_k": 5,
                "filters": filters,
            }
        ),
    )

    expected = [(r.document_id, r.score) for r in by_search.results]
    assert [(d["document_id"], d["score"]) for d in by_adhoc.documents] == expected
    assert [(d["document_id"], d["score"]) for d in by_feature.documents] == expected
    assert by_search.warnings == by_adhoc.warnings == by_feature.warnings  # `category` has no index
    assert len(by_search.warnings) == 1 and "category" in by_search.warnings[0]


def test_the_sdk_byo_vector_search_body_creates_and_executes(stores: StaticStores) -> None:
    """Exactly what `Mixpeek.search(namespace_id=..., queries=[...])` sends."""
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    created = retrievers.create_retriever(
        stores.metadata,
        namespace,
        CreateRetrieverRequest.model_validate(
            {
                "retriever_name": "sdk-byov-search-1a2b3c4d",
                "stages": [
                    {
                        "stage_name": "feature_search",
                        "stage_type": "filter",
                        "config": {
                            "stage_id": "feature_search",
                            "parameters": {
                                "searches": [
                                    {
                                        "top_k": 2,
                                        "feature_uri": "emb",
                                        "query": {"input_mode": "vector", "value": QUERY},
                                    }
                                ],
                                "final_top_k": 2,
                            },
                        },
                    }
                ],
            }
        ),
    )
    answer = executions.execute_retriever(
        stores, namespace, created.retriever_id, ExecuteRetrieverRequest.model_validate({"inputs": {}})
    )

    assert ids(answer) == ["d1", "d2"] and answer.retriever_id == created.retriever_id


def test_a_search_entry_takes_the_v1_search_spelling(stores: StaticStores) -> None:
    """The high-level client passes `vector_name` → feature_uri but leaves `text` and `vector`."""
    answer = adhoc(
        stores, [search_stage({"vector_name": "emb", "vector": QUERY, "top_k": 2, "score_threshold": 0.9})]
    )
    assert ids(answer) == ["d1", "d2"]

    text = adhoc(
        stores, [search_stage({"feature_uri": TEXT_INDEX, "text": TEXTS["t2"], "top_k": 1})], "media"
    )
    assert ids(text) == ["t2"]


def test_min_score_drops_weaker_matches_before_fusion(stores: StaticStores) -> None:
    answer = adhoc(stores, [search_stage(vector_search(min_score=0.85))])
    assert ids(answer) == ["d1", "d2", "d3"]


@pytest.mark.parametrize("fusion", ["rrf", "weighted", "max", "dbsf"])
def test_several_searches_are_fused(stores: StaticStores, fusion: str) -> None:
    other = [0.0, 0.0, 1.0, 0.0]  # d6 then d3 first
    answer = adhoc(
        stores,
        [
            search_stage(
                vector_search(top_k=6),
                vector_search(other, top_k=6, weight=0.5),
                fusion=fusion,
                final_top_k=6,
            )
        ],
    )

    assert set(ids(answer)) == set(DOCS)
    assert answer.stage_statistics.stages["search"].metadata["fusion"] == fusion
    # d1 tops the first list (1.0), d3 is 3rd there (0.9) and 2nd in the half-weight one (0.43):
    # ranks favour d1 (rrf), similarities d3 (weighted, dbsf); max takes d1's 1.0 over 0.5 x 0.99.
    assert ids(answer)[0] == {"rrf": "d1", "weighted": "d3", "dbsf": "d3", "max": "d1"}[fusion]


def test_final_top_k_cuts_the_fused_list_and_learned_fusion_falls_back_with_a_warning(
    stores: StaticStores,
) -> None:
    answer = adhoc(
        stores, [search_stage(vector_search(), vector_search([0, 1, 0, 0]), fusion="learned", final_top_k=2)]
    )
    assert len(answer.documents) == 2
    assert any("fusion" in warning and "rrf" in warning for warning in answer.warnings)


def test_per_search_filters_and_execution_filters_are_anded(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [search_stage(vector_search(filters={"category": "contract"}))],
        filters={"field": "year", "operator": "gte", "value": 2023},
    )
    assert ids(answer) == ["d1", "d3"]


def test_a_text_query_is_embedded_once_by_the_index_service(stores: StaticStores) -> None:
    embedder = stores.embedders.get("minilm_l6_v2")
    assert isinstance(embedder, HashedEmbedder)
    answer = adhoc(
        stores,
        [
            search_stage(
                {
                    "feature_uri": "mixpeek://text_extractor@v1/embedding",
                    "query": {"input_mode": "text", "value": TEXTS["t3"]},
                }
            )
        ],
        "media",
    )
    assert ids(answer)[0] == "t3" and answer.documents[0]["score"] == pytest.approx(1.0)
    assert embedder.texts_seen == [TEXTS["t3"]]


def test_a_content_query_embeds_an_inline_image(stores: StaticStores) -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    for value in (data_uri, base64.b64encode(PNG).decode()):
        answer = adhoc(
            stores,
            [
                search_stage(
                    {
                        "feature_uri": "mixpeek://multimodal_extractor@v1/embedding",
                        "query": {"input_mode": "content", "value": value},
                    }
                )
            ],
            "media",
        )
        assert ids(answer)[0] == "img1" and answer.documents[0]["score"] == pytest.approx(1.0)


def test_a_document_query_reuses_the_stored_vector(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(
                {
                    "feature_uri": "emb",
                    "query": {"input_mode": "document", "document_ref": {"document_id": "d4"}},
                }
            )
        ],
    )
    assert ids(answer)[0] == "d4"


def test_collection_identifiers_take_ids_and_names(stores: StaticStores) -> None:
    from stratus.models.managed_content import Collection, CollectionExtractor, SourceOfBuckets

    namespace = resolve_namespace(stores.metadata, ORG, "media")
    stores.metadata.create_collection(
        Collection(
            org_id=ORG,
            namespace_id=namespace.namespace_id,
            collection_id="col_text",
            collection_name="texts",
            source=SourceOfBuckets(bucket_ids=["bkt_1"]),
            feature_extractor=CollectionExtractor(
                feature_extractor_name="text_extractor",
                version="v1",
                feature_extractor_id="text_extractor_v1",
                parameters={},
                inference_service="minilm_l6_v2",
            ),
            vector_index=TEXT_INDEX,
            created_at="2026-01-01T00:00:00Z",
        )
    )
    query = {"input_mode": "text", "value": TEXTS["t1"]}
    by_name = adhoc(
        stores,
        [search_stage({"feature_uri": TEXT_INDEX, "query": query})],
        "media",
        collection_identifiers=["texts"],
    )
    by_id = adhoc(
        stores,
        [search_stage({"feature_uri": TEXT_INDEX, "query": query, "collection_identifiers": ["col_text"]})],
        "media",
    )
    nothing = adhoc(
        stores,
        [search_stage({"feature_uri": TEXT_INDEX, "query": query}, collection_identifiers=["col_images"])],
        "media",
    )

    assert set(ids(by_name)) == set(ids(by_id)) == set(TEXTS)
    assert ids(nothing) == []
    unknown = refusal(
        stores,
        [search_stage({"feature_uri": TEXT_INDEX, "query": query})],
        "media",
        collection_identifiers=["nope"],
    )
    assert unknown.details["field"] == "collection_identifiers[0]" and unknown.details[
        "available_collections"
    ] == ["texts"]


def test_the_flat_quickstart_form_searches_the_namespace_text_index(stores: StaticStores) -> None:
    """Exactly what `Mixpeek.search("text", namespace=ns, filters=...)` sends."""
    answer = adhoc(
        stores,
        [
            {"type": "attribute_filter", "conditions": {"field": "kind", "operator": "eq", "value": "text"}},
            {
                "type": "feature_search",
                "feature_extractor": {"type": "text"},
                "query": TEXTS["t1"],
                "collection_ids": [],
                "limit": 2,
            },
        ],
        "media",
        inputs={"query": TEXTS["t1"]},
    )
    assert len(answer.documents) == 2
    assert ids(answer)[0] == "t1"  # the CLIP index also embeds text; both are fused
    assert set(answer.stage_statistics.stages) == {"attribute_filter", "feature_search"}


# ---------------------------------------------------------------------------------------------
# The stages after the search


def test_attribute_filter_before_the_search_filters_inside_the_query(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [stage("attribute_filter", conditions={"category": "memo"}), search_stage(vector_search(top_k=2))],
    )
    assert ids(answer) == ["d2", "d6"]  # top 2 among memos, not memos among the top 2


def test_attribute_filter_after_the_search_filters_the_candidates(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(vector_search(top_k=3)),
            stage("attribute_filter", field="category", operator="eq", value="contract"),
        ],
    )
    assert ids(answer) == ["d1", "d3"]
    statistics = answer.stage_statistics.stages["attribute_filter"]
    assert (statistics.input_count, statistics.output_count) == (3, 2)


def test_attribute_filter_conditions_win_over_the_sdk_default_field(stores: StaticStores) -> None:
    """`StageParamsAttributeFilter(conditions=...).to_dict()` also sends field 'metadata.status'."""
    params = {
        "field": "metadata.status",
        "natural_language": "null",
        "conditions": {
            "AND": [{"case_sensitive": False, "field": "category", "operator": "eq", "value": "brief"}],
            "case_sensitive": False,
        },
        "batch_size": 100,
        "case_insensitive": False,
    }
    answer = adhoc(stores, [search_stage(vector_search()), stage("attribute_filter", **params)])
    assert ids(answer) == ["d4"] and answer.warnings == []


@pytest.mark.parametrize(
    "params",
    [{"field": "year", "direction": "asc"}, {"sort_by": [{"field": "year", "direction": "asc"}]}],
    ids=["sdk spelling", "api.md spelling"],
)
def test_sort_attribute_takes_both_spellings(stores: StaticStores, params: dict[str, Any]) -> None:
    answer = adhoc(stores, [search_stage(vector_search()), stage("sort_attribute", **params)])
    assert ids(answer) == ["d5", "d2", "d4", "d3", "d1", "d6"]


def test_sort_attribute_puts_missing_fields_last_or_first_and_sorts_by_several_keys(
    stores: StaticStores,
) -> None:
    last = adhoc(stores, [search_stage(vector_search()), stage("sort_attribute", field="price")])
    first = adhoc(
        stores,
        [
            search_stage(vector_search()),
            stage("sort_attribute", field="price", direction="asc", nulls_last=False),
        ],
    )
    keys = adhoc(
        stores,
        [
            search_stage(vector_search()),
            stage(
                "sort_attribute",
                sort_by=[{"field": "category", "direction": "asc"}, {"field": "year", "direction": "desc"}],
            ),
        ],
    )
    assert ids(last) == ["d2", "d5", "d1", "d6", "d4", "d3"]
    assert ids(first) == ["d3", "d4", "d6", "d1", "d5", "d2"]
    assert ids(keys) == ["d4", "d1", "d3", "d5", "d6", "d2"]


def test_sort_relevance_orders_by_score(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(vector_search()),
            stage("sort_attribute", field="year"),
            stage("sort_relevance", feature_address="null"),
        ],
    )
    assert ids(answer) == ["d1", "d2", "d3", "d4", "d5", "d6"] and answer.warnings == []
    ascending = adhoc(stores, [search_stage(vector_search()), stage("sort_relevance", direction="asc")])
    assert ids(ascending) == ["d6", "d5", "d4", "d3", "d2", "d1"]


def test_limit_keeps_a_window(stores: StaticStores) -> None:
    answer = adhoc(stores, [search_stage(vector_search()), stage("limit", limit=2, offset=1)])
    assert ids(answer) == ["d2", "d3"]


def test_sample_is_the_same_for_the_same_seed_and_keeps_the_order(stores: StaticStores) -> None:
    def draw(seed: int) -> list[str]:
        return ids(adhoc(stores, [search_stage(vector_search()), stage("sample", count=3, seed=seed)]))

    first = draw(7)
    assert first == draw(7) and len(first) == 3
    assert first == sorted(first)  # in rank order
    assert any(draw(seed) != first for seed in range(8, 20))
    kept = ids(
        adhoc(stores, [search_stage(vector_search()), stage("sample", count=3, seed=1, preserve_top_k=1)])
    )
    assert kept[0] == "d1" and len(kept) == 3


def test_stratified_sample_draws_from_every_stratum(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(vector_search()),
            stage("sample", count=3, seed=3, strategy="stratified", stratify_by="category"),
        ],
    )
    assert {d["category"] for d in answer.documents} == {"contract", "memo", "brief"}


@pytest.mark.parametrize("field_key", ["group_by_field", "field"])
def test_group_by_keeps_max_per_group_in_the_order_of_the_best(stores: StaticStores, field_key: str) -> None:
    answer = adhoc(
        stores,
        [search_stage(vector_search()), stage("group_by", **{field_key: "category", "max_per_group": 1})],
    )
    assert ids(answer) == ["d1", "d2", "d4"]
    assert answer.groups == [
        {"group_key": "contract", "count": 3, "document_ids": ["d1"]},
        {"group_key": "memo", "count": 2, "document_ids": ["d2"]},
        {"group_key": "brief", "count": 1, "document_ids": ["d4"]},
    ]


def test_group_by_defaults_to_the_source_object(stores: StaticStores) -> None:
    answer = adhoc(stores, [search_stage(vector_search()), stage("group_by", max_per_group=1)])
    assert ids(answer) == ["d1", "d3", "d5"]
    first = adhoc(
        stores,
        [
            search_stage(vector_search()),
            stage("group_by", group_by_field="source_object_id", output_mode="first"),
        ],
    )
    assert ids(first) == ["d1", "d3", "d5"]


def test_feature_search_group_by_limits_the_groups(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [search_stage(vector_search(), group_by={"field": "category", "max_per_group": 2, "limit": 2})],
    )
    assert ids(answer) == ["d1", "d3", "d2", "d6"]


def test_mmr_trades_relevance_for_diversity_over_stored_vectors(stores: StaticStores) -> None:
    relevant = adhoc(stores, [search_stage(vector_search()), stage("mmr", **{"lambda": 1.0, "top_k": 3})])
    diverse = adhoc(stores, [search_stage(vector_search()), stage("mmr", **{"lambda": 0.3, "top_k": 3})])

    assert ids(relevant) == ["d1", "d2", "d3"]
    assert ids(diverse)[0] == "d1" and ids(diverse) != ids(relevant)
    assert "d2" not in ids(diverse)  # nearly the same direction as d1
    assert all("mmr" in document["scores"] for document in diverse.documents)
    assert diverse.stage_statistics.stages["mmr"].metadata["with_vectors"] == 6


# ---------------------------------------------------------------------------------------------
# Templates and inputs


@pytest.mark.parametrize("template", ["{{INPUT.vector}}", "{{inputs.vector}}", "{{ INPUT.vector }}"])
def test_templates_resolve_from_inputs_keeping_the_type(stores: StaticStores, template: str) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(
                {
                    "feature_uri": "emb",
                    "query": {"input_mode": "vector", "value": template},
                    "top_k": "{{INPUT.k}}",
                }
            )
        ],
        inputs={"vector": QUERY, "k": 2},
    )
    assert ids(answer) == ["d1", "d2"]


def test_a_template_inside_text_is_replaced_by_the_input_text(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(vector_search()),
            stage(
                "attribute_filter",
                conditions={"field": "category", "operator": "eq", "value": "{{INPUT.cat}}"},
            ),
        ],
        inputs={"cat": "brief"},
    )
    assert ids(answer) == ["d4"]


def test_a_missing_input_is_400_naming_it_and_where_it_is_used(stores: StaticStores) -> None:
    error = refusal(
        stores,
        [
            search_stage(
                {"feature_uri": "emb", "query": {"input_mode": "vector", "value": "{{INPUT.vector}}"}}
            )
        ],
        inputs={"other": 1},
    )
    assert error.details["field"] == "inputs.vector"
    assert error.details["used_at"] == "stages[0].config.parameters.searches[0].query.value"
    assert error.details["given_inputs"] == ["other"]


def test_input_schema_defaults_fill_missing_inputs_and_required_ones_are_checked(
    stores: StaticStores,
) -> None:
    stages = [
        search_stage({"feature_uri": "emb", "query": {"input_mode": "vector", "value": "{{INPUT.vector}}"}})
    ]
    answer = adhoc(stores, stages, input_schema={"vector": {"type": "array", "default": QUERY}})
    assert ids(answer)[0] == "d1"
    error = refusal(stores, stages, input_schema={"vector": {"type": "array", "required": True}})
    assert error.details["field"] == "inputs.vector"


def test_an_optional_search_without_its_input_is_left_out(stores: StaticStores) -> None:
    answer = adhoc(
        stores,
        [
            search_stage(
                vector_search(),
                {
                    "feature_uri": "emb",
                    "query": {"input_mode": "vector", "value": "{{INPUT.more}}"},
                    "optional": True,
                },
            )
        ],
    )
    assert ids(answer)[0] == "d1"
    assert any("optional search left out" in warning for warning in answer.warnings)


def test_an_input_of_the_wrong_type_is_400_naming_where_it_went(stores: StaticStores) -> None:
    error = refusal(stores, [search_stage(vector_search(top_k="{{INPUT.k}}"))], inputs={"k": "many"})
    assert error.details["field"] == "stages[0].config.parameters.searches[0].top_k"


# ---------------------------------------------------------------------------------------------
# Refusals


def test_an_unknown_stage_is_400_listing_the_supported_ones(stores: StaticStores) -> None:
    error = refusal(stores, [search_stage(vector_search()), stage("llm_enrich", prompt="x")])
    assert error.details["field"] == "stages[1].config.stage_id"
    assert error.details["supported_stages"] == [
        "feature_search", "attribute_filter", "sort_attribute", "sort_relevance",
        "limit", "sample", "group_by", "mmr",
    ]  # fmt: skip
    flat = refusal(stores, [{"type": "rerank"}])
    assert flat.details["field"] == "stages[0].type"


@pytest.mark.parametrize(
    ("uri", "namespace_id", "accepted"),
    [
        ("nope", "docs", ["emb"]),
        (
            "mixpeek://image_extractor@v1/embedding",
            "media",
            [
                "mixpeek://text_extractor@v1/embedding",
                "mixpeek://multimodal_extractor@v1/embedding",
                TEXT_INDEX,
                CLIP_INDEX,
            ],
        ),
    ],
)
def test_a_feature_uri_naming_no_index_is_400_listing_the_accepted_ones(
    stores: StaticStores, uri: str, namespace_id: str, accepted: list[str]
) -> None:
    error = refusal(
        stores,
        [search_stage({"feature_uri": uri, "query": {"input_mode": "vector", "value": QUERY}})],
        namespace_id,
    )
    assert error.details["field"] == "stages[0].config.parameters.searches[0].feature_uri"
    assert error.details["available_feature_uris"] == accepted


def test_a_mixpeek_uri_resolves_through_the_extractors(stores: StaticStores) -> None:
    from stratus.services.retrieval.plan import resolve_feature_uri

    namespace = resolve_namespace(stores.metadata, ORG, "media")
    assert resolve_feature_uri(namespace, "mixpeek://text_extractor@v1/embedding", "f") == TEXT_INDEX
    assert resolve_feature_uri(namespace, "mixpeek://multimodal_extractor@1/embedding", "f") == CLIP_INDEX
    assert resolve_feature_uri(namespace, TEXT_INDEX, "f") == TEXT_INDEX


def test_a_text_query_on_a_standalone_namespace_is_400_naming_the_accepted_modes(
    stores: StaticStores,
) -> None:
    error = refusal(
        stores, [search_stage({"feature_uri": "emb", "query": {"input_mode": "text", "value": "hello"}})]
    )
    assert error.details["field"] == "stages[0].config.parameters.searches[0].query.value"
    assert error.details["accepted_input_modes"] == ["vector", "document"]


def test_a_text_query_on_an_index_without_inference_service_is_400(stores: StaticStores) -> None:
    namespace = resolve_namespace(stores.metadata, ORG, "media")
    from stratus.models.namespaces import VectorConfig

    extra = namespace.model_copy(
        update={"vector_configs": [*namespace.vector_configs, VectorConfig(name="raw", dimension=4)]}
    )
    stores.metadata.save_namespace(extra, namespace.version, namespace.namespace_name)

    error = refusal(
        stores,
        [search_stage({"feature_uri": "raw", "query": {"input_mode": "text", "value": "hello"}})],
        "media",
    )
    assert "no inference service" in error.message
    assert error.details["accepted_input_modes"] == ["vector", "document"]


def test_a_content_query_on_a_text_only_index_is_400(stores: StaticStores) -> None:
    error = refusal(
        stores,
        [
            search_stage(
                {
                    "feature_uri": TEXT_INDEX,
                    "query": {"input_mode": "content", "value": base64.b64encode(PNG).decode()},
                }
            )
        ],
        "media",
    )
    assert error.details["service"] == "minilm_l6_v2" and error.details["accepted_input_modes"] == [
        "vector",
        "document",
        "text",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"input_mode": "vector", "value": [1.0, 0.0]}, "query.value"),
        ({"input_mode": "multi_content", "values": ["a"]}, "query.input_mode"),
        (
            {"input_mode": "document", "document_ref": {"document_id": "missing"}},
            "query.document_ref.document_id",
        ),
        ({"input_mode": "vector", "value": [[1.0, 0, 0, 0], [0, 1.0, 0, 0]]}, "query.value"),
    ],
)
def test_a_query_that_cannot_run_is_400_naming_its_field(
    stores: StaticStores, query: dict[str, Any], field: str
) -> None:
    error = refusal(stores, [search_stage({"feature_uri": "emb", "query": query})])
    assert error.details["field"] == f"stages[0].config.parameters.searches[0].{field}"


def test_a_pipeline_needs_one_search_first(stores: StaticStores) -> None:
    assert (
        refusal(stores, [stage("sort_attribute", field="year"), search_stage(vector_search())]).details[
            "field"
        ]
        == "stages[0]"
    )
    assert refusal(stores, [stage("attribute_filter", conditions={"a": 1})]).details["field"] == "stages"
    assert (
        refusal(stores, [search_stage(vector_search()), search_stage(vector_search())]).details["field"]
        == "stages[1]"
    )


def test_unsupported_filter_operators_are_400(stores: StaticStores) -> None:
    error = refusal(
        stores,
        [
            search_stage(vector_search()),
            stage("attribute_filter", field="category", operator="regex", value="^c"),
        ],
    )
    assert "regex" in error.message


@pytest.mark.parametrize(
    ("stages", "location"),
    [
        ([search_stage(vector_search(bogus=1))], "stages[0].config.parameters.searches[0].bogus"),
        (
            [search_stage(vector_search()), stage("sort_attribute", field="year", order="asc")],
            "stages[1].config.parameters.order",
        ),
        ([search_stage(vector_search(), final_top_k="many")], "stages[0].config.parameters.final_top_k"),
        (
            [
                {
                    "stage_name": "s",
                    "config": {"stage_id": "limit", "parameters": {"limit": 1}},
                    "colour": "red",
                }
            ],
            "stages[0].colour",
        ),
        (
            [
                {
                    "stage_name": "s",
                    "stage_type": "shuffle",
                    "config": {"stage_id": "limit", "parameters": {"limit": 1}},
                }
            ],
            "stages[0].stage_type",
        ),
        ([{"name_only": True}], "stages[0]"),
        ([{"type": "limit", "limit": 1, "extra": 2}], "stages[0].extra"),
    ],
)
def test_a_key_unknown_to_both_the_sdk_and_api_md_is_422(
    stores: StaticStores, stages: list[dict[str, Any]], location: str
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        adhoc(stores, stages)
    assert location in [problem["location"] for problem in caught.value.details["validation_errors"]]


# ---------------------------------------------------------------------------------------------
# Accepted but not applied, limits, pagination, usage


def test_sdk_defaults_are_silent_and_set_unapplied_parameters_are_warnings(stores: StaticStores) -> None:
    """`StageParamsFeatureSearch(...).to_dict()` sends these defaults: no warning for them."""
    defaults = {"interactive": False, "degrade_retry": False, "auto_preprocess": True, "final_top_k": 25}
    entry = vector_search(top_k=100, weight=1.0, lexical=False, optional=False)
    quiet = adhoc(
        stores,
        [search_stage(entry, **defaults)],
        stream=False,
        skip_cache=False,
        return_presigned_urls=False,
        explain=False,
    )
    assert quiet.warnings == []

    noisy = adhoc(
        stores,
        [
            search_stage(
                vector_search(lexical=True, top_k=5000),
                {
                    "feature_uri": "emb",
                    "query": {
                        "input_mode": "document",
                        "document_ref": {"document_id": "d1", "collection_id": "c"},
                    },
                },
                hard_timeout_ms=10,
                interactive=True,
            )
        ],
        stream=True,
        expand=["x"],
    )
    assert sorted(noisy.warnings) == sorted(
        [
            "stages[0].config.parameters.hard_timeout_ms: accepted but not applied by Stratus",
            "stages[0].config.parameters.interactive: accepted but not applied by Stratus",
            "stages[0].config.parameters.searches[0].lexical: accepted but not applied by Stratus",
            "stages[0].config.parameters.searches[1].query.document_ref.collection_id: accepted but not "
            "applied by Stratus",
            "stages[0].config.parameters.searches[0].top_k: 5000 is above Stratus's 1000 per vector "
            "query; 1000 was used",
            "stream: accepted but not applied by Stratus",
            "expand: accepted but not applied by Stratus",
        ]
    )


def test_pagination_pages_through_the_results(stores: StaticStores) -> None:
    stages = [search_stage(vector_search())]
    second = adhoc(stores, stages, pagination={"method": "offset", "page_size": 2, "page_number": 2})
    assert ids(second) == ["d3", "d4"] and second.pagination["total_pages"] == 3

    first = adhoc(stores, stages, pagination={"method": "cursor", "limit": 4})
    rest = adhoc(
        stores, stages, pagination={"method": "cursor", "limit": 4, "cursor": first.pagination["next_cursor"]}
    )
    assert ids(first) + ids(rest) == list(DOCS) and rest.pagination["next_cursor"] is None
    assert ids(adhoc(stores, stages, limit=2)) == ["d1", "d2"]
    with pytest.raises(RequestValidationError):
        adhoc(stores, stages, pagination={"method": "offset", "limit": 2})


def test_execution_ids_are_unique(stores: StaticStores) -> None:
    seen = {adhoc(stores, [search_stage(vector_search())]).execution_id for _ in range(20)}
    assert len(seen) == 20


def test_filtered_executions_count_filter_usage_for_auto_create_indexes(stores: StaticStores) -> None:
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    stores.metadata.save_namespace(
        namespace.model_copy(update={"auto_create_indexes": True}),
        namespace.version,
        namespace.namespace_name,
    )
    counted: list[Any] = []
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    request = AdhocExecuteRequest.model_validate(
        {
            "stages": [stage("attribute_filter", conditions={"year": 2024}), search_stage(vector_search())],
            "filters": {"category": "contract"},
        }
    )
    executions.execute_adhoc(stores, namespace, request, defer=lambda function, *args: counted.append(args))

    assert len(counted) == 1
    node = counted[0][3]
    assert node == parse_filter({"AND": [{"category": "contract"}, {"year": 2024}]})
