"""`POST /v1/search` request and answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.documents import FiniteFloat, Vector

Fusion = Literal["rrf", "weighted", "max"]


class SearchQuery(StrictModel):
    vector_name: str = Field(min_length=1, max_length=64)
    vector: Vector | None = None
    text: str | None = Field(default=None, min_length=1, max_length=8192)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    top_k: int = Field(default=10, ge=limits.MIN_TOP_K, le=limits.MAX_TOP_K)
    score_threshold: FiniteFloat | None = None
    weight: FiniteFloat = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _exactly_one_input(self) -> SearchQuery:
        given = [name for name in ("vector", "text", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of vector, text or url (got {', '.join(given) or 'none'})")
        return self


class SearchRequest(StrictModel):
    namespace_id: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    queries: list[SearchQuery] = Field(min_length=1, max_length=limits.MAX_QUERIES_PER_SEARCH)
    filters: dict[str, Any] | None = None
    top_k: int = Field(default=10, ge=limits.MIN_TOP_K, le=limits.MAX_TOP_K)
    fusion: Fusion = "rrf"
    return_vectors: bool = False


class SearchResult(Model):
    document_id: str
    score: float
    payload: dict[str, Any]
    scores: dict[str, float]
    vectors: dict[str, list[float]] | None = None


class SearchResponse(Model):
    results: list[SearchResult]
    warnings: list[str]
    took_ms: float
