"""Creating a backfill task: its record, its plan, and its first message.

The first message is sent *before* the transaction that creates the task commits: once the
commit succeeds, the work is already queued, and if it fails the message finds no task and is
dropped (`worker`). The reverse order could leave a committed task that nothing ever runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus import ids
from stratus.clock import iso_now
from stratus.errors import BadRequestError
from stratus.models.backfill import TASK_TYPE_BACKFILL, TASK_TYPE_MIGRATION, BackfillPlan
from stratus.models.managed_content import Task
from stratus.models.namespaces import BackfillSource, Namespace
from stratus.ports.backfill import NewBackfill, TaskQueue
from stratus.services.backfill import messages, sources

# How many documents the modality check looks at.
SAMPLE_SIZE = 100


def new_backfill(namespace: Namespace, plan: BackfillPlan, inputs: Mapping[str, Any]) -> NewBackfill:
    now = iso_now()
    task = Task(
        task_id=ids.new_id("task_"),
        task_type=TASK_TYPE_MIGRATION if plan.kind == "migration" else TASK_TYPE_BACKFILL,
        status="PENDING",
        inputs=dict(inputs),
        outputs={},
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        created_at=now,
        updated_at=now,
        processed=0,
        skipped=0,
        failed=0,
    )
    return NewBackfill(task=task, plan=plan)


def enqueue_start(queue: TaskQueue, backfill: NewBackfill, delay_seconds: int) -> None:
    """The task's first message, delayed a little: the commit it races takes milliseconds."""
    queue.send([messages.start(backfill.task.task_id)], delay_seconds=delay_seconds)


def check_source_readable(
    source: BackfillSource,
    service: str,
    samples: Mapping[str, Mapping[str, Any]],
    location: str,
    object_inputs: set[str] | None = None,
) -> None:
    """400 naming the source when `service` cannot read what it holds: images (seen in a sample
    of the documents, or read by the extractors writing the index) for a text-only service."""
    if source.field is not None:
        if sources.reads_images(service):
            return
        for doc_id, payload in samples.items():
            value = sources.value_at(payload, source.field)
            if isinstance(value, str) and sources.looks_like_image(value):
                raise BadRequestError(
                    f"{location}.field: '{source.field}' holds images (e.g. in document '{doc_id}') and "
                    f"'{service}' reads text only; choose a service that reads images",
                    {"field": f"{location}.field", "service": service, "document_id": doc_id},
                )
        return
    if object_inputs is not None and "image" in object_inputs and not sources.reads_images(service):
        raise BadRequestError(
            f"{location}.object: the extractors writing this index read images and '{service}' reads "
            "text only; choose a service that reads images",
            {"field": f"{location}.object", "service": service, "extractor_inputs": sorted(object_inputs)},
        )
