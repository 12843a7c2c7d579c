"""A backfill's vectors: the spaces a plan writes (its targets) and reads (its sources), the
documents' current payloads, fetches in chunks, and documents embedded from their source and
written to a space."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.models.backfill import BackfillPlan, BackfillTarget
from stratus.models.namespaces import Namespace
from stratus.ports.stores import BackfillStores
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill import sources
from stratus.services.backfill.embedding import embed_in_batches
from stratus.services.spaces import space_for

FETCH_CHUNK = 1000

Payload = dict[str, Any]


@dataclass
class Unusable:
    """The documents that got no vector: without a source value (skipped) or refused by the model."""

    skipped: list[str]
    failed: list[str]

    def __iter__(self) -> Iterator[str]:
        yield from self.skipped
        yield from self.failed


def target_space(namespace: Namespace, target: BackfillTarget) -> Space:
    return Space(
        namespace.storage_key,
        target.index,
        target.dimension,
        target.metric,
        tuple(namespace.payload_indexes),
        target.generation,
    )


def source_spaces(namespace: Namespace, plan: BackfillPlan) -> list[Space]:
    if plan.retiring is not None:
        return [target_space(namespace, plan.retiring)]
    filled = {target.index for target in plan.targets}
    return [space_for(namespace, c) for c in namespace.vector_configs if c.name not in filled]


def has_field(payload: Mapping[str, Any], path: str) -> bool:
    value = sources.value_at(payload, path)
    return isinstance(value, str) and bool(value.strip())


def fetch(stores: BackfillStores, space: Space, wanted: Sequence[str]) -> dict[str, VectorRecord]:
    found: dict[str, VectorRecord] = {}
    for start in range(0, len(wanted), FETCH_CHUNK):
        found.update(stores.vectors.fetch(space, wanted[start : start + FETCH_CHUNK], False))
    return found


def current_payloads(
    stores: BackfillStores, namespace: Namespace, plan: BackfillPlan, page_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The current payload of each id, from the first source index that has it."""
    found: dict[str, dict[str, Any]] = {}
    for space in source_spaces(namespace, plan):
        missing = [doc_id for doc_id in page_ids if doc_id not in found]
        if not missing:
            break
        for doc_id, record in fetch(stores, space, missing).items():
            found[doc_id] = record.payload
    return found


def embed_into(
    stores: BackfillStores,
    space: Space,
    plan: BackfillPlan,
    target: BackfillTarget,
    todo: Mapping[str, dict[str, Any]],
) -> tuple[int, Unusable]:
    """Embed the documents of `todo` (id → payload) from the target's source and write them to
    `space`, a batch at a time. Returns how many were written, and the ones that could not be:
    without a source value (skipped) or refused by the model (failed)."""
    assert target.inference_service is not None
    owner = sources.Owner(plan.org_id, plan.namespace_id, plan.storage_key)
    resolved = sources.resolve(stores, owner, target.source, target.inference_service, todo)
    written = 0

    def write(vectors: dict[str, list[float]]) -> None:
        nonlocal written
        stores.vectors.upsert(space, [VectorRecord(d, todo[d], v) for d, v in vectors.items()])
        written += len(vectors)

    embedder = stores.embedders.get(target.inference_service)
    failed = embed_in_batches(embedder, resolved.inputs, write)
    return written, Unusable(skipped=list(resolved.skipped), failed=[*resolved.failed, *failed])
