"""`POST /v1/namespaces/{id}/promote` (namespace-promotion.txt)."""

from __future__ import annotations

from pydantic import Field

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.namespaces import BackfillSource, Metric, Mode, VectorConfig


class VectorMapping(StrictModel):
    existing_index: str = Field(min_length=1, max_length=64)
    inference_service: str = Field(min_length=1, max_length=64)
    # Fill the index for the documents that have no vector in it yet (a backfill task).
    source: BackfillSource | None = None


class AddVector(StrictModel):
    name: str = Field(pattern=limits.VECTOR_INDEX_NAME_PATTERN)
    dimension: int = Field(ge=limits.MIN_DIMENSION, le=limits.MAX_DIMENSION)
    metric: Metric = "cosine"
    inference_service: str | None = Field(default=None, min_length=1, max_length=64)
    # Fill the new index for the existing documents (a backfill task); needs inference_service.
    source: BackfillSource | None = None


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
    # Only when an entry named a `source`: the task filling those indexes (GET /v1/tasks/{id}).
    # Absent otherwise, so the answer stays exactly the seed's.
    backfill_task_id: str | None = None
