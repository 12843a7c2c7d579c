"""`GET /v1/retrievers` and `POST /v1/retrievers/list`: the retrievers of the X-Namespace namespace.

Paging comes as query parameters on both (the SDK sends them so, and `POST .../list` often with
no body at all); a body's values win over the query's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import ListRetrieversRequest, ListRetrieversResponse
from stratus.services import retrievers as service

router = APIRouter(tags=RETRIEVERS)


class Paging:
    """The paging query parameters the SDK sends on every list operation."""

    def __init__(
        self,
        limit: int | None = Query(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
        page_size: int | None = Query(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
        offset: int | None = Query(default=None, ge=0, le=10_000),
        page: int | None = Query(default=None, ge=1, le=10_000),
        cursor: str | None = Query(default=None, max_length=2048),
        next_cursor: str | None = Query(default=None, max_length=2048),
        after: str | None = Query(default=None, max_length=2048),
        include_total: bool = False,
    ) -> None:
        self.limit = limit or page_size
        self.offset = offset
        self.page = page
        self.cursor = cursor or next_cursor or after
        self.include_total = include_total

    def applied_to(self, body: ListRetrieversRequest | None) -> ListRetrieversRequest:
        request = body or ListRetrieversRequest()
        fill = {
            "limit": request.limit or request.page_size or self.limit,
            "offset": request.offset if request.offset is not None else self.offset,
            "page": request.page or self.page,
            "cursor": request.cursor or self.cursor,
            "include_total": request.include_total or self.include_total,
        }
        return request.model_copy(update=fill)


@router.get(
    "/v1/retrievers",
    operation_id="list_retrievers",
    response_model=ListRetrieversResponse,
    summary="List the retrievers of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_retrievers(
    paging: Paging = Depends(),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ListRetrieversResponse:
    return service.list_retrievers(container.metadata, scope.namespace, paging.applied_to(None))


@router.post(
    "/v1/retrievers/list",
    operation_id="list_retrievers_with_filters",
    response_model=ListRetrieversResponse,
    summary="List retrievers with filters, search and sort (the body is optional)",
    responses=error_responses(400, 404),
)
def list_retrievers_with_filters(
    body: ListRetrieversRequest | None = None,
    paging: Paging = Depends(),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ListRetrieversResponse:
    return service.list_retrievers(container.metadata, scope.namespace, paging.applied_to(body))
