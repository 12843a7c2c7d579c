"""The messages of the backfill queue (JSON objects, `kind` first) and the worker's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stratus.ports.vectors import Space

if TYPE_CHECKING:
    from stratus.settings import Settings

START = "start"  # list the documents into pages, send the pages
PAGE = "page"  # fill one page
FINALIZE = "finalize"  # a migration: reconcile its shadow copy, swap it in
DROP = "drop"  # drop a retired or abandoned copy of an index
KINDS = (START, PAGE, FINALIZE, DROP)


# Documents per page: one message, embedded in the model's batches (64 texts, 16 images).
PAGE_SIZE = 256
# Receives of a message before the queue moves it to its dead-letter queue: template.yaml's
# BackfillQueue RedrivePolicy says the same (a test keeps the two equal). On the last one a
# failing page counts its documents as failed.
MAX_RECEIVES = 5
# The first message of a task waits this long (at most): it is sent just before the commit that
# creates the task, which it should not outrun (if it does, it is retried).
START_DELAY_SECONDS = 2
# How long a migration waits before its swap (every writer that read the namespace before the
# migration started must be done: an extractor batch keeps its copy up to its 120 s timeout), and
# before dropping a retired or abandoned copy (writers still holding the old namespace). Not a
# setting: the deployed value is this; the local stack (stratus_local.resources) runs with a few
# seconds, where its writers are quick, and tests with none.
SETTLE_SECONDS = 150
RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class BackfillConfig:
    page_size: int = PAGE_SIZE
    max_receives: int = MAX_RECEIVES
    # Before a migration's swap, and before a retired or abandoned copy is dropped.
    settle_seconds: int = 150
    start_delay_seconds: int = START_DELAY_SECONDS

    @property
    def drop_grace_seconds(self) -> int:
        return self.settle_seconds

    @property
    def recheck_seconds(self) -> float:
        """Before a difference between a shadow copy and its index is acted on: a write in flight
        reaches the index first and the copy a moment later, so looking again spares embedding
        it twice, and gives a store whose reads lag its writes time to catch up. Correctness does
        not rest on it: the index is the truth whatever the difference (backfill/mirror)."""
        return min(RECHECK_SECONDS, float(self.settle_seconds))

    @classmethod
    def from_settings(cls, settings: Settings) -> BackfillConfig:
        return cls(
            page_size=PAGE_SIZE,
            max_receives=MAX_RECEIVES,
            settle_seconds=SETTLE_SECONDS,
            start_delay_seconds=min(START_DELAY_SECONDS, SETTLE_SECONDS),
        )


def start(task_id: str) -> dict[str, Any]:
    return {"kind": START, "task_id": task_id}


def page(task_id: str, listing: str, number: int) -> dict[str, Any]:
    return {"kind": PAGE, "task_id": task_id, "listing": listing, "page": number}


def finalize(task_id: str) -> dict[str, Any]:
    return {"kind": FINALIZE, "task_id": task_id}


def drop(task_id: str, space: Space) -> dict[str, Any]:
    return {
        "kind": DROP,
        "task_id": task_id,
        "space": {
            "storage_key": space.storage_key,
            "index_name": space.index_name,
            "dimension": space.dimension,
            "metric": space.metric,
            "generation": space.generation,
        },
    }


def space_of(message: dict[str, Any]) -> Space:
    described = message["space"]
    return Space(
        str(described["storage_key"]),
        str(described["index_name"]),
        int(described["dimension"]),
        described["metric"],
        (),
        str(described.get("generation") or ""),
    )
