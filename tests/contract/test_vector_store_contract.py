"""One contract for the `VectorStore` port, run against every store:

- `lancedb`: `LanceDBVectorStore`, embedded, in a temporary directory;
- `pinecone`: `PineconeVectorStore` through the real `pinecone` client, against the loopback
  server that speaks Pinecone's REST protocol and enforces its limits and filter semantics;
- `memory`: `tests.fakes.InMemoryVectorStore`, which the service unit tests run on.

The filter contract: on a shared corpus, every filter a store accepts answers exactly what
`stratus.filters.evaluate` answers (both in `query` and in `list`), and a filter it cannot answer
exactly is a `BadRequestError` naming the operator and the store, never a silently wrong result.
Which filters a store may refuse is spelled out in `refused_conditions()`.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stratus.adapters.lancedb.maintenance import MaintenancePolicy, table_state
from stratus.adapters.lancedb.payload_indexes import index_columns
from stratus.adapters.lancedb.store import INDEXED_COLUMNS, LanceDBVectorStore
from stratus.adapters.pinecone.store import PineconeVectorStore
from stratus.adapters.text_tokens import evaluate_indexed, text_indexes
from stratus.errors import BadRequestError, ConflictError
from stratus.filters import (
    OPERATORS,
    RANGE_OPERATORS,
    FilterNode,
    Not,
    evaluate,
    iter_conditions,
    lookup,
    parse_filter,
)
from stratus.models.namespaces import Metric, PayloadIndexConfig
from stratus.ports import Space, VectorRecord, VectorStore
from tests.fakes import InMemoryVectorStore
from tests.integration.test_lancedb_store import CORPUS as LANCEDB_CORPUS
from tests.integration.test_lancedb_store import FILTERS as LANCEDB_FILTERS
from tests.integration.test_lancedb_store import c
from tests.loopback_pinecone import LoopbackPinecone

# lancedb-indexed: the same store with its maintenance run after every write (a one-partition
# IVF_FLAT index and a LabelList index on the filter terms from the first row, then compaction
# and index updates), so every query of the contract also goes through those indexes and must
# give the flat scan's answers.
STORES = ["lancedb", "lancedb-indexed", "pinecone", "memory"]
INDEX_EVERY_WRITE = MaintenancePolicy(
    check_every_writes=1,
    index_min_rows=1,
    max_fragments=2,
    max_unindexed_rows=1,
    max_unindexed_share=0,
    background=False,
)
DIM = 8


# ---------------------------------------------------------------------------------------------
# Stores


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackPinecone]:
    with LoopbackPinecone() as server:
        yield server


def make_store(kind: str, directory: Path, loopback: LoopbackPinecone) -> VectorStore:
    if kind == "lancedb":
        return LanceDBVectorStore(str(directory / "lancedb"))
    if kind == "lancedb-indexed":
        return LanceDBVectorStore(str(directory / "lancedb"), maintenance=INDEX_EVERY_WRITE)
    if kind == "memory":
        return InMemoryVectorStore()
    return PineconeVectorStore(
        lambda: loopback.api_key,
        control_plane_host=loopback.url,
        timeout_seconds=5.0,
        sleep=lambda _: None,
    )


@pytest.fixture(params=STORES)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, loopback: LoopbackPinecone
) -> Iterator[VectorStore]:
    loopback.reset(data=False)  # faults and request log only; every test has its own spaces
    made = make_store(request.param, tmp_path, loopback)
    yield made
    if isinstance(made, PineconeVectorStore):
        made.close()


def space(
    dimension: int = DIM, metric: Metric = "cosine", index: str = "text", key: str | None = None
) -> Space:
    """A space of its own: Pinecone pools are shared by every test of the module."""
    storage_key = key or f"ns-{uuid.uuid4().hex[:12]}"
    return Space(storage_key=storage_key, index_name=index, dimension=dimension, metric=metric)


def random_vectors(count: int, dimension: int = DIM, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)


def records(payloads: list[dict[str, Any]], seed: int = 0, prefix: str = "doc") -> list[VectorRecord]:
    vectors = random_vectors(len(payloads), seed=seed)
    return [
        VectorRecord(id=f"{prefix}{i:03d}", payload=payload, vector=vectors[i].tolist())
        for i, payload in enumerate(payloads)
    ]


def node(raw: dict[str, Any]) -> FilterNode:
    parsed = parse_filter(raw)
    assert parsed is not None
    return parsed


def upsert_requests(loopback: LoopbackPinecone) -> list[dict[str, Any]]:
    return [r.body for r in loopback.requests if r.method == "POST" and r.path.endswith("/vectors/upsert")]


# ---------------------------------------------------------------------------------------------
# The filter contract

# Beyond the LanceDB honesty corpus: keys a store must not trip on, integers around 2**62 that no
# double holds (the Pinecone store splits numbers into two doubles; LanceDB is exact up to 64-bit
# integers, so the shared corpus stays there), a list-only field (where `contains` with a
# string is element membership in every store), and a key with a tilde (the id escape).
EXTRA_CORPUS: list[dict[str, Any]] = [
    {"$where": "x", "a b": "c", "ключ": "Значение", "x'y": 1, "deep": {"$in": ["q"]}, "with~tilde": "~"},
    {"$where": "X", "a b": "C", "ключ": "значение", "x'y": 2.5, "deep": {"$in": "q"}},
    {"big": 2**62 + 1, "labels": ["red", "Green"]},
    {"big": 2**62, "labels": ["blue"]},
    {"big": float(2**62), "labels": []},
    {"big": -(2**63), "labels": [1, "red", None]},
    {"big": 2**62 - 1, "labels": [["red"]]},
]

EXTRA_FILTERS: list[dict[str, Any]] = [
    c("$where", "eq", "x"),
    c("$where", "eq", "x", case_sensitive=True),
    c("a b", "ne", "c"),
    c("ключ", "eq", "ЗНАЧЕНИЕ"),
    c("x'y", "gte", 1),
    c("x'y", "lt", 2.5),
    c("deep.$in", "exists"),
    c("deep.$in", "eq", "q"),
    c("with~tilde", "eq", "~"),
    {"big": 2**62 + 1},
    {"big": 2**62},
    c("big", "gt", 2**62),
    c("big", "gte", 2**62 + 1),
    c("big", "lt", 2**62 + 1),
    c("big", "lte", float(2**62)),
    c("big", "gt", 2**62 - 1),
    c("big", "lt", -(2**63) + 1),
    c("big", "gt", 2**107),
    c("big", "gt", -(2**107)),
    c("big", "in", [2**62, -(2**63)]),
    c("labels", "contains", "green"),
    c("labels", "contains", "Green", case_sensitive=True),
    c("labels", "contains", 1),
    {"NOT": c("labels", "contains", "red")},
    c("labels", "nin", ["red", "blue"]),
    {"OR": [c("labels", "is_null"), {"NOT": {"labels": "red"}}]},
    # Negated negations (ne, nin, is_null are themselves negations).
    {"NOT": c("category", "ne", "contract")},
    {"NOT": c("tags", "nin", ["legal", "finance"])},
    {"NOT": c("meta.lang", "is_null")},
    {"NOT": {"OR": [c("price", "ne", 10), c("flag", "exists", False)]}},
    {"NOT": {"NOT": c("price", "gte", 10)}},
]

CORPUS = [*LANCEDB_CORPUS, *EXTRA_CORPUS]
FILTERS = [*LANCEDB_FILTERS, *EXTRA_FILTERS]


def kind_of(store: VectorStore) -> str:
    if isinstance(store, PineconeVectorStore):
        return "pinecone"
    return "lancedb" if isinstance(store, LanceDBVectorStore) else "memory"


def answers_every_operator(kind: str) -> bool:
    return kind != "pinecone"


def refused_conditions(kind: str, parsed: FilterNode, payloads: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(operator, field) of each condition of `parsed` the store may refuse (400) on this data;
    empty: it must answer."""
    if answers_every_operator(kind):
        return set()
    refused: set[tuple[str, str]] = set()
    for cond in iter_conditions(parsed):
        if cond.operator in ("starts_with", "ends_with", "text"):
            refused.add((cond.operator, cond.dotted))  # no prefix, suffix or full-text match in Pinecone
        elif cond.operator in RANGE_OPERATORS and isinstance(cond.value, str):
            refused.add((cond.operator, cond.dotted))  # Pinecone ranges are numeric
        elif (
            cond.operator == "contains"
            and isinstance(cond.value, str)
            and any(isinstance(lookup(payload, cond.field), str) for payload in payloads)
        ):
            refused.add(("contains", cond.dotted))  # a substring test: refused exactly where strings are
    return refused


def assert_refused(store: VectorStore, error: BadRequestError, refusable: set[tuple[str, str]]) -> None:
    """A refusal names a condition the store may refuse (its operator and `details.field`) and
    the store, in its details and its message: not just any 400."""
    name = store.capabilities.name
    assert (error.details.get("operator"), error.details.get("field")) in refusable, (
        error.details,
        refusable,
    )
    assert error.details["vector_store"] == name
    assert f"'{error.details['operator']}'" in error.message and f"'{name}'" in error.message


Corpus = tuple[str, VectorStore, Space, dict[str, dict[str, Any]]]


@pytest.fixture(scope="module", params=STORES)
def corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, loopback: LoopbackPinecone
) -> Iterator[Corpus]:
    made = make_store(request.param, tmp_path_factory.mktemp("corpus"), loopback)
    target = space()
    made.ensure_space(target)
    batch = records(CORPUS)
    made.upsert(target, batch)
    if request.param == "lancedb-indexed":  # else the variant would prove nothing
        assert isinstance(made, LanceDBVectorStore)
        table = made._table(target)
        assert table is not None
        built = table_state(table, INDEXED_COLUMNS)
        assert built.has_vector_index and built.has_terms_index
    yield request.param, made, target, {record.id: record.payload for record in batch}
    if isinstance(made, PineconeVectorStore):
        made.close()


def test_the_filters_cover_every_operator() -> None:
    used = {cond.operator for raw in FILTERS for cond in iter_conditions(node(raw))}
    assert used == OPERATORS


@pytest.mark.parametrize("kind", STORES)
def test_every_supported_operator_is_answered_exactly_somewhere(
    kind: str, tmp_path: Path, loopback: LoopbackPinecone
) -> None:
    """Guard against a vacuous contract: each operator a store claims is exercised with a filter
    the store must answer (not only with filters it may refuse)."""
    supported = make_store(kind, tmp_path, loopback).capabilities.operators
    answered = {
        cond.operator
        for raw in FILTERS
        if not refused_conditions(kind, parsed := node(raw), CORPUS)
        for cond in iter_conditions(parsed)
    }
    assert supported <= answered


@pytest.mark.parametrize("raw", FILTERS, ids=[json.dumps(raw, ensure_ascii=False)[:80] for raw in FILTERS])
def test_filters_match_the_reference_evaluator(corpus: Corpus, raw: dict[str, Any]) -> None:
    kind, store, target, payloads = corpus
    parsed = node(raw)
    expected = {record_id for record_id, payload in payloads.items() if evaluate(parsed, payload)}

    # Listing filters what it reads: every store answers every operator exactly.
    listed = store.list(target, parsed, limit=1000, after_id=None, include_vectors=False)
    assert {record.id for record in listed.records} == expected
    assert listed.next_cursor is None

    refused = refused_conditions(kind, parsed, list(payloads.values()))
    query = random_vectors(1, seed=99)[0].tolist()
    if not refused:
        queried = store.query(target, query, 1000, parsed, include_vectors=False)
        assert {hit.id for hit in queried} == expected
        return
    with pytest.raises(BadRequestError) as caught:
        store.query(target, query, 1000, parsed, include_vectors=False)
    assert_refused(store, caught.value, refused)


def random_filters(count: int, seed: int) -> list[dict[str, Any]]:
    """Nested AND/OR/NOT over every operator, on the corpus's fields and values."""
    rng = random.Random(seed)
    strings = ["contract", "CONTRACT", "legal", "report", "x" * 100 + "end", "straße", "5", "", "yes"]
    numbers: list[Any] = [0, -0.0, 5, 10, 10.0, 99.99, 2**53, 2**53 + 1, 2**63 + 5, -5, 1e-7, 7.5, 2**64]
    fields = ["category", "price", "tags", "meta.lang", "meta.pages", "score", "count", "flag", "title"]
    fields += ["nested.deep.er.est", "a.b", "labels", "big", "bools", "words", "emoji", "m.0"]

    def value() -> Any:
        return rng.choice([*strings, *numbers, True, False])

    def condition() -> dict[str, Any]:
        operator = rng.choice(sorted(OPERATORS))
        raw = c(rng.choice(fields), operator)
        if rng.random() < 0.3:
            raw["case_sensitive"] = rng.random() < 0.5
        if operator in ("exists", "is_null"):
            raw["value"] = rng.random() < 0.7
        elif operator in ("in", "nin"):
            pool = rng.choice([strings, numbers, [True, False]])
            raw["value"] = rng.sample(pool, rng.randint(1, min(3, len(pool))))
        elif operator in RANGE_OPERATORS:
            raw["value"] = rng.choice([*numbers, 10**30, -(10**30), "contract", "2024"])
        elif operator in ("starts_with", "ends_with", "text"):
            raw["value"] = rng.choice(["con", "ct", "legal report", "x"])
        else:
            raw["value"] = value()
        return raw

    def tree(depth: int) -> dict[str, Any]:
        if depth > 2 or rng.random() < 0.45:
            return condition()
        kind = rng.choice(["AND", "OR", "NOT"])
        group: dict[str, Any] = (
            {"NOT": tree(depth + 1)}
            if kind == "NOT"
            else {kind: [tree(depth + 1) for _ in range(rng.randint(1, 3))]}
        )
        if rng.random() < 0.25:
            group["case_sensitive"] = rng.random() < 0.5
        return group

    return [tree(0) for _ in range(count)]


def test_random_filters_match_the_reference_evaluator(corpus: Corpus) -> None:
    kind, store, target, payloads = corpus
    query = random_vectors(1, seed=98)[0].tolist()
    answered = 0
    for raw in random_filters(300, seed=20240501):
        parsed = node(raw)
        expected = {record_id for record_id, payload in payloads.items() if evaluate(parsed, payload)}
        if refused := refused_conditions(kind, parsed, list(payloads.values())):
            with pytest.raises(BadRequestError) as caught:
                store.query(target, query, 1000, parsed, include_vectors=False)
            assert_refused(store, caught.value, refused)
            continue
        hits = store.query(target, query, 1000, parsed, include_vectors=False)
        assert {hit.id for hit in hits} == expected, raw
        answered += 1
    assert answered >= 100


def test_unsupported_operators_are_not_in_the_capabilities(corpus: Corpus) -> None:
    kind, store, _, _ = corpus
    missing = OPERATORS - store.capabilities.operators
    assert missing == (set() if answers_every_operator(kind) else {"starts_with", "ends_with", "text"})


def test_filtered_list_pages_follow_the_filter(corpus: Corpus) -> None:
    _, store, target, payloads = corpus
    parsed = node(c("category", "exists"))
    expected = sorted(record_id for record_id, payload in payloads.items() if evaluate(parsed, payload))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list(target, parsed, limit=4, after_id=cursor, include_vectors=False)
        seen += [record.id for record in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
        assert cursor == page.records[-1].id
    assert seen == expected


def test_contains_on_a_list_only_field_is_element_membership(store: VectorStore) -> None:
    target = space()
    store.upsert(
        target,
        records(
            [{"tags": ["Legal", "urgent"]}, {"tags": ["finance"]}, {"tags": [5, "5"]}, {"other": "legal"}]
        ),
    )
    query = random_vectors(1, seed=3)[0].tolist()
    for raw, expected in [
        (c("tags", "contains", "legal"), {"doc000"}),
        (c("tags", "contains", "legal", case_sensitive=True), set()),
        (c("tags", "contains", 5), {"doc002"}),
        ({"NOT": c("tags", "contains", "finance")}, {"doc000", "doc002", "doc003"}),
    ]:
        hits = store.query(target, query, 10, node(raw), include_vectors=False)
        assert {hit.id for hit in hits} == expected, raw


# ---------------------------------------------------------------------------------------------
# Records


def test_upsert_fetch_and_overwrite_whole_records(store: VectorStore) -> None:
    target = space()
    store.ensure_space(target)
    rows = random_vectors(2)
    first: list[float] = rows[0].tolist()
    second: list[float] = rows[1].tolist()
    old = [VectorRecord("a", {"x": 1, "y": {"z": "old"}}, first), VectorRecord("b", {"x": 2}, first)]
    store.upsert(target, old)
    store.upsert(target, [VectorRecord("a", {"x": 3}, second)])

    fetched = store.fetch(target, ["a", "b", "missing"], include_vectors=True)
    assert set(fetched) == {"a", "b"}
    assert fetched["a"].payload == {"x": 3}
    assert fetched["a"].vector == pytest.approx(second)
    assert fetched["b"].payload == {"x": 2}
    assert store.fetch(target, ["a"], include_vectors=False)["a"].vector is None
    assert store.count(target) == 2
    # The old payload's filter data went with it.
    assert store.list(target, node({"y.z": "old"}), 10, None, False).records == []
    assert store.query(target, second, 10, node({"y.z": "old"}), False) == []


def test_the_last_duplicate_in_one_upsert_wins(store: VectorStore) -> None:
    target = space()
    vector = random_vectors(1)[0].tolist()
    store.upsert(target, [VectorRecord("a", {"v": 1}, vector), VectorRecord("a", {"v": 2}, vector)])
    assert store.count(target) == 1
    assert store.fetch(target, ["a"], False)["a"].payload == {"v": 2}


def test_delete(store: VectorStore) -> None:
    target = space()
    store.upsert(target, records([{"i": i} for i in range(5)]))
    store.delete(target, ["doc001", "doc003", "never-existed"])
    assert store.ids(target) == {"doc000", "doc002", "doc004"}
    store.delete(target, [])
    assert store.count(target) == 3


def test_payloads_round_trip_exactly(store: VectorStore) -> None:
    hostile_keys = ["x' OR '1'='1", "a') OR (1=1", "$..*", '"]', "back\\slash", "new\nline", "ü😀", "", "0"]
    hostile_keys += ["\x00", "$in", "a.b", "__payload", "t_x", "v-00", "~7E"]
    payload: dict[str, Any] = {
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, None, True, "ß", {"k": "v"}], "empty": {}, "none": None},
        "unicode": "naïve café 東京 😀 \u2028 \t \x7f",
        "big": 2**64 + 5,
        "negative": -(2**70),
        "float": 0.1,
        "tiny": 5e-324,
        "minus_zero": -0.0,
        "long": "é" * 5000,
        **{key: key for key in hostile_keys},
    }
    weird_id = "weird id ' \" é ~ 😀"
    target = space()
    store.upsert(target, [VectorRecord(weird_id, payload, random_vectors(1)[0].tolist())])
    back = store.fetch(target, [weird_id], False)[weird_id].payload
    assert back == payload
    assert list(back) == list(payload)  # key order as written
    assert json.dumps(back, ensure_ascii=False) == json.dumps(payload, ensure_ascii=False)
    assert [hit.payload for hit in store.query(target, random_vectors(1)[0].tolist(), 1, None, False)] == [
        payload
    ]
    assert store.ids(target) == {weird_id}


def test_ids_are_listed_in_code_point_order(store: VectorStore) -> None:
    ids = ["a", "B", "b", "a b", "a~", "a\x7e1", "é", "z", "~", "中", "😀", "\uffff", "a" * 200, "}", "ÿ"]
    target = space()
    vectors = random_vectors(len(ids), seed=4)
    store.upsert(
        target, [VectorRecord(record_id, {"n": n}, vectors[n].tolist()) for n, record_id in enumerate(ids)]
    )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list(target, None, limit=4, after_id=cursor, include_vectors=False)
        seen += [record.id for record in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(set(ids))
    after = store.list(target, None, limit=100, after_id="b", include_vectors=False)
    assert [record.id for record in after.records] == [i for i in sorted(set(ids)) if i > "b"]


def test_pagination_across_2500_records(store: VectorStore, loopback: LoopbackPinecone) -> None:
    target = space()
    ids = [f"id-{i:05d}" for i in range(2500)]
    vectors = random_vectors(2500, seed=3)
    shuffled = np.random.default_rng(1).permutation(2500)
    store.upsert(
        target,
        [VectorRecord(ids[i], {"i": int(i), "even": not i % 2}, vectors[i].tolist()) for i in shuffled],
    )
    if isinstance(store, PineconeVectorStore):
        sent = upsert_requests(loopback)
        assert len(sent) >= 3  # one call, several requests
        assert all(len(body["vectors"]) <= 1000 for body in sent)
        assert sum(len(body["vectors"]) for body in sent) == 2500

    assert store.count(target) == 2500
    assert store.ids(target) == set(ids)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list(target, None, limit=333, after_id=cursor, include_vectors=pages == 0)
        pages += 1
        seen += [record.id for record in page.records]
        assert all(record.payload["i"] == int(record.id[3:]) for record in page.records)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert cursor == page.records[-1].id
    assert seen == ids
    assert pages == 8

    exact = store.list(target, None, limit=500, after_id="id-01999", include_vectors=False)
    assert [record.id for record in exact.records] == ids[2000:]
    assert exact.next_cursor is None  # nothing after the last page
    first = store.list(target, None, limit=2, after_id=None, include_vectors=True)
    assert [record.id for record in first.records] == ids[:2]
    assert first.records[0].vector == pytest.approx(vectors[0].tolist())
    fetched = store.fetch(target, ids[::7], include_vectors=True)
    assert len(fetched) == len(ids[::7])
    assert fetched["id-02492"].payload == {"i": 2492, "even": True}
    hits = store.query(target, vectors[10].tolist(), 5, node({"even": True}), include_vectors=False)
    assert hits[0].id == "id-00010"
    assert all(hit.payload["even"] for hit in hits)


# ---------------------------------------------------------------------------------------------
# Search scores, per metric, against numpy


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_scores_and_order_match_numpy(store: VectorStore, metric: Metric) -> None:
    target = space(metric=metric, index=f"m_{metric}")
    vectors = random_vectors(50, seed=7)
    store.upsert(target, [VectorRecord(f"v{i:02d}", {"i": i}, vectors[i].tolist()) for i in range(50)])
    query = random_vectors(1, seed=8)[0]

    hits = store.query(target, query.tolist(), 10, None, include_vectors=True)

    vectors64, query64 = vectors.astype(np.float64), query.astype(np.float64)
    if metric == "cosine":
        expected = vectors64 @ query64 / (np.linalg.norm(vectors64, axis=1) * np.linalg.norm(query64))
    elif metric == "dot":
        expected = vectors64 @ query64
    else:
        expected = 1.0 / (1.0 + np.linalg.norm(vectors64 - query64, axis=1))
    order = np.argsort(-expected)[:10]
    assert [hit.id for hit in hits] == [f"v{i:02d}" for i in order]
    assert [hit.score for hit in hits] == pytest.approx(expected[order].tolist(), rel=1e-5, abs=1e-5)
    assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))
    assert hits[0].vector == pytest.approx(vectors[order[0]].tolist())
    assert hits[0].payload == {"i": int(order[0])}


def test_euclidean_identical_vector_scores_one(store: VectorStore) -> None:
    target = space(metric="euclidean")
    vector = [3.0, 4.0] + [0.0] * (DIM - 2)
    far = [0.0] * (DIM - 1) + [1.0]  # |vector - far| = sqrt(26)
    store.upsert(target, [VectorRecord("same", {}, vector), VectorRecord("far", {}, far)])
    hits = store.query(target, vector, 2, None, False)
    assert [(hit.id, hit.score) for hit in hits] == [("same", 1.0), ("far", pytest.approx(1 / (1 + 26**0.5)))]


def test_top_k_limits_and_filters_prefilter(store: VectorStore) -> None:
    target = space()
    vectors = random_vectors(200, seed=11)
    store.upsert(
        target, [VectorRecord(f"v{i:03d}", {"rare": i == 150}, vectors[i].tolist()) for i in range(200)]
    )
    assert len(store.query(target, vectors[0].tolist(), 7, None, False)) == 7
    # The only match is far from the query: a post-filter on the top 7 would miss it.
    assert [hit.id for hit in store.query(target, vectors[0].tolist(), 7, node({"rare": True}), False)] == [
        "v150"
    ]


# ---------------------------------------------------------------------------------------------
# Spaces


def test_ensure_space_is_idempotent_and_rejects_another_dimension(store: VectorStore) -> None:
    key = f"ns-{uuid.uuid4().hex[:12]}"
    store.ensure_space(space(dimension=8, key=key))
    store.ensure_space(space(dimension=8, key=key))
    # Pinecone namespaces exist once they hold a record: write one, as every real space does.
    store.upsert(space(dimension=8, key=key), records([{"n": 1}]))
    with pytest.raises(ConflictError) as caught:
        store.ensure_space(space(dimension=16, key=key))
    assert "8" in caught.value.message and "16" in caught.value.message
    assert caught.value.details["existing_dimension"] == 8
    assert caught.value.details["requested_dimension"] == 16


def test_a_vector_of_another_dimension_is_a_bad_request(store: VectorStore) -> None:
    target = space()
    with pytest.raises(BadRequestError):
        store.upsert(target, [VectorRecord("a", {}, [1.0] * (DIM + 1))])


def test_concurrent_ensure_space_and_upserts(store: VectorStore) -> None:
    target = space()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            store.ensure_space(target)
            vectors = random_vectors(20, seed=worker)
            batch = [VectorRecord(f"w{worker}-{i}", {"w": worker}, vectors[i].tolist()) for i in range(20)]
            store.upsert(target, batch)
            store.query(target, vectors[0].tolist(), 3, None, False)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count(target) == 160


def test_drop_space_is_idempotent(store: VectorStore) -> None:
    key = f"ns-{uuid.uuid4().hex[:12]}"
    target = space(key=key)
    store.upsert(target, records([{"n": 1}]))
    other = space(key=key, index="other")
    store.upsert(other, records([{"n": 2}]))
    store.drop_space(target)
    store.drop_space(target)
    store.drop_space(space(key=key, index="never"))
    assert store.count(target) == 0
    assert store.ids(target) == set()
    assert store.count(other) == 1
    store.ensure_space(target)
    assert store.count(target) == 0
    store.upsert(target, records([{"n": 3}]))
    assert store.count(target) == 1


def test_a_missing_space_reads_as_empty(store: VectorStore) -> None:
    target = space(dimension=5, index="missing")  # a dimension no other test creates a pool for
    assert store.count(target) == 0
    assert store.ids(target) == set()
    assert store.fetch(target, ["a"], True) == {}
    assert store.query(target, [1.0] * 5, 5, None, False) == []
    assert store.query(target, [1.0] * 5, 5, node({"a": 1}), False) == []
    page = store.list(target, None, 10, None, False)
    assert page.records == [] and page.next_cursor is None
    store.delete(target, ["a"])
    store.drop_space(target)


def test_locator_names_the_storage_key(store: VectorStore) -> None:
    assert "ns-0001" in store.locator("ns-0001")
    assert store.locator("ns-0001").startswith(f"{store.capabilities.name}:")


# ---------------------------------------------------------------------------------------------
# Payload indexes: built on existing data, they change no answer (but `text`'s, which follows
# the index's tokenizer), new records are indexed, and building twice is harmless.

# Per index type: the corpus (every value conforms to the type), later records (some do not:
# lists, values of another type, so the LanceDB store must fall back), and filters.
SCALAR_INDEX_CASES: dict[str, tuple[list[Any], list[Any], list[dict[str, Any]]]] = {
    "keyword": (
        ["Alpha", "alpha", "beta", "Gamma", "ÄRGER"],
        [["alpha", "x"], 7, "BETA"],
        [
            c("f", "eq", "alpha"),
            c("f", "eq", "Alpha", case_sensitive=True),
            c("f", "in", ["BETA", "gamma"]),
            c("f", "ne", "alpha"),
            c("f", "nin", ["beta", "ärger"]),
            c("f", "gt", "Beta"),
            c("f", "lte", "alpha"),
            c("f", "eq", 7),
            c("f", "ne", 7),
            c("f", "exists"),
        ],
    ),
    "integer": (
        [1, 5, -3, 2**40, -(2**63)],
        [2.5, [5], "5"],
        [
            c("f", "eq", 5),
            c("f", "eq", 5.0),
            c("f", "in", [1, 2.5, 2**40]),
            c("f", "gt", 2.5),
            c("f", "lte", 1),
            c("f", "lt", 2**70),
            c("f", "gt", -(2**70)),
            c("f", "gte", -(2**63)),
            c("f", "eq", "5"),
            c("f", "ne", 5),
            {"NOT": c("f", "lt", 2)},
        ],
    ),
    "float": (
        [0.5, 1.0, -2.25, 3, 1e300],
        [2**60 + 1, [0.5], True],
        [
            c("f", "eq", 1),
            c("f", "eq", 0.5),
            c("f", "gt", 0.75),
            c("f", "lte", 3),
            c("f", "gte", 2**60),
            c("f", "eq", True),
            c("f", "nin", [0.5, 3]),
        ],
    ),
    "bool": (
        [True, False, True],
        [[True], 1, "true"],
        [c("f", "eq", True), c("f", "ne", False), c("f", "in", [True, False]), c("f", "eq", 1)],
    ),
    "datetime": (
        ["2024-01-01T00:00:00Z", "2024-06-30T12:00:00Z", "2023-12-31T23:59:59Z"],
        [1704067200, ["2024-01-01T00:00:00Z"]],
        [
            c("f", "gt", "2024-01-01T00:00:00Z"),
            c("f", "lte", "2024-01-01T00:00:00Z"),
            c("f", "eq", "2024-06-30t12:00:00z"),
            c("f", "gte", 0),
        ],
    ),
    "uuid": (
        ["0f8fad5b-d9cb-469f-a165-70867728950e", "7C9E6679-7425-40DE-944B-E07FC1F90AE7"],
        [["0f8fad5b-d9cb-469f-a165-70867728950e"]],
        [
            c("f", "eq", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            c("f", "eq", "0F8FAD5B-D9CB-469F-A165-70867728950E", case_sensitive=True),
            c("f", "ne", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ],
    ),
}


def indexed_space(base: Space, *indexes: PayloadIndexConfig) -> Space:
    return dataclasses.replace(base, payload_indexes=tuple(indexes))


def assert_reference_answers(
    kind: str,
    store: VectorStore,
    target: Space,
    payloads: dict[str, dict[str, Any]],
    raws: list[dict[str, Any]],
) -> None:
    texts = text_indexes(target.payload_indexes)
    vector = random_vectors(1, seed=99)[0].tolist()
    for raw in raws:
        parsed = node(raw)
        expected = {key for key, payload in payloads.items() if evaluate_indexed(parsed, payload, texts)}
        refused = {
            (operator, field)
            for operator, field in refused_conditions(kind, parsed, list(payloads.values()))
            if not (texts and operator == "text")  # a text index makes `text` answerable
        }
        if refused:
            with pytest.raises(BadRequestError) as caught:
                store.query(target, vector, 100, parsed, include_vectors=False)
            assert_refused(store, caught.value, refused)
            continue
        found = {hit.id for hit in store.query(target, vector, 100, parsed, include_vectors=False)}
        assert found == expected, raw
        listed = {record.id for record in store.list(target, parsed, 100, None, False).records}
        assert listed == expected, raw


def lance_indices(store: VectorStore, target: Space) -> dict[str, str]:
    assert isinstance(store, LanceDBVectorStore)
    table = store._table(target)
    assert table is not None
    return {config.columns[0]: config.index_type for config in table.list_indices()}


@pytest.mark.parametrize("index_type", sorted(SCALAR_INDEX_CASES))
def test_scalar_payload_index_keeps_the_reference_answers(store: VectorStore, index_type: str) -> None:
    kind = kind_of(store)
    values, later, raws = SCALAR_INDEX_CASES[index_type]
    payloads = [{"f": value, "n": i} for i, value in enumerate(values)] + [{"n": -1}, {"f": None}]
    plain = space()
    store.ensure_space(plain)
    batch = records(payloads)
    store.upsert(plain, batch)
    known = {record.id: record.payload for record in batch}
    assert_reference_answers(kind, store, plain, known, raws)  # before the index exists

    index = PayloadIndexConfig(field_name="f", type=index_type)  # type: ignore[arg-type]
    target = indexed_space(plain, index)
    store.build_payload_index(target, index)
    assert_reference_answers(kind, store, target, known, raws)  # backfilled
    if kind == "lancedb":
        columns = index_columns("f", index_type)
        built = lance_indices(store, target)
        assert built[columns["o"]] == "Bitmap"
        main = columns.get("s") or columns.get("i") or columns.get("f") or columns["b"]
        expected_type = {"uuid": "BTree", "integer": "BTree", "float": "BTree"}.get(index_type, "Bitmap")
        assert built[main] == expected_type

    conforming = records([{"f": values[0], "n": 100}], seed=1, prefix="new")
    store.upsert(target, conforming)  # indexed on upsert
    known.update({record.id: record.payload for record in conforming})
    assert_reference_answers(kind, store, target, known, raws)

    others = records([{"f": value, "n": 200 + i} for i, value in enumerate(later)], seed=2, prefix="odd")
    store.upsert(target, others)  # values the typed column cannot hold: the exact fallback
    known.update({record.id: record.payload for record in others})
    store.build_payload_index(target, index)  # twice: idempotent
    assert_reference_answers(kind, store, target, known, raws)


TEXT_DOCS: dict[str, dict[str, Any]] = {
    "t0": {"title": "Foo-bar baz"},
    "t1": {"title": "FOO bar"},
    "t2": {"title": "an ox"},
    "t3": {"title": "Café crème"},
    "t4": {"title": "prefixing words"},
    "t5": {"title": ["foo"]},
    "t6": {"other": "foo"},
}

# (field_schema, query, expected ids), the expectations written from the tokenizer rules.
TEXT_CASES: list[tuple[dict[str, Any], str, set[str]]] = [
    ({}, "foo", {"t0", "t1"}),  # word, lowercase: "Foo-bar" splits into foo, bar
    ({}, "FOO BAR", {"t0", "t1"}),
    ({}, "ox", {"t2"}),  # two letters: within the default 2..15
    ({}, "cafe", set()),  # no accent folding
    ({"lowercase": False}, "Foo", {"t0"}),  # exact case only
    ({"lowercase": False}, "foo", set()),
    ({"min_token_len": 4}, "bar", set()),  # short words are not indexed: they never match
    ({"min_token_len": 4}, "prefixing", {"t4"}),
    ({"max_token_len": 5}, "words", {"t4"}),
    ({"max_token_len": 5}, "prefixing", set()),  # too long to be indexed
    ({"tokenizer": "whitespace"}, "foo-bar", {"t0"}),  # kept whole
    ({"tokenizer": "whitespace"}, "foo", {"t1"}),  # "foo-bar" is one token
    ({"tokenizer": "prefix"}, "pref", {"t4"}),
    ({"tokenizer": "prefix"}, "fo ba", {"t0", "t1"}),
    ({"tokenizer": "prefix", "min_token_len": 3}, "fo", set()),
    ({"tokenizer": "multilingual"}, "cafe creme", {"t3"}),
]


def test_text_index_tokenizer_options_change_what_matches(store: VectorStore) -> None:
    kind = kind_of(store)
    vector = random_vectors(1, seed=5)[0].tolist()
    schemas = {json.dumps(schema, sort_keys=True): schema for schema, _, _ in TEXT_CASES}
    for key, schema in schemas.items():
        plain = space()
        store.ensure_space(plain)
        first = [VectorRecord(id=doc, payload=payload, vector=vector) for doc, payload in TEXT_DOCS.items()]
        store.upsert(plain, first[:-2])  # the rest after the index exists
        default = node(c("title", "text", "foo"))
        if kind == "pinecone":
            with pytest.raises(BadRequestError) as caught:  # no index: no full-text match
                store.query(plain, vector, 10, default, include_vectors=False)
            assert_refused(store, caught.value, {("text", "title")})
        else:  # no index: the default word semantics
            assert {hit.id for hit in store.query(plain, vector, 10, default, False)} == {"t0", "t1"}
        index = PayloadIndexConfig(field_name="title", type="text", field_schema={"type": "text", **schema})
        target = indexed_space(plain, index)
        store.build_payload_index(target, index)
        store.upsert(target, first[-2:])
        store.build_payload_index(target, index)  # twice: idempotent
        for case_schema, query, expected in TEXT_CASES:
            if json.dumps(case_schema, sort_keys=True) != key:
                continue
            parsed = node(c("title", "text", query))
            hits = {hit.id for hit in store.query(target, vector, 10, parsed, include_vectors=False)}
            assert hits == expected, (schema, query)
            negated = {hit.id for hit in store.query(target, vector, 10, Not(parsed), include_vectors=False)}
            assert negated == set(TEXT_DOCS) - expected, (schema, query)
            listed = {record.id for record in store.list(target, parsed, 10, None, False).records}
            assert listed == expected, (schema, query)
        if kind == "lancedb":
            columns = index_columns("title", "text")
            built = lance_indices(store, target)
            assert built[columns["t"]] == "LabelList" and built[columns["x"]] == "FTS"


def test_a_new_text_record_is_indexed_on_upsert(store: VectorStore) -> None:
    index = PayloadIndexConfig(field_name="meta.title", type="text", field_schema={"tokenizer": "word"})
    target = indexed_space(space(), index)
    store.ensure_space(target)
    store.build_payload_index(target, index)  # on an empty space
    store.upsert(target, records([{"meta": {"title": "Hello World"}}, {"meta": {"title": "bye"}}]))
    vector = random_vectors(1, seed=3)[0].tolist()
    hits = store.query(target, vector, 10, node(c("meta.title", "text", "WORLD hello")), False)
    assert [hit.id for hit in hits] == ["doc000"]


def test_non_text_indexes_accept_is_tenant(store: VectorStore) -> None:
    index = PayloadIndexConfig(field_name="tenant", type="keyword", field_schema={"is_tenant": True})
    target = indexed_space(space(), index)
    store.upsert(target, records([{"tenant": "a"}, {"tenant": "b"}]))
    store.build_payload_index(target, index)
    vector = random_vectors(1, seed=3)[0].tolist()
    assert [hit.id for hit in store.query(target, vector, 10, node({"tenant": "B"}), False)] == ["doc001"]


DROP_CASES: dict[str, tuple[list[Any], list[dict[str, Any]]]] = {
    "keyword": (["a", "B", "c"], [c("f", "eq", "b"), c("f", "in", ["a", "c"]), c("f", "ne", "a")]),
    "integer": ([1, 5, 9], [c("f", "gt", 2), c("f", "eq", 9), c("f", "lte", 5)]),
    "text": (["Foo bar", "baz qux", "FOO"], [c("f", "text", "foo"), c("f", "eq", "baz qux")]),
}


def stored_index_traces(kind: str, store: VectorStore, target: Space, loopback: LoopbackPinecone) -> set[str]:
    """What the store itself holds for the payload index on `f` (not what the port answers):
    LanceDB's index columns and Lance indexes, Pinecone's token-shadow keys of the records."""
    if kind == "lancedb":
        assert isinstance(store, LanceDBVectorStore)
        table = store._table(target)
        assert table is not None
        columns = {
            name for name in table.schema.names if name.startswith(index_columns("f", "keyword")["o"][:-2])
        }
        indexed = {
            column for config in table.list_indices() for column in config.columns if column in columns
        }
        return columns | {f"index:{column}" for column in indexed}
    if kind == "pinecone":
        from stratus.adapters.pinecone.metadata import shadow_key

        assert isinstance(store, PineconeVectorStore)
        stored = loopback.records(store.pool_name(target), target.name)
        return {
            f"{record_id}:tx"
            for record_id, (_, metadata) in stored.items()
            if shadow_key("tx", ("f",)) in (metadata or {})
        }
    return set()


@pytest.mark.parametrize("index_type", sorted(DROP_CASES))
def test_a_dropped_payload_index_is_gone_and_filters_stay_exact(
    store: VectorStore, loopback: LoopbackPinecone, index_type: str
) -> None:
    kind = kind_of(store)
    values, raws = DROP_CASES[index_type]
    plain = space()
    store.ensure_space(plain)
    batch = records([{"f": value, "n": i} for i, value in enumerate(values)] + [{"n": -1}])
    store.upsert(plain, batch)
    known = {record.id: record.payload for record in batch}
    index = PayloadIndexConfig(field_name="f", type=index_type)  # type: ignore[arg-type]
    target = indexed_space(plain, index)
    store.build_payload_index(target, index)
    built = stored_index_traces(kind, store, target, loopback)
    if kind == "lancedb" or (kind == "pinecone" and index_type == "text"):
        assert built, "the build left nothing in the store: the test would prove nothing"

    store.drop_payload_index(plain, index)  # `plain`: the space as its namespace now lists it
    store.drop_payload_index(plain, index)  # idempotent
    assert stored_index_traces(kind, store, plain, loopback) == set()
    assert_reference_answers(kind, store, plain, known, raws)  # the generic path, still exact
    later = records([{"f": values[0], "n": 100}], seed=1, prefix="new")
    store.upsert(plain, later)  # writes go on without the index
    known.update({record.id: record.payload for record in later})
    assert_reference_answers(kind, store, plain, known, raws)
    assert stored_index_traces(kind, store, plain, loopback) == set()


def test_dropping_an_index_never_built_is_a_no_op(store: VectorStore) -> None:
    plain = space()
    store.drop_payload_index(plain, PayloadIndexConfig(field_name="f", type="text"))  # no space yet
    store.ensure_space(plain)
    store.upsert(plain, records([{"f": "x"}]))
    store.drop_payload_index(plain, PayloadIndexConfig(field_name="f", type="keyword"))
    assert store.count(plain) == 1
