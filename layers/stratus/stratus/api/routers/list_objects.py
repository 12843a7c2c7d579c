"""`GET /v1/buckets/{bucket_id}/objects`: a bucket's objects with their processing status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.common import ListResponse
from stratus.models.managed_content import ObjectModel
from stratus.services import buckets, objects

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
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ListResponse[ObjectModel]:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    return objects.list_objects(container.metadata, bucket, limit, cursor, include_total)
