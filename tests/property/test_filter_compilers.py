"""Property tests of the filter DSL compilers (issue 7): any filter the parser accepts compiles, in
each store, to a query that selects exactly the documents `stratus.filters.evaluate` accepts.

- The parser: any JSON either parses or is a `BadRequestError` (400), never another exception,
  and both compilers take what it accepts (a compiler may only answer `BadRequestError`).
- Each store (LanceDB, a real embedded table; Pinecone, the real client against the loopback
  server) loads a fixed corpus once per module, and hypothesis generates filters aimed at its
  fields and values. For each filter, `list` and `query` (top_k above the corpus size) return
  the ids `evaluate` accepts, with their payloads. A store may instead refuse with a 400 naming
  the operator and the store, but only where its capabilities document it (`refusable`), and
  each refusal is counted. Other tests generate the documents too (fewer examples), or load
  typed fields with payload indexes, which switch the compilers to their index paths.

Profiles (`conftest.py`): `ci` by default, `HYPOTHESIS_PROFILE=fuzz` for a long search.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from stratus.adapters.lancedb import filters as lancedb_filters
from stratus.adapters.pinecone import filters as pinecone_filters
from stratus.adapters.pinecone.store import PineconeVectorStore
from stratus.adapters.text_tokens import TextIndexOptions, evaluate_indexed, text_indexes
from stratus.errors import BadRequestError
from stratus.filters import (
    OPERATORS,
    RANGE_OPERATORS,
    FilterNode,
    evaluate,
    filtered_fields,
    iter_conditions,
    lookup,
    operators_used,
    parse_filter,
)
from stratus.models.namespaces import PayloadIndexConfig
from stratus.ports import Space, VectorStore
from tests.contract.test_vector_store_contract import CORPUS as CONTRACT_CORPUS
from tests.contract.test_vector_store_contract import make_store, random_vectors, records, space
from tests.loopback_pinecone import LoopbackPinecone
from tests.property.strategies import (
    LANCEDB,
    PINECONE,
    TYPED_INDEXES,
    FilterSpace,
    Profile,
    documents,
    filters,
    fixed_corpus,
    vocabulary,
)

TOP_K = 1000  # above every corpus here
QUERY = random_vectors(1, seed=97)[0].tolist()
# Tests that build a space per example run fewer examples than the profile's.
FEWER = max(5, settings().max_examples // 3)
FILTERS_PER_SPACE = 6

# The corpora: the contract test's hand-written one plus seeded generated documents, so every
# run loads the same data and hypothesis only generates the filters.
CORPORA: dict[str, list[dict[str, Any]]] = {
    profile.name: [*CONTRACT_CORPUS, *fixed_corpus(profile, seed=7, count=60)]
    for profile in (LANCEDB, PINECONE)
}
TYPED_CORPORA: dict[str, list[dict[str, Any]]] = {
    profile.name: fixed_corpus(profile, seed=11, count=50, typed=True) for profile in (LANCEDB, PINECONE)
}


def filter_space(
    profile: Profile, payloads: Sequence[Mapping[str, Any]], invalid: float = 0.03
) -> FilterSpace:
    """Filters aimed at `payloads`. For Pinecone, the operators it refuses (no prefix, suffix,
    full-text or string range match) are drawn less often, so that most trees are answered."""
    if profile is PINECONE:
        rare = frozenset({"starts_with", "ends_with", "text"})
        return FilterSpace(vocabulary(payloads), profile, invalid=invalid, rare=rare, string_bounds=0.15)
    return FilterSpace(vocabulary(payloads), profile, invalid=invalid)


# ---------------------------------------------------------------------------------------------
# Outcomes, counted per test so that the last test can tell a vacuous run


OUTCOMES: dict[str, Counter[str]] = {}


def record(test: str, outcome: str) -> None:
    OUTCOMES.setdefault(test, Counter())[outcome] += 1
    event(outcome)


# ---------------------------------------------------------------------------------------------
# Stores


@dataclasses.dataclass
class Loaded:
    kind: str
    store: VectorStore
    target: Space
    payloads: dict[str, dict[str, Any]]
    texts: dict[tuple[str, ...], TextIndexOptions]


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackPinecone]:
    with LoopbackPinecone() as server:
        yield server


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory, loopback: LoopbackPinecone
) -> Iterator[dict[str, VectorStore]]:
    made = {
        kind: make_store(kind, tmp_path_factory.mktemp(kind), loopback) for kind in ("lancedb", "pinecone")
    }
    yield made
    pinecone = made["pinecone"]
    assert isinstance(pinecone, PineconeVectorStore)
    pinecone.close()


def load(
    kind: str, store: VectorStore, payloads: list[dict[str, Any]], indexes: Sequence[PayloadIndexConfig] = ()
) -> Loaded:
    """A new space holding `payloads`; with indexes, half the records are written before they
    are built (backfill) and half after (written with the index)."""
    target = dataclasses.replace(space(), payload_indexes=tuple(indexes))
    store.ensure_space(target)
    batch = records(payloads)
    half = len(batch) // 2 if indexes else len(batch)
    if batch[:half]:
        store.upsert(target, batch[:half])
    for index in indexes:
        store.build_payload_index(target, index)
    if batch[half:]:
        store.upsert(target, batch[half:])
    return Loaded(kind, store, target, {r.id: r.payload for r in batch}, text_indexes(target.payload_indexes))


@pytest.fixture(scope="module")
def corpus(stores: dict[str, VectorStore]) -> dict[str, Loaded]:
    return {kind: load(kind, store, CORPORA[kind]) for kind, store in stores.items()}


@pytest.fixture(scope="module")
def typed_corpus(stores: dict[str, VectorStore]) -> dict[str, Loaded]:
    return {kind: load(kind, store, TYPED_CORPORA[kind], TYPED_INDEXES) for kind, store in stores.items()}


# ---------------------------------------------------------------------------------------------
# The property


def refusable(
    store: VectorStore,
    parsed: FilterNode,
    payloads: Sequence[Mapping[str, Any]],
    texts: Mapping[tuple[str, ...], TextIndexOptions],
) -> set[str]:
    """The operators of `parsed` the store may refuse on these documents, as its capabilities
    document them: an operator it does not claim (`text` is claimed on fields with a text
    index), a string range where the notes say ranges are numeric, and `contains` with a string
    where the notes say so and a document holds a string at the field."""
    capabilities = store.capabilities
    noted = {name for key in capabilities.notes for name in key.split()}
    refused: set[str] = set()
    for cond in iter_conditions(parsed):
        op = cond.operator
        if op not in capabilities.operators:
            if not (op == "text" and cond.field in texts):
                refused.add(op)
        elif (op in RANGE_OPERATORS and op in noted and isinstance(cond.value, str)) or (
            op == "contains"
            and op in noted
            and isinstance(cond.value, str)
            and any(isinstance(lookup(payload, cond.field), str) for payload in payloads)
        ):
            refused.add(op)
    return refused


def compiled_form(kind: str, parsed: FilterNode) -> Any:
    """What the store's compiler makes of the filter, for failure reports."""
    try:
        if kind == "lancedb":
            return lancedb_filters.compile_filter(parsed)
        return pinecone_filters.compile_filter(parsed).filter
    except BadRequestError as error:
        return f"refused: {error.message}"


def check(test: str, loaded: Loaded, raw: Any) -> None:
    try:
        parsed = parse_filter(raw)
    except BadRequestError as error:
        assert error.status == 400
        record(test, "rejected by the parser")
        return
    payloads = loaded.payloads
    expected = {
        record_id
        for record_id, payload in payloads.items()
        if parsed is None or evaluate_indexed(parsed, payload, loaded.texts)
    }
    if parsed is not None:
        note(f"parsed: {parsed}")
        note(f"compiled: {compiled_form(loaded.kind, parsed)}")
    note(f"expected: {sorted(expected)}")

    store, target = loaded.store, loaded.target
    listed = store.list(target, parsed, limit=TOP_K, after_id=None, include_vectors=False)
    assert listed.next_cursor is None
    assert_same(loaded, "list", {r.id: r.payload for r in listed.records}, expected)

    allowed = set() if parsed is None else refusable(store, parsed, list(payloads.values()), loaded.texts)
    try:
        hits = store.query(target, QUERY, TOP_K, parsed, include_vectors=False)
    except BadRequestError as error:
        operator = error.details.get("operator")
        name = store.capabilities.name
        assert operator in allowed, f"refused {operator!r} ({error.message}); documented: {allowed}"
        assert error.details.get("vector_store") == name
        assert f"'{operator}'" in error.message and f"'{name}'" in error.message
        record(test, f"refused: {operator}")
        return
    assert_same(loaded, "query", {hit.id: hit.payload for hit in hits}, expected)
    assert len(hits) == len(expected)
    record(test, "answered")
    record(test, "answered, split" if 0 < len(expected) < len(payloads) else "answered, all or none")


def assert_same(loaded: Loaded, what: str, found: dict[str, Any], expected: set[str]) -> None:
    missing, extra = sorted(expected - set(found)), sorted(set(found) - expected)
    assert not missing and not extra, (
        f"{loaded.kind} {what}: missing {[(i, loaded.payloads[i]) for i in missing][:5]}, "
        f"extra {[(i, loaded.payloads[i]) for i in extra][:5]}"
    )
    for record_id, payload in found.items():
        assert payload == loaded.payloads[record_id], record_id


# ---------------------------------------------------------------------------------------------
# The parser, and both compilers without a store


def arbitrary_json() -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["AND", "OR", "NOT", "field", "operator", "value", "case_sensitive", "a", "a.b"])
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    operators = st.sampled_from(sorted(OPERATORS))
    return st.recursive(
        scalars | operators,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(keys | st.text(max_size=3), inner, max_size=4)
        ),
        max_leaves=12,
    )


PARSER_SPACE = filter_space(PINECONE, CORPORA["pinecone"], invalid=0.25)


@given(raw=filters(PARSER_SPACE) | arbitrary_json())
def test_the_parser_accepts_or_answers_400(raw: Any) -> None:
    try:
        parsed = parse_filter(raw)
    except BadRequestError as error:
        assert error.status == 400
        assert str(error.details["field"]).startswith("filters")
        record("parser", "rejected")
        return
    record("parser", "accepted")
    if parsed is None:
        return
    assert operators_used(parsed) <= OPERATORS
    assert filtered_fields(parsed)
    for payload in CORPORA["pinecone"]:
        evaluate(parsed, payload)
    # The compilers take whatever the parser accepts: a string (LanceDB), a filter or a 400.
    assert isinstance(lancedb_filters.compile_filter(parsed), str)
    try:
        pinecone_filters.compile_filter(parsed)
    except BadRequestError as error:
        assert error.details["vector_store"] == "pinecone"
        assert error.details["operator"] in OPERATORS - pinecone_filters.SUPPORTED_OPERATORS | RANGE_OPERATORS


# ---------------------------------------------------------------------------------------------
# Fixed corpora, generated filters


LANCEDB_SPACE = filter_space(LANCEDB, CORPORA["lancedb"])
PINECONE_SPACE = filter_space(PINECONE, CORPORA["pinecone"])


@given(raw=filters(LANCEDB_SPACE))
def test_lancedb_answers_what_the_reference_answers(corpus: dict[str, Loaded], raw: Any) -> None:
    check("lancedb", corpus["lancedb"], raw)


@given(raw=filters(PINECONE_SPACE))
def test_pinecone_answers_what_the_reference_answers(corpus: dict[str, Loaded], raw: Any) -> None:
    check("pinecone", corpus["pinecone"], raw)


# ---------------------------------------------------------------------------------------------
# Payload indexes: typed fields, index paths in both compilers


LANCEDB_TYPED_SPACE = filter_space(LANCEDB, TYPED_CORPORA["lancedb"])
PINECONE_TYPED_SPACE = filter_space(PINECONE, TYPED_CORPORA["pinecone"])


@given(raw=filters(LANCEDB_TYPED_SPACE))
def test_lancedb_with_payload_indexes(typed_corpus: dict[str, Loaded], raw: Any) -> None:
    check("lancedb indexed", typed_corpus["lancedb"], raw)


@given(raw=filters(PINECONE_TYPED_SPACE))
def test_pinecone_with_payload_indexes(typed_corpus: dict[str, Loaded], raw: Any) -> None:
    check("pinecone indexed", typed_corpus["pinecone"], raw)


# ---------------------------------------------------------------------------------------------
# Generated documents: a new space per example


def generated(test: str, kind: str, store: VectorStore, profile: Profile, data: st.DataObject) -> None:
    typed = data.draw(st.booleans(), label="typed")
    payloads = data.draw(
        st.lists(documents(profile, typed=typed), min_size=1, max_size=12), label="documents"
    )
    # A few indexes per space: building them (LanceDB) is most of the cost of an example.
    some = st.lists(st.sampled_from(range(len(TYPED_INDEXES))), min_size=1, max_size=4, unique=True)
    indexes = [TYPED_INDEXES[i] for i in data.draw(some, label="payload indexes")] if typed else []
    loaded = load(kind, store, payloads, indexes)
    try:
        aimed = filter_space(profile, payloads)
        for _ in range(FILTERS_PER_SPACE):
            check(test, loaded, data.draw(filters(aimed), label="filter"))
    finally:
        store.drop_space(loaded.target)


@settings(max_examples=FEWER)
@given(data=st.data())
def test_lancedb_on_generated_documents(stores: dict[str, VectorStore], data: st.DataObject) -> None:
    generated("lancedb generated", "lancedb", stores["lancedb"], LANCEDB, data)


@settings(max_examples=FEWER)
@given(data=st.data())
def test_pinecone_on_generated_documents(stores: dict[str, VectorStore], data: st.DataObject) -> None:
    generated("pinecone generated", "pinecone", stores["pinecone"], PINECONE, data)


# ---------------------------------------------------------------------------------------------
# Not vacuous


def test_refusals_follow_the_documented_capabilities(stores: dict[str, VectorStore]) -> None:
    """`refusable` reads the capability notes: they must still say what it relies on."""
    assert stores["lancedb"].capabilities.operators == OPERATORS
    assert not stores["lancedb"].capabilities.notes
    pinecone = stores["pinecone"].capabilities
    assert OPERATORS - pinecone.operators == {"starts_with", "ends_with", "text"}
    assert "string value answers 400" in pinecone.notes["gt gte lt lte"]
    assert "holds a string" in pinecone.notes["contains"]
    assert "text` payload index" in pinecone.notes["text"]


def test_the_runs_were_not_vacuous() -> None:
    """Run last: most generated filters were answered, and most answers split the corpus."""
    if not OUTCOMES:
        pytest.skip("no property test ran in this session")
    summary = {test: dict(counts) for test, counts in OUTCOMES.items()}
    print(json.dumps(summary, indent=1, sort_keys=True))
    for test, counts in OUTCOMES.items():
        if test == "parser":
            assert counts["accepted"] and counts["rejected"], summary
            continue
        answered = counts["answered"]
        refused = sum(n for outcome, n in counts.items() if outcome.startswith("refused"))
        assert answered >= 0.4 * (answered + refused + counts["rejected by the parser"]), summary
        if not test.endswith("generated"):
            assert counts["answered, split"] >= 0.3 * answered, summary
