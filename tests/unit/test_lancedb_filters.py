"""The LanceDB filter compiler: its terms, its SQL literals, and (against a real embedded LanceDB)
hostile field names and values and numeric edge cases, all checked against `evaluate`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratus.adapters.lancedb.filters import _term, compile_filter, filter_terms
from stratus.adapters.lancedb.sql import sql_string
from stratus.adapters.lancedb.store import LanceDBVectorStore
from stratus.filters import evaluate, parse_filter, tokenize
from stratus.ports import Space, VectorRecord

DIM = 4

# -- terms -----------------------------------------------------------------------------------------


def kinds(payload: dict[str, Any]) -> set[str]:
    return {term[:2] for term in filter_terms(payload)}


def test_null_values_leave_no_presence() -> None:
    assert filter_terms({"a": None}) == []
    assert _term("p_", ("a",), "") in filter_terms({"a": []})
    assert _term("p_", ("a",), "") in filter_terms({"a": {}})


@pytest.mark.parametrize(
    ("value", "json_type"),
    [
        ("x", "str"),
        (True, "bool"),
        (-(2**63), "i64"),
        (2**63 - 1, "i64"),
        (2**63, "u64"),
        (2**64 - 1, "u64"),
        (2**64, "bigint"),
        (-(2**63) - 1, "bigint"),
        (1.0, "f64"),
        ([1], "list"),
        ({"b": 1}, "obj"),
    ],
)
def test_type_terms(value: Any, json_type: str) -> None:
    assert _term("t_", ("a",), json_type) in filter_terms({"a": value})


def test_equal_numbers_share_a_term_and_unequal_ones_do_not() -> None:
    assert _term("vn", ("a",), "5") in filter_terms({"a": 5.0})
    assert _term("vn", ("a",), "5") in filter_terms({"a": 5})
    assert _term("vn", ("a",), "0") in filter_terms({"a": -0.0})
    big_int, big_float = filter_terms({"a": 2**53 + 1}), filter_terms({"a": 2.0**53})
    assert set(big_int) & set(big_float) == {_term("p_", ("a",), "")}


def test_booleans_are_not_numbers() -> None:
    assert _term("vb", ("a",), "true") in filter_terms({"a": True})
    assert "vn" not in kinds({"a": True})


def test_list_elements_are_terms_but_nested_containers_are_not() -> None:
    terms = filter_terms({"a": ["X", 1, None, ["y"], {"z": 1}]})
    assert _term("es", ("a",), "X") in terms
    assert _term("ei", ("a",), "x") in terms
    assert _term("en", ("a",), "1") in terms
    assert not any('"y"' in term[2:] or "z" in term for term in terms)


def test_lists_are_not_descended_into() -> None:
    assert filter_terms({"a": [{"b": "c"}]}) == sorted({_term("p_", ("a",), ""), _term("t_", ("a",), "list")})


def test_words_are_the_tokens_of_strings_only() -> None:
    terms = filter_terms({"s": "Hello, wörld_1 HELLO", "l": ["not words"]})
    words = {term for term in terms if term.startswith("w_")}
    assert words == {_term("w_", ("s",), "hello"), _term("w_", ("s",), "wörld_1")}


def test_long_and_unstorable_texts_are_digested() -> None:
    long_text = "x" * 65
    [exact] = [term for term in filter_terms({"a": long_text}) if term.startswith("vs")]
    assert long_text not in exact and "sha256:" in exact
    assert _term("vs", ("a",), long_text) == exact
    assert _term("vs", ("a",), "x" * 64).endswith("x" * 64)
    lone = filter_terms({"a": "\ud800"})
    for term in lone:
        term.encode("utf-8")  # storable in Arrow


def test_terms_are_unambiguous() -> None:
    """Path and text cannot trade characters to produce the same term."""
    paths_and_texts = [(("a",), '"]x'), (('a"]x',), ""), (("a", "b"), ""), (("a",), '","b"]'), (("a,b",), "")]
    terms = [_term("vs", path, text) for path, text in paths_and_texts]
    assert len(set(terms)) == len(terms)


def test_sql_string_doubles_quotes_only() -> None:
    assert sql_string("it's") == "'it''s'"
    assert sql_string("back\\slash") == "'back\\slash'"
    assert sql_string("") == "''"


def test_in_lists_compile_to_one_array_has_any() -> None:
    node = parse_filter({"field": "a", "operator": "in", "value": [str(i) for i in range(1000)]})
    assert node is not None
    sql = compile_filter(node)
    assert sql.count("array_has_any") == 1


# -- against LanceDB ---------------------------------------------------------------------------------


def make_store(directory: Path, payloads: list[dict[str, Any]]) -> tuple[LanceDBVectorStore, Space]:
    store = LanceDBVectorStore(str(directory))
    space = Space(storage_key="ns", index_name="v", dimension=DIM, metric="dot")
    vectors = np.random.default_rng(0).normal(size=(len(payloads), DIM)).astype(np.float32)
    store.upsert(
        space, [VectorRecord(f"d{i:04d}", payload, vectors[i].tolist()) for i, payload in enumerate(payloads)]
    )
    return store, space


def assert_matches_reference(
    store: LanceDBVectorStore, space: Space, payloads: list[dict[str, Any]], raw: dict[str, Any]
) -> None:
    node = parse_filter(raw)
    assert node is not None
    expected = {f"d{i:04d}" for i, payload in enumerate(payloads) if evaluate(node, payload)}
    listed = store.list(space, node, limit=10_000, after_id=None, include_vectors=False)
    assert {record.id for record in listed.records} == expected, raw
    hits = store.query(space, [1.0] * DIM, 1000, node, include_vectors=False)
    assert {hit.id for hit in hits} == expected, raw


HOSTILE = [
    "x' OR '1'='1",
    "a') OR (1=1",
    "') OR true OR ('",
    "$[*]",
    "$",
    '"]',
    "']",
    "[0]",
    "*",
    "back\\slash",
    "\\",
    "\\'",
    "new\nline",
    "'",
    "''",
    "\x00",
    "ü😀",
    "--",
    "/*",
    "%",
    "_",
    "payload",
    "filter_terms",
    "id = id",
    "\u2028",
    "0",
    "+0",
    "007",
    "(?i).*",
]

# Field names are split on dots, so dotted texts are only values.
DOTTED_VALUES = ["$..*", "a.b') OR ('1'='1", "..", "payload.name"]

HOSTILE_DOCS: list[dict[str, Any]] = [
    *({"name": text, "list": [text]} for text in DOTTED_VALUES),
    *({text: text, "name": text, "nested": {text: i}, "list": [text, i]} for i, text in enumerate(HOSTILE)),
    {"0": "zero", "arr": ["zero", "x"], "obj": {"0": "x", "+0": "y"}, "lst": ["x"]},
    {"arr": {"0": "zero"}, "obj": ["x", "y"], "lst": {"0": "x"}},
    {"name": None, "nested": None},
    {},
]


def hostile_filters() -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    for i, text in enumerate(HOSTILE):
        filters += [
            {"field": text, "operator": "eq", "value": text},
            {"field": text, "operator": "exists"},
            {"field": text, "operator": "is_null"},
            {"field": text, "operator": "contains", "value": text},
            {"field": text, "operator": "starts_with", "value": text},
            {"field": text, "operator": "ends_with", "value": text},
            {"field": text, "operator": "gt", "value": ""},
            {"field": text, "operator": "lte", "value": text},
            {"field": "name", "operator": "eq", "value": text, "case_sensitive": True},
            {"field": "name", "operator": "ne", "value": text},
            {"field": "name", "operator": "in", "value": [text, "nothing"]},
            {"field": "name", "operator": "contains", "value": text[:2]},
            {"field": f"nested.{text}", "operator": "gte", "value": 0},
            {"field": f"nested.{text}", "operator": "eq", "value": i},
            {"field": "list", "operator": "contains", "value": text},
            {"OR": [{text: text}, {"NOT": {"field": f"nested.{text}", "operator": "lt", "value": 10}}]},
        ]
        if tokenize(text):
            filters.append({"field": text, "operator": "text", "value": text})
            filters.append({"field": "name", "operator": "text", "value": text})
    for text in DOTTED_VALUES:
        filters += [
            {"name": text},
            {"field": "name", "operator": "contains", "value": text, "case_sensitive": True},
            {"field": "name", "operator": "starts_with", "value": text},
            {"field": "list", "operator": "nin", "value": [text]},
            {"field": "name", "operator": "lt", "value": text},
        ]
    # Digit keys must not index arrays: lookup only descends into objects.
    for field in ("arr.0", "obj.0", "obj.+0", "lst.0", "0"):
        filters += [
            {"field": field, "operator": "eq", "value": "zero"},
            {"field": field, "operator": "eq", "value": "x"},
            {"field": field, "operator": "starts_with", "value": ""},
            {"field": field, "operator": "exists"},
            {"field": field, "operator": "gte", "value": "a"},
        ]
    return filters


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[LanceDBVectorStore, Space]:
    return make_store(tmp_path_factory.mktemp("hostile"), HOSTILE_DOCS)


@pytest.mark.parametrize("raw", hostile_filters(), ids=repr)
def test_hostile_names_and_values_cannot_change_the_result(
    hostile_store: tuple[LanceDBVectorStore, Space], raw: dict[str, Any]
) -> None:
    store, space = hostile_store
    assert_matches_reference(store, space, HOSTILE_DOCS, raw)


def test_hostile_filters_select_what_they_name(hostile_store: tuple[LanceDBVectorStore, Space]) -> None:
    """Not vacuous: an injection attempt selects exactly its own document."""
    store, space = hostile_store
    node = parse_filter({"field": "x' OR '1'='1", "operator": "eq", "value": "x' OR '1'='1"})
    assert node is not None
    assert [record.id for record in store.list(space, node, 100, None, False).records] == ["d0004"]


NUMBERS: list[Any] = [
    0,
    -0.0,
    1,
    -1,
    1.5,
    -1.5,
    0.1,
    2**53,
    2**53 + 1,
    2.0**53,
    2**63 - 1,
    2**63,
    2**64 - 1,
    -(2**63),
    -(2.0**63),
    9.223372036854776e18,
    1e-300,
    5e-324,
    1e300,
    -1e300,
    True,
    False,
    "5",
    None,
    [1, 2],
]

WANTS: list[int | float] = [
    0,
    -0.0,
    1,
    1.5,
    0.1,
    -1,
    2**53 - 1,
    2**53,
    2**53 + 1,
    2.0**53,
    9007199254740993.0,
    2**63 - 1,
    2**63,
    2**63 + 1,
    2.0**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    1e-300,
    5e-324,
    1e300,
    10**400,
    -(10**400),
]


@pytest.fixture(scope="module")
def number_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[LanceDBVectorStore, Space]:
    return make_store(tmp_path_factory.mktemp("numbers"), [{"n": value} for value in NUMBERS])


@pytest.mark.parametrize("want", WANTS, ids=repr)
def test_numeric_comparisons_are_exact(
    number_store: tuple[LanceDBVectorStore, Space], want: int | float
) -> None:
    store, space = number_store
    payloads = [{"n": value} for value in NUMBERS]
    for operator in ("eq", "ne", "gt", "gte", "lt", "lte"):
        assert_matches_reference(store, space, payloads, {"field": "n", "operator": operator, "value": want})


WORDY: list[dict[str, Any]] = [
    {"s": "नमस्ते दुनिया"},  # Python splits words at combining vowel signs
    {"s": "İstanbul İSTANBUL"},
    {"s": "x² + y² = z²"},
    {"s": "e\u0301cole école"},
    {"s": "snake_case CamelCase kebab-case"},
    {"s": "ΣΊΣΥΦΟΣ σίσυφος"},
    {"s": "Straße STRASSE"},
    {"s": ["list", "of", "words"]},
    {"s": 42},
]


@pytest.fixture(scope="module")
def wordy_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[LanceDBVectorStore, Space]:
    return make_store(tmp_path_factory.mktemp("wordy"), WORDY)


WORDY_VALUES = ["नमस्ते", "स्ते", "istanbul", "İstanbul", "x²", "z", "école", "e", "snake_case", "snake", "kebab",
                "σίσυφος", "ΣΊΣΥΦΟΣ", "straße", "strasse", "list", "42"]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "operator"), list(itertools.product(WORDY_VALUES, ["text", "contains", "eq"]))
)
def test_unicode_words_and_case_folding(
    wordy_store: tuple[LanceDBVectorStore, Space], value: str, operator: str
) -> None:
    store, space = wordy_store
    for case_sensitive in (False, True):
        raw = {"field": "s", "operator": operator, "value": value, "case_sensitive": case_sensitive}
        assert_matches_reference(store, space, WORDY, raw)


# -- lone surrogates (found by tests/property) -------------------------------------------------------
# JSON escapes carry lone surrogates into filters; no SQL may hold one. They used to reach the
# SQL text (a 503 from a valid filter), and ensure_ascii spelled the path of the two lone
# surrogates "\ud83d\ude00" like the path of "😀", so a filter on one matched the other.

SURROGATE_DOCS: list[dict[str, Any]] = [
    {"t": "a\\ud800b", "l": ["\ud800", "x"]},  # escape *text*, and a list element holding one
    {"t": "ab", "😀": 5},
    {"t": "\ue000z"},
    {"t": "\ud7ffz"},
    {"t": "AB\uffff"},
    {"\ud800": 1, "k": {"\udfff": "y"}},  # keys holding lone surrogates
    {"\\ud800": "x"},  # in one object with "\ud800", Lance refuses the payload (a duplicate key)
]


@pytest.fixture(scope="module")
def surrogate_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[LanceDBVectorStore, Space]:
    return make_store(tmp_path_factory.mktemp("surrogates"), SURROGATE_DOCS)


@pytest.mark.parametrize(
    "value", ["\ud800", "a\ud800", "ab\udfff", "\ud83d\ude00", "A\udc00B", "\\ud800"], ids=repr
)
@pytest.mark.parametrize("operator", ["contains", "starts_with", "ends_with", "gt", "gte", "lt", "lte", "eq"])
def test_string_values_holding_lone_surrogates(
    surrogate_store: tuple[LanceDBVectorStore, Space], operator: str, value: str
) -> None:
    store, space = surrogate_store
    for case_sensitive in (False, True):
        raw = {"field": "t", "operator": operator, "value": value, "case_sensitive": case_sensitive}
        assert_matches_reference(store, space, SURROGATE_DOCS, raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "l", "operator": "contains", "value": "\ud800"},
        {"field": "\ud83d\ude00", "operator": "eq", "value": 5},  # minimal: used to match {"😀": 5}
        {"field": "\ud83d\ude00", "operator": "exists"},
        {"field": "😀", "operator": "gte", "value": 5},
        {"field": "\ud800", "operator": "gte", "value": 1},  # used to be a 503
        {"field": "\ud800", "operator": "lt", "value": "z"},
        {"field": "\\ud800", "operator": "starts_with", "value": "x"},
        {"field": "\\ud800", "operator": "gte", "value": 1},
        {"field": "k.\udfff", "operator": "ends_with", "value": "Y"},
        {"field": "k.\udfff", "operator": "text", "value": "y"},
        {"field": "\udfff.\ud800", "operator": "contains", "value": "x"},
    ],
    ids=repr,
)
def test_fields_holding_lone_surrogates(
    surrogate_store: tuple[LanceDBVectorStore, Space], raw: dict[str, Any]
) -> None:
    store, space = surrogate_store
    assert_matches_reference(store, space, SURROGATE_DOCS, raw)


def test_paths_of_lone_surrogates_and_of_the_character_they_escape_differ() -> None:
    assert _term("p_", ("😀",), "") != _term("p_", ("\ud83d\ude00",), "")
    assert _term("p_", ("\ud800",), "") != _term("p_", ("\\ud800",), "")
    assert _term("p_", ("😀",), "") == 'p_["\\ud83d\\ude00"]'  # unchanged for valid text


# ---------------------------------------------------------------------------------------------
# filter_terms is the plain recursive definition, only faster (it runs for every record written)


def _reference_scalar_terms(position: str, path: tuple[str, ...], value: Any) -> Iterator[str]:
    from stratus.adapters.filter_tokens import number_key

    if isinstance(value, str):
        yield _term(position + "s", path, value)
        yield _term(position + "i", path, value.lower())
    elif isinstance(value, bool):
        yield _term(position + "b", path, "true" if value else "false")
    elif isinstance(value, int | float):
        yield _term(position + "n", path, number_key(value))


def _reference_walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[str]:
    from stratus.adapters.lancedb.filters import _json_type

    for key, value in node.items():
        path = (*prefix, str(key))
        if value is None:
            continue
        yield _term("p_", path, "")
        yield _term("t_", path, _json_type(value))
        if isinstance(value, Mapping):
            yield from _reference_walk(value, path)
        elif isinstance(value, list):
            for item in value:
                yield from _reference_scalar_terms("e", path, item)
        else:
            yield from _reference_scalar_terms("v", path, value)
            if isinstance(value, str):
                yield from (_term("w_", path, word) for word in tokenize(value))


def _reference_terms(payload: Mapping[str, Any]) -> list[str]:
    """The terms as first written: one generator walk, no caching (the definition)."""
    return sorted(set(_reference_walk(payload, ())))


_TEXTS = st.text(max_size=8) | st.sampled_from(["cat-1", "Cat-1", "a b", "x" * 70, "\ud800", "é É"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXTS
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXTS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(_TEXTS, _JSON, max_size=6))
def test_filter_terms_are_the_recursive_definition(payload: dict[str, Any]) -> None:
    assert filter_terms(payload) == _reference_terms(payload)
    assert filter_terms(payload) == _reference_terms(payload)  # and again, from the cache
