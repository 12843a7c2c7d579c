"""Compile a `stratus.filters` tree to a LanceDB `where` string (DataFusion SQL), with exactly the
semantics of `stratus.filters.evaluate`, and write the filter terms it reads (the columns, why
terms, safety and the known departures: docs/vector-stores.md, "LanceDB filters")."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from stratus.adapters.filter_tokens import number_key, path_code_points, text_digest, utf8_encodable
from stratus.adapters.lancedb.sql import (
    I64_MAX,
    I64_MIN,
    SQL_OP,
    U64_MAX,
    float_vs,
    integer_bound,
    sql_string,
    stored_spelling,
    string_bound,
)
from stratus.filters import RANGE_OPERATORS, And, Condition, FilterNode, Not, Or, Scalar, tokenize

PAYLOAD_COLUMN = "payload"
TERMS_COLUMN = "filter_terms"

# Longer texts are represented in terms by a digest, so a long text field costs fixed-size terms.
# A digest ("\x00sha256:" + 64 hex) is longer than the threshold: it never equals a stored text.
_MAX_TERM_TEXT = 64


class IndexedConditions(Protocol):
    """Conditions served by payload index columns (`payload_indexes.IndexedFields`)."""

    def condition(self, cond: Condition) -> str | None:
        """The condition read from index columns, or None for the generic path."""
        ...


# ---------------------------------------------------------------------------------------------
# Terms (written with each record)


def filter_terms(payload: Mapping[str, Any]) -> list[str]:
    """The terms of one payload, sorted and without duplicates. Written for every record of every
    upsert, so it is kept to plain loops, with the terms of short strings cached (payloads repeat
    their categories, tags and names): tests/unit/test_lancedb_filters.py holds it to the plain
    recursive definition."""
    terms: set[str] = set()
    _collect(payload, (), terms)
    return sorted(terms)


def _collect(node: Mapping[str, Any], prefix: tuple[str, ...], terms: set[str]) -> None:
    add = terms.add
    for key, value in node.items():
        if value is None:  # null is "absent" to every operator
            continue
        name = key if type(key) is str else str(key)
        path_key = _path_key((*prefix, name)) if prefix else _top_path_key(name)
        kind = type(value)
        if isinstance(value, str):
            presence, type_term = _key_terms(path_key, "str")
            add(presence)
            add(type_term)
            short = len(value) <= _MAX_TERM_TEXT  # long texts are unique: not worth caching
            terms.update(_string_terms(path_key, value) if short else _text_terms(path_key, value))
        elif kind is int or kind is float:  # exactly: a bool is an int too (below)
            presence, type_term = _key_terms(path_key, _json_type(value))
            add(presence)
            add(type_term)
            add(_keyed_term("vn", path_key, number_key(value)))
        elif isinstance(value, Mapping):
            add("p_" + path_key)
            add("t_" + path_key + "obj")
            _collect(value, (*prefix, name), terms)
        elif isinstance(value, list):
            add("p_" + path_key)
            add("t_" + path_key + "list")
            for item in value:
                _scalar_into(terms, "e", path_key, item)
        else:
            add("p_" + path_key)
            add("t_" + path_key + _json_type(value))
            _scalar_into(terms, "v", path_key, value)


@functools.lru_cache(maxsize=4096)
def _top_path_key(key: str) -> str:
    """`_path_key((key,))`, cached by the key itself (a payload's top-level keys repeat)."""
    return _path_key((key,))


@functools.lru_cache(maxsize=4096)
def _key_terms(path_key: str, json_type: str) -> tuple[str, str]:
    """A field's presence term and its type term."""
    return "p_" + path_key, "t_" + path_key + json_type


@functools.lru_cache(maxsize=16384)
def _string_terms(path_key: str, value: str) -> tuple[str, ...]:
    """The terms of a short string field (its value, folded value and words), cached."""
    return tuple(_text_terms(path_key, value))


def _text_terms(path_key: str, value: str) -> list[str]:
    return [
        _keyed_term("vs", path_key, value),
        _keyed_term("vi", path_key, value.lower()),
        *(_keyed_term("w_", path_key, word) for word in tokenize(value)),
    ]


def _scalar_into(terms: set[str], position: str, path_key: str, value: Any) -> None:
    """`position` is "v" for the field's own value and "e" for an element of a list field."""
    if isinstance(value, str):
        terms.add(_keyed_term(position + "s", path_key, value))
        terms.add(_keyed_term(position + "i", path_key, value.lower()))
    elif isinstance(value, bool):
        terms.add(position + "b" + path_key + ("true" if value else "false"))
    elif isinstance(value, int | float):
        terms.add(_keyed_term(position + "n", path_key, number_key(value)))


def _json_type(value: Any) -> str:
    """The type as Lance stores it: integers by the range Lance keeps exactly."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if I64_MIN <= value <= I64_MAX:
            return "i64"
        return "u64" if 0 <= value <= U64_MAX else "bigint"  # Lance keeps a "bigint" as a float
    if isinstance(value, float):
        return "f64"
    if isinstance(value, list):
        return "list"
    return "obj" if isinstance(value, Mapping) else "other"


def _keyed_term(kind: str, path_key: str, text: str) -> str:
    if len(text) > _MAX_TERM_TEXT or not utf8_encodable(text):
        text = "\x00sha256:" + text_digest(text)
    return kind + path_key + text


def _term(kind: str, path: tuple[str, ...], text: str) -> str:
    """kind (two characters) + the path as a JSON array + the text: the JSON array ends where its
    brackets close, so different (kind, path, text) never give the same term."""
    return _keyed_term(kind, _path_key(path), text)


@functools.lru_cache(maxsize=4096)
def _path_key(path: tuple[str, ...]) -> str:
    # Payloads repeat their paths, so this is cached. ensure_ascii keeps the key storable; a path
    # holding a lone surrogate is spelled by a digest of its code points instead ("!" + 64 hex,
    # which no JSON array starts with, and whose end is known).
    if all(utf8_encodable(segment) for segment in path):
        return json.dumps(list(path), ensure_ascii=True, separators=(",", ":"))
    return "!" + hashlib.sha256(path_code_points(path)).hexdigest()


def _value_terms(positions: tuple[str, ...], path: tuple[str, ...], want: Scalar, folded: bool) -> list[str]:
    if isinstance(want, str):
        kind, text = ("i", want.lower()) if folded else ("s", want)
    elif isinstance(want, bool):
        kind, text = "b", "true" if want else "false"
    else:
        kind, text = "n", number_key(want)
    return [_term(position + kind, path, text) for position in positions]


# ---------------------------------------------------------------------------------------------
# SQL


def compile_filter(node: FilterNode, indexed: IndexedConditions | None = None) -> str:
    """A boolean SQL expression that is true exactly for the rows `evaluate(node, payload)` accepts
    (`text` on a field with a ready text index: the index's tokenizer, `text_tokens`). Conditions
    on fields in `indexed` read the typed index columns where that is exactly equivalent. Every
    condition is two-valued (never NULL), so NOT/AND/OR follow Python's logic."""
    if isinstance(node, And):
        return "(" + " AND ".join(compile_filter(child, indexed) for child in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(compile_filter(child, indexed) for child in node.children) + ")"
    if isinstance(node, Not):
        return f"(NOT {compile_filter(node.child, indexed)})"
    if indexed is not None:
        served = indexed.condition(node)
        if served is not None:
            return served
    return _condition(node)


def _condition(cond: Condition) -> str:
    op, want, path = cond.operator, cond.value, cond.field
    folded = not cond.case_sensitive
    if op in ("exists", "is_null"):
        present = _has([_term("p_", path, "")])
        return present if (op == "exists") is bool(want) else f"(NOT {present})"
    if op in ("eq", "ne", "in", "nin"):
        wants = want if isinstance(want, tuple) else (want,)
        matched = _has([t for w in wants if w is not None for t in _value_terms(("v", "e"), path, w, folded)])
        return matched if op in ("eq", "in") else f"(NOT {matched})"
    assert want is not None and not isinstance(want, tuple), f"{op} takes one scalar"
    if op == "text":
        words = dict.fromkeys(tokenize(str(want)))
        return "(" + " AND ".join(_has([_term("w_", path, word)]) for word in words) + ")"
    if op == "contains":
        element = _has(_value_terms(("e",), path, want, folded))
        if not isinstance(want, str):
            return element
        if not utf8_encodable(want):
            return element  # no string without a lone surrogate contains one
        substring = f"strpos({_Field(path).string(folded)}, {sql_string(_fold(want, folded))}) > 0"
        return f"({element} OR {_total(substring)})"
    if op in ("starts_with", "ends_with"):
        assert isinstance(want, str)
        if not utf8_encodable(want):
            return "false"
        return _total(f"{op}({_Field(path).string(folded)}, {sql_string(_fold(want, folded))})")
    if op in RANGE_OPERATORS:
        return _total(_range(_Field(path), op, want))
    raise AssertionError(f"unhandled operator {op}")


def _has(terms: list[str]) -> str:
    unique = list(dict.fromkeys(terms))
    if len(unique) == 1:
        return f"array_has({TERMS_COLUMN}, {sql_string(unique[0])})"
    return f"array_has_any({TERMS_COLUMN}, make_array({', '.join(sql_string(term) for term in unique)}))"


def _total(expr: str) -> str:
    """NULL (missing field, value of another type) becomes false."""
    return f"coalesce({expr}, false)"


def _fold(text: str, folded: bool) -> str:
    return text.lower() if folded else text


def _guarded(key: str, condition: str) -> str:
    """`key` where `condition` holds, else NULL. Lance's SQL has no CASE; a NULL key makes the JSON
    UDFs answer NULL for that row without reading the value, which keeps a converter from failing
    on a value of another type (json_get_string on an array, json_get_float on a string)."""
    return f"({key} || substr(CAST(nullif({condition}, false) AS VARCHAR), 1, 0))"


class _Field:
    """SQL reading the value at one dot path of the payload, per JSON type.

    Every read is guarded by the row's type term for the path, which exists only when
    `stratus.filters.lookup` reaches a value of that type through objects alone. So `json_get`,
    which would index an *array* with a key like "0", never answers for a row where the lookup
    would not, and a converter never sees a value of another type."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        container = PAYLOAD_COLUMN
        for segment in path[:-1]:
            container = f"json_get({container}, {sql_string(stored_spelling(segment))})"
        self.container, self.key = container, sql_string(stored_spelling(path[-1]))

    def _key_if(self, json_type: str) -> str:
        return _guarded(self.key, _has([_term("t_", self.path, json_type)]))

    def string(self, folded: bool) -> str:
        text = f"json_get_string({self.container}, {self._key_if('str')})"
        return f"lower({text})" if folded else text

    def numbers(self) -> list[tuple[str, bool]]:
        """(SQL value, is an exact integer) for each way a number may be stored; all but the one
        matching the stored type are NULL."""
        above_i64 = f"json_extract(json_get({self.container}, {self._key_if('u64')}), '$')"
        return [
            (f"json_get_int({self.container}, {self._key_if('i64')})", True),
            # json_get_int stops at 2**63 - 1; the JSON text of a larger integer is exact.
            (f"TRY_CAST({above_i64} AS DECIMAL(38, 0))", True),
            (f"json_get_float({self.container}, {self._key_if('f64')})", False),
            # Integers beyond 64 bits are kept by Lance as the nearest double (not exact).
            (f"json_get_float({self.container}, {self._key_if('bigint')})", False),
        ]


def _range(field: _Field, op: str, want: Scalar) -> str:
    if isinstance(want, str):
        # UTF-8 byte order is code point order: the order Python compares strings in.
        sql_op, bound = string_bound(op, want)
        return f"{field.string(False)} {sql_op} {sql_string(bound)}"
    assert not isinstance(want, bool), "the parser rejects booleans in range conditions"
    parts = [
        _integer_vs(value, op, want) if is_integer else float_vs(value, op, want)
        for value, is_integer in field.numbers()
    ]
    return "(" + " OR ".join(parts) + ")"


def _integer_vs(expr: str, op: str, want: int | float) -> str:
    """Integer field against a number, exactly: a float bound becomes the integer bound that gives
    the same answer for every integer."""
    # Every integer read lies in [-2**63, 2**64 - 1]; clamping keeps each answer.
    bound = max(I64_MIN - 1, min(U64_MAX + 1, integer_bound(op, want)))
    exact = f"CAST({expr} AS DECIMAL(38, 0))"
    return f"{exact} {SQL_OP[op]} CAST('{bound}' AS DECIMAL(38, 0))"
