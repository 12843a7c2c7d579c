"""`GET /v1/collections` and `POST /v1/collections/list`: the collections of the `X-Namespace`
namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus.api.list_params import paging_params
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import COLLECTIONS, error_responses
from stratus.container import Container, get_container
from stratus.models.listing import CountedListResponse, ListBody
from stratus.models.managed_content import CollectionModel
from stratus.services import collections as service
from stratus.services.listing import PagingParams, list_query

router = APIRouter(tags=COLLECTIONS)


@router.get(
    "/v1/collections",
    operation_id="list_collections",
    response_model=CountedListResponse[CollectionModel],
    summary="List the collections of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_collections(
    paging: PagingParams = Depends(paging_params),
    search: str | None = Query(
        default=None, max_length=256, description="In collection_name, id, description"
    ),
    include_system: bool | None = Query(
        default=None, description="Accepted; Stratus has no system collections"
    ),
    namespace_id: str | None = Query(
        default=None, max_length=1024, description="Accepted; X-Namespace decides"
    ),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CountedListResponse[CollectionModel]:
    query = list_query(ListBody(search=search), paging)
    return service.list_collections(container.metadata, scope.namespace, query)


@router.post(
    "/v1/collections/list",
    operation_id="list_collections_with_filters",
    response_model=CountedListResponse[CollectionModel],
    summary="List collections with filters, search and sort (the body is optional)",
    responses=error_responses(400, 404),
)
def list_collections_with_filters(
    body: ListBody | None = None,
    paging: PagingParams = Depends(paging_params),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CountedListResponse[CollectionModel]:
    return service.list_collections(container.metadata, scope.namespace, list_query(body, paging))
