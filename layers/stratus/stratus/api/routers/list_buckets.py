"""`GET /v1/buckets`: the buckets of the `X-Namespace` namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import BUCKETS, error_responses
from stratus.container import Container, get_container
from stratus.models.common import ListResponse
from stratus.models.managed_content import BucketModel
from stratus.services import buckets as service

router = APIRouter(tags=BUCKETS)


@router.get(
    "/v1/buckets",
    operation_id="list_buckets",
    response_model=ListResponse[BucketModel],
    summary="List the buckets of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_buckets(
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ListResponse[BucketModel]:
    return service.list_buckets(container.metadata, scope.namespace, limit, cursor, include_total)
