"""The paging query parameters of every list route (GET and `POST .../list`): the Mixpeek SDK sends
`limit, page_size, offset, page, cursor, next_cursor, after, include_total` in the query string,
also on a POST whose body says nothing about paging. A body value wins over the query."""

from __future__ import annotations

from fastapi import Query

from stratus import limits
from stratus.models.listing import MAX_OFFSET
from stratus.services.listing import PagingParams


def paging_params(
    limit: int | None = Query(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    page_size: int | None = Query(
        default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE, description="Alias of limit"
    ),
    offset: int | None = Query(default=None, ge=0, le=MAX_OFFSET, description="Items to skip"),
    page: int | None = Query(default=None, ge=1, description="1-based page: offset = (page - 1) * limit"),
    cursor: str | None = Query(default=None, max_length=2048),
    next_cursor: str | None = Query(default=None, max_length=2048, description="Alias of cursor"),
    after: str | None = Query(default=None, max_length=2048, description="Alias of cursor"),
    include_total: bool | None = Query(default=None),
) -> PagingParams:
    return PagingParams(
        limit=limit if limit is not None else page_size,
        page_size=page_size,
        offset=offset,
        page=page,
        cursor=cursor or next_cursor or after,
        include_total=include_total,
    )
