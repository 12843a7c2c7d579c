"""`GET /v1/buckets` and `POST /v1/buckets/list`: the buckets of the `X-Namespace` namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus.api.list_params import paging_params
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import BUCKETS, error_responses
from stratus.container import Container, get_container
from stratus.models.listing import CountedListResponse, ListBody
from stratus.models.managed_content import BucketModel
from stratus.services import buckets as service
from stratus.services.listing import PagingParams, list_query

router = APIRouter(tags=BUCKETS)


@router.get(
    "/v1/buckets",
    operation_id="list_buckets",
    response_model=CountedListResponse[BucketModel],
    summary="List the buckets of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_buckets(
    paging: PagingParams = Depends(paging_params),
    search: str | None = Query(default=None, max_length=256, description="In bucket_name, id, description"),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CountedListResponse[BucketModel]:
    query = list_query(ListBody(search=search), paging)
    return service.list_buckets(container.metadata, scope.namespace, query)


@router.post(
    "/v1/buckets/list",
    operation_id="list_buckets_with_filters",
    response_model=CountedListResponse[BucketModel],
    summary="List buckets with filters, search and sort (the body is optional)",
    responses=error_responses(400, 404),
)
def list_buckets_with_filters(
    body: ListBody | None = None,
    paging: PagingParams = Depends(paging_params),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CountedListResponse[BucketModel]:
    return service.list_buckets(container.metadata, scope.namespace, list_query(body, paging))
