"""`POST /v1/namespaces/{id}/promote` (namespace-promotion.txt)."""

from __future__ import annotations

from pydantic import Field

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.namespaces import Metric, Mode, VectorConfig


class VectorMapping(StrictModel):
    existing_index: str = Field(min_length=1, max_length=64)
    inference_service: str = Field(min_length=1, max_length=64)


class AddVector(StrictModel):
    name: str = Field(pattern=limits.VECTOR_INDEX_NAME_PATTERN)
    dimension: int = Field(ge=limits.MIN_DIMENSION, le=limits.MAX_DIMENSION)
    metric: Metric = "cosine"
    inference_service: str | None = Field(default=None, min_length=1, max_length=64)


class PromoteNamespaceRequest(StrictModel):
    vector_mappings: list[VectorMapping] = Field(default_factory=list, max_length=limits.MAX_VECTOR_INDEXES)
    add_vectors: list[AddVector] = Field(default_factory=list, max_length=limits.MAX_VECTOR_INDEXES)


class PromoteNamespaceResponse(Model):
    namespace_id: str
    previous_mode: Mode
    mode: Mode
    status: str
    vector_configs: list[VectorConfig]
    vector_inference_map: dict[str, str]
