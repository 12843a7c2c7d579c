"""The items of a backfill task: the task item (the ordinary task record plus its plan and
counters, all top-level so that `ADD` can move them) and one item per page of document ids, in
the task's partition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratus.adapters.dynamodb.codec import record_item
from stratus.adapters.dynamodb.schema import TASK_SK, task_pk

if TYPE_CHECKING:
    from stratus.ports.backfill import NewBackfill

PAGE_PREFIX = "PAGE#"
# Page items are working state: gone (TTL) a while after any task could still need them.
PAGE_TTL_SECONDS = 30 * 24 * 3600


def backfill_task_item(backfill: NewBackfill) -> dict[str, Any]:
    item = record_item(task_pk(backfill.task.task_id), TASK_SK, "task", backfill.task)
    item.update(
        {
            "backfill_plan": backfill.plan.model_dump(mode="json"),
            # Counters start at 0 (not null): ADD refuses to add to a NULL attribute.
            "processed": 0,
            "skipped": 0,
            "failed": 0,
            "pages_done": 0,
        }
    )
    item.pop("total", None)  # known once the task listed its documents
    item.pop("eta_seconds", None)
    return item


def page_sk(listing: str, page: int) -> str:
    return f"{PAGE_PREFIX}{listing}#{page:07d}"
