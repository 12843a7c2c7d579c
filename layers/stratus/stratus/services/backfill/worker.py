"""The backfill queue's messages (`messages`), one at a time. Each is safe to receive twice.

- `start`: list the task's documents (ids, sorted) into pages, store them under a new listing
  (the first listing stored wins, so two concurrent starts agree), send one `page` per page not
  yet done.
- `page`: record the page's plan (the ids to embed per target index, and the ones skipped:
  gone, already with a vector, no source value) before any embedding; then embed the planned ids
  not yet in the target, in the model's batches, writing each batch at once; then add the page's
  counts to the task, once per page. A crash or redelivery finds the plan and the written
  vectors: it embeds only what is missing and counts exactly what the first attempt would have.
  The last page ends a promotion's task, or sends a migration's `finalize`.
- `finalize` (migration): after `settle_seconds`, make the shadow copy agree with the live
  index (documents written, changed or deleted meanwhile), then swap the index to the copy in
  one conditional write, and send a `drop` of the retired copy (`migration_swap`).
- `drop`: drop a copy of an index once no namespace uses it (after a swap, a cancel, a failure).

A page that keeps failing counts its remaining documents as failed on its last receive: a
promotion's task then ends COMPLETED_WITH_ERRORS; a migration fails, its index untouched."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratus import ids
from stratus.clock import iso_now, utc_now
from stratus.errors import ConflictError, StratusError
from stratus.models.backfill import BackfillPlan, BackfillTarget
from stratus.models.managed_content import TaskStatus
from stratus.models.namespaces import Namespace
from stratus.ports.backfill import BackfillState, PageCounts, PagePlan
from stratus.ports.stores import BackfillStores
from stratus.ports.vectors import Space
from stratus.services.backfill import messages
from stratus.services.backfill.messages import BackfillConfig
from stratus.services.backfill.migration_swap import finalize
from stratus.services.backfill.task_state import (
    MAX_ERROR_LENGTH,
    OPEN_STATUSES,
    failure_reason,
    live_namespace,
    parse_time,
)
from stratus.services.backfill.vectors import (
    current_payloads,
    embed_into,
    fetch,
    has_field,
    source_spaces,
    target_space,
)
from stratus.services.spaces import all_spaces

logger = logging.getLogger(__name__)

# A `start` that finds no task may have outrun the commit creating it (it is sent just before):
# retried for this long, then dropped as the leftover of a promotion or migration that lost.
ORPHAN_SECONDS = 300.0


class NotYetVisible(Exception):
    """The message names a task the metadata store does not show yet: retry the message."""


@dataclass(frozen=True)
class Delivery:
    """One received message: its body, how often it was received, when it was first sent."""

    body: Mapping[str, Any]
    receive_count: int = 1
    sent_at: float | None = None  # epoch seconds


class BackfillWorker:
    def __init__(self, stores: BackfillStores, config: BackfillConfig) -> None:
        self._stores = stores
        self._config = config

    def handle(self, delivery: Delivery) -> None:
        """Do what the message says. Raises when it must be received again."""
        body = delivery.body
        kind = body.get("kind")
        task_id = str(body.get("task_id") or "")
        if kind == messages.DROP:
            self._drop(task_id, messages.space_of(dict(body)))
            return
        state = self._stores.backfill.get_backfill(task_id) if task_id else None
        if state is None:
            age = time.time() - delivery.sent_at if delivery.sent_at is not None else ORPHAN_SECONDS
            if kind == messages.START and age < ORPHAN_SECONDS:
                raise NotYetVisible(f"task '{task_id}' is not visible yet")
            logger.info("backfill: no task '%s' for a %s message; dropped", task_id, kind)
            return
        if state.task.status not in OPEN_STATUSES:
            return  # ended (completed, canceled, failed): nothing left to do
        if kind == messages.START:
            self._start(state)
        elif kind == messages.PAGE:
            self._page(state, str(body["listing"]), int(body["page"]), delivery.receive_count)
        elif kind == messages.FINALIZE:
            try:
                finalize(self._stores, self._config, state)
            except Exception as error:
                if delivery.receive_count < self._config.max_receives:
                    raise
                logger.exception("backfill: the swap of task %s failed on its last receive", task_id)
                namespace = live_namespace(self._stores, state)
                if namespace is not None:
                    self._fail_migration(state, namespace, f"the swap failed: {failure_reason(error)}")
        else:
            logger.warning("backfill: unknown message kind %r; dropped", kind)

    # -- start ---------------------------------------------------------------------------------

    def _start(self, state: BackfillState) -> None:
        plan = state.plan
        namespace = live_namespace(self._stores, state)
        if namespace is None:
            return
        if not self._stores.backfill.mark_processing(state.task.task_id):
            return
        for target in plan.targets:
            self._stores.vectors.ensure_space(target_space(namespace, target))
        if not state.listed:
            document_ids = sorted(self._listed_ids(namespace, plan))
            size = self._config.page_size
            pages = [document_ids[start : start + size] for start in range(0, len(document_ids), size)]
            state = self._stores.backfill.record_listing(
                state.task.task_id, ids.new_id("l", 8), pages, len(plan.targets)
            )
        assert state.listing is not None and state.page_count is not None
        if state.page_count == 0 or state.finished_pages:
            self._complete(state)
            return
        wanted = [n for n in range(state.page_count) if n not in state.done_pages]
        self._stores.backfill_queue.send(
            [messages.page(state.task.task_id, state.listing, n) for n in wanted]
        )

    def _listed_ids(self, namespace: Namespace, plan: BackfillPlan) -> set[str]:
        """A migration's documents are its index's; a promotion's, every document of the
        namespace (each index's ids, merged), whichever index it has a vector in."""
        found: set[str] = set()
        for space in source_spaces(namespace, plan):
            found |= self._stores.vectors.ids(space)
        return found

    # -- page ----------------------------------------------------------------------------------

    def _page(self, state: BackfillState, listing: str, number: int, receive_count: int) -> None:
        task_id = state.task.task_id
        if listing != state.listing:
            return  # a page of a listing that lost
        if number in state.done_pages:
            if state.finished_pages:  # the last page, counted by an attempt that died right after
                self._complete(state)
            return
        namespace = live_namespace(self._stores, state)
        if namespace is None:
            return
        page = self._stores.backfill.get_page(task_id, listing, number)
        if page is None:
            raise StratusError(f"page {number} of task '{task_id}' is missing", {"page": number})
        payloads = current_payloads(self._stores, namespace, state.plan, page.ids)
        plan = page.plan or self._stores.backfill.plan_page(
            task_id, listing, number, self._plan_page(namespace, state.plan, page.ids, payloads)
        )
        progress = PageProgress()
        try:
            for target in state.plan.targets:
                self._fill(namespace, state.plan, target, plan, payloads, progress)
        except Exception as error:
            if receive_count < self._config.max_receives:
                raise
            logger.exception("backfill: page %d of task %s failed on its last receive", number, task_id)
            self._give_up_page(state, namespace, number, plan, progress, error)
            return
        if self._ended(task_id, namespace, state.plan):
            return
        skipped = sum(plan.skipped.values()) + progress.skipped
        counts = PageCounts(processed=progress.processed, skipped=skipped, failed=progress.failed)
        self._count(state, number, counts)

    def _plan_page(
        self,
        namespace: Namespace,
        plan: BackfillPlan,
        page_ids: Sequence[str],
        payloads: Mapping[str, dict[str, Any]],
    ) -> PagePlan:
        page_plan = PagePlan()
        for target in plan.targets:
            space = target_space(namespace, target)
            present = fetch(self._stores, space, [i for i in page_ids if i in payloads])
            embed: list[str] = []
            skipped = 0
            for doc_id in page_ids:
                payload = payloads.get(doc_id)
                if payload is None:
                    skipped += 1  # deleted since the listing
                elif doc_id in present and (plan.kind == "promotion" or present[doc_id].payload == payload):
                    skipped += 1  # already has its vector there (written meanwhile)
                elif target.source.field is not None and not has_field(payload, target.source.field):
                    skipped += 1  # no source value
                else:
                    embed.append(doc_id)
            page_plan.embed[target.index] = embed
            page_plan.skipped[target.index] = skipped
        return page_plan

    def _fill(
        self,
        namespace: Namespace,
        plan: BackfillPlan,
        target: BackfillTarget,
        page_plan: PagePlan,
        payloads: Mapping[str, dict[str, Any]],
        progress: PageProgress,
    ) -> None:
        space = target_space(namespace, target)
        planned = [doc_id for doc_id in page_plan.embed.get(target.index, []) if doc_id in payloads]
        progress.skipped += len(page_plan.embed.get(target.index, [])) - len(planned)  # deleted meanwhile
        present = fetch(self._stores, space, planned)
        done = [d for d in planned if d in present and present[d].payload == payloads[d]]
        if plan.kind == "promotion":
            done = [d for d in planned if d in present]
        progress.processed += len(done)  # written by an earlier attempt (or by a mirrored write)
        todo = {doc_id: payloads[doc_id] for doc_id in planned if doc_id not in set(done)}
        if not todo:
            return
        written, unusable = embed_into(self._stores, space, plan, target, todo)
        progress.processed += written
        progress.failed += len(unusable.failed)
        progress.skipped += len(unusable.skipped)

    def _give_up_page(
        self,
        state: BackfillState,
        namespace: Namespace,
        number: int,
        page_plan: PagePlan,
        progress: PageProgress,
        error: Exception,
    ) -> None:
        """The last receive failed too: what is written stays written, the rest failed."""
        planned = sum(len(ids_) for ids_ in page_plan.embed.values())
        skipped = sum(page_plan.skipped.values()) + progress.skipped
        failed = max(0, planned - progress.processed - progress.skipped)
        reason = failure_reason(error)
        if state.plan.kind == "migration":
            self._fail_migration(state, namespace, f"page {number} failed: {reason}")
            return
        self._count(state, number, PageCounts(processed=progress.processed, skipped=skipped, failed=failed))

    def _count(self, state: BackfillState, number: int, counts: PageCounts) -> None:
        task_id = state.task.task_id
        eta = self._eta(state, counts)
        updated = self._stores.backfill.finish_page(task_id, number, counts, eta)
        if updated is not None and updated.finished_pages:
            self._complete(updated)

    def _eta(self, state: BackfillState, counts: PageCounts) -> float | None:
        """Seconds left at the pace so far (documents done since the task started)."""
        started = parse_time(state.started_at)
        total = state.task.total
        if started is None or not total:
            return None
        done = (state.task.processed or 0) + (state.task.skipped or 0) + (state.task.failed or 0)
        done += counts.processed + counts.skipped + counts.failed
        elapsed = (utc_now() - started).total_seconds()
        if done <= 0 or elapsed <= 0:
            return None
        return round(max(0.0, elapsed / done * (total - done)), 1)

    def _ended(self, task_id: str, namespace: Namespace, plan: BackfillPlan) -> bool:
        """After writing: if the task was canceled or failed meanwhile, what this page wrote is
        in a copy nothing uses; the delayed drop sent by the cancel removes it."""
        state = self._stores.backfill.get_backfill(task_id)
        return state is None or state.task.status not in OPEN_STATUSES

    # -- completion ----------------------------------------------------------------------------

    def _complete(self, state: BackfillState) -> None:
        task = state.task
        if state.plan.kind == "promotion":
            status: TaskStatus = "COMPLETED" if not task.failed else "COMPLETED_WITH_ERRORS"
            outputs = {
                "indexes": [target.index for target in state.plan.targets],
                "processed": task.processed,
                "skipped": task.skipped,
                "failed": task.failed,
            }
            error = f"{task.failed} document(s) could not be embedded" if task.failed else None
            self._stores.backfill.finish_task(task.task_id, status, error=error, outputs=outputs)
            return
        if task.failed:
            namespace = live_namespace(self._stores, state)
            if namespace is not None:
                self._fail_migration(state, namespace, f"{task.failed} document(s) could not be embedded")
            return
        started = parse_time(state.started_at)
        waited = (utc_now() - started).total_seconds() if started is not None else 0.0
        delay = max(0, int(self._config.settle_seconds - waited + 0.999))
        self._stores.backfill_queue.send([messages.finalize(task.task_id)], delay_seconds=delay)

    def _fail_migration(self, state: BackfillState, namespace: Namespace, reason: str) -> None:
        """End the migration FAILED: the namespace forgets it (one write with the task's end),
        and its shadow copy is dropped; the index as it was keeps serving."""
        task_id = state.task.task_id
        target = state.plan.targets[0]
        for _ in range(5):
            migration = namespace.migrations.get(target.index)
            if migration is None or migration.task_id != task_id:
                self._stores.backfill.finish_task(task_id, "FAILED", error=reason[:MAX_ERROR_LENGTH])
                break
            remaining = {name: m for name, m in namespace.migrations.items() if name != target.index}
            try:
                self._stores.backfill.end_migration(
                    namespace.model_copy(update={"migrations": remaining, "updated_at": iso_now()}),
                    namespace.version,
                    task_id,
                    "FAILED",
                    error=f"{reason}; the index keeps its previous inference service and vectors"[
                        :MAX_ERROR_LENGTH
                    ],
                )
                break
            except ConflictError:
                fresh = live_namespace(self._stores, state)
                if fresh is None:
                    return
                namespace = fresh
        self._stores.backfill_queue.send(
            [messages.drop(task_id, target_space(namespace, target))],
            delay_seconds=self._config.drop_grace_seconds,
        )

    # -- drop ----------------------------------------------------------------------------------

    def _drop(self, task_id: str, space: Space) -> None:
        """Drop `space` unless its namespace still uses it (live, or as a migration's shadow
        copy): a cancel or a swap that lost its race leaves a drop that must do nothing."""
        state = self._stores.backfill.get_backfill(task_id)
        if state is None or state.plan.storage_key != space.storage_key:
            logger.warning("backfill: drop of %s names no task of its namespace; ignored", space.name)
            return
        namespace = self._stores.metadata.get_namespace(state.plan.org_id, state.plan.namespace_id)
        in_use = (
            namespace is not None
            and namespace.storage_key == space.storage_key
            and any(used.name == space.name for used in all_spaces(namespace))
        )
        if in_use:
            logger.info("backfill: %s is in use; not dropped", space.name)
            return
        self._stores.vectors.drop_space(space)


@dataclass
class PageProgress:
    processed: int = 0
    skipped: int = 0
    failed: int = 0
