"""A LanceDB table's columns, and records to Arrow and back."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from stratus.adapters.filter_tokens import json_text, utf8_encodable
from stratus.adapters.lancedb.filters import PAYLOAD_COLUMN, TERMS_COLUMN, filter_terms
from stratus.adapters.lancedb.payload_indexes import index_columns, index_values
from stratus.adapters.text_tokens import TextIndexOptions
from stratus.errors import BadRequestError
from stratus.filters import lookup
from stratus.models.namespaces import Metric, PayloadIndexConfig
from stratus.ports import Space, VectorColumns, VectorRecord

ID_COLUMN = "id"
VECTOR_COLUMN = "vector"
PAYLOAD_JSON_COLUMN = "payload_json"
DISTANCE_COLUMN = "_distance"
# Lance's mark of a table's (unenforced) primary key column, on the field's metadata.
PRIMARY_KEY_METADATA = {"lance-schema:unenforced-primary-key:position": "1"}

# The Arrow type of each kind of payload index column (`payload_indexes.index_columns`).
KIND_TYPES: dict[str, pa.DataType] = {
    "s": pa.utf8(),
    "l": pa.utf8(),
    "x": pa.utf8(),
    "o": pa.bool_(),
    "b": pa.bool_(),
    "i": pa.int64(),
    "f": pa.float64(),
    "t": pa.list_(pa.utf8()),
}
_ABSENT = lookup({}, ("absent",))  # `lookup`'s marker for a missing field


def table_schema(
    dimension: int, metric: Metric, payload_indexes: Sequence[PayloadIndexConfig] = ()
) -> pa.Schema:
    return pa.schema(
        [
            # The primary key makes concurrent upserts of one new id conflict (see `has_primary_key`).
            pa.field(ID_COLUMN, pa.utf8(), nullable=False, metadata=PRIMARY_KEY_METADATA),
            pa.field(VECTOR_COLUMN, pa.list_(pa.float32(), dimension), nullable=False),
            pa.field(PAYLOAD_COLUMN, pa.json_(pa.utf8())),
            pa.field(PAYLOAD_JSON_COLUMN, pa.utf8()),
            pa.field(TERMS_COLUMN, pa.list_(pa.utf8())),
            *index_fields(payload_indexes),
        ],
        # For people reading the table; queries take the metric from the `Space`.
        metadata={"stratus.metric": metric, "stratus.dimension": str(dimension)},
    )


def has_primary_key(schema: pa.Schema) -> bool:
    """Whether `id` is the table's primary key. Without one, Lance lets two concurrent
    `merge_insert`s that both find an id absent both insert it: two rows for one id (each
    later upsert of it rewrites both), which a migration's shadow copy got when a mirrored
    write and a backfill page wrote the same document at once. With it, the second commit
    conflicts and LanceDB retries it as an update."""
    metadata = schema.field(ID_COLUMN).metadata or {}
    return any(key.decode().startswith("lance-schema:unenforced-primary-key") for key in metadata)


def dimension_of(schema: pa.Schema) -> int:
    vector_type = schema.field(VECTOR_COLUMN).type
    return int(vector_type.list_size)


def record_batch(space: Space, records: list[VectorRecord], table_columns: set[str]) -> pa.Table:
    vectors = np.asarray([record.vector for record in records], dtype=np.float32)
    columns = VectorColumns([r.id for r in records], [r.payload for r in records], vectors)
    return column_batch(space, columns, table_columns)


def column_batch(space: Space, columns: VectorColumns, table_columns: set[str]) -> pa.Table:
    """The Arrow table of `columns` (vectors as float32, whatever they came as), with the payload
    index columns `table_columns` has."""
    vectors = np.ascontiguousarray(columns.vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != space.dimension:
        raise BadRequestError(
            f"vectors for '{space.name}' must have {space.dimension} dimensions",
            {"space": space.name, "dimension": space.dimension},
        )
    given = columns.payload_json or [None] * len(columns.ids)
    payload_json = [
        text if text is not None and text.isascii() else _payload_text(space, record_id, payload, text)
        for record_id, payload, text in zip(columns.ids, columns.payloads, given, strict=True)
    ]
    terms = [filter_terms(payload) for payload in columns.payloads]
    base = pa.table(
        {
            ID_COLUMN: pa.array(columns.ids, pa.utf8()),
            VECTOR_COLUMN: pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), space.dimension),
            PAYLOAD_COLUMN: pa.array(payload_json, pa.json_(pa.utf8())),
            PAYLOAD_JSON_COLUMN: pa.array(payload_json, pa.utf8()),
            TERMS_COLUMN: pa.array(terms, pa.list_(pa.utf8())),
        },
        schema=table_schema(space.dimension, space.metric),
    )
    # Index columns the table has (a build adds them; a merge_insert leaves out the rest).
    for index in space.payload_indexes:
        index_names = index_columns(index.field_name, index.type)
        if index_names and all(name in table_columns for name in index_names.values()):
            for name, array in index_arrays(index, index_names, columns.payloads).items():
                if name not in base.schema.names:
                    base = base.append_column(pa.field(name, array.type), array)
    return base


def index_fields(indexes: Sequence[PayloadIndexConfig]) -> list[pa.Field]:
    fields: dict[str, pa.Field] = {}
    for index in indexes:
        for kind, name in index_columns(index.field_name, index.type).items():
            fields.setdefault(name, pa.field(name, KIND_TYPES[kind]))
    return list(fields.values())


def index_arrays(
    index: PayloadIndexConfig, columns: dict[str, str], payloads: Sequence[dict[str, Any]]
) -> dict[str, pa.Array]:
    path = tuple(index.field_name.split("."))
    options = TextIndexOptions.of(index) if index.type == "text" else None
    values: dict[str, list[Any]] = {kind: [] for kind in columns}
    for payload in payloads:
        found = lookup(payload, path)
        present = found is not None and found is not _ABSENT
        row = index_values(index.type, found if present else None, present, options)
        for kind in columns:
            values[kind].append(row.get(kind))
    return {columns[kind]: pa.array(column, KIND_TYPES[kind]) for kind, column in values.items()}


def _payload_text(space: Space, record_id: str, payload: dict[str, Any], given: str | None) -> str:
    """`payload_json` exists because JSONB sorts object keys and turns integers beyond 64 bits
    into floats: readers get the payload back exactly as it was written. Compact JSON, the text
    the caller encoded when it did (a lone surrogate is then re-encoded as an escape)."""
    if given is not None and utf8_encodable(given):
        return given
    try:
        return json_text(payload, separators=(",", ":"))
    except ValueError:
        message = f"payload of '{record_id}' holds a number that is not finite"
        raise BadRequestError(message, {"space": space.name, "id": record_id}) from None


def columns_read(include_vectors: bool) -> list[str]:
    return [ID_COLUMN, PAYLOAD_JSON_COLUMN, *([VECTOR_COLUMN] if include_vectors else [])]


def records_of(rows: pa.Table) -> list[VectorRecord]:
    ids = rows.column(ID_COLUMN).to_pylist()
    payloads = [json.loads(text) for text in rows.column(PAYLOAD_JSON_COLUMN).to_pylist()]
    vectors: list[list[float]] | list[None] = [None] * len(ids)
    if VECTOR_COLUMN in rows.column_names:
        column = rows.column(VECTOR_COLUMN).combine_chunks()
        if len(column):
            flat = column.flatten().to_numpy(zero_copy_only=False)
            vectors = flat.reshape(len(column), -1).tolist()
    return [
        VectorRecord(id=record_id, payload=payload, vector=vector)
        for record_id, payload, vector in zip(ids, payloads, vectors, strict=True)
    ]


def scores(metric: Metric, distances: np.ndarray[Any, Any]) -> list[float]:
    """Higher is better: LanceDB's cosine and dot distances are both 1 - similarity; l2 is the
    squared distance."""
    distances = distances.astype(np.float64)
    euclidean = metric == "euclidean"
    result = 1.0 / (1.0 + np.sqrt(np.maximum(distances, 0.0))) if euclidean else 1.0 - distances
    if metric == "cosine":
        # float32 rounding can put an identical vector at 1.0000001; a similarity stays in [-1, 1].
        result = np.clip(result, -1.0, 1.0)
    # A zero vector has no cosine similarity (NaN); report it as orthogonal.
    return [0.0 if math.isnan(score) else float(score) for score in result]
