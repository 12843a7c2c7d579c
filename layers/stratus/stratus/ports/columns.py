"""Helpers of `VectorColumns` the stores share."""

from __future__ import annotations

from stratus.ports.vectors import VectorColumns


def last_of_each_id(columns: VectorColumns) -> VectorColumns:
    """The columns with each id once, at its last write (as `upsert` keeps the last record of
    an id); the same object when the ids are distinct already (the upsert route's case)."""
    ids = list(columns.ids)
    if len(set(ids)) == len(ids):
        return columns
    last = {record_id: position for position, record_id in enumerate(ids)}
    keep = sorted(last.values())
    given = columns.payload_json
    return VectorColumns(
        [ids[i] for i in keep],
        [columns.payloads[i] for i in keep],
        columns.vectors[keep],
        [given[i] for i in keep] if given is not None else None,
    )
