"""A migration's `finalize`: after `settle_seconds`, make the shadow copy agree with the live
index (documents written, changed or deleted meanwhile), then swap the index to the copy in one
conditional write, and send a `drop` of the retired copy."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from stratus.clock import iso_now
from stratus.errors import ConflictError, StratusError
from stratus.models.backfill import BackfillPlan, BackfillTarget
from stratus.ports.backfill import BackfillState
from stratus.ports.stores import BackfillStores
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill import messages
from stratus.services.backfill.messages import BackfillConfig
from stratus.services.backfill.task_state import OPEN_STATUSES, live_namespace
from stratus.services.backfill.vectors import Payload, embed_into, fetch, has_field, target_space

logger = logging.getLogger(__name__)

LIST_PAGE = 1000
MAX_RECONCILE_PASSES = 10


def finalize(stores: BackfillStores, config: BackfillConfig, state: BackfillState) -> None:
    """Reconcile the copy and swap; raises when the copy kept changing (the message is received again)."""
    plan = state.plan
    target, retiring = plan.targets[0], plan.retiring
    assert retiring is not None and target.inference_service is not None
    reconciled = 0
    for _ in range(MAX_RECONCILE_PASSES):
        namespace = live_namespace(stores, state)
        if namespace is None:
            return
        migration = namespace.migrations.get(target.index)
        if migration is None or migration.task_id != state.task.task_id:
            # Canceled (or ended) by someone else: whoever did it dropped the copy.
            stores.backfill.finish_task(state.task.task_id, "CANCELED", error="the migration was removed")
            return
        shadow = target_space(namespace, target)
        live = target_space(namespace, retiring)
        differences = _differences(stores, live, shadow, target)
        if differences and config.recheck_seconds > 0:
            # A write in flight has reached the index and not yet the copy (the index is
            # written first): look again a moment later and keep what is still different.
            # What is still different is fixed from the index, the truth either way: a copy
            # never holds a write its index has not had (services/backfill/mirror).
            time.sleep(config.recheck_seconds)
            differences = _still_different(stores, live, shadow, target, set(differences))
        fixed = _fix(stores, plan, target, shadow, differences) if differences else 0
        reconciled += fixed
        if fixed:
            continue  # look again: writes may have come meanwhile
        vector_config = namespace.vector_config(target.index)
        assert vector_config is not None
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
        stores.backfill_queue.send(
            [messages.drop(task.task_id, live)], delay_seconds=config.drop_grace_seconds
        )
        try:
            stores.backfill.end_migration(
                swapped, namespace.version, task.task_id, "COMPLETED", outputs=outputs
            )
        except ConflictError:
            fresh = stores.backfill.get_backfill(task.task_id)
            if fresh is None or fresh.task.status not in OPEN_STATUSES:
                return
            state = fresh
            continue
        logger.info("backfill: migration task %s swapped index %s", task.task_id, target.index)
        return
    raise StratusError("the shadow copy kept changing; the swap will be tried again", {})


def _differences(
    stores: BackfillStores, live: Space, shadow: Space, target: BackfillTarget
) -> dict[str, Payload | None]:
    """Where the copy does not hold what the index holds: id → the index's payload (the copy
    lacks the document, or holds another version of it), or None (the index no longer has
    it). A document without a value at a field source belongs in neither."""
    found: dict[str, Payload | None] = {}
    after: str | None = None
    live_ids: set[str] = set()
    while True:
        page = stores.vectors.list(live, None, LIST_PAGE, after, False)
        records = {record.id: record.payload for record in page.records}
        live_ids.update(records)
        found.update(_compare(records, fetch(stores, shadow, list(records)), target))
        if not page.records or page.next_cursor is None:
            break
        after = page.records[-1].id
    for doc_id in stores.vectors.ids(shadow) - live_ids:
        found[doc_id] = None
    return found


def _still_different(
    stores: BackfillStores, live: Space, shadow: Space, target: BackfillTarget, ids_: set[str]
) -> dict[str, Payload | None]:
    wanted = sorted(ids_)
    records = {doc_id: record.payload for doc_id, record in fetch(stores, live, wanted).items()}
    present = fetch(stores, shadow, wanted)
    found = _compare(records, present, target)
    found.update({doc_id: None for doc_id in present if doc_id not in records})
    return found


def _compare(
    records: Mapping[str, Payload], present: Mapping[str, VectorRecord], target: BackfillTarget
) -> dict[str, Payload | None]:
    found: dict[str, Payload | None] = {}
    for doc_id, payload in records.items():
        copy = present.get(doc_id)
        if copy is not None and copy.payload == payload:
            continue
        if copy is None and target.source.field is not None and not has_field(payload, target.source.field):
            continue  # no source: rightly absent from the copy
        found[doc_id] = payload
    return found


def _fix(
    stores: BackfillStores,
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
        stores.vectors.delete(shadow, gone)
        fixes += len(gone)
    if stale:
        written, unusable = embed_into(stores, shadow, plan, target, stale)
        fixes += written
        present = fetch(stores, shadow, list(unusable))
        without = [doc_id for doc_id in unusable if doc_id in present]
        if without:  # no usable source any more: no vector made from an older one either
            stores.vectors.delete(shadow, without)
            fixes += len(without)
    return fixes


def _with_generation(generations: Mapping[str, str], index: str, generation: str) -> dict[str, str]:
    updated = dict(generations)
    if generation:
        updated[index] = generation
    else:
        updated.pop(index, None)
    return updated
