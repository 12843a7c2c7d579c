"""Backfills and model migrations (api.md, "Backfill and model migration"): the migration request
and answer, and the plan a backfill task carries. Where an index's vectors come from
(`BackfillSource`) and the state a namespace keeps while a migration runs (`IndexMigration`) are
part of the namespace record (`models.namespaces`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stratus.models.common import Model, StrictModel
from stratus.models.namespaces import BackfillSource, IndexMigration, Metric

__all__ = [
    "TASK_TYPE_BACKFILL",
    "TASK_TYPE_MIGRATION",
    "BackfillPlan",
    "BackfillSource",
    "BackfillTarget",
    "IndexMigration",
    "MigrateIndexRequest",
    "MigrateIndexResponse",
]

TASK_TYPE_BACKFILL = "api_collections_reembed"
TASK_TYPE_MIGRATION = "api_namespaces_migrations_run"


class MigrateIndexRequest(StrictModel):
    """`source` is checked by the rules (a 400 naming it), not here: a source that names nothing
    is a rule of api.md, not a malformed body."""

    inference_service: str = Field(min_length=1, max_length=64)
    source: BackfillSource


class MigrateIndexResponse(Model):
    task_id: str
    namespace_id: str
    index: str
    status: str
    from_inference_service: str | None
    to_inference_service: str
    from_dimension: int
    to_dimension: int


class BackfillTarget(Model):
    """One index a backfill task fills: its physical copy and how its vectors are made (for the
    copy a migration retires, the service that made it, if any)."""

    index: str
    inference_service: str | None
    dimension: int
    metric: Metric
    generation: str = ""
    source: BackfillSource


class BackfillPlan(Model):
    """What a backfill task does, stored with the task when it is created."""

    kind: Literal["promotion", "migration"]
    org_id: str
    namespace_id: str
    storage_key: str
    targets: list[BackfillTarget]
    # Migration only: the index's copy being replaced, read as the documents' source of ids.
    retiring: BackfillTarget | None = None
