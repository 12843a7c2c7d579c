"""`GET /v1/namespaces` and `POST /v1/namespaces/list`: list namespaces."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from stratus.api.auth import require
from stratus.api.list_params import paging_params
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.listing import CountedListResponse, ListBody
from stratus.models.namespaces import NamespaceModel
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal
from stratus.services.listing import PagingParams, list_query

router = APIRouter(tags=NAMESPACES)

# The SDK's `include_system` (Mixpeek's read-only sample namespaces: Stratus has none) and
# `view` (`summary` drops heavy config; Stratus answers the full model either way).
IncludeSystem = Query(default=None, description="Accepted; Stratus has no system namespaces")
View = Query(default=None, description="Accepted; every namespace is answered in full")


@router.get(
    "/v1/namespaces",
    operation_id="list_namespaces",
    response_model=CountedListResponse[NamespaceModel],
    summary="List namespaces (total_count: the organization's namespace counter)",
    responses=error_responses(400),
)
def list_namespaces(
    paging: PagingParams = Depends(paging_params),
    include_system: bool | None = IncludeSystem,
    view: Literal["full", "summary"] | None = View,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> CountedListResponse[NamespaceModel]:
    return service.list_namespaces(container, principal.org_id, list_query(None, paging))


@router.post(
    "/v1/namespaces/list",
    operation_id="list_namespaces_with_filters",
    response_model=CountedListResponse[NamespaceModel],
    summary="List namespaces with filters, search and sort (the body is optional)",
    responses=error_responses(400),
)
def list_namespaces_with_filters(
    body: ListBody | None = None,
    paging: PagingParams = Depends(paging_params),
    include_system: bool | None = IncludeSystem,
    view: Literal["full", "summary"] | None = View,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> CountedListResponse[NamespaceModel]:
    return service.list_namespaces(container, principal.org_id, list_query(body, paging))
