"""What the backfill worker reads of a task besides its plan: whether it is still open, its
namespace (gone: the task fails), when it started, and the reason a failure is given."""

from __future__ import annotations

from datetime import datetime

from stratus.errors import StratusError
from stratus.models.namespaces import Namespace
from stratus.ports.backfill import BackfillState
from stratus.ports.stores import BackfillStores

OPEN_STATUSES = ("PENDING", "PROCESSING")
MAX_ERROR_LENGTH = 1000


def live_namespace(stores: BackfillStores, state: BackfillState) -> Namespace | None:
    """The task's namespace; None, and the task FAILED, when it was deleted (or replaced)."""
    namespace = stores.metadata.get_namespace(state.plan.org_id, state.plan.namespace_id)
    if namespace is None or namespace.storage_key != state.plan.storage_key:
        stores.backfill.finish_task(state.task.task_id, "FAILED", error="the namespace was deleted")
        return None
    return namespace


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def failure_reason(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message[:MAX_ERROR_LENGTH]
    return f"internal error ({type(error).__name__})"
