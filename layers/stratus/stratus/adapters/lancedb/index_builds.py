"""Payload indexes on a LanceDB table: the backfill of their columns, the Lance indexes on them,
and which of them a filter may read now."""

from __future__ import annotations

import json
from typing import Literal

import pyarrow as pa
from lancedb.table import Table

from stratus.adapters.lancedb.arrow import ID_COLUMN, PAYLOAD_JSON_COLUMN, index_arrays
from stratus.adapters.lancedb.payload_indexes import (
    SCALAR_INDEX_TYPES,
    IndexedFields,
    ScalarIndex,
    index_columns,
)
from stratus.adapters.text_tokens import TextIndexOptions
from stratus.filters import FilterNode, iter_conditions
from stratus.models.namespaces import PayloadIndexConfig
from stratus.ports import Space

# Below this many distinct values a keyword column gets a Bitmap index, else a BTree.
_BITMAP_MAX_DISTINCT = 1000


def backfill(table: Table, index: PayloadIndexConfig, columns: dict[str, str]) -> None:
    """Compute the index columns of every record in Python (the reference's own `lower`,
    tokenizer and number rules) and write them with one `merge_insert` of those columns only."""
    rows = table.search().select([ID_COLUMN, PAYLOAD_JSON_COLUMN]).limit(None).to_arrow()
    if rows.num_rows == 0:
        return
    payloads = [json.loads(text) for text in rows.column(PAYLOAD_JSON_COLUMN).to_pylist()]
    values = index_arrays(index, columns, payloads)
    # The table's own id field: a merge_insert on a primary key refuses a nullable one.
    schema = pa.schema([table.schema.field(ID_COLUMN), *(pa.field(n, a.type) for n, a in values.items())])
    update = pa.Table.from_arrays([rows.column(ID_COLUMN), *values.values()], schema=schema)
    table.merge_insert(ID_COLUMN).when_matched_update_all().execute(update)


def create_indexes(table: Table, index: PayloadIndexConfig, columns: dict[str, str]) -> None:
    for kind, name in columns.items():
        if kind == "x":
            options = TextIndexOptions.of(index) if index.type == "text" else TextIndexOptions()
            _create_fts_index(table, name, options)
        else:
            index_type = _scalar_index_type(table, index, kind, name)
            table.create_scalar_index(name, index_type=index_type, replace=True)


def _scalar_index_type(
    table: Table, index: PayloadIndexConfig, kind: str, column: str
) -> Literal["BTREE", "BITMAP", "LABEL_LIST"]:
    if kind == "t":
        return "LABEL_LIST"  # a list column: array_has_all is served by a LabelList index
    if kind in ("o", "b"):
        return "BITMAP"  # two values
    if kind in ("i", "f") or index.type == "uuid":
        return "BTREE"  # high cardinality expected
    distinct = table.search().select([column]).limit(None).to_arrow().column(column).unique()
    return "BITMAP" if len(distinct) < _BITMAP_MAX_DISTINCT else "BTREE"


def _create_fts_index(table: Table, column: str, options: TextIndexOptions) -> None:
    """LanceDB's full-text index with the options mapped as docs/vector-stores.md says."""
    base: Literal["simple", "whitespace", "ngram"] = "simple"
    if options.tokenizer == "whitespace":
        base = "whitespace"
    elif options.tokenizer == "prefix":
        base = "ngram"
    table.create_fts_index(
        column,
        replace=True,
        with_position=False,
        base_tokenizer=base,
        lower_case=options.lowercase,
        max_token_length=options.max_token_len,
        stem=False,
        remove_stop_words=False,
        ascii_folding=options.tokenizer == "multilingual",
        ngram_min_length=options.min_token_len,
        ngram_max_length=options.max_token_len,
        prefix_only=options.tokenizer == "prefix",
    )


def indexed_fields(table: Table, space: Space, node: FilterNode) -> IndexedFields | None:
    """The index columns a filter may read: scalar indexes whose rows all conform (one count on
    the Bitmap-indexed `_o` column), text indexes already built."""
    fields = {condition.field for condition in iter_conditions(node)}
    wanted = [index for index in space.payload_indexes if tuple(index.field_name.split(".")) in fields]
    if not wanted:
        return None
    names = set(table.schema.names)
    scalar: dict[tuple[str, ...], ScalarIndex] = {}
    text: dict[tuple[str, ...], tuple[str, TextIndexOptions]] = {}
    built: set[str] | None = None
    for index in wanted:
        path, columns = tuple(index.field_name.split(".")), index_columns(index.field_name, index.type)
        if not columns or not all(name in names for name in columns.values()):
            continue
        if index.type == "text":
            if built is None:  # the backfill is complete once the index on it exists
                built = {column for config in table.list_indices() for column in config.columns}
            if columns["t"] in built:
                text[path] = (columns["t"], TextIndexOptions.of(index))
        elif index.type in SCALAR_INDEX_TYPES and path not in scalar:
            others = columns["o"]
            if table.count_rows(f"{others} IS NULL OR {others} = true") == 0:
                scalar[path] = ScalarIndex(index.type, columns)
    return IndexedFields(scalar=scalar, text=text)
