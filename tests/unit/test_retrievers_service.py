"""Saved retrievers over in-memory stores: create (both stage forms, stored nested), find by id or
name, list with filters/search/sort/paging, PATCH with versions and renames, delete (and with
their namespace); and every answer parsed by the official SDK's own response models."""

from __future__ import annotations

from typing import Any

import pytest
from mixpeek.models.execute_retriever_response import ExecuteRetrieverResponse
from mixpeek.models.list_retrievers_response import ListRetrieversResponse as SdkListRetrieversResponse
from mixpeek.models.patch_retriever_response import PatchRetrieverResponse as SdkPatchRetrieverResponse
from mixpeek.models.retriever_config import RetrieverConfig
from mixpeek.models.retriever_model_output import RetrieverModelOutput
from mixpeek.models.retriever_stage_definition import RetrieverStageDefinition

from stratus.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RequestValidationError,
)
from stratus.models.namespaces import CreateStandaloneNamespaceRequest, Namespace
from stratus.models.retrievers import (
    CreateRetrieverRequest,
    ExecuteRetrieverRequest,
    ListRetrieversRequest,
    PatchRetrieverRequest,
    PatchRetrieverResponse,
)
from stratus.services import namespaces, retrievers
from stratus.services.retrieval import executions
from stratus.services.retrieval.stages import describe_catalogue
from stratus.services.spaces import resolve_namespace
from tests.fakes import InMemoryMetadataStore, InMemoryVectorStore
from tests.static_stores import StaticStores

ORG = "org_a"
SEARCH = {
    "stage_name": "search",
    "config": {
        "stage_id": "feature_search",
        "parameters": {
            "searches": [
                {"feature_uri": "emb", "query": {"input_mode": "vector", "value": "{{INPUT.vector}}"}}
            ],
            "final_top_k": 5,
            "fusion": "rrf",
        },
    },
}


@pytest.fixture
def stores() -> StaticStores:
    built = StaticStores(metadata=InMemoryMetadataStore(), vectors=InMemoryVectorStore())
    for namespace_id in ("docs", "other"):
        namespaces.create_standalone_namespace(
            built,
            ORG,
            CreateStandaloneNamespaceRequest.model_validate(
                {"namespace_id": namespace_id, "vector_configs": [{"name": "emb", "dimension": 2}]}
            ),
        )
    from stratus.models.documents import UpsertDocumentsRequest
    from stratus.services import documents

    documents.upsert_documents(
        built,
        resolve_namespace(built.metadata, ORG, "docs"),
        UpsertDocumentsRequest.model_validate(
            {"documents": [{"document_id": "a", "vectors": {"emb": [1.0, 0.0]}, "payload": {"k": 1}}]}
        ),
    )
    return built


def ns(stores: StaticStores, namespace_id: str = "docs") -> Namespace:
    return resolve_namespace(stores.metadata, ORG, namespace_id)


def create(stores: StaticStores, name: str = "finder", namespace_id: str = "docs", **body: Any) -> Any:
    request = CreateRetrieverRequest.model_validate({"retriever_name": name, "stages": [SEARCH], **body})
    return retrievers.create_retriever(stores.metadata, ns(stores, namespace_id), request)


def test_a_created_retriever_is_stored_nested_and_answers_the_sdk_models(stores: StaticStores) -> None:
    created = create(
        stores,
        stages=[SEARCH, {"type": "sort_attribute", "field": "k", "direction": "asc"}],
        input_schema={
            "vector": {"type": "array", "required": True, "description": "the query", "x-ui": "hidden"}
        },
        collection_ids=["col_a"],
        requires_subscription=False,
        visibility="private",
        budget_limits={"max_credits": 1, "max_time_ms": 500},
        tags=["t"],
        metadata={"team": "search"},
    )

    assert created.retriever_id.startswith("ret_") and created.version == 1
    assert created.stages[1] == {
        "stage_name": "sort_attribute",
        "stage_type": "sort",
        "config": {"stage_id": "sort_attribute", "parameters": {"field": "k", "direction": "asc"}},
    }
    answer = retrievers.describe_retriever(created).model_dump(mode="json")
    assert answer["stages"][0]["parameters"] == SEARCH["config"]["parameters"]  # type: ignore[index]
    assert answer["collection_identifiers"] == answer["collection_ids"] == ["col_a"]
    assert answer["input_schema"]["vector"]["x-ui"] == "hidden"
    assert answer["fusion"] == "rrf"
    for model in (RetrieverConfig, RetrieverModelOutput):
        parsed = model.from_dict(answer)
        assert parsed is not None and parsed.retriever_id == created.retriever_id
        assert parsed.stages[0].parameters == SEARCH["config"]["parameters"]  # type: ignore[index]


def test_a_retriever_is_found_by_id_or_name_in_its_namespace_only(stores: StaticStores) -> None:
    created = create(stores)

    assert retrievers.get_retriever(stores.metadata, ns(stores), "finder") == created
    assert retrievers.get_retriever(stores.metadata, ns(stores), created.retriever_id) == created
    with pytest.raises(NotFoundError):
        retrievers.get_retriever(stores.metadata, ns(stores, "other"), created.retriever_id)
    create(stores, namespace_id="other")  # names are per namespace
    with pytest.raises(AlreadyExistsError):
        create(stores)


@pytest.mark.parametrize("name", sorted(retrievers.RESERVED_NAMES))
def test_route_words_are_refused_as_names(stores: StaticStores, name: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        create(stores, name)
    assert caught.value.details["field"] == "retriever_name"


def test_no_name_can_shadow_an_id_or_hold_the_key_separator(stores: StaticStores) -> None:
    first = create(stores)
    # Another retriever named after the first one's id would take over neither lookup: refused,
    # at creation and on rename, as is any id-like name and any name holding '#'.
    for name in (first.retriever_id, "ret_anything", "a#RET#b"):
        with pytest.raises(BadRequestError) as caught:
            create(stores, name)
        assert caught.value.details["field"] == "retriever_name"
        with pytest.raises(BadRequestError):
            retrievers.update_retriever(
                stores.metadata, ns(stores), "finder", PatchRetrieverRequest(retriever_name=name)
            )
    assert retrievers.get_retriever(stores.metadata, ns(stores), first.retriever_id) == first
    with pytest.raises(BadRequestError) as lookup:
        retrievers.get_retriever(stores.metadata, ns(stores), "x#y")
    assert lookup.value.details["field"] == "retriever_id"


def test_a_bad_stage_is_refused_at_creation_and_nothing_is_stored(stores: StaticStores) -> None:
    with pytest.raises(BadRequestError):
        create(stores, stages=[{"type": "summarize"}])
    with pytest.raises(RequestValidationError):
        create(
            stores,
            stages=[{**SEARCH, "config": {"stage_id": "feature_search", "parameters": {"final_top_k": 0}}}],
        )
    assert stores.metadata.list_retrievers(ORG, ns(stores).namespace_id, 10, None).retrievers == []


def test_patch_changes_what_is_given_bumps_the_version_and_answers_wrapped(stores: StaticStores) -> None:
    created = create(stores, description="first", tags=["a"])
    patched = retrievers.update_retriever(
        stores.metadata,
        ns(stores),
        "finder",
        PatchRetrieverRequest.model_validate(
            {
                "retriever_name": "seeker",
                "description": None,
                "stages": [{"type": "feature_search", "query": "x", "feature_uri": "emb"}],
            }
        ),
    )

    assert patched.version == 2 and patched.retriever_name == "seeker" and patched.description is None
    assert patched.tags == ["a"] and patched.stages[0]["config"]["stage_id"] == "feature_search"
    with pytest.raises(NotFoundError):
        retrievers.get_retriever(stores.metadata, ns(stores), "finder")
    wrapped = PatchRetrieverResponse(retriever=retrievers.describe_retriever(patched)).model_dump(mode="json")
    parsed = SdkPatchRetrieverResponse.from_dict(wrapped)
    assert parsed is not None and parsed.retriever.retriever_name == "seeker"
    with pytest.raises(ConflictError):
        stores.metadata.save_retriever(
            created.model_copy(update={"description": "lost"}), 1, created.retriever_name
        )


def test_list_filters_searches_sorts_and_pages(stores: StaticStores) -> None:
    for name in ("alpha", "beta", "gamma", "delta"):
        create(stores, name, description=f"{name} retriever", tags=[name[0]])

    def listed(**body: Any) -> list[str]:
        answer = retrievers.list_retrievers(
            stores.metadata, ns(stores), ListRetrieversRequest.model_validate(body)
        )
        return [r.retriever_name for r in answer.results]

    assert listed(sort={"field": "retriever_name"}) == ["alpha", "beta", "delta", "gamma"]
    assert listed(sorts=[{"field": "retriever_name", "direction": "desc"}], limit=2) == ["gamma", "delta"]
    assert listed(search="ALPHA") == ["alpha"]
    assert listed(search="ALPHA", case_sensitive=True) == []
    assert listed(filters={"field": "tags", "operator": "eq", "value": "b"}) == ["beta"]
    assert listed(sort={"field": "retriever_name"}, offset=3) == ["gamma"]
    first = retrievers.list_retrievers(
        stores.metadata,
        ns(stores),
        ListRetrieversRequest(limit=3, include_total=True, sort={"field": "retriever_name"}),  # type: ignore[arg-type]
    )
    rest = retrievers.list_retrievers(
        stores.metadata,
        ns(stores),
        ListRetrieversRequest.model_validate(
            {"limit": 3, "cursor": first.pagination.next_cursor, "sort": {"field": "retriever_name"}}
        ),
    )
    assert [r.retriever_name for r in first.results + rest.results] == ["alpha", "beta", "delta", "gamma"]
    assert first.total == 4 and rest.pagination.next_cursor is None
    parsed = SdkListRetrieversResponse.from_dict(first.model_dump(mode="json"))
    assert parsed is not None and parsed.results is not None and len(parsed.results) == 3
    with pytest.raises(BadRequestError):
        listed(sort={"field": "stages"})


def test_delete_frees_the_name_and_a_namespace_delete_takes_its_retrievers(stores: StaticStores) -> None:
    created = create(stores)
    retrievers.delete_retriever(stores.metadata, ns(stores), "finder")
    with pytest.raises(NotFoundError):
        retrievers.delete_retriever(stores.metadata, ns(stores), created.retriever_id)
    create(stores)
    create(stores, "second")

    namespaces.delete_namespace(stores, ORG, "docs")

    assert stores.metadata.list_retrievers(ORG, created.namespace_id, 10, None).retrievers == []


def test_an_execution_answer_parses_as_the_sdk_response(stores: StaticStores) -> None:
    created = create(stores)
    answer = executions.execute_retriever(
        stores,
        ns(stores),
        "finder",
        ExecuteRetrieverRequest.model_validate({"inputs": {"vector": [1.0, 0.0]}}),
    )
    parsed = ExecuteRetrieverResponse.from_dict(answer.model_dump(mode="json", exclude_none=True))

    assert parsed is not None and parsed.execution_id == answer.execution_id and parsed.status == "completed"
    assert parsed.retriever_id == created.retriever_id and parsed.documents is not None
    assert parsed.documents[0]["document_id"] == "a" and parsed.documents[0]["k"] == 1
    assert parsed.stage_statistics is not None and parsed.stage_statistics.stages is not None
    assert parsed.stage_statistics.stages["search"].output_count == 1


def test_an_edit_is_seen_by_the_next_execution(stores: StaticStores) -> None:
    create(stores)
    run = ExecuteRetrieverRequest.model_validate({"inputs": {"vector": [1.0, 0.0]}})
    assert executions.execute_retriever(stores, ns(stores), "finder", run).documents
    retrievers.update_retriever(
        stores.metadata,
        ns(stores),
        "finder",
        PatchRetrieverRequest.model_validate(
            {"stages": [SEARCH, {"type": "attribute_filter", "conditions": {"k": 2}}]}
        ),
    )
    assert executions.execute_retriever(stores, ns(stores), "finder", run).documents == []


def test_the_stage_catalogue_parses_as_the_sdk_definitions() -> None:
    catalogue = describe_catalogue()
    parsed = [RetrieverStageDefinition.from_dict(entry) for entry in catalogue]
    assert [entry.stage_id for entry in parsed if entry is not None] == [
        "feature_search", "attribute_filter", "sort_attribute", "sort_relevance",
        "limit", "sample", "group_by", "mmr",
    ]  # fmt: skip
    assert "lambda" in catalogue[-1]["parameter_schema"]["properties"]
