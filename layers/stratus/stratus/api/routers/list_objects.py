"""`GET /v1/buckets/{bucket_id}/objects` and `POST .../objects/list`: a bucket's objects with
their processing status."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus import limits
from stratus.api.list_params import paging_params
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.common import ListResponse
from stratus.models.objects import ListObjectsRequest, ObjectList, ObjectModel
from stratus.services import buckets, objects
from stratus.services.listing import PagingParams

router = APIRouter(tags=OBJECTS)


@router.get(
    "/v1/buckets/{bucket_id}/objects",
    operation_id="list_objects",
    response_model=ListResponse[ObjectModel],
    summary="List a bucket's objects with their processing status",
    responses=error_responses(400, 404),
)
def list_objects(
    bucket_id: str,
    paging: PagingParams = Depends(paging_params),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ListResponse[ObjectModel]:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    limit = paging.limit or limits.DEFAULT_PAGE_SIZE
    return objects.list_objects(container.metadata, bucket, limit, paging.cursor, bool(paging.include_total))


@router.post(
    "/v1/buckets/{bucket_id}/objects/list",
    operation_id="list_objects_with_filters",
    response_model=ObjectList,
    summary="List a bucket's objects with filters (on the object as answered) and search; body optional",
    responses=error_responses(400, 404),
)
def list_objects_with_filters(
    bucket_id: str,
    body: ListObjectsRequest | None = None,
    paging: PagingParams = Depends(paging_params),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ObjectList:
    body = body or ListObjectsRequest()
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    limit = body.limit or body.page_size or paging.limit or limits.DEFAULT_PAGE_SIZE
    include_total = body.include_total if body.include_total is not None else paging.include_total
    page = objects.list_objects(
        container.metadata,
        bucket,
        limit,
        body.cursor or paging.cursor,
        bool(include_total),
        filters=body.filters,
        search=body.search,
        case_sensitive=body.case_sensitive,
    )
    return ObjectList(
        results=page.results, pagination=page.pagination.model_dump(), warnings=body.unapplied()
    )
