"""`POST /v1/retrievers/execute`: run stages given in the body; nothing is saved."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends

from stratus import observability
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import AdhocExecuteRequest, ExecutionResponse
from stratus.services.retrieval import executions as service

router = APIRouter(tags=RETRIEVERS)


@router.post(
    "/v1/retrievers/execute",
    operation_id="execute_adhoc_retriever",
    response_model=ExecutionResponse,
    response_model_exclude_none=True,
    summary="Run an ad-hoc pipeline of stages (nested or the SDK's flat quickstart form)",
    responses=error_responses(400, 404),
)
def execute_adhoc_retriever(
    body: AdhocExecuteRequest,
    background: BackgroundTasks,
    return_vectors: bool = False,
    include_legacy_results: bool = False,
    # The SDK's other query parameters: accepted (the same as the body's fields of those names).
    return_presigned_urls: bool = False,
    explain: bool = False,
    skip_cache: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read", cached=True)),
    container: Container = Depends(get_container),
) -> ExecutionResponse:
    response = service.execute_adhoc(
        container,
        scope.namespace,
        body,
        query_cache=container.query_cache,
        namespace_max_age=container.settings.namespace_cache_seconds,
        defer=background.add_task,
        return_vectors=return_vectors,
        include_legacy_results=include_legacy_results,
    )
    observability.count("SearchResults", len(response.documents))
    return response
