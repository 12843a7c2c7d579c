"""Shapes shared by every resource: pagination and list requests."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from stratus import limits

T = TypeVar("T")


class StrictModel(BaseModel):
    """Unknown fields are an error: a typo in a request must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Pagination(BaseModel):
    page_size: int
    next_cursor: str | None = None
    total: int | None = None


class ListResponse(BaseModel, Generic[T]):
    results: list[T]
    pagination: Pagination


class SortSpec(StrictModel):
    field: str = Field(min_length=1, max_length=128)
    direction: Literal["asc", "desc"] = "asc"


class ListRequest(StrictModel):
    """Body of `POST /v1/<things>/list`."""

    filters: dict[str, Any] | None = None
    sort: SortSpec | None = None
    search: str | None = Field(default=None, max_length=256)
    limit: int = Field(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=2048)
    include_total: bool = False
