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
  one conditional write, and send a `drop` of the retired copy.
- `drop`: drop a copy of an index once no namespace uses it (after a swap, a cancel, a failure).

A page that keeps failing counts its remaining documents as failed on its last receive: a
promotion's task then ends COMPLETED_WITH_ERRORS; a migration fails, its index untouched."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratus import ids
from stratus.clock import iso_now, utc_now
from stratus.errors import ConflictError, StratusError
from stratus.models.backfill import BackfillPlan, BackfillTarget
from stratus.models.managed_content import TaskStatus
from stratus.models.namespaces import Namespace
from stratus.ports.backfill import BackfillState, BackfillStores, PageCounts, PagePlan
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill import messages, sources
from stratus.services.backfill.embedding import embed_in_batches
from stratus.services.backfill.messages import BackfillConfig
from stratus.services.spaces import all_spaces, space_for

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("PENDING", "PROCESSING")
# A `start` that finds no task may have outrun the commit creating it (it is sent just before):
# retried for this long, then dropped as the leftover of a promotion or migration that lost.
ORPHAN_SECONDS = 300.0
FETCH_CHUNK = 1000
LIST_PAGE = 1000
MAX_RECONCILE_PASSES = 10

Payload = dict[str, Any]
MAX_ERROR_LENGTH = 1000


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
                self._finalize(state)
            except Exception as error:
                if delivery.receive_count < self._config.max_receives:
                    raise
                logger.exception("backfill: the swap of task %s failed on its last receive", task_id)
                namespace = self._namespace(state)
                if namespace is not None:
                    self._fail_migration(state, namespace, f"the swap failed: {_reason(error)}")
        else:
            logger.warning("backfill: unknown message kind %r; dropped", kind)

    # -- start ---------------------------------------------------------------------------------

    def _start(self, state: BackfillState) -> None:
        plan = state.plan
        namespace = self._namespace(state)
        if namespace is None:
            return
        if not self._stores.backfill.mark_processing(state.task.task_id):
            return
        for target in plan.targets:
            self._stores.vectors.ensure_space(_target_space(namespace, target))
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
        for space in _source_spaces(namespace, plan):
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
        namespace = self._namespace(state)
        if namespace is None:
            return
        page = self._stores.backfill.get_page(task_id, listing, number)
        if page is None:
            raise StratusError(f"page {number} of task '{task_id}' is missing", {"page": number})
        payloads = self._payloads(namespace, state.plan, page.ids)
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
            space = _target_space(namespace, target)
            present = self._fetch(space, [i for i in page_ids if i in payloads])
            embed: list[str] = []
            skipped = 0
            for doc_id in page_ids:
                payload = payloads.get(doc_id)
                if payload is None:
                    skipped += 1  # deleted since the listing
                elif doc_id in present and (plan.kind == "promotion" or present[doc_id].payload == payload):
                    skipped += 1  # already has its vector there (written meanwhile)
                elif target.source.field is not None and not _has_field(payload, target.source.field):
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
        space = _target_space(namespace, target)
        planned = [doc_id for doc_id in page_plan.embed.get(target.index, []) if doc_id in payloads]
        progress.skipped += len(page_plan.embed.get(target.index, [])) - len(planned)  # deleted meanwhile
        present = self._fetch(space, planned)
        done = [d for d in planned if d in present and present[d].payload == payloads[d]]
        if plan.kind == "promotion":
            done = [d for d in planned if d in present]
        progress.processed += len(done)  # written by an earlier attempt (or by a mirrored write)
        todo = {doc_id: payloads[doc_id] for doc_id in planned if doc_id not in set(done)}
        if not todo:
            return
        written, unusable = self._embed_into(space, plan, target, todo)
        progress.processed += written
        progress.failed += len(unusable.failed)
        progress.skipped += len(unusable.skipped)

    def _embed_into(
        self, space: Space, plan: BackfillPlan, target: BackfillTarget, todo: Mapping[str, dict[str, Any]]
    ) -> tuple[int, Unusable]:
        """Embed the documents of `todo` (id → payload) from the target's source and write them to
        `space`, a batch at a time. Returns how many were written, and the ones that could not be:
        without a source value (skipped) or refused by the model (failed)."""
        assert target.inference_service is not None
        owner = sources.Owner(plan.org_id, plan.namespace_id, plan.storage_key)
        resolved = sources.resolve(self._stores, owner, target.source, target.inference_service, todo)
        written = 0

        def write(vectors: dict[str, list[float]]) -> None:
            nonlocal written
            self._stores.vectors.upsert(space, [VectorRecord(d, todo[d], v) for d, v in vectors.items()])
            written += len(vectors)

        embedder = self._stores.embedders.get(target.inference_service)
        failed = embed_in_batches(embedder, resolved.inputs, write)
        return written, Unusable(skipped=list(resolved.skipped), failed=[*resolved.failed, *failed])

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
        reason = _reason(error)
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
        started = _parse(state.started_at)
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
            namespace = self._namespace(state)
            if namespace is not None:
                self._fail_migration(state, namespace, f"{task.failed} document(s) could not be embedded")
            return
        started = _parse(state.started_at)
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
                fresh = self._namespace(state)
                if fresh is None:
                    return
                namespace = fresh
        self._stores.backfill_queue.send(
            [messages.drop(task_id, _target_space(namespace, target))],
            delay_seconds=self._config.drop_grace_seconds,
        )

    # -- finalize (migration) ------------------------------------------------------------------

    def _finalize(self, state: BackfillState) -> None:
        plan = state.plan
        target, retiring = plan.targets[0], plan.retiring
        assert retiring is not None and target.inference_service is not None
        reconciled = 0
        for _ in range(MAX_RECONCILE_PASSES):
            namespace = self._namespace(state)
            if namespace is None:
                return
            migration = namespace.migrations.get(target.index)
            if migration is None or migration.task_id != state.task.task_id:
                # Canceled (or ended) by someone else: whoever did it dropped the copy.
                self._stores.backfill.finish_task(
                    state.task.task_id, "CANCELED", error="the migration was removed"
                )
                return
            shadow = _target_space(namespace, target)
            live = _target_space(namespace, retiring)
            differences = self._differences(live, shadow, target)
            if differences and self._config.recheck_seconds > 0:
                # A write in flight has reached the copy and not yet the index (the copy is
                # written first): look again a moment later and keep what is still different.
                time.sleep(self._config.recheck_seconds)
                differences = self._still_different(live, shadow, target, set(differences))
            fixed = self._fix(plan, target, shadow, differences) if differences else 0
            reconciled += fixed
            if fixed:
                continue  # look again: writes may have come meanwhile
            config = namespace.vector_config(target.index)
            assert config is not None
            swapped = namespace.model_copy(
                update={
                    "vector_configs": [
                        c.model_copy(update={"dimension": target.dimension}) if c.name == target.index else c
                        for c in namespace.vector_configs
                    ],
                    "vector_inference_map": {
                        **namespace.vector_inference_map,
                        target.index: target.inference_service,
                    },
                    "index_generations": _with_generation(
                        namespace.index_generations, target.index, target.generation
                    ),
                    "migrations": {k: v for k, v in namespace.migrations.items() if k != target.index},
                    "updated_at": iso_now(),
                }
            )
            task = state.task
            outputs = {
                "index": target.index,
                "from_inference_service": retiring.inference_service,
                "to_inference_service": target.inference_service,
                "from_dimension": retiring.dimension,
                "to_dimension": target.dimension,
                "processed": task.processed,
                "skipped": task.skipped,
                "failed": task.failed,
                "reconciled": reconciled,
            }
            # The retired copy goes once the writers still holding the old namespace are done;
            # queued first, and it only drops a copy no namespace uses.
            self._stores.backfill_queue.send(
                [messages.drop(task.task_id, live)], delay_seconds=self._config.drop_grace_seconds
            )
            try:
                self._stores.backfill.end_migration(
                    swapped, namespace.version, task.task_id, "COMPLETED", outputs=outputs
                )
            except ConflictError:
                fresh = self._stores.backfill.get_backfill(task.task_id)
                if fresh is None or fresh.task.status not in OPEN_STATUSES:
                    return
                state = fresh
                continue
            logger.info("backfill: migration task %s swapped index %s", task.task_id, target.index)
            return
        raise StratusError("the shadow copy kept changing; the swap will be tried again", {})

    def _differences(self, live: Space, shadow: Space, target: BackfillTarget) -> dict[str, Payload | None]:
        """Where the copy does not hold what the index holds: id → the index's payload (the copy
        lacks the document, or holds another version of it), or None (the index no longer has
        it). A document without a value at a field source belongs in neither."""
        found: dict[str, Payload | None] = {}
        after: str | None = None
        live_ids: set[str] = set()
        while True:
            page = self._stores.vectors.list(live, None, LIST_PAGE, after, False)
            records = {record.id: record.payload for record in page.records}
            live_ids.update(records)
            found.update(self._compare(records, self._fetch(shadow, list(records)), target))
            if not page.records or page.next_cursor is None:
                break
            after = page.records[-1].id
        for doc_id in self._stores.vectors.ids(shadow) - live_ids:
            found[doc_id] = None
        return found

    def _still_different(
        self, live: Space, shadow: Space, target: BackfillTarget, ids_: set[str]
    ) -> dict[str, Payload | None]:
        wanted = sorted(ids_)
        records = {doc_id: record.payload for doc_id, record in self._fetch(live, wanted).items()}
        present = self._fetch(shadow, wanted)
        found = self._compare(records, present, target)
        found.update({doc_id: None for doc_id in present if doc_id not in records})
        return found

    @staticmethod
    def _compare(
        records: Mapping[str, Payload], present: Mapping[str, VectorRecord], target: BackfillTarget
    ) -> dict[str, Payload | None]:
        found: dict[str, Payload | None] = {}
        for doc_id, payload in records.items():
            copy = present.get(doc_id)
            if copy is not None and copy.payload == payload:
                continue
            if (
                copy is None
                and target.source.field is not None
                and not _has_field(payload, target.source.field)
            ):
                continue  # no source: rightly absent from the copy
            found[doc_id] = payload
        return found

    def _fix(
        self,
        plan: BackfillPlan,
        target: BackfillTarget,
        shadow: Space,
        differences: Mapping[str, Payload | None],
    ) -> int:
        """Make the copy agree with the index on `differences`; returns how many writes it took."""
        gone = [doc_id for doc_id, payload in differences.items() if payload is None]
        stale = {doc_id: payload for doc_id, payload in differences.items() if payload is not None}
        fixes = 0
        if gone:
            self._stores.vectors.delete(shadow, gone)
            fixes += len(gone)
        if stale:
            written, unusable = self._embed_into(shadow, plan, target, stale)
            fixes += written
            present = self._fetch(shadow, list(unusable))
            without = [doc_id for doc_id in unusable if doc_id in present]
            if without:  # no usable source any more: no vector made from an older one either
                self._stores.vectors.delete(shadow, without)
                fixes += len(without)
        return fixes

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

    # -- helpers -------------------------------------------------------------------------------

    def _namespace(self, state: BackfillState) -> Namespace | None:
        namespace = self._stores.metadata.get_namespace(state.plan.org_id, state.plan.namespace_id)
        if namespace is None or namespace.storage_key != state.plan.storage_key:
            self._stores.backfill.finish_task(state.task.task_id, "FAILED", error="the namespace was deleted")
            return None
        return namespace

    def _payloads(
        self, namespace: Namespace, plan: BackfillPlan, page_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The current payload of each id, from the first source index that has it."""
        found: dict[str, dict[str, Any]] = {}
        for space in _source_spaces(namespace, plan):
            missing = [doc_id for doc_id in page_ids if doc_id not in found]
            if not missing:
                break
            for doc_id, record in self._fetch(space, missing).items():
                found[doc_id] = record.payload
        return found

    def _fetch(self, space: Space, wanted: Sequence[str]) -> dict[str, VectorRecord]:
        found: dict[str, VectorRecord] = {}
        for start in range(0, len(wanted), FETCH_CHUNK):
            found.update(self._stores.vectors.fetch(space, wanted[start : start + FETCH_CHUNK], False))
        return found


@dataclass
class Unusable:
    skipped: list[str]
    failed: list[str]

    def __iter__(self) -> Iterator[str]:
        yield from self.skipped
        yield from self.failed


@dataclass
class PageProgress:
    processed: int = 0
    skipped: int = 0
    failed: int = 0


def _target_space(namespace: Namespace, target: BackfillTarget) -> Space:
    return Space(
        namespace.storage_key,
        target.index,
        target.dimension,
        target.metric,
        tuple(namespace.payload_indexes),
        target.generation,
    )


def _source_spaces(namespace: Namespace, plan: BackfillPlan) -> list[Space]:
    if plan.retiring is not None:
        return [_target_space(namespace, plan.retiring)]
    filled = {target.index for target in plan.targets}
    return [space_for(namespace, c) for c in namespace.vector_configs if c.name not in filled]


def _with_generation(generations: Mapping[str, str], index: str, generation: str) -> dict[str, str]:
    updated = dict(generations)
    if generation:
        updated[index] = generation
    else:
        updated.pop(index, None)
    return updated


def _has_field(payload: Mapping[str, Any], path: str) -> bool:
    value = sources.value_at(payload, path)
    return isinstance(value, str) and bool(value.strip())


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _reason(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message[:MAX_ERROR_LENGTH]
    return f"internal error ({type(error).__name__})"
