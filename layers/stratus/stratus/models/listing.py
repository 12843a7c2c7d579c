"""The list requests and answers the Mixpeek SDK speaks (`POST /v1/<things>/list` and the GETs).

The SDK sends its `List*Request` with every defaulted field (`case_sensitive: false` always,
`include_system: false` for collections), often sends no body at all, and puts paging in the
query string even on a POST; its `List{Namespaces,Buckets,Collections}Response` require
`total_count`. Stratus's own spelling (`limit`, `cursor`, `include_total`, `sort: {field,
direction}`) is the same model."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

from stratus import limits
from stratus.models.common import ListResponse, StrictModel

T = TypeVar("T")

PageSize = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
MAX_OFFSET = 10_000


class SortOption(StrictModel):
    field: str = Field(min_length=1, max_length=256)
    direction: Literal["asc", "desc"] | None = "asc"


class ListBody(StrictModel):
    """Body of `POST /v1/{namespaces,buckets,collections}/list` (every field of the SDK's
    `ListNamespacesRequest`, `ListBucketsRequest` and `ListCollectionsRequest`)."""

    filters: dict[str, Any] | None = None
    sort: SortOption | None = None
    sorts: list[SortOption] | None = Field(default=None, max_length=8)
    search: str | None = Field(default=None, max_length=256)
    limit: int | None = PageSize
    page_size: int | None = PageSize
    offset: int | None = Field(default=None, ge=0, le=MAX_OFFSET)
    page: int | None = Field(default=None, ge=1)
    cursor: str | None = Field(default=None, max_length=2048)
    include_total: bool | None = None
    case_sensitive: bool = False
    # Collections: Mixpeek's system collections (sample data); Stratus has none to include.
    include_system: bool = False


class CountedListResponse(ListResponse[T], Generic[T]):
    """A list answer with `total_count`: how many items match the request over all pages."""

    total_count: int
