"""One row per id in a LanceDB table, whoever writes it at once, and reads that stay exact on a
table that already holds two rows for an id.

The migration e2e test once listed 990 of a 1,000-id page and stopped there. The cause: two
`merge_insert`s that both found an id absent (a write mirrored to a migration's shadow copy and a
backfill page embedding the same document) both inserted it, and Lance let both commit. With 5
ids held twice, the page's id query spent 5 of its 1,000 places on repeats, and the fetch by id,
limited to the 995 ids asked for, stopped 5 rows short: the last rows scanned, the writer's last
batch. The fix: `id` is the table's primary key (Lance then makes the second insert conflict and
LanceDB retries it as an update), and reads no longer trust one row per id."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from stratus.adapters.lancedb.arrow import ID_COLUMN, column_batch, has_primary_key, table_schema
from stratus.adapters.lancedb.store import LanceDBVectorStore
from stratus.ports import Space, VectorColumns, VectorRecord

DIM = 8
SPACE = Space(storage_key="ns-dup", index_name="text", dimension=DIM, metric="cosine")
ROUNDS = 12


def record(doc_id: str, version: int) -> VectorRecord:
    vector = np.random.default_rng(version).normal(size=DIM).astype(np.float32).tolist()
    return VectorRecord(doc_id, {"id": doc_id, "version": version}, vector)


def rows_per_id(uri: str) -> Counter[str]:
    table = lancedb.connect(uri).open_table(SPACE.name)
    return Counter(table.search().select([ID_COLUMN]).limit(None).to_arrow().column(ID_COLUMN).to_pylist())


def legacy_table(uri: str) -> None:
    """A table as the store made them before `id` was its primary key."""
    schema = table_schema(DIM, "cosine")
    legacy = schema.set(0, schema.field(ID_COLUMN).remove_metadata())
    assert not has_primary_key(legacy)
    lancedb.connect(uri).create_table(SPACE.name, schema=legacy)


@pytest.mark.parametrize("made", ["new", "legacy"])
def test_two_processes_upserting_the_same_new_ids_at_once_leave_one_row_each(
    tmp_path: Path, made: str
) -> None:
    """Two store instances (an API process mirroring a write, a backfill worker filling a page)
    upsert the same 5 new ids at the same moment, round after round. Without the primary key
    every round left 10 rows (100 of 100 rounds in a probe)."""
    uri = str(tmp_path)
    if made == "legacy":
        legacy_table(uri)
    stores = [LanceDBVectorStore(uri), LanceDBVectorStore(uri)]
    for store in stores:
        store.ensure_space(SPACE)  # opens (and, for a legacy table, keys) the table
    errors: list[BaseException] = []
    for round_ in range(ROUNDS):
        ids = [f"doc-{round_:02d}-{n}" for n in range(5)]
        barrier = threading.Barrier(2)

        def write(writer: int, ids: list[str] = ids, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                stores[writer].upsert(SPACE, [record(doc_id, writer) for doc_id in ids])
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=write, args=(writer,)) for writer in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    counts = rows_per_id(uri)
    assert len(counts) == 5 * ROUNDS
    assert {doc_id: n for doc_id, n in counts.items() if n > 1} == {}


def test_a_table_holding_two_rows_for_some_ids_still_lists_and_fetches_every_id_once(tmp_path: Path) -> None:
    """The e2e failure, made on purpose: 1,000 ids, 5 of them held twice (appended as a table
    written before the primary key could hold them), then the writer's last batch rewritten (the
    newest fragment, scanned last). A 1,000-id page must hold no id twice, and the fetch of its
    ids must return every one of them."""
    uri = str(tmp_path)
    store = LanceDBVectorStore(uri)
    ids = [f"doc-{n:04d}" for n in range(1000)]
    for start in range(0, 1000, 100):
        store.upsert(SPACE, [record(doc_id, 0) for doc_id in ids[start : start + 100]])
    doubled = ids[500:505]
    table = lancedb.connect(uri).open_table(SPACE.name)
    payloads = [{"id": doc_id, "version": 0} for doc_id in doubled]
    columns = VectorColumns(doubled, payloads, np.zeros((5, DIM), np.float32))
    table.add(column_batch(SPACE, columns, set()))  # `add` never checks the key: 5 ids, twice
    last = ids[350:355]
    store.upsert(SPACE, [record(doc_id, 1) for doc_id in last])
    assert sum(rows_per_id(uri).values()) == 1005  # the premise: 5 ids held twice

    fetched = store.fetch(SPACE, ids, include_vectors=False)
    assert sorted(fetched) == ids
    assert all(fetched[doc_id].payload["version"] == 1 for doc_id in last)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list(SPACE, None, 1000, cursor, False)
        listed = [r.id for r in page.records]
        assert len(listed) == len(set(listed)), "an id listed twice on one page"
        seen += listed
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids


def test_a_table_made_before_ids_were_its_primary_key_gets_the_key_when_opened(tmp_path: Path) -> None:
    uri = str(tmp_path)
    legacy_table(uri)
    store = LanceDBVectorStore(uri)
    store.upsert(SPACE, [record("doc-1", 0)])
    schema = lancedb.connect(uri).open_table(SPACE.name).schema
    assert has_primary_key(schema)
    assert schema.field(ID_COLUMN).type == pa.utf8() and not schema.field(ID_COLUMN).nullable
    fetched = store.fetch(SPACE, ["doc-1"], include_vectors=False)
    assert fetched["doc-1"].payload == {"id": "doc-1", "version": 0}
