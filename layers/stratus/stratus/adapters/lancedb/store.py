"""`VectorStore` on LanceDB (embedded): one table per space, named `space.name` (columns, payload
indexes, maintenance and scores: docs/vector-stores.md, "LanceDB")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.query import ColumnOrdering, LanceVectorQueryBuilder
from lancedb.table import LanceTable, Table

from stratus.adapters.lancedb.arrow import (
    DISTANCE_COLUMN,
    ID_COLUMN,
    VECTOR_COLUMN,
    column_batch,
    columns_read,
    dimension_of,
    has_primary_key,
    index_fields,
    record_batch,
    records_of,
    scores,
    table_schema,
)
from stratus.adapters.lancedb.filters import TERMS_COLUMN, compile_filter
from stratus.adapters.lancedb.index_builds import backfill, create_indexes, indexed_fields
from stratus.adapters.lancedb.maintenance import (
    DistanceType,
    IndexedColumns,
    MaintenancePolicy,
    TableMaintenance,
)
from stratus.adapters.lancedb.payload_indexes import index_columns
from stratus.adapters.lancedb.sql import sql_string
from stratus.errors import ConflictError, StratusError, VectorStoreUnavailableError
from stratus.filters import OPERATORS, FilterNode
from stratus.models.namespaces import Metric, PayloadIndexConfig
from stratus.ports import RecordPage, ScoredRecord, Space, StoreCapabilities, VectorColumns, VectorRecord
from stratus.ports.columns import last_of_each_id

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
        self._dimensions: dict[str, int] = {}  # by table name, read once from its schema

    # -- protocol --------------------------------------------------------------------------------

    @property
    def capabilities(self) -> StoreCapabilities:
        return StoreCapabilities(name="lancedb", operators=OPERATORS)

    def locator(self, storage_key: str) -> str:
        return f"lancedb:{self._uri}/{storage_key}__*"

    def ensure_space(self, space: Space) -> None:
        existing = self._dimensions.get(space.name)
        if existing is None:
            with self._call("ensure_space", space):
                table = self._table_or_create(space)
                existing = dimension_of(table.schema)
            # A table's dimension never changes: a space is dropped and made again under the same
            # name only with its namespace's storage key, which is never reused.
            self._dimensions[space.name] = existing
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
            self._merge(table, record_batch(space, list(latest.values()), self._index_columns(space, table)))
        self._wrote(space, table)

    def upsert_columns(self, space: Space, columns: VectorColumns) -> None:
        columns = last_of_each_id(columns)
        if not columns.ids:
            return
        with self._call("upsert", space):
            table = self._table_or_create(space)
            self._merge(table, column_batch(space, columns, self._index_columns(space, table)))
        self._wrote(space, table)

    @staticmethod
    def _index_columns(space: Space, table: Table) -> set[str]:
        """The table's columns, when the space has payload indexes to write (reading the schema
        is a round trip to the table's latest version: skipped when nothing needs it)."""
        return set(table.schema.names) if space.payload_indexes else set()

    @staticmethod
    def _merge(table: Table, data: pa.Table) -> None:
        table.merge_insert(ID_COLUMN).when_matched_update_all().when_not_matched_insert_all().execute(data)

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
            columns = columns_read(include_vectors)
            found: dict[str, VectorRecord] = {}
            for chunk in _chunks(list(dict.fromkeys(ids))):
                rows = table.search().where(_id_in(chunk)).select(columns).limit(len(chunk)).to_arrow()
                if rows.num_rows == len(chunk) and len(set(rows.column(ID_COLUMN).to_pylist())) < len(chunk):
                    # A full limit of rows without every id: some id has two rows (a table written
                    # before its id became the primary key, see `arrow.has_primary_key`), and the
                    # limit cut off other ids. Read the chunk again, whole.
                    rows = table.search().where(_id_in(chunk)).select(columns).limit(None).to_arrow()
                for record in records_of(rows):
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
                where = compile_filter(filter, indexed_fields(table, space, filter))
            search = table.search(query_vector, vector_column_name=VECTOR_COLUMN)
            assert isinstance(search, LanceVectorQueryBuilder), "a vector gives a vector query"
            builder = (
                search.distance_type(_DISTANCE_TYPE[space.metric])
                .select([*columns_read(include_vectors), DISTANCE_COLUMN])
                .limit(top_k)
            )
            if where is not None:
                builder = builder.where(where, prefilter=True)
            rows = builder.to_arrow()
        found_scores = scores(space.metric, rows.column(DISTANCE_COLUMN).to_numpy(zero_copy_only=False))
        return [
            ScoredRecord(id=record.id, score=score, payload=record.payload, vector=record.vector)
            for record, score in zip(records_of(rows), found_scores, strict=True)
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
                clauses[0] = compile_filter(filter, indexed_fields(table, space, filter))
            # Ids first (a top-k sort over one column), then the page's rows by id.
            query = table.search().select([ID_COLUMN]).order_by([ColumnOrdering(column_name=ID_COLUMN)])
            if clauses:
                query = query.where(" AND ".join(clauses))
            listed: list[str] = query.limit(limit + 1).to_arrow().column(ID_COLUMN).to_pylist()
        more = len(listed) > limit
        # Each id once, even where a table written before its id became the primary key holds
        # two rows for it (`arrow.has_primary_key`): the page may then be short, never repeat.
        page_ids = list(dict.fromkeys(listed[:limit]))
        found = self.fetch(space, page_ids, include_vectors)
        # A record deleted between the reads is simply left out of the page.
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
            self._dimensions.pop(space.name, None)
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
            missing = [field for field in index_fields([index]) if field.name not in table.schema.names]
            if missing:
                table.add_columns(pa.schema(missing))
            backfill(table, index, columns)
            # The backfill rewrote every row, so none is in the vector index any more and every
            # search would scan the table beside it (found by bench_auto_indexes: 4-6x slower
            # searches after the job). Restore the indexed state now, in this thread: the job that
            # calls this is a short-lived process whose background maintenance would die with it.
            self.maintenance.maintain_now(space.name, table, _DISTANCE_TYPE[space.metric])
            create_indexes(table, index, columns)

    def drop_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Undo `build_payload_index`: drop the Lance indexes on the index's columns, then the
        columns themselves (`drop_columns` is a metadata-only change in Lance: no row is
        rewritten). Idempotent: a missing table, index or column is skipped."""
        columns = set(index_columns(index.field_name, index.type).values())
        if not columns:
            return
        with self._call("drop_payload_index", space):
            table = self._table(space)
            if table is None:
                return
            for config in table.list_indices():
                if columns & set(config.columns):
                    table.drop_index(config.name)
            present = [name for name in table.schema.names if name in columns]
            if present:
                table.drop_columns(present)

    # -- tables ----------------------------------------------------------------------------------

    def _wrote(self, space: Space, table: Table) -> None:
        self.maintenance.wrote(space.name, table, _DISTANCE_TYPE[space.metric])

    def _call(self, operation: str, space: Space) -> AbstractContextManager[None]:
        """`_store_call` that also forgets the cached table on failure: the next call reopens it
        (after a transient error, or when another process dropped the table)."""

        def forget() -> None:
            with self._lock:
                self._tables.pop(space.name, None)
                self._dimensions.pop(space.name, None)

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
                    _keyed(table)
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


def _keyed(table: Table) -> None:
    """Make `id` the primary key of a table created before tables had one
    (`arrow.has_primary_key`): a metadata-only commit, once per table. Two processes doing it at
    once may conflict: the loser finds the key set, or fails this call (a retryable 503)."""
    if has_primary_key(table.schema):
        return
    assert isinstance(table, LanceTable), "a local connection opens LanceTables"
    try:
        table.set_unenforced_primary_key(ID_COLUMN)
    except _STORE_FAILURES:
        if not has_primary_key(table.schema):
            raise


def _is_not_found(exc: ValueError) -> bool:
    # LanceDB reports a missing table as a plain ValueError: "Table '<name>' was not found".
    return "was not found" in str(exc)


def _id_in(ids: Sequence[str]) -> str:
    return f"{ID_COLUMN} IN ({', '.join(sql_string(record_id) for record_id in ids)})"


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield ids[start : start + _IDS_PER_STATEMENT]
