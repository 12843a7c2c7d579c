"""While an index is being migrated, every write to it reaches its shadow copy too: the record
embedded from the migration's source by the new service (or removed from the copy when it has no
source value any more).

The order is what keeps a write safe whatever a writer's stalls (docs/decisions.md, "A write
reaches the live index first"): the copy's vectors are *embedded* before anything is written (an
outage of the new model raises with both copies as they were), then the live index is written,
then the copy. The copy therefore never holds a write the live index has not had: a document in
the copy and not in the index is one deleted (the reconciliation rightly removes it), and a write
still on its way to the copy is in the index already (the reconciliation copies it, or its own
write lands in the copy, which is the index once swapped in). Deletes go the same way: the live
index first, then the copy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.models.namespaces import Namespace
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill import sources
from stratus.services.backfill.embedding import embed_in_batches
from stratus.services.spaces import shadow_spaces


def shadow_of(namespace: Namespace, index: str) -> Space | None:
    return next((space for space in shadow_spaces(namespace) if space.index_name == index), None)


@dataclass(frozen=True)
class ShadowWrite:
    """A write's part for a migration's shadow copy, embedded and not yet written: `apply` it
    once the live index has the write."""

    space: Space
    records: list[VectorRecord]
    # Documents without a usable source now: they must not keep a vector made from an older one.
    gone: list[str]

    def apply(self, stores: Stores) -> None:
        stores.vectors.ensure_space(self.space)
        if self.records:
            stores.vectors.upsert(self.space, self.records)
        if self.gone:
            stores.vectors.delete(self.space, self.gone)


def shadow_upsert(
    stores: Stores, namespace: Namespace, index: str, records: Sequence[VectorRecord]
) -> ShadowWrite | None:
    """`shadow_payloads` of `records` (about to be written to `index`)."""
    return shadow_payloads(stores, namespace, index, {record.id: record.payload for record in records})


def shadow_payloads(
    stores: Stores, namespace: Namespace, index: str, payloads: Mapping[str, dict[str, Any]]
) -> ShadowWrite | None:
    """The shadow copy's part of writing documents (id → payload) to `index`, if a migration of
    it runs (None otherwise): their vectors embedded from the migration's source by its service
    (never taken from the live write). Writes nothing; outages raise."""
    migration = namespace.migrations.get(index)
    space = shadow_of(namespace, index)
    if migration is None or space is None or not payloads:
        return None
    owner = sources.Owner(namespace.org_id, namespace.namespace_id, namespace.storage_key)
    resolved = sources.resolve(stores, owner, migration.source, migration.inference_service, dict(payloads))
    embedded: dict[str, list[float]] = {}
    embedder = stores.embedders.get(migration.inference_service)
    failed = embed_in_batches(embedder, resolved.inputs, embedded.update)
    records = [VectorRecord(doc_id, payloads[doc_id], vector) for doc_id, vector in embedded.items()]
    return ShadowWrite(space, records, [*resolved.skipped, *resolved.failed, *failed])


def mirror_delete(stores: Stores, namespace: Namespace, index: str, ids: Sequence[str]) -> None:
    """Delete `ids` from the index's shadow copy, if a migration runs: after the live delete."""
    space = shadow_of(namespace, index)
    if space is not None and ids:
        stores.vectors.delete(space, list(ids))
