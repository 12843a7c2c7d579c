"""`GET /v1/namespaces` and `POST /v1/namespaces/list`: list namespaces."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.common import ListRequest, ListResponse
from stratus.models.namespaces import NamespaceModel
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.get(
    "/v1/namespaces",
    operation_id="list_namespaces",
    response_model=ListResponse[NamespaceModel],
    summary="List namespaces",
    responses=error_responses(400),
)
def list_namespaces(
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> ListResponse[NamespaceModel]:
    request = ListRequest(limit=limit, cursor=cursor, include_total=include_total)
    return service.list_namespaces(container, principal.org_id, request)


@router.post(
    "/v1/namespaces/list",
    operation_id="list_namespaces_with_filters",
    response_model=ListResponse[NamespaceModel],
    summary="List namespaces with filters, search and sort",
    responses=error_responses(400),
)
def list_namespaces_with_filters(
    body: ListRequest,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> ListResponse[NamespaceModel]:
    return service.list_namespaces(container, principal.org_id, body)
