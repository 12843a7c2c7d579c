"""The backfill ports: the task records a backfill or migration keeps in the metadata store
(counters moved atomically, one item per page), and the queue its pages travel through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from stratus.ports.stores import Stores

if TYPE_CHECKING:
    from stratus.models.backfill import BackfillPlan
    from stratus.models.managed_content import Task, TaskStatus
    from stratus.models.namespaces import Namespace


@dataclass
class NewBackfill:
    """A backfill task as it is created: the task record (PENDING) and what it will do."""

    task: Task
    plan: BackfillPlan


@dataclass
class BackfillState:
    """A backfill task as stored: the record, its plan, and how far it got."""

    task: Task
    plan: BackfillPlan
    # Set once the task listed its documents (`enumerate`): which listing, how many pages.
    listing: str | None = None
    page_count: int | None = None
    pages_done: int = 0
    done_pages: set[int] = field(default_factory=set)
    started_at: str | None = None

    @property
    def listed(self) -> bool:
        return self.listing is not None and self.page_count is not None

    @property
    def finished_pages(self) -> bool:
        return self.listed and self.pages_done >= (self.page_count or 0)


@dataclass
class PagePlan:
    """What one page does, per target index: the ids to embed and how many it skips. Recorded
    before the first embedding, so a redelivery after a crash counts exactly the same."""

    embed: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class PageState:
    ids: list[str]
    plan: PagePlan | None = None


@dataclass(frozen=True)
class PageCounts:
    processed: int
    skipped: int
    failed: int


class BackfillRepository(Protocol):
    """The task items of backfills (in the metadata table, next to the other tasks). Raises
    `MetadataStoreUnavailableError` when the table is down."""

    def create_backfill(self, backfill: NewBackfill) -> None:
        """Write the task and its plan (PENDING, counters at zero); it must not exist yet."""
        ...

    def start_migration(
        self, namespace: Namespace, expected_version: int, backfill: NewBackfill
    ) -> Namespace:
        """ONE transaction: `namespace` (carrying its new migration; version bumped) if the stored
        one is still at `expected_version`, and the new task. `ConflictError` on a lost race."""
        ...

    def end_migration(
        self,
        namespace: Namespace,
        expected_version: int,
        task_id: str,
        status: TaskStatus,
        *,
        error: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> Namespace:
        """ONE transaction: `namespace` (the migration removed, and for a swap the index moved to
        the new copy) if still at `expected_version`, and the task's end status if it is still
        PENDING or PROCESSING. `ConflictError` if either changed."""
        ...

    def get_backfill(self, task_id: str) -> BackfillState | None: ...

    def mark_processing(self, task_id: str) -> bool:
        """PENDING → PROCESSING (sets `started_at`); True if the task is PROCESSING now."""
        ...

    def record_listing(
        self, task_id: str, listing: str, pages: Sequence[Sequence[str]], targets: int = 1
    ) -> BackfillState:
        """Store the pages of ids under `listing`, then make it the task's listing with its page
        count and total (documents x `targets`, the indexes each is embedded for), unless another
        listing won first: the task as it is afterwards."""
        ...

    def get_page(self, task_id: str, listing: str, page: int) -> PageState | None: ...

    def plan_page(self, task_id: str, listing: str, page: int, plan: PagePlan) -> PagePlan:
        """Record the page's plan unless one is recorded already; the plan that holds."""
        ...

    def finish_page(
        self, task_id: str, page: int, counts: PageCounts, eta_seconds: float | None
    ) -> BackfillState | None:
        """Add the page's counts to the task, once per page: None if the page was counted before."""
        ...

    def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        error: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move a PENDING or PROCESSING task to its end status; False if it had ended already."""
        ...


class TaskQueue(Protocol):
    """Where backfill work travels (SQS). Raises `ServiceUnavailableError` when it is down."""

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None:
        """Send every message (JSON objects), or raise: never a silent partial send."""
        ...

    def release(self, receipt_handle: str, delay_seconds: int) -> None:
        """Make a received message visible again in `delay_seconds` (a failed one's backoff,
        instead of the queue's whole visibility timeout). Best effort: never raises."""
        ...


class BackfillStores(Stores, Protocol):
    """What backfills and migrations take: the stores, their task records and their queue."""

    @property
    def backfill(self) -> BackfillRepository: ...

    @property
    def backfill_queue(self) -> TaskQueue: ...
