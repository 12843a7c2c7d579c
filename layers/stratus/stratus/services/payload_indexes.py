"""The payload-index lifecycle: requested → `pending` (saved) → built in the vector store for every
space of the namespace → `ready` (or `failed` with `error`).

Every metadata write is optimistic (the namespace `version`): on a lost race the namespace is
re-read and the change merged again, so concurrent requests and overlapping scheduled runs never
lose each other's indexes. Building is synchronous in the request: local data sizes make that
fine; a deployment with large namespaces should hand `build_pending` to an async job.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from stratus import clock, limits
from stratus.errors import (
    BadRequestError,
    ConflictError,
    MetadataStoreUnavailableError,
    NotFoundError,
    StratusError,
)
from stratus.models.namespaces import PROTECTED_FIELDS, Namespace, PayloadIndexConfig, PayloadIndexType
from stratus.ports.stores import Stores
from stratus.ports.vectors import VectorStore
from stratus.services.spaces import all_spaces, resolve_namespace

logger = logging.getLogger(__name__)

# Lost races are retried this many times (re-read + merge) before the caller gets a 409/503.
MAX_SAVE_ATTEMPTS = 8
MAX_ERROR_LENGTH = 500

# The system fields every namespace indexes by itself; listed, never changed or removed.
PROTECTED_INDEX_TYPES: dict[str, PayloadIndexType] = {
    "document_id": "keyword",
    "object_id": "keyword",
    "bucket_id": "keyword",
    "collection_id": "keyword",
    "created_at": "datetime",
    "updated_at": "datetime",
}
assert set(PROTECTED_INDEX_TYPES) == set(PROTECTED_FIELDS)


def protected_indexes() -> list[PayloadIndexConfig]:
    return [
        PayloadIndexConfig(field_name=name, type=index_type, is_protected=True, state="ready")
        for name, index_type in PROTECTED_INDEX_TYPES.items()
    ]


def listed_indexes(namespace: Namespace) -> list[PayloadIndexConfig]:
    """What a namespace answer shows: its own indexes, then the protected system ones."""
    own = [index for index in namespace.payload_indexes if index.field_name not in PROTECTED_INDEX_TYPES]
    return [*own, *protected_indexes()]


def ready_fields(namespace: Namespace) -> set[str]:
    """Fields a filter can use an index for right now (protected ones always)."""
    ready = {index.field_name for index in namespace.payload_indexes if index.state == "ready"}
    return ready | set(PROTECTED_FIELDS)


def index_of(namespace: Namespace, field_name: str) -> PayloadIndexConfig | None:
    return next((index for index in namespace.payload_indexes if index.field_name == field_name), None)


def refuse_protected(field_name: str, location: str) -> None:
    """Every namespace indexes the protected system fields itself: no request may define one."""
    if field_name in PROTECTED_INDEX_TYPES:
        raise BadRequestError(
            f"{location}: '{field_name}' is a protected system field, indexed automatically; it cannot "
            "be changed, so choose another field",
            {"field": location, "protected_fields": list(PROTECTED_FIELDS)},
        )


def check_payload_indexes(indexes: Sequence[PayloadIndexConfig], location: str) -> None:
    """The indexes of a create or update request: no protected field, no field twice."""
    seen: set[str] = set()
    for position, index in enumerate(indexes):
        field_location = f"{location}[{position}].field_name"
        refuse_protected(index.field_name, field_location)
        if index.field_name in seen:
            raise BadRequestError(
                f"{field_location}: '{index.field_name}' appears twice", {"field": field_location}
            )
        seen.add(index.field_name)


def as_pending(index: PayloadIndexConfig, auto_created: bool = False) -> PayloadIndexConfig:
    """A requested index as stored before it is built: server-managed fields are reset, whatever
    the client sent."""
    return index.model_copy(
        update={"state": "pending", "error": None, "auto_created": auto_created, "is_protected": False}
    )


def same_definition(a: PayloadIndexConfig, b: PayloadIndexConfig) -> bool:
    return a.field_name == b.field_name and a.type == b.type and a.field_schema == b.field_schema


def merge_requested(
    existing: Sequence[PayloadIndexConfig],
    requested: Sequence[PayloadIndexConfig],
    only_if_absent: bool = False,
) -> tuple[list[PayloadIndexConfig], list[str]]:
    """`existing` merged with `requested` (pending) by field_name → (merged, changed fields).

    An index requested again with the same definition keeps its state (no rebuild) unless it
    failed; another type or schema replaces it. With `only_if_absent` (the scheduled job) a field
    that has any index already is left alone."""
    merged = {index.field_name: index for index in existing}
    changed: list[str] = []
    for index in requested:
        current = merged.get(index.field_name)
        if current is not None and current.is_protected:
            # Required by a feature extractor: its schema may be tuned, its type may not change.
            if index.type != current.type:
                raise BadRequestError(
                    f"payload_indexes: '{index.field_name}' is required by a feature extractor as a "
                    f"{current.type} index; it cannot become {index.type}",
                    {
                        "field": "payload_indexes",
                        "field_name": index.field_name,
                        "required_type": current.type,
                    },
                )
            index = index.model_copy(update={"is_protected": True})
        if current is not None and (
            only_if_absent or (same_definition(current, index) and current.state != "failed")
        ):
            continue
        merged[index.field_name] = index
        changed.append(index.field_name)
    _check_room(existing, merged.values())
    return list(merged.values()), changed


def own_index_count(indexes: Iterable[PayloadIndexConfig]) -> int:
    """The indexes a namespace's cap counts: not those its extractors require, nor system fields."""
    return sum(1 for index in indexes if not index.is_protected)


def _check_room(existing: Sequence[PayloadIndexConfig], merged: Iterable[PayloadIndexConfig]) -> None:
    before, after = own_index_count(existing), own_index_count(merged)
    # Only a change that adds indexes is refused: a namespace at the cap can still redefine one.
    if after > limits.MAX_PAYLOAD_INDEXES and after > before:
        raise BadRequestError(
            f"payload_indexes: a namespace has at most {limits.MAX_PAYLOAD_INDEXES} payload indexes of its "
            f"own (those its feature extractors require are not counted); it has {before} and this "
            f"change would make {after}",
            {"field": "payload_indexes", "limit": limits.MAX_PAYLOAD_INDEXES, "current": before},
        )


@dataclass(frozen=True)
class BuildOutcome:
    index: PayloadIndexConfig  # the definition that was built
    error: str | None


def add_payload_indexes(
    stores: Stores,
    namespace: Namespace,
    requested: Sequence[PayloadIndexConfig],
    auto_created: bool = False,
    only_if_absent: bool = False,
) -> tuple[Namespace, list[str]]:
    """Save `requested` as pending (retrying lost races on a fresh read), then build and mark
    them. Returns the namespace after the build and the fields this call created or replaced
    (empty when there was nothing to do: e.g. another run created them first)."""
    pending = [as_pending(index, auto_created) for index in requested]
    changed: list[str] = []

    def merge(current: Namespace) -> list[PayloadIndexConfig] | None:
        merged, changed[:] = merge_requested(current.payload_indexes, pending, only_if_absent)
        return merged if changed else None

    saved = _save_indexes(stores, namespace, merge)
    return (build_pending(stores, saved, changed), changed) if changed else (saved, [])


def build_pending(stores: Stores, namespace: Namespace, fields: Sequence[str]) -> Namespace:
    """Build the pending indexes of `fields` in every space, then save them ready or failed."""
    outcomes: dict[str, BuildOutcome] = {}
    for field_name in fields:
        index = index_of(namespace, field_name)
        if index is None or index.state != "pending":
            continue
        outcomes[field_name] = BuildOutcome(index, _build_everywhere(stores.vectors, namespace, index))
    if not outcomes:
        return namespace
    return _save_outcomes(stores, namespace, outcomes)


def _build_everywhere(vectors: VectorStore, namespace: Namespace, index: PayloadIndexConfig) -> str | None:
    """None when built in every space, else the reason. Never raises: a failed build is a state
    the client can read and retry, not a 500."""
    try:
        for space in all_spaces(namespace):  # a migrating index's shadow copy too
            vectors.build_payload_index(space, index)
    except Exception as error:
        logger.exception(
            "building payload index %r of namespace %s failed", index.field_name, namespace.namespace_id
        )
        message = error.message if isinstance(error, StratusError) else f"{type(error).__name__}: {error}"
        return message[:MAX_ERROR_LENGTH]
    return None


def _save_outcomes(stores: Stores, namespace: Namespace, outcomes: dict[str, BuildOutcome]) -> Namespace:
    """Mark built indexes ready/failed, only where the stored index is still the one that was
    built (a concurrent request may have replaced it meanwhile: its own build marks that one)."""

    def mark(current: Namespace) -> list[PayloadIndexConfig] | None:
        marked = [_marked(index, outcomes.get(index.field_name)) for index in current.payload_indexes]
        return None if marked == current.payload_indexes else marked

    return _save_indexes(stores, namespace, mark)


def _marked(index: PayloadIndexConfig, outcome: BuildOutcome | None) -> PayloadIndexConfig:
    if outcome is None or index.state != "pending" or not same_definition(index, outcome.index):
        return index
    state = "failed" if outcome.error else "ready"
    return index.model_copy(update={"state": state, "error": outcome.error})


def _reread_after_lost_race(stores: Stores, namespace: Namespace, attempt: int) -> Namespace:
    # A little jittered backoff so racing writers stop colliding.
    time.sleep(random.uniform(0, 0.02 * attempt))
    fresh = stores.metadata.get_namespace(namespace.org_id, namespace.namespace_id)
    if fresh is None:
        raise NotFoundError.of("namespace", namespace.namespace_id)
    return fresh


def create_payload_index(
    stores: Stores, org_id: str, identifier: str, index: PayloadIndexConfig
) -> Namespace:
    """`POST .../payload-indexes`: add one index (same field, other type: replaced)."""
    refuse_protected(index.field_name, "field_name")
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    namespace, _ = add_payload_indexes(stores, namespace, [index])
    return namespace


def drop_payload_index(stores: Stores, namespace: Namespace, field_name: str) -> Namespace:
    """Remove one of the namespace's own indexes: from every space of the vector store first
    (`VectorStore.drop_payload_index`, idempotent), then from the metadata. If the store fails,
    the metadata still lists the index and a retry finishes the job; a filter on the field stays
    exact meanwhile (stores fall back to their generic path where the index is gone)."""
    refuse_protected(field_name, "field_name")
    index = index_of(namespace, field_name)
    if index is None:
        raise NotFoundError(
            f"namespace '{namespace.namespace_id}' has no payload index on '{field_name}'",
            {"resource": "payload_index", "id": field_name, "namespace_id": namespace.namespace_id},
        )
    if index.is_protected:
        raise BadRequestError(
            f"field_name: '{field_name}' is indexed for the namespace's feature extractors (their "
            "documents are filtered and searched on it); it cannot be dropped",
            {"field": "field_name", "field_name": field_name, "is_protected": True},
        )
    remaining = namespace.model_copy(
        update={"payload_indexes": [i for i in namespace.payload_indexes if i.field_name != field_name]}
    )
    for space in all_spaces(remaining):
        stores.vectors.drop_payload_index(space, index)

    def without(current: Namespace) -> list[PayloadIndexConfig] | None:
        stored = index_of(current, field_name)
        if stored is None or not same_definition(stored, index):
            return None  # dropped, or redefined (and so rebuilt), by a concurrent request
        return [i for i in current.payload_indexes if i.field_name != field_name]

    return _save_indexes(stores, namespace, without)


def delete_payload_index(stores: Stores, org_id: str, identifier: str, field_name: str) -> Namespace:
    """`DELETE .../payload-indexes/{field_name}`."""
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    return drop_payload_index(stores, namespace, field_name)


@dataclass(frozen=True)
class EnsureReport:
    """What `ensure-indexes` did, per payload index field."""

    vector_indexes: list[str]
    created: list[str]  # pending or failed before: built now
    rebuilt: list[str]  # ready before, built again (force_rebuild)
    skipped: list[str]  # ready: already in the store
    failed: dict[str, str]  # field → why the build failed

    @property
    def ensured(self) -> list[str]:
        return [*self.created, *self.rebuilt, *self.skipped]


def ensure_indexes(
    stores: Stores, namespace: Namespace, force_rebuild: bool = False
) -> tuple[Namespace, EnsureReport]:
    """`POST .../ensure-indexes`: every vector space exists, and every payload index of the
    namespace is built: those not `ready` (pending, failed) are built now, ready ones are left
    alone unless `force_rebuild`. Idempotent: a second call creates nothing and reports what
    exists. The protected system fields are indexed by every store by itself."""
    for space in all_spaces(namespace):
        stores.vectors.ensure_space(space)
    before = {index.field_name: index.state for index in namespace.payload_indexes}
    targets = [field for field, state in before.items() if force_rebuild or state != "ready"]
    if targets:
        namespace = _mark_pending(stores, namespace, targets)
        namespace = build_pending(stores, namespace, targets)
    after = {index.field_name: index for index in namespace.payload_indexes}
    report = EnsureReport(
        vector_indexes=namespace.index_names(),
        created=[f for f in targets if before[f] != "ready" and f in after and after[f].state == "ready"],
        rebuilt=[f for f in targets if before[f] == "ready" and f in after and after[f].state == "ready"],
        skipped=[f for f, state in before.items() if f not in targets and state == "ready"],
        failed={
            f: after[f].error or "build failed" for f in targets if f in after and after[f].state == "failed"
        },
    )
    return namespace, report


def _mark_pending(stores: Stores, namespace: Namespace, fields: Sequence[str]) -> Namespace:
    wanted = set(fields)

    def pending(current: Namespace) -> list[PayloadIndexConfig] | None:
        marked = [
            index.model_copy(update={"state": "pending", "error": None})
            if index.field_name in wanted
            else index
            for index in current.payload_indexes
        ]
        return None if marked == current.payload_indexes else marked

    return _save_indexes(stores, namespace, pending)


def _save_indexes(
    stores: Stores, namespace: Namespace, change: Callable[[Namespace], list[PayloadIndexConfig] | None]
) -> Namespace:
    """Save `change(namespace)` as the namespace's payload indexes, conditioned on its version;
    after a lost race (or an outage) `change` runs again on a fresh read, up to MAX_SAVE_ATTEMPTS.
    `change` answers None when there is nothing (left) to do."""
    for attempt in range(1, MAX_SAVE_ATTEMPTS + 1):
        indexes = change(namespace)
        if indexes is None:
            return namespace
        updated = namespace.model_copy(update={"payload_indexes": indexes, "updated_at": clock.iso_now()})
        try:
            return stores.metadata.save_namespace(updated, namespace.version, namespace.namespace_name)
        except (ConflictError, MetadataStoreUnavailableError):
            if attempt == MAX_SAVE_ATTEMPTS:
                raise
            namespace = _reread_after_lost_race(stores, namespace, attempt)
    raise AssertionError("unreachable")  # pragma: no cover
