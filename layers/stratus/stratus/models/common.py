"""Shapes shared by every resource: pagination and list requests."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from stratus import limits

T = TypeVar("T")


class Model(BaseModel):
    """The base of every Stratus model. `defer_build`: a model's validators are built on its first
    use, not at import, so a Lambda function pays at init only for the models its own operation
    touches (the layer defines ~90; building them all was a third of a cold start's import)."""

    model_config = ConfigDict(defer_build=True)


class StrictModel(Model):
    """Unknown fields are an error: a typo in a request must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Pagination(Model):
    page_size: int
    next_cursor: str | None = None
    total: int | None = None


class ListResponse(Model, Generic[T]):
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
