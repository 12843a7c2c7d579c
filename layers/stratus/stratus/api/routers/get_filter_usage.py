"""`GET /v1/namespaces/{namespace_identifier}/analytics/filter-usage`: the filter-usage
analytics behind `auto_create_indexes`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus import clock
from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.payload_indexes import FilterUsageResponse
from stratus.services import filter_usage
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=NAMESPACES)


@router.get(
    "/v1/namespaces/{namespace_identifier}/analytics/filter-usage",
    operation_id="get_filter_usage",
    response_model=FilterUsageResponse,
    summary="Filtered searches per field in the auto_create_indexes window, and whether each is indexed",
    responses=error_responses(400, 404),
)
def get_filter_usage(
    namespace_identifier: str,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> FilterUsageResponse:
    settings = container.settings
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    return filter_usage.filter_usage_report(
        container.metadata,
        namespace,
        clock.utc_now(),
        settings.auto_index_threshold,
        settings.auto_index_window_hours,
    )
