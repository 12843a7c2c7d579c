"""While an index is being migrated, every write to it reaches its shadow copy too, *first*: the
record embedded from the migration's source by the new service (or removed from the copy when it
has no source value any more). A failure raises before the live index is touched, so the live
index is never ahead of what the client was told; a copy left ahead of the live index by a
failure after it is put back in line by the migration's reconciliation before the swap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stratus.models.namespaces import Namespace
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill import sources
from stratus.services.backfill.embedding import embed_in_batches
from stratus.services.spaces import shadow_spaces


def shadow_of(namespace: Namespace, index: str) -> Space | None:
    return next((space for space in shadow_spaces(namespace) if space.index_name == index), None)


def mirror_upsert(stores: Stores, namespace: Namespace, index: str, records: Sequence[VectorRecord]) -> None:
    """Write `records` (about to be written to `index`) to the index's shadow copy, if a
    migration runs; no-op otherwise."""
    mirror_payloads(stores, namespace, index, {record.id: record.payload for record in records})


def mirror_payloads(
    stores: Stores, namespace: Namespace, index: str, payloads: Mapping[str, dict[str, Any]]
) -> None:
    """`mirror_upsert` of documents given by id and payload (the copy's vectors are embedded from
    the migration's source, never taken from the live write)."""
    migration = namespace.migrations.get(index)
    space = shadow_of(namespace, index)
    if migration is None or space is None or not payloads:
        return
    owner = sources.Owner(namespace.org_id, namespace.namespace_id, namespace.storage_key)
    resolved = sources.resolve(stores, owner, migration.source, migration.inference_service, dict(payloads))
    stores.vectors.ensure_space(space)

    def write(vectors: dict[str, list[float]]) -> None:
        stores.vectors.upsert(
            space, [VectorRecord(doc_id, payloads[doc_id], vector) for doc_id, vector in vectors.items()]
        )

    failed = embed_in_batches(stores.embedders.get(migration.inference_service), resolved.inputs, write)
    # A document that has no usable source now must not keep a vector made from an older one.
    gone = [*resolved.skipped, *resolved.failed, *failed]
    if gone:
        stores.vectors.delete(space, gone)


def mirror_delete(stores: Stores, namespace: Namespace, index: str, ids: Sequence[str]) -> None:
    space = shadow_of(namespace, index)
    if space is not None and ids:
        stores.vectors.delete(space, list(ids))
