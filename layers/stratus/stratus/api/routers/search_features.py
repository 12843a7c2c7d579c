"""`POST /v1/features/search`: one feature search (an index or a feature extractor's output)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends

from stratus import observability
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import ExecutionResponse, FeatureSearchRequest
from stratus.services.retrieval import executions as service

router = APIRouter(tags=RETRIEVERS)


@router.post(
    "/v1/features/search",
    operation_id="search_features",
    response_model=ExecutionResponse,
    response_model_exclude_none=True,
    summary="Search one feature: feature_uri (an index or mixpeek://extractor@version/output), query, top_k",
    responses=error_responses(400, 404),
)
def search_features(
    body: FeatureSearchRequest,
    background: BackgroundTasks,
    scope: NamespaceScope = Depends(namespace_scope("read", cached=True)),
    container: Container = Depends(get_container),
) -> ExecutionResponse:
    response = service.feature_search(
        container,
        scope.namespace,
        body,
        query_cache=container.query_cache,
        namespace_max_age=container.settings.namespace_cache_seconds,
        defer=background.add_task,
    )
    observability.count("SearchResults", len(response.documents))
    return response
