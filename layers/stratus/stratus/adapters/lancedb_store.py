"""`VectorStore` on LanceDB (embedded): one table per space, named `space.name`.

Table columns:

| column          | type                                | what                                          |
|-----------------|-------------------------------------|-----------------------------------------------|
| `id`            | utf8                                | record id (merge key)                         |
| `vector`        | fixed_size_list<float32>[dimension] | the embedding                                 |
| `payload`       | `pa.json_` (Lance JSONB)            | the payload, for the JSON UDFs of filters     |
| `payload_json`  | utf8                                | the payload as written, returned to readers   |
| `filter_terms`  | list<utf8>                          | equality terms, see `lancedb_filters`         |
| `pi_<hex>_<k>`  | typed (see below)                   | payload index columns, see `lancedb_filters`  |

Payload indexes (`build_payload_index`): per indexed field, typed columns materialized from the
payload and a real index on each:

| index type               | columns (kind)                         | Lance index                       |
|--------------------------|----------------------------------------|-----------------------------------|
| keyword, uuid, datetime  | `_s` exact utf8, `_l` lowercased utf8  | Bitmap if < 1000 distinct values  |
|                          |                                        | (never for uuid), else BTree      |
| integer / float / bool   | `_i` int64 / `_f` float64 / `_b` bool  | BTree / BTree / Bitmap            |
| (all of the above)       | `_o` bool: a non-conforming value      | Bitmap                            |
| text                     | `_t` list<utf8> tokens, `_x` utf8 text | LabelList on `_t`; FTS on `_x`    |
| geo                      | none (LanceDB has no geo index)        | -                                 |

Datetimes are kept as the ISO strings they were written as: `gt gte lt lte` compare strings in
`evaluate()`, and string order is ISO order. Text filters read `_t` with `array_has_all` (exact:
the tokens are computed by `text_tokens`, the reference), index-served by the LabelList index
inside the prefiltered vector search. The FTS index on `_x` maps the options as: tokenizer word →
`simple`, whitespace → `whitespace`, prefix → `ngram` with `prefix_only` and n-gram lengths
`min_token_len..max_token_len`, multilingual → `simple` with ASCII folding; `lower_case` =
`lowercase`, `max_token_length` = `max_token_len`, no stemming and no stop words. Lance's
tokenizers differ from the reference in details (`simple` splits on `_`), so filters never read it.

Building on 200k rows (measured): the backfill (one read of `payload_json`, one `merge_insert`
of the new columns) ~1.5 s; a Bitmap or BTree index < 0.1 s; LabelList ~0.3 s; FTS ~0.4 s.

`payload_json` exists because JSONB sorts object keys and turns integers beyond 64 bits into
floats: readers get the payload back exactly as it was written.

Search is exact: a flat scan, or once a table is big a one-partition IVF_FLAT index that is
scanned whole, and a LabelList index on `filter_terms` (`lancedb_maintenance`, which also
compacts small fragments). Scores are "higher is better":

| metric    | LanceDB distance | `_distance` returned | score                  |
|-----------|------------------|----------------------|------------------------|
| cosine    | `cosine`         | 1 - cos(a, b)        | 1 - d  (cos(a, b))     |
| dot       | `dot`            | 1 - a·b              | 1 - d  (a·b)           |
| euclidean | `l2`             | |a - b|² (squared)   | 1 / (1 + sqrt(d))      |
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any, Literal

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.query import ColumnOrdering, LanceVectorQueryBuilder
from lancedb.table import Table

from stratus.adapters.lancedb_filters import (
    PAYLOAD_COLUMN,
    SCALAR_INDEX_TYPES,
    TERMS_COLUMN,
    IndexedFields,
    ScalarIndex,
    compile_filter,
    filter_terms,
    index_columns,
    index_values,
    sql_string,
)
from stratus.adapters.lancedb_maintenance import (
    DistanceType,
    IndexedColumns,
    MaintenancePolicy,
    TableMaintenance,
)
from stratus.adapters.text_tokens import TextIndexOptions
from stratus.errors import BadRequestError, ConflictError, StratusError, VectorStoreUnavailableError
from stratus.filters import OPERATORS, FilterNode, iter_conditions, lookup
from stratus.models.namespaces import Metric, PayloadIndexConfig
from stratus.ports import RecordPage, ScoredRecord, Space, StoreCapabilities, VectorRecord

ID_COLUMN = "id"
VECTOR_COLUMN = "vector"
PAYLOAD_JSON_COLUMN = "payload_json"
DISTANCE_COLUMN = "_distance"
INDEXED_COLUMNS = IndexedColumns(vector=VECTOR_COLUMN, terms=TERMS_COLUMN)

_DISTANCE_TYPE: dict[Metric, DistanceType] = {"cosine": "cosine", "dot": "dot", "euclidean": "l2"}
# Ids per `id IN (...)` statement; keeps statements small whatever the caller passes.
_IDS_PER_STATEMENT = 1000
# Failures of the store itself (I/O, Lance, Arrow) as opposed to our own programming errors.
_STORE_FAILURES: tuple[type[BaseException], ...] = (OSError, RuntimeError, ValueError, pa.ArrowException)


@contextmanager
def _store_call(operation: str, space: str, on_failure: Callable[[], None] | None = None) -> Iterator[None]:
    """Turn a failure of the store into a retryable 503 naming the operation and the space."""
    try:
        yield
    except StratusError:
        raise
    except _STORE_FAILURES as exc:
        if on_failure is not None:
            on_failure()
        raise VectorStoreUnavailableError(
            f"vector store unavailable: {operation} on space '{space}' failed ({type(exc).__name__})",
            {"operation": operation, "space": space},
        ) from exc


def table_schema(
    dimension: int, metric: Metric, payload_indexes: Sequence[PayloadIndexConfig] = ()
) -> pa.Schema:
    return pa.schema(
        [
            pa.field(ID_COLUMN, pa.utf8(), nullable=False),
            pa.field(VECTOR_COLUMN, pa.list_(pa.float32(), dimension), nullable=False),
            pa.field(PAYLOAD_COLUMN, pa.json_(pa.utf8())),
            pa.field(PAYLOAD_JSON_COLUMN, pa.utf8()),
            pa.field(TERMS_COLUMN, pa.list_(pa.utf8())),
            *_index_fields(payload_indexes),
        ],
        # For people reading the table; queries take the metric from the `Space`.
        metadata={"stratus.metric": metric, "stratus.dimension": str(dimension)},
    )


class LanceDBVectorStore:
    """Thread-safe: one instance is shared by the threads of a worker. Tables are opened once and
    cached; the connection checks for newer table versions on every read
    (`read_consistency_interval=0`), so writes by other processes are seen at once."""

    def __init__(
        self,
        uri: str,
        *,
        read_consistency_interval: timedelta | None = timedelta(0),
        maintenance: MaintenancePolicy | None = None,
    ) -> None:
        self._uri = uri
        self.maintenance = TableMaintenance(maintenance or MaintenancePolicy(), INDEXED_COLUMNS)
        self._read_consistency_interval = read_consistency_interval
        self._lock = threading.Lock()
        self._db: lancedb.DBConnection | None = None
        self._tables: dict[str, Table] = {}

    # -- protocol --------------------------------------------------------------------------------

    @property
    def capabilities(self) -> StoreCapabilities:
        return StoreCapabilities(name="lancedb", operators=OPERATORS)

    def locator(self, storage_key: str) -> str:
        return f"lancedb:{self._uri}/{storage_key}__*"

    def ensure_space(self, space: Space) -> None:
        with self._call("ensure_space", space):
            table = self._table_or_create(space)
            existing = _dimension(table.schema)
        if existing != space.dimension:
            raise ConflictError(
                f"vector space '{space.name}' exists with dimension {existing}, not {space.dimension}",
                {"space": space.name, "existing_dimension": existing, "requested_dimension": space.dimension},
            )

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        latest = {record.id: record for record in records}  # the last write of an id wins
        if not latest:
            return
        with self._call("upsert", space):
            table = self._table_or_create(space)
            data = _record_batch(space, list(latest.values()), set(table.schema.names))
            (
                table.merge_insert(ID_COLUMN)
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(data)
            )
        self._wrote(space, table)

    def delete(self, space: Space, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._call("delete", space):
            table = self._table(space)
            if table is None:
                return
            for chunk in _chunks(list(dict.fromkeys(ids))):
                table.delete(_id_in(chunk))
        self._wrote(space, table)

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]:
        if not ids:
            return {}
        with self._call("fetch", space):
            table = self._table(space)
            if table is None:
                return {}
            columns = _columns(include_vectors)
            found: dict[str, VectorRecord] = {}
            for chunk in _chunks(list(dict.fromkeys(ids))):
                rows = table.search().where(_id_in(chunk)).select(columns).limit(len(chunk)).to_arrow()
                for record in _records(rows):
                    found[record.id] = record
        return found

    def query(
        self,
        space: Space,
        vector: Sequence[float],
        top_k: int,
        filter: FilterNode | None,
        include_vectors: bool,
    ) -> list[ScoredRecord]:
        where = compile_filter(filter) if filter is not None else None  # a 400 before any I/O
        query_vector = np.asarray(vector, dtype=np.float32)
        with self._call("query", space):
            table = self._table(space)
            if table is None:
                return []
            if filter is not None:
                where = compile_filter(filter, _indexed_fields(table, space, filter))
            search = table.search(query_vector, vector_column_name=VECTOR_COLUMN)
            assert isinstance(search, LanceVectorQueryBuilder), "a vector gives a vector query"
            builder = (
                search.distance_type(_DISTANCE_TYPE[space.metric])
                .select([*_columns(include_vectors), DISTANCE_COLUMN])
                .limit(top_k)
            )
            if where is not None:
                builder = builder.where(where, prefilter=True)
            rows = builder.to_arrow()
        scores = _scores(space.metric, rows.column(DISTANCE_COLUMN).to_numpy(zero_copy_only=False))
        return [
            ScoredRecord(id=record.id, score=score, payload=record.payload, vector=record.vector)
            for record, score in zip(_records(rows), scores, strict=True)
        ]

    def list(
        self,
        space: Space,
        filter: FilterNode | None,
        limit: int,
        after_id: str | None,
        include_vectors: bool,
    ) -> RecordPage:
        clauses = [compile_filter(filter)] if filter is not None else []
        if after_id is not None:
            clauses.append(f"{ID_COLUMN} > {sql_string(after_id)}")
        with self._call("list", space):
            table = self._table(space)
            if table is None:
                return RecordPage(records=[], next_cursor=None)
            if filter is not None:
                clauses[0] = compile_filter(filter, _indexed_fields(table, space, filter))
            # Ids first (a top-k sort over one column), then the page's rows by id.
            query = table.search().select([ID_COLUMN]).order_by([ColumnOrdering(column_name=ID_COLUMN)])
            if clauses:
                query = query.where(" AND ".join(clauses))
            page_ids: list[str] = query.limit(limit + 1).to_arrow().column(ID_COLUMN).to_pylist()
        more = len(page_ids) > limit
        page_ids = page_ids[:limit]
        found = self.fetch(space, page_ids, include_vectors)
        # A record deleted between the two reads is simply left out of the page.
        records = [found[record_id] for record_id in page_ids if record_id in found]
        return RecordPage(records=records, next_cursor=page_ids[-1] if more else None)

    def count(self, space: Space) -> int:
        with self._call("count", space):
            table = self._table(space)
            return 0 if table is None else int(table.count_rows())

    def ids(self, space: Space) -> set[str]:
        with self._call("ids", space):
            table = self._table(space)
            if table is None:
                return set()
            rows = table.search().select([ID_COLUMN]).limit(None).to_arrow()
        return set(rows.column(ID_COLUMN).to_pylist())

    def drop_space(self, space: Space) -> None:
        self.maintenance.forget(space.name)
        with self._call("drop_space", space), self._lock:
            self._tables.pop(space.name, None)
            try:
                self._connection().drop_table(space.name)
            except ValueError as exc:
                if not _is_not_found(exc):
                    raise

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Add the index's columns if missing, backfill them from every record's payload, then
        (re)build the Lance indexes on them (`replace=True`): idempotent, and safe to rerun after
        a failure. A write racing the backfill for the same id may keep a stale column value
        until the next upsert of that id or the next rebuild."""
        columns = index_columns(index.field_name, index.type)
        if not columns:
            return  # geo: LanceDB has no geo index; filters keep the generic path
        with self._call("build_payload_index", space):
            table = self._table_or_create(space)
            missing = [field for field in _index_fields([index]) if field.name not in table.schema.names]
            if missing:
                table.add_columns(pa.schema(missing))
            _backfill(table, index, columns)
            # The backfill rewrote every row, so none is in the vector index any more and every
            # search would scan the table beside it (found by bench_auto_indexes: 4-6x slower
            # searches after the job). Restore the indexed state now, in this thread: the job that
            # calls this is a short-lived process whose background maintenance would die with it.
            self.maintenance.maintain_now(space.name, table, _DISTANCE_TYPE[space.metric])
            _create_indexes(table, index, columns)

    # -- tables ----------------------------------------------------------------------------------

    def _wrote(self, space: Space, table: Table) -> None:
        self.maintenance.wrote(space.name, table, _DISTANCE_TYPE[space.metric])

    def _call(self, operation: str, space: Space) -> AbstractContextManager[None]:
        """`_store_call` that also forgets the cached table on failure: the next call reopens it
        (after a transient error, or when another process dropped the table)."""

        def forget() -> None:
            with self._lock:
                self._tables.pop(space.name, None)

        return _store_call(operation, space.name, forget)

    def _connection(self) -> lancedb.DBConnection:
        """Connect on first use (callers hold `_lock`)."""
        if self._db is None:
            self._db = lancedb.connect(self._uri, read_consistency_interval=self._read_consistency_interval)
        return self._db

    def _table(self, space: Space) -> Table | None:
        """The cached table of `space`; None when it does not exist."""
        return self._cached(space, create=False)

    def _table_or_create(self, space: Space) -> Table:
        table = self._cached(space, create=True)
        assert table is not None, "created tables exist"
        return table

    def _cached(self, space: Space, create: bool) -> Table | None:
        table = self._tables.get(space.name)
        if table is not None:
            return table
        with self._lock:  # one open (or create) per table, whatever the number of threads
            table = self._tables.get(space.name)
            if table is None:
                table = self._create(space) if create else self._open(space.name)
                if table is not None:
                    self._tables[space.name] = table
            return table

    def _open(self, name: str) -> Table | None:
        try:
            return self._connection().open_table(name)
        except ValueError as exc:
            if _is_not_found(exc):
                return None
            raise

    def _create(self, space: Space) -> Table:
        try:
            schema = table_schema(space.dimension, space.metric, space.payload_indexes)
            return self._connection().create_table(space.name, schema=schema, exist_ok=True)
        except ValueError:
            # Another process created it between our check and our commit: use theirs.
            table = self._open(space.name)
            if table is None:
                raise
            return table


def _is_not_found(exc: ValueError) -> bool:
    # LanceDB reports a missing table as a plain ValueError: "Table '<name>' was not found".
    return "was not found" in str(exc)


# ---------------------------------------------------------------------------------------------
# Arrow conversions


def _dimension(schema: pa.Schema) -> int:
    vector_type = schema.field(VECTOR_COLUMN).type
    return int(vector_type.list_size)


def _record_batch(space: Space, records: list[VectorRecord], table_columns: set[str]) -> pa.Table:
    vectors = np.asarray([record.vector for record in records], dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != space.dimension:
        raise BadRequestError(
            f"vectors for '{space.name}' must have {space.dimension} dimensions",
            {"space": space.name, "dimension": space.dimension},
        )
    payload_json = [_payload_text(space, record) for record in records]
    base = pa.table(
        {
            ID_COLUMN: pa.array([record.id for record in records], pa.utf8()),
            VECTOR_COLUMN: pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), space.dimension),
            PAYLOAD_COLUMN: pa.array(payload_json, pa.json_(pa.utf8())),
            PAYLOAD_JSON_COLUMN: pa.array(payload_json, pa.utf8()),
            TERMS_COLUMN: pa.array([filter_terms(record.payload) for record in records], pa.list_(pa.utf8())),
        },
        schema=table_schema(space.dimension, space.metric),
    )
    # Index columns the table has (a build adds them; a merge_insert leaves out the rest).
    payloads = [record.payload for record in records]
    for index in space.payload_indexes:
        columns = index_columns(index.field_name, index.type)
        if columns and all(name in table_columns for name in columns.values()):
            for name, array in _index_arrays(index, columns, payloads).items():
                if name not in base.schema.names:
                    base = base.append_column(pa.field(name, array.type), array)
    return base


# ---------------------------------------------------------------------------------------------
# Payload indexes

_KIND_TYPES: dict[str, pa.DataType] = {
    "s": pa.utf8(),
    "l": pa.utf8(),
    "x": pa.utf8(),
    "o": pa.bool_(),
    "b": pa.bool_(),
    "i": pa.int64(),
    "f": pa.float64(),
    "t": pa.list_(pa.utf8()),
}
# Below this many distinct values a keyword column gets a Bitmap index, else a BTree.
_BITMAP_MAX_DISTINCT = 1000


def _index_fields(indexes: Sequence[PayloadIndexConfig]) -> list[pa.Field]:
    fields: dict[str, pa.Field] = {}
    for index in indexes:
        for kind, name in index_columns(index.field_name, index.type).items():
            fields.setdefault(name, pa.field(name, _KIND_TYPES[kind]))
    return list(fields.values())


def _text_options(index: PayloadIndexConfig) -> TextIndexOptions | None:
    return TextIndexOptions.of(index) if index.type == "text" else None


def _index_arrays(
    index: PayloadIndexConfig, columns: dict[str, str], payloads: Sequence[dict[str, Any]]
) -> dict[str, pa.Array]:
    path, options = tuple(index.field_name.split(".")), _text_options(index)
    values: dict[str, list[Any]] = {kind: [] for kind in columns}
    for payload in payloads:
        found = lookup(payload, path)
        present = found is not None and found is not _ABSENT
        row = index_values(index.type, found if present else None, present, options)
        for kind in columns:
            values[kind].append(row.get(kind))
    return {columns[kind]: pa.array(column, _KIND_TYPES[kind]) for kind, column in values.items()}


_ABSENT = lookup({}, ("absent",))  # `lookup`'s marker for a missing field


def _backfill(table: Table, index: PayloadIndexConfig, columns: dict[str, str]) -> None:
    """Compute the index columns of every record in Python (the reference's own `lower`,
    tokenizer and number rules) and write them with one `merge_insert` of those columns only."""
    rows = table.search().select([ID_COLUMN, PAYLOAD_JSON_COLUMN]).limit(None).to_arrow()
    if rows.num_rows == 0:
        return
    payloads = [json.loads(text) for text in rows.column(PAYLOAD_JSON_COLUMN).to_pylist()]
    update = pa.table({ID_COLUMN: rows.column(ID_COLUMN), **_index_arrays(index, columns, payloads)})
    table.merge_insert(ID_COLUMN).when_matched_update_all().execute(update)


def _create_indexes(table: Table, index: PayloadIndexConfig, columns: dict[str, str]) -> None:
    for kind, name in columns.items():
        if kind == "x":
            _create_fts_index(table, name, _text_options(index) or TextIndexOptions())
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
    """LanceDB's full-text index with the options mapped as the module docstring says."""
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


def _indexed_fields(table: Table, space: Space, node: FilterNode) -> IndexedFields | None:
    """The index columns a filter may read (see `lancedb_filters`): scalar indexes whose rows all
    conform (one count on the Bitmap-indexed `_o` column), text indexes already built."""
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


def _payload_text(space: Space, record: VectorRecord) -> str:
    try:
        text = json.dumps(record.payload, ensure_ascii=False, allow_nan=False)
    except ValueError:
        message = f"payload of '{record.id}' holds a number that is not finite"
        raise BadRequestError(message, {"space": space.name, "id": record.id}) from None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: Arrow strings must be valid UTF-8
            text = json.dumps(record.payload, ensure_ascii=True)
    return text


def _columns(include_vectors: bool) -> list[str]:
    return [ID_COLUMN, PAYLOAD_JSON_COLUMN, *([VECTOR_COLUMN] if include_vectors else [])]


def _records(rows: pa.Table) -> list[VectorRecord]:
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


def _scores(metric: Metric, distances: np.ndarray[Any, Any]) -> list[float]:
    distances = distances.astype(np.float64)
    # LanceDB's cosine and dot distances are both 1 - similarity; l2 is the squared distance.
    euclidean = metric == "euclidean"
    scores = 1.0 / (1.0 + np.sqrt(np.maximum(distances, 0.0))) if euclidean else 1.0 - distances
    if metric == "cosine":
        # float32 rounding can put an identical vector at 1.0000001; a similarity stays in [-1, 1].
        scores = np.clip(scores, -1.0, 1.0)
    # A zero vector has no cosine similarity (NaN); report it as orthogonal.
    return [0.0 if math.isnan(score) else float(score) for score in scores]


def _id_in(ids: Sequence[str]) -> str:
    return f"{ID_COLUMN} IN ({', '.join(sql_string(record_id) for record_id in ids)})"


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield ids[start : start + _IDS_PER_STATEMENT]
