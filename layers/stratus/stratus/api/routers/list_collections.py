"""`GET /v1/collections`: the collections of the `X-Namespace` namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import COLLECTIONS, error_responses
from stratus.container import Container, get_container
from stratus.models.common import ListResponse
from stratus.models.managed_content import CollectionModel
from stratus.services import collections as service

router = APIRouter(tags=COLLECTIONS)


@router.get(
    "/v1/collections",
    operation_id="list_collections",
    response_model=ListResponse[CollectionModel],
    summary="List the collections of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_collections(
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ListResponse[CollectionModel]:
    return service.list_collections(container.metadata, scope.namespace, limit, cursor, include_total)
