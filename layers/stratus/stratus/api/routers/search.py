"""`POST /v1/search`."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends

from stratus import observability
from stratus.api.auth import require
from stratus.api.routers import error_responses
from stratus.container import Container, get_container
from stratus.models.search import SearchRequest, SearchResponse
from stratus.services import search as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search",
    operation_id="search",
    response_model=SearchResponse,
    summary="Vector search with filters and multi-query fusion",
    responses=error_responses(400, 404),
)
def search(
    body: SearchRequest,
    background: BackgroundTasks,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> SearchResponse:
    # Filter-usage counting (auto_create_indexes) runs after the answer is sent. Under Mangum the
    # invocation still ends only after it: one UpdateItem, a few milliseconds.
    response = service.search(
        container,
        principal.org_id,
        body,
        query_cache=container.query_cache,
        namespace_max_age=container.settings.namespace_cache_seconds,
        defer=background.add_task,
    )
    observability.count("SearchResults", len(response.results))
    return response
