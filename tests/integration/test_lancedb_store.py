"""`LanceDBVectorStore` against a real embedded LanceDB in a temporary directory."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from stratus.adapters.lancedb.store import LanceDBVectorStore, _store_call
from stratus.errors import BadRequestError, ConflictError, VectorStoreUnavailableError
from stratus.filters import OPERATORS, FilterNode, evaluate, parse_filter
from stratus.models.namespaces import Metric
from stratus.ports import Space, VectorRecord

DIM = 8


def space(dimension: int = DIM, metric: Metric = "cosine", index: str = "text") -> Space:
    return Space(storage_key="ns-0001", index_name=index, dimension=dimension, metric=metric)


@pytest.fixture
def store(tmp_path: Path) -> LanceDBVectorStore:
    return LanceDBVectorStore(str(tmp_path / "lancedb"))


def random_vectors(count: int, dimension: int = DIM, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)


def records(payloads: list[dict[str, Any]], seed: int = 0, prefix: str = "doc") -> list[VectorRecord]:
    vectors = random_vectors(len(payloads), seed=seed)
    return [
        VectorRecord(id=f"{prefix}{i:03d}", payload=payload, vector=vectors[i].tolist())
        for i, payload in enumerate(payloads)
    ]


# ---------------------------------------------------------------------------------------------
# The honesty proof: the compiled filters answer exactly what the reference evaluator answers.

CORPUS: list[dict[str, Any]] = [
    {
        "category": "contract",
        "price": 10,
        "tags": ["legal", "Urgent"],
        "meta": {"lang": "en", "pages": 3},
        "title": "Master Services Agreement",
    },
    {
        "category": "Contract",
        "price": 10.0,
        "tags": ["legal"],
        "meta": {"lang": "EN", "pages": 12.5},
        "title": "Services agreement — draft",
    },
    {"category": "invoice", "price": 99.99, "tags": [], "meta": {"lang": "de"}, "title": "Rechnung für März"},
    {"category": "INVOICE", "price": -5, "tags": ["finance", 5, True, None], "meta": None},
    {"category": "5", "price": "10", "tags": "legal"},
    {"category": 5, "price": True, "tags": [["legal"]], "meta": {"lang": None}},
    {"category": None, "price": None},
    {},
    {"category": "contract", "created_at": "2024-01-15T10:00:00Z", "title": "Q1 report: revenue up"},
    {
        "category": "report",
        "created_at": "2024-03-01T00:00:00Z",
        "title": "naïve café résumé",
        "tags": ["Ünïcode", "ß"],
    },
    {"category": "report", "created_at": "2023-12-31T23:59:59Z", "title": "ΣΊΣΥΦΟΣ myth", "tags": ["greek"]},
    {"category": "Ärger", "title": "Straße", "score": 0},
    {"score": 0.0, "flag": False, "nested": {"deep": {"er": {"est": "yes"}}}},
    {"score": -0.0, "flag": True, "nested": {"deep": {"er": {"est": "YES"}}}},
    {"score": 2**53 + 1, "flag": "true", "nested": {"deep": "er"}},
    {"score": 2.0**53, "flag": 1, "nested": [{"deep": {"er": {"est": "yes"}}}]},
    {"score": 1e-7, "count": 7, "tags": ["7", 7.0]},
    {"score": 1e20, "count": "7", "tags": [7]},
    {"score": 2**63 + 5, "count": 2**64 - 1},
    {"score": -(2**63), "count": -1},
    {"title": "foo_bar baz-qux", "words": "The quick brown fox"},
    {"title": "foobar", "words": "quick-brown FOX jumps"},
    {"title": "", "words": ""},
    {"title": "50% off_sale!", "words": "über straße 東京 タワー"},
    {"m": {"0": "zero", "1": ["a", "b"]}, "list0": ["x", "y"]},
    {"m": ["zero", "one"], "list0": {"0": "x"}},
    {"a.b": "dotted-key", "a": {"b": "nested"}},
    {"a": {"b": None}, "weird": "x' OR '1'='1"},
    {"a": {"b": ["nested", "NESTED"]}, "weird": "a') OR (1=1"},
    {"emoji": "😀 smile", "tags": ["😀"]},
    {"emoji": "no smile", "tags": ["a", "b", "c", "d", "legal"]},
    {"price": 9.999999999999998, "category": "contract "},
    {"price": 10.000000000000002, "category": " contract"},
    {"price": 11, "category": "CONTRACT", "tags": ["LEGAL", "urgent"]},
    {"price": [10, 20], "category": ["contract", "invoice"]},
    {"price": {"amount": 10}, "category": {"name": "contract"}},
    {"long": "x" * 100 + "END", "tags": ["y" * 80], "words": "alpha " * 20 + "omega"},
    {"long": ("x" * 100 + "end").upper(), "tags": ["Y" * 80]},
    {"bools": [True, False], "flag": None},
    {"bools": [], "flag": [True]},
]


def c(field: str, operator: str, value: Any = None, case_sensitive: bool | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {"field": field, "operator": operator}
    if value is not None:
        raw["value"] = value
    if case_sensitive is not None:
        raw["case_sensitive"] = case_sensitive
    return raw


FILTERS: list[dict[str, Any]] = [
    # eq, shorthand, case folding, types
    {"category": "contract"},
    c("category", "eq", "contract", case_sensitive=True),
    {"category": 5},
    {"category": "5"},
    {"price": 10},
    {"price": 10.0},
    {"price": True},
    {"flag": True},
    {"flag": "true"},
    {"tags": "legal"},
    c("tags", "eq", "LEGAL", case_sensitive=True),
    {"tags": 5},
    {"tags": 7},
    {"tags": True},
    {"bools": False},
    {"meta.lang": "en"},
    {"nested.deep.er.est": "yes"},
    {"a.b": "nested"},
    {"m.0": "zero"},
    {"list0.0": "x"},
    {"score": 2**53 + 1},
    {"score": 2.0**53},
    {"score": 0},
    {"count": 2**64 - 1},
    {"long": "x" * 100 + "end"},
    c("long", "eq", "x" * 100 + "end", case_sensitive=True),
    {"tags": "y" * 80},
    c("tags", "eq", "Y" * 80, case_sensitive=True),
    {"emoji": "😀 SMILE"},
    {"category": "ärger"},
    {"title": "STRASSE"},
    {"tags": "ünïcode"},
    {"weird": "x' OR '1'='1"},
    # ne / in / nin
    c("category", "ne", "contract"),
    c("category", "ne", "contract", case_sensitive=True),
    c("price", "ne", 10),
    c("category", "in", ["contract", "invoice"]),
    c("category", "in", ["contract", "invoice"], case_sensitive=True),
    c("price", "in", [10, 99.99]),
    c("tags", "in", ["urgent", "finance"]),
    c("flag", "in", [True]),
    c("category", "nin", ["contract", "report"]),
    c("tags", "nin", ["legal"]),
    # ranges: numbers exactly (int/float, around 2**53 and 2**63), strings as written
    c("price", "gt", 10),
    c("price", "gte", 10),
    c("price", "lt", 10),
    c("price", "lte", 10.0),
    c("price", "gt", 9.999999999999999),
    c("score", "gt", 2**53),
    c("score", "gte", 2**53 + 1),
    c("score", "lt", 0),
    c("score", "lte", 0),
    c("score", "gt", 1e19),
    c("score", "gte", 2**63 + 5),
    c("score", "lt", -(2**63) + 1),
    c("count", "gt", 2**63),
    c("count", "lte", -1),
    c("count", "lt", 7.5),
    c("count", "gte", 6.5),
    c("price", "lt", 1e300),
    c("price", "gt", -(10**400)),
    c("price", "lt", 10**400),
    c("created_at", "gte", "2024-01-01"),
    c("created_at", "lt", "2024"),
    c("title", "gt", "S"),
    c("title", "lt", "a"),
    c("category", "lte", "contract"),
    # contains: substring of a string, element of a list
    c("title", "contains", "AGREEMENT"),
    c("title", "contains", "Agreement", case_sensitive=True),
    c("tags", "contains", "legal"),
    c("tags", "contains", "LEGAL", case_sensitive=True),
    c("tags", "contains", 5),
    c("tags", "contains", True),
    c("category", "contains", "ON"),
    c("title", "contains", ""),
    c("words", "contains", "STRASSE"),
    c("words", "contains", "straße"),
    c("long", "contains", "XEND"),
    c("price", "contains", 10),
    # starts_with / ends_with
    c("title", "starts_with", "services"),
    c("title", "starts_with", "services", case_sensitive=True),
    c("category", "ends_with", "ct"),
    c("category", "ends_with", "CT", case_sensitive=True),
    c("title", "starts_with", ""),
    c("emoji", "starts_with", "😀"),
    c("tags", "starts_with", "le"),
    # exists / is_null
    c("category", "exists"),
    c("category", "is_null"),
    c("meta.lang", "is_null"),
    c("meta.lang", "exists", False),
    c("meta.lang", "is_null", False),
    c("a.b", "exists"),
    c("flag", "exists"),
    c("nested.deep", "exists"),
    c("tags", "exists"),
    # text: whole words, any case
    c("words", "text", "quick fox"),
    c("words", "text", "QUICK brown"),
    c("words", "text", "fox jumps"),
    c("words", "text", "brown-fox"),
    c("words", "text", "omega alpha"),
    c("title", "text", "foo_bar"),
    c("title", "text", "foo"),
    c("title", "text", "off sale"),
    c("title", "text", "off_sale 50"),
    c("words", "text", "東京"),
    c("title", "text", "ΣΊΣΥΦΟΣ"),
    c("title", "text", "straße"),
    c("tags", "text", "legal"),
    # groups, NOT as object and list, inherited and overridden case flag
    {"AND": [{"category": "contract"}, c("price", "gte", 10)]},
    {"OR": [{"category": "invoice"}, {"tags": "finance"}]},
    {"NOT": {"category": "contract"}},
    {"NOT": [{"category": "contract"}, c("price", "lt", 11)]},
    {"AND": [{"OR": [{"category": "report"}, c("title", "text", "services")]}, {"NOT": c("tags", "exists")}]},
    {"case_sensitive": True, "OR": [{"category": "Contract"}, {"tags": "LEGAL"}]},
    {
        "case_sensitive": True,
        "AND": [{"OR": [{"category": "contract"}], "case_sensitive": False}, {"tags": "legal"}],
    },
    {"NOT": {"OR": [c("score", "gt", 0), c("score", "lt", 0), c("score", "is_null")]}},
    {"OR": [c("a.b", "eq", "NESTED", case_sensitive=True), {"NOT": [c("a.b", "exists")]}]},
]


Corpus = tuple[LanceDBVectorStore, Space, dict[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    store = LanceDBVectorStore(str(tmp_path_factory.mktemp("corpus") / "lancedb"))
    target = space()
    store.ensure_space(target)
    batch = records(CORPUS)
    store.upsert(target, batch)
    return store, target, {record.id: record.payload for record in batch}


def test_the_corpus_covers_every_operator() -> None:
    used = {condition_operator(raw) for raw in FILTERS} - {None}
    assert used | {"eq"} >= OPERATORS


def condition_operator(raw: dict[str, Any]) -> str | None:
    return raw.get("operator") if "field" in raw else None


@pytest.mark.parametrize("raw", FILTERS, ids=[json.dumps(raw, ensure_ascii=False)[:80] for raw in FILTERS])
def test_filters_match_the_reference_evaluator(corpus_store: Corpus, raw: dict[str, Any]) -> None:
    store, target, payloads = corpus_store
    node = parse_filter(raw)
    assert node is not None
    expected = {record_id for record_id, payload in payloads.items() if evaluate(node, payload)}

    listed = store.list(target, node, limit=1000, after_id=None, include_vectors=False)
    assert {record.id for record in listed.records} == expected
    assert listed.next_cursor is None

    queried = store.query(target, random_vectors(1, seed=99)[0].tolist(), 1000, node, include_vectors=False)
    assert {hit.id for hit in queried} == expected


def test_filters_select_something_and_not_everything(
    corpus_store: Corpus,
) -> None:
    """Guard against a vacuous corpus: most filters must split it."""
    _, _, payloads = corpus_store
    splitting = 0
    for raw in FILTERS:
        node = parse_filter(raw)
        assert node is not None
        matched = sum(evaluate(node, payload) for payload in payloads.values())
        splitting += 0 < matched < len(payloads)
    assert splitting >= len(FILTERS) * 0.9


def test_filtered_list_pages_follow_the_filter(
    corpus_store: Corpus,
) -> None:
    store, target, payloads = corpus_store
    node = parse_filter(c("category", "exists"))
    assert node is not None
    expected = sorted(record_id for record_id, payload in payloads.items() if evaluate(node, payload))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list(target, node, limit=4, after_id=cursor, include_vectors=False)
        seen += [record.id for record in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


# ---------------------------------------------------------------------------------------------
# Records


def test_upsert_fetch_and_overwrite_whole_records(store: LanceDBVectorStore) -> None:
    target = space()
    store.ensure_space(target)
    vectors = random_vectors(2)
    first, second = [float(x) for x in vectors[0]], [float(x) for x in vectors[1]]
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

    # The old payload's filter terms went with it.
    gone = parse_filter({"y.z": "old"})
    assert gone is not None
    assert store.list(target, gone, 10, None, False).records == []


def test_the_last_duplicate_in_one_upsert_wins(store: LanceDBVectorStore) -> None:
    target = space()
    vector = random_vectors(1)[0].tolist()
    store.upsert(target, [VectorRecord("a", {"v": 1}, vector), VectorRecord("a", {"v": 2}, vector)])
    assert store.count(target) == 1
    assert store.fetch(target, ["a"], False)["a"].payload == {"v": 2}


def test_delete(store: LanceDBVectorStore) -> None:
    target = space()
    store.upsert(target, records([{"i": i} for i in range(5)]))
    store.delete(target, ["doc001", "doc003", "never-existed"])
    assert store.ids(target) == {"doc000", "doc002", "doc004"}
    store.delete(target, [])
    assert store.count(target) == 3


def test_payloads_round_trip_exactly(store: LanceDBVectorStore) -> None:
    hostile_keys = ["x' OR '1'='1", "a') OR (1=1", "$..*", '"]', "back\\slash", "new\nline", "ü😀", "", "0"]
    hostile_keys.append("\x00")
    payload: dict[str, Any] = {
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, None, True, "ß", {"k": "v"}]},
        "unicode": "naïve café 東京 😀 \u2028 \t \x7f",
        "big": 2**64 + 5,
        "negative": -(2**70),
        "float": 0.1,
        "tiny": 5e-324,
        **{key: key for key in hostile_keys},
    }
    target = space()
    store.upsert(target, [VectorRecord("weird id ' \" é", payload, random_vectors(1)[0].tolist())])
    back = store.fetch(target, ["weird id ' \" é"], False)["weird id ' \" é"].payload
    assert back == payload
    assert list(back) == list(payload)  # key order as written
    assert json.dumps(back, ensure_ascii=False) == json.dumps(payload, ensure_ascii=False)


def test_a_batch_of_5000_records(store: LanceDBVectorStore) -> None:
    target = space(dimension=32)
    vectors = random_vectors(5000, dimension=32, seed=5)
    batch = [VectorRecord(f"r{i:05d}", {"i": i, "even": not i % 2}, vectors[i].tolist()) for i in range(5000)]
    store.upsert(target, batch)
    assert store.count(target) == 5000
    assert len(store.ids(target)) == 5000
    fetched = store.fetch(target, [f"r{i:05d}" for i in range(0, 5000, 7)], include_vectors=True)
    assert len(fetched) == len(range(0, 5000, 7))
    assert fetched["r04998"].payload == {"i": 4998, "even": True}
    assert fetched["r04998"].vector == pytest.approx(vectors[4998].tolist())
    even = parse_filter({"even": True})
    assert even is not None
    hits = store.query(target, vectors[10].tolist(), 5, even, include_vectors=False)
    assert hits[0].id == "r00010"
    assert all(hit.payload["even"] for hit in hits)


def test_pagination_across_2500_records(store: LanceDBVectorStore) -> None:
    target = space()
    ids = [f"id-{i:05d}" for i in range(2500)]
    vectors = random_vectors(2500, seed=3)
    shuffled = np.random.default_rng(1).permutation(2500)
    store.upsert(target, [VectorRecord(ids[i], {"i": int(i)}, vectors[i].tolist()) for i in shuffled])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list(target, None, limit=333, after_id=cursor, include_vectors=pages == 0)
        pages += 1
        seen += [record.id for record in page.records]
        assert all(record.payload == {"i": int(record.id[3:])} for record in page.records)
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


# ---------------------------------------------------------------------------------------------
# Search scores, per metric, against numpy


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_scores_and_order_match_numpy(store: LanceDBVectorStore, metric: Metric) -> None:
    target = space(metric=metric, index=f"m_{metric}")
    vectors = random_vectors(50, seed=7)
    store.upsert(target, [VectorRecord(f"v{i:02d}", {"i": i}, vectors[i].tolist()) for i in range(50)])
    query = random_vectors(1, seed=8)[0]

    hits = store.query(target, query.tolist(), 10, None, include_vectors=True)

    if metric == "cosine":
        expected = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    elif metric == "dot":
        expected = vectors @ query
    else:
        expected = 1.0 / (1.0 + np.linalg.norm(vectors - query, axis=1))
    order = np.argsort(-expected)[:10]
    assert [hit.id for hit in hits] == [f"v{i:02d}" for i in order]
    assert [hit.score for hit in hits] == pytest.approx(expected[order].tolist(), rel=1e-5, abs=1e-5)
    assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))
    assert hits[0].vector == pytest.approx(vectors[order[0]].tolist())
    assert hits[0].payload == {"i": int(order[0])}


def test_euclidean_identical_vector_scores_one(store: LanceDBVectorStore) -> None:
    target = space(metric="euclidean")
    vector = [3.0, 4.0] + [0.0] * (DIM - 2)
    store.upsert(target, [VectorRecord("same", {}, vector), VectorRecord("far", {}, [0.0] * DIM)])
    hits = store.query(target, vector, 2, None, False)
    assert [(hit.id, hit.score) for hit in hits] == [("same", 1.0), ("far", pytest.approx(1 / 6))]


def test_top_k_limits_and_filters_prefilter(store: LanceDBVectorStore) -> None:
    target = space()
    vectors = random_vectors(200, seed=11)
    store.upsert(
        target, [VectorRecord(f"v{i:03d}", {"rare": i == 150}, vectors[i].tolist()) for i in range(200)]
    )
    assert len(store.query(target, vectors[0].tolist(), 7, None, False)) == 7
    rare = parse_filter({"rare": True})
    assert rare is not None
    # The only match is far from the query: a post-filter on the top 7 would miss it.
    assert [hit.id for hit in store.query(target, vectors[0].tolist(), 7, rare, False)] == ["v150"]


# ---------------------------------------------------------------------------------------------
# Spaces


def test_ensure_space_is_idempotent_and_rejects_another_dimension(store: LanceDBVectorStore) -> None:
    store.ensure_space(space(dimension=8))
    store.ensure_space(space(dimension=8))
    with pytest.raises(ConflictError) as caught:
        store.ensure_space(space(dimension=16))
    assert "8" in caught.value.message and "16" in caught.value.message
    assert caught.value.details["existing_dimension"] == 8
    assert caught.value.details["requested_dimension"] == 16


def test_ensure_space_sees_a_table_created_by_another_store(tmp_path: Path) -> None:
    first, second = LanceDBVectorStore(str(tmp_path)), LanceDBVectorStore(str(tmp_path))
    second.count(space())  # caches nothing: the table does not exist yet
    first.ensure_space(space(dimension=8))
    with pytest.raises(ConflictError):
        second.ensure_space(space(dimension=4))
    second.ensure_space(space(dimension=8))


def test_concurrent_ensure_space_and_upserts(store: LanceDBVectorStore) -> None:
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


def test_writes_are_seen_by_another_store_instance(tmp_path: Path) -> None:
    writer, reader = LanceDBVectorStore(str(tmp_path)), LanceDBVectorStore(str(tmp_path))
    target = space()
    writer.upsert(target, records([{"n": 1}]))
    assert reader.count(target) == 1  # the reader opens and caches the table here
    writer.upsert(target, records([{"n": 2}, {"n": 3}], prefix="more"))
    writer.delete(target, ["doc000"])
    assert reader.count(target) == 2
    assert reader.ids(target) == {"more000", "more001"}


def test_drop_space_is_idempotent(store: LanceDBVectorStore) -> None:
    target = space()
    store.upsert(target, records([{"n": 1}]))
    other = space(index="other")
    store.upsert(other, records([{"n": 2}]))
    store.drop_space(target)
    store.drop_space(target)
    store.drop_space(space(index="never"))
    assert store.count(target) == 0
    assert store.count(other) == 1
    store.ensure_space(target)
    assert store.count(target) == 0


def test_a_missing_space_reads_as_empty(store: LanceDBVectorStore) -> None:
    target = space(index="missing")
    assert store.count(target) == 0
    assert store.ids(target) == set()
    assert store.fetch(target, ["a"], True) == {}
    assert store.query(target, [1.0] * DIM, 5, None, False) == []
    page = store.list(target, None, 10, None, False)
    assert page.records == [] and page.next_cursor is None
    store.delete(target, ["a"])


def test_capabilities_and_locator(store: LanceDBVectorStore, tmp_path: Path) -> None:
    assert store.capabilities.name == "lancedb"
    assert store.capabilities.operators == OPERATORS
    assert store.locator("ns-0001") == f"lancedb:{tmp_path / 'lancedb'}/ns-0001__*"


# ---------------------------------------------------------------------------------------------
# Failures become a retryable 503


def test_an_unusable_uri_is_unavailable(tmp_path: Path) -> None:
    occupied = tmp_path / "not-a-directory"
    occupied.write_text("a file where the database directory should be")
    store = LanceDBVectorStore(str(occupied))
    for call in (
        lambda: store.ensure_space(space()),
        lambda: store.upsert(space(), records([{}])),
        lambda: store.count(space()),
    ):
        with pytest.raises(VectorStoreUnavailableError) as caught:
            call()
        assert caught.value.status == 503 and caught.value.retry_after
        assert "ns-0001__text" in caught.value.message


def test_a_lost_table_is_unavailable_then_reopened(store: LanceDBVectorStore, tmp_path: Path) -> None:
    target = space()
    store.upsert(target, records([{"n": 1}]))
    assert store.count(target) == 1  # table cached
    shutil.rmtree(tmp_path / "lancedb" / f"{target.name}.lance")
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.query(target, [1.0] * DIM, 3, None, False)
    assert "query" in caught.value.message and target.name in caught.value.message
    # The broken table was forgotten: the next call sees that the space is gone.
    assert store.count(target) == 0


@pytest.mark.parametrize(
    ("raised", "seen"),
    [
        (OSError("disk"), VectorStoreUnavailableError),
        (RuntimeError("lance error"), VectorStoreUnavailableError),
        (pa.ArrowInvalid("arrow"), VectorStoreUnavailableError),
        (ConflictError("ours"), ConflictError),
        (KeyError("a bug"), KeyError),
        (TypeError("a bug"), TypeError),
    ],
)
def test_only_store_failures_become_unavailable(raised: Exception, seen: type[Exception]) -> None:
    with pytest.raises(seen), _store_call("fetch", "ns__v"):
        raise raised


def test_a_store_failure_names_operation_and_space() -> None:
    with pytest.raises(VectorStoreUnavailableError) as caught, _store_call("fetch", "ns__v"):
        raise OSError("disk")
    assert caught.value.message.startswith("vector store unavailable: fetch on space 'ns__v'")
    assert isinstance(caught.value.__cause__, OSError)


def test_a_wrong_dimension_is_a_bad_request_not_an_outage(store: LanceDBVectorStore) -> None:
    with pytest.raises(BadRequestError):
        store.upsert(space(), [VectorRecord("a", {}, [1.0, 2.0])])


def test_query_filter_is_compiled_once_per_call(store: LanceDBVectorStore) -> None:
    """A filter node is plain data: reusing it across calls and spaces is safe."""
    node: FilterNode | None = parse_filter({"n": 1})
    first, second = space(index="one"), space(index="two")
    store.upsert(first, records([{"n": 1}, {"n": 2}]))
    store.upsert(second, records([{"n": 2}, {"n": 1}]))
    assert [hit.id for hit in store.query(first, [1.0] * DIM, 5, node, False)] == ["doc000"]
    assert [hit.id for hit in store.query(second, [1.0] * DIM, 5, node, False)] == ["doc001"]
