"""Service rules over in-memory stores: schema-on-write, overwrite-whole, paging, search checks."""

from __future__ import annotations

from typing import Any

import pytest

from stratus import limits
from stratus.errors import BadRequestError, NotFoundError, PayloadTooLargeError, VectorStoreUnavailableError
from stratus.models.documents import ListDocumentsRequest, UpsertDocumentsRequest
from stratus.models.namespaces import CreateStandaloneNamespaceRequest
from stratus.models.search import SearchRequest
from stratus.ports import RecordPage, Stores
from stratus.services import document_reads, documents, namespaces, search
from stratus.services.embedding import EmbeddingCache
from stratus.services.spaces import resolve_namespace
from tests.fakes import InMemoryMetadataStore, InMemoryVectorStore
from tests.static_stores import StaticStores
from tests.unit.test_embedding_cache import CountingEmbedder

ORG = "org_a"


@pytest.fixture
def stores() -> Stores:
    return StaticStores(metadata=InMemoryMetadataStore(), vectors=InMemoryVectorStore())


def _create(stores: Stores, **body: Any) -> None:
    request = CreateStandaloneNamespaceRequest.model_validate({"namespace_id": "docs", **body})
    namespaces.create_standalone_namespace(stores, ORG, request)


def _upsert(stores: Stores, *docs: dict[str, Any]) -> list[str]:
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    request = UpsertDocumentsRequest.model_validate({"documents": list(docs)})
    return documents.upsert_documents(stores, namespace, request).document_ids


def test_given_unseen_vector_name_when_upserted_then_a_cosine_index_with_inferred_dimension_appears(
    stores: Stores,
) -> None:
    _create(stores)
    _upsert(stores, {"document_id": "a", "vectors": {"emb": [1.0, 0.0, 0.0]}})
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    assert [(c.name, c.dimension, c.metric) for c in namespace.vector_configs] == [("emb", 3, "cosine")]
    assert namespace.version == 2


def test_given_wrong_dimension_when_upserted_then_400_names_the_field(stores: Stores) -> None:
    _create(stores, vector_configs=[{"name": "emb", "dimension": 3}])
    with pytest.raises(BadRequestError) as caught:
        _upsert(stores, {"vectors": {"emb": [1.0, 0.0, 0.0]}}, {"vectors": {"emb": [1.0, 0.0]}})
    assert caught.value.details["field"] == "documents[1].vectors.emb"
    assert "expected 3" in caught.value.message


def test_given_oversized_payload_when_upserted_then_413_names_the_document(stores: Stores) -> None:
    _create(stores, vector_configs=[{"name": "emb", "dimension": 2}])
    with pytest.raises(PayloadTooLargeError) as caught:
        _upsert(stores, {"vectors": {"emb": [1.0, 0.0]}, "payload": {"blob": "x" * 41_000}})
    assert caught.value.details["field"] == "documents[0].payload"


def test_given_existing_document_when_upserted_without_an_index_then_it_is_overwritten_whole(
    stores: Stores,
) -> None:
    _create(stores, vector_configs=[{"name": "a", "dimension": 2}, {"name": "b", "dimension": 2}])
    _upsert(stores, {"document_id": "d", "vectors": {"a": [1.0, 0.0], "b": [0.0, 1.0]}, "payload": {"v": 1}})
    _upsert(stores, {"document_id": "d", "vectors": {"a": [0.5, 0.5]}, "payload": {"v": 2}})
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    document = document_reads.get_document(stores, namespace, "d", return_vectors=True)
    assert document.payload == {"v": 2}
    assert document.vectors == {"a": [0.5, 0.5]}


def test_given_vector_store_down_when_upserting_a_new_index_then_metadata_is_unchanged(
    stores: Stores,
) -> None:
    _create(stores)
    before = resolve_namespace(stores.metadata, ORG, "docs")
    assert isinstance(stores.vectors, InMemoryVectorStore)
    stores.vectors.fail_next = "upsert"
    with pytest.raises(VectorStoreUnavailableError):
        _upsert(stores, {"document_id": "a", "vectors": {"emb": [1.0, 0.0]}})
    assert resolve_namespace(stores.metadata, ORG, "docs") == before


def test_given_documents_spread_over_indexes_when_listed_in_pages_then_each_id_appears_once_in_order(
    stores: Stores,
) -> None:
    _create(stores, vector_configs=[{"name": "a", "dimension": 2}, {"name": "b", "dimension": 2}])
    docs = []
    for i in range(37):
        vectors = {"a": [1.0, float(i)]} if i % 3 else {"b": [float(i), 1.0]}
        if i % 5 == 0:
            vectors = {"a": [1.0, 1.0], "b": [1.0, 1.0]}
        docs.append({"document_id": f"d{i:03d}", "vectors": vectors, "payload": {"i": i}})
    _upsert(stores, *docs)
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    seen: list[str] = []
    cursor = None
    while True:
        request = ListDocumentsRequest(limit=5, cursor=cursor, return_vectors=True)
        page = document_reads.list_documents(stores, namespace, request)
        seen.extend(doc.document_id for doc in page.results)
        for doc in page.results:
            assert doc.vectors is not None and doc.vectors  # every index's vector is filled in
        cursor = page.pagination.next_cursor
        if cursor is None:
            break
    assert seen == [f"d{i:03d}" for i in range(37)]
    assert namespaces.count_documents(stores.vectors, namespace) == 37


class ShortPagesVectorStore(InMemoryVectorStore):
    """A store whose list pages come back short, as LanceDB's can when a record listed by id is
    not there when its row is fetched: the id `d004` is left out of every page that holds it,
    and the page keeps its cursor."""

    def list(
        self, space: Any, filter: Any, limit: int, after_id: str | None, include_vectors: bool
    ) -> RecordPage:
        page = super().list(space, filter, limit, after_id, include_vectors)
        return RecordPage([r for r in page.records if r.id != "d004"], page.next_cursor)


def test_a_short_page_from_the_store_never_ends_the_listing() -> None:
    # Found in a migration under load (tests/e2e/test_backfill_workflow.py): one short page
    # ended the listing there, and every later document looked lost.
    stores = StaticStores(metadata=InMemoryMetadataStore(), vectors=ShortPagesVectorStore())
    _create(stores, vector_configs=[{"name": "a", "dimension": 2}])
    _upsert(stores, *({"document_id": f"d{i:03d}", "vectors": {"a": [1.0, float(i)]}} for i in range(12)))
    namespace = resolve_namespace(stores.metadata, ORG, "docs")
    seen: list[str] = []
    cursor = None
    while True:
        page = document_reads.list_documents(stores, namespace, ListDocumentsRequest(limit=5, cursor=cursor))
        seen.extend(doc.document_id for doc in page.results)
        cursor = page.pagination.next_cursor
        if cursor is None:
            break
    assert seen == [f"d{i:03d}" for i in range(12) if i != 4]


def test_given_standalone_namespace_when_searching_by_text_then_400_says_send_a_vector_or_promote(
    stores: Stores,
) -> None:
    _create(stores, vector_configs=[{"name": "emb", "dimension": 2}])
    request = SearchRequest.model_validate(
        {"namespace_id": "docs", "queries": [{"vector_name": "emb", "text": "cats"}]}
    )
    with pytest.raises(BadRequestError) as caught:
        search.search(stores, ORG, request)
    assert caught.value.details["field"] == "queries[0].text"
    assert "promote" in caught.value.message


def test_given_two_organizations_searching_the_same_text_then_each_query_is_embedded_for_its_own() -> None:
    # A cached embedding answers in ~2 ms instead of ~300: shared between organizations, the
    # time of a search told org B what org A had searched.
    embedder = CountingEmbedder(dimension=2)
    stores = StaticStores(metadata=InMemoryMetadataStore(), vectors=InMemoryVectorStore(), embedders=embedder)
    cache = EmbeddingCache()  # one container's, shared by every organization it serves
    request = SearchRequest.model_validate(
        {"namespace_id": "docs", "queries": [{"vector_name": "emb", "text": "merger with acme"}]}
    )
    for org in ("org_a", "org_b"):
        body = {"namespace_id": "docs", "vector_configs": [{"name": "emb", "dimension": 2}]}
        created = namespaces.create_standalone_namespace(
            stores, org, CreateStandaloneNamespaceRequest.model_validate(body)
        )
        stored = resolve_namespace(stores.metadata, org, created.namespace_id)
        # As a promotion leaves it: managed, its index embedded by a text service.
        mapped = stored.model_copy(
            update={"mode": "managed", "vector_inference_map": {"emb": "minilm_l6_v2"}}
        )
        stores.metadata.save_namespace(mapped, stored.version, stored.namespace_name)

    for org in ("org_a", "org_b"):
        search.search(stores, org, request, query_cache=cache)
    assert embedder.asked == ["merger with acme", "merger with acme"]
    for org in ("org_a", "org_b"):
        search.search(stores, org, request, query_cache=cache)
    assert len(embedder.asked) == 2  # each organization's repeat is its own cache hit


def test_given_unknown_index_when_searching_then_400_lists_available_indexes(stores: Stores) -> None:
    _create(stores, vector_configs=[{"name": "emb", "dimension": 2}])
    request = SearchRequest.model_validate(
        {"namespace_id": "docs", "queries": [{"vector_name": "nope", "vector": [1, 0]}]}
    )
    with pytest.raises(BadRequestError) as caught:
        search.search(stores, ORG, request)
    assert caught.value.details["available_indexes"] == ["emb"]


def test_given_filter_on_unindexed_field_when_searching_then_results_come_with_a_warning(
    stores: Stores,
) -> None:
    _create(
        stores,
        vector_configs=[{"name": "emb", "dimension": 2}],
        payload_indexes=[{"field_name": "kind", "type": "keyword"}],
    )
    _upsert(
        stores,
        {"document_id": "x", "vectors": {"emb": [1.0, 0.0]}, "payload": {"kind": "a", "color": "red"}},
        {"document_id": "y", "vectors": {"emb": [0.9, 0.1]}, "payload": {"kind": "b", "color": "red"}},
    )
    request = SearchRequest.model_validate(
        {
            "namespace_id": "docs",
            "queries": [{"vector_name": "emb", "vector": [1, 0]}],
            "filters": {"AND": [{"field": "kind", "operator": "eq", "value": "B"}, {"color": "red"}]},
        }
    )
    answer = search.search(stores, ORG, request)
    assert [r.document_id for r in answer.results] == ["y"]
    assert len(answer.warnings) == 1 and "'color'" in answer.warnings[0]


def test_given_many_unindexed_fields_when_searching_then_the_warnings_are_capped(stores: Stores) -> None:
    _create(stores, vector_configs=[{"name": "emb", "dimension": 2}])
    fields = [f"f{i}" for i in range(3 * limits.MAX_FILTER_WARNINGS)]
    # Each field twice: one warning per distinct field, whatever the number of its conditions.
    conditions = [{"field": field, "operator": "exists"} for field in fields * 2]
    request = SearchRequest.model_validate(
        {
            "namespace_id": "docs",
            "queries": [{"vector_name": "emb", "vector": [1, 0]}],
            "filters": {"OR": conditions},
        }
    )
    warnings = search.search(stores, ORG, request).warnings
    assert len(warnings) == limits.MAX_FILTER_WARNINGS
    shown = limits.MAX_FILTER_WARNINGS - 1
    assert all(
        f"'{field}'" in warning for field, warning in zip(fields[:shown], warnings[:shown], strict=True)
    )
    assert warnings[-1].startswith(f"{len(fields) - shown} more filtered fields")


def test_given_score_threshold_when_searching_then_weaker_matches_are_dropped(stores: Stores) -> None:
    _create(stores, vector_configs=[{"name": "emb", "dimension": 2}])
    _upsert(
        stores,
        {"document_id": "near", "vectors": {"emb": [1.0, 0.0]}},
        {"document_id": "far", "vectors": {"emb": [0.0, 1.0]}},
    )
    request = SearchRequest.model_validate(
        {
            "namespace_id": "docs",
            "queries": [{"vector_name": "emb", "vector": [1, 0.1], "score_threshold": 0.5}],
        }
    )
    answer = search.search(stores, ORG, request)
    assert [r.document_id for r in answer.results] == ["near"]
    assert answer.results[0].score == pytest.approx(1 / (1.01**0.5))


def test_given_other_org_when_resolving_then_not_found(stores: Stores) -> None:
    _create(stores)
    with pytest.raises(NotFoundError):
        resolve_namespace(stores.metadata, "org_b", "docs")
