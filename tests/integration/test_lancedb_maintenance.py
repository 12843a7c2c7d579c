"""LanceDB table maintenance (`stratus.adapters.lancedb.maintenance`) on a real embedded LanceDB:
small fragments are compacted, a big table gets a one-partition IVF_FLAT index and a LabelList
index on its filter terms, search stays exact through them (checked against numpy and the
reference filter evaluator), and writers never fail because of it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pytest

from stratus.adapters.lancedb.maintenance import (
    MaintenancePolicy,
    TableState,
    next_step,
    optimize,
    table_state,
)
from stratus.adapters.lancedb.store import INDEXED_COLUMNS, LanceDBVectorStore
from stratus.filters import evaluate, parse_filter
from stratus.models.namespaces import PayloadIndexConfig
from stratus.ports import Space, VectorRecord

DIM = 16
TARGET = Space(storage_key="ns-maint", index_name="emb", dimension=DIM, metric="cosine")
Matrix = np.ndarray[Any, np.dtype[np.float32]]


def vectors(count: int, seed: int) -> Matrix:
    return np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)


def batch(start: int, matrix: Matrix) -> list[VectorRecord]:
    return [
        VectorRecord(id=f"d{start + i:05d}", payload={"group": (start + i) % 5}, vector=matrix[i].tolist())
        for i in range(len(matrix))
    ]


def state(directory: Path) -> TableState:
    return table_state(lancedb.connect(str(directory)).open_table(TARGET.name), INDEXED_COLUMNS)


def exact_top_ids(
    corpus: dict[str, tuple[Matrix, dict[str, Any]]], query: Matrix, k: int, raw: Any
) -> list[str]:
    """The reference: cosine over every live record, filtered by the reference evaluator."""
    parsed = parse_filter(raw) if raw is not None else None
    ids = [i for i, (_, payload) in corpus.items() if parsed is None or evaluate(parsed, payload)]
    matrix = np.stack([corpus[i][0] for i in ids])
    scores = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[position] for position in order]


def indexed(rows: int, fragments: int, unindexed_rows: int) -> TableState:
    return TableState(
        rows, fragments, has_vector_index=True, unindexed_rows=unindexed_rows, has_terms_index=True
    )


@pytest.mark.parametrize(
    ("state_", "expected"),
    [
        (TableState(rows=9_999, fragments=23, has_vector_index=False, unindexed_rows=0), None),
        (TableState(rows=10_000, fragments=1, has_vector_index=False, unindexed_rows=0), "build_indexes"),
        (TableState(rows=100, fragments=24, has_vector_index=False, unindexed_rows=0), "optimize"),
        (TableState(rows=50_000, fragments=3, has_vector_index=True, unindexed_rows=0), "build_indexes"),
        (indexed(rows=20_000, fragments=3, unindexed_rows=4_999), None),
        (indexed(rows=20_000, fragments=3, unindexed_rows=5_000), "optimize"),
        (indexed(rows=100_000, fragments=3, unindexed_rows=19_999), None),  # 20 % of the table
        (indexed(rows=100_000, fragments=3, unindexed_rows=20_000), "optimize"),
        (indexed(rows=100_000, fragments=24, unindexed_rows=0), "optimize"),
    ],
)
def test_the_policy_decides_from_the_table_state(state_: TableState, expected: str | None) -> None:
    assert next_step(state_, MaintenancePolicy()) == expected


def test_small_writes_are_compacted_in_the_background(tmp_path: Path) -> None:
    policy = MaintenancePolicy(check_every_writes=4, index_min_rows=10**9, max_fragments=8)
    store = LanceDBVectorStore(str(tmp_path), maintenance=policy)
    steps: list[str] = []
    store.maintenance.on_step = lambda _name, step: steps.append(step)
    for start in range(0, 120, 5):  # 24 writes of 5 records: 24 fragments without maintenance
        store.upsert(TARGET, batch(start, vectors(5, seed=start)))
    assert store.maintenance.wait_idle(60)
    assert "optimize" in steps
    assert state(tmp_path).fragments < 8
    assert store.count(TARGET) == 120
    assert set(store.fetch(TARGET, [f"d{i:05d}" for i in range(120)], False)) == {
        f"d{i:05d}" for i in range(120)
    }


def test_a_big_table_gets_a_vector_index_and_search_stays_exact(tmp_path: Path) -> None:
    policy = MaintenancePolicy(check_every_writes=1, index_min_rows=2_000, max_unindexed_rows=10**9)
    store = LanceDBVectorStore(str(tmp_path), maintenance=policy)
    corpus: dict[str, tuple[Matrix, dict[str, Any]]] = {}

    def write(records: list[VectorRecord]) -> None:
        store.upsert(TARGET, records)
        corpus.update({r.id: (np.asarray(r.vector, dtype=np.float32), r.payload) for r in records})

    for start in range(0, 2_500, 500):
        write(batch(start, vectors(500, seed=start)))
    assert store.maintenance.wait_idle(120)
    indexed = state(tmp_path)
    # Built at the 4th write (2,000 rows); the 5th write's rows are outside it, scanned beside it.
    assert indexed.has_vector_index and indexed.has_terms_index and indexed.unindexed_rows == 500

    def assert_exact(seed: int) -> None:
        queries = vectors(20, seed=seed)
        for number in range(len(queries)):
            query = queries[number]
            raw = {"AND": [{"field": "group", "operator": "eq", "value": number % 5}]} if number % 2 else None
            parsed = parse_filter(raw) if raw is not None else None
            hits = store.query(TARGET, query.tolist(), 10, parsed, include_vectors=False)
            assert [hit.id for hit in hits] == exact_top_ids(corpus, query, 10, raw)

    assert_exact(seed=1)
    # Overwrites and deletes after the index was built: rows outside the index are scanned
    # beside it, deleted rows of the index are skipped.
    write(batch(0, vectors(300, seed=99)))
    deleted = [f"d{i:05d}" for i in range(1_000, 1_100)]
    store.delete(TARGET, deleted)
    for record_id in deleted:
        corpus.pop(record_id)
    assert state(tmp_path).unindexed_rows > 0
    assert_exact(seed=2)
    # The optimize step: compaction, the vector index updated, the terms index rebuilt.
    table = lancedb.connect(str(tmp_path)).open_table(TARGET.name)
    optimize(table, INDEXED_COLUMNS)
    after = state(tmp_path)
    assert after.has_vector_index and after.has_terms_index and after.unindexed_rows == 0
    assert after.fragments < 7
    assert_exact(seed=3)


def test_building_a_payload_index_leaves_the_table_indexed(tmp_path: Path) -> None:
    # Given an indexed table (the policy indexes from 2,000 rows)
    policy = MaintenancePolicy(
        check_every_writes=1, index_min_rows=2_000, max_unindexed_rows=1_000, background=False
    )
    store = LanceDBVectorStore(str(tmp_path), maintenance=policy)
    corpus: dict[str, tuple[Matrix, dict[str, Any]]] = {}
    for start in range(0, 3_000, 1_000):
        records = batch(start, vectors(1_000, seed=start))
        store.upsert(TARGET, records)
        corpus.update({r.id: (np.asarray(r.vector, dtype=np.float32), r.payload) for r in records})
    assert state(tmp_path).has_vector_index and state(tmp_path).unindexed_rows < 3_000

    # When a payload index is built (its backfill rewrites every row)
    index = PayloadIndexConfig(field_name="group", type="integer")
    space = Space(TARGET.storage_key, TARGET.index_name, DIM, "cosine", payload_indexes=(index,))
    store.build_payload_index(space, index)

    # Then every row is back in the vector index, and search is still exact
    after = state(tmp_path)
    assert after.has_vector_index and after.has_terms_index and after.unindexed_rows == 0
    query = vectors(1, seed=7)[0]
    raw = {"AND": [{"field": "group", "operator": "eq", "value": 3}]}
    hits = store.query(space, query.tolist(), 10, parse_filter(raw), include_vectors=False)
    assert [hit.id for hit in hits] == exact_top_ids(corpus, query, 10, raw)


def test_writers_never_fail_because_of_maintenance(tmp_path: Path) -> None:
    """Two store instances (as two worker processes would have) and four writing threads, with
    maintenance due after every write: compactions lose their races, writes never do."""
    policy = MaintenancePolicy(
        check_every_writes=1, index_min_rows=200, max_fragments=2, max_unindexed_rows=1
    )
    stores = [LanceDBVectorStore(str(tmp_path), maintenance=policy) for _ in range(2)]
    stores[0].ensure_space(TARGET)

    def writer(number: int) -> None:
        store = stores[number % 2]
        for round_ in range(15):
            start = number * 10_000 + round_ * 20
            store.upsert(TARGET, batch(start, vectors(20, seed=start)))
            if round_ % 3 == 2:  # overwrite a few and delete one
                store.upsert(TARGET, batch(start, vectors(5, seed=start + 1)))
                store.delete(TARGET, [f"d{start + 19:05d}"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(writer, range(4)))  # re-raises the first writer's failure
    for store in stores:
        assert store.maintenance.wait_idle(120)
    assert stores[1].count(TARGET) == 4 * (15 * 20 - 5)
    final = state(tmp_path)
    assert final.has_vector_index and final.has_terms_index
