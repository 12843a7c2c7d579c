"""What a payload index writes beside each record (typed `pi_<hex>_<kind>` columns) and which
filter conditions it answers exactly (the scheme: docs/vector-stores.md, "LanceDB payload
indexes")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stratus.adapters.filter_tokens import text_digest, utf8_encodable
from stratus.adapters.lancedb.sql import (
    I64_MAX,
    I64_MIN,
    SQL_OP,
    double,
    float_vs,
    int_literal,
    integer_bound,
    sql_string,
    string_bound,
)
from stratus.adapters.text_tokens import TextIndexOptions, document_tokens, indexable, query_tokens
from stratus.filters import RANGE_OPERATORS, Condition, Scalar

STRING_KINDS = frozenset({"keyword", "uuid", "datetime"})
SCALAR_INDEX_TYPES = frozenset({*STRING_KINDS, "integer", "float", "bool"})
_MAX_EXACT_FLOAT_INT = 2**53
_CONSTANT = {True: "true", False: "false"}


def index_column_base(field_name: str) -> str:
    return "pi_" + text_digest(field_name)[:16]


def index_columns(field_name: str, index_type: str) -> dict[str, str]:
    """kind -> column name for one index (empty for types LanceDB does not index: geo)."""
    base = index_column_base(field_name)
    kinds: tuple[str, ...]
    if index_type in STRING_KINDS:
        kinds = ("s", "l", "o")
    elif index_type == "integer":
        kinds = ("i", "o")
    elif index_type == "float":
        kinds = ("f", "o")
    elif index_type == "bool":
        kinds = ("b", "o")
    elif index_type == "text":
        kinds = ("t", "x")
    else:
        kinds = ()
    return {kind: f"{base}_{kind}" for kind in kinds}


def index_values(index_type: str, found: Any, present: bool, text: TextIndexOptions | None) -> dict[str, Any]:
    """kind -> value of the index columns for one record; `found` is the field's value, `present`
    whether it is there and not null."""
    if index_type == "text":
        assert text is not None, "a text index has options"
        if not isinstance(found, str):
            return {"t": [], "x": None}  # an empty list, never NULL: "indexed, no tokens"
        tokens = [token for token in document_tokens(found, text) if utf8_encodable(token)]
        return {"t": tokens, "x": found if utf8_encodable(found) else None}
    kind, value = _conforming(index_type, found) if present else (None, None)
    values: dict[str, Any] = {"o": present and kind is None}
    if kind == "s":
        values.update(s=value, l=str(value).lower())
    elif kind is not None:
        values[kind] = value
    return values


def _conforming(index_type: str, found: Any) -> tuple[str | None, Any]:
    """(column kind, value) when `found` is a scalar the index's column holds exactly."""
    if index_type in STRING_KINDS:
        ok = isinstance(found, str) and utf8_encodable(found)
        return ("s", found) if ok else (None, None)
    if isinstance(found, bool):
        return ("b", found) if index_type == "bool" else (None, None)
    if index_type == "integer" and isinstance(found, int) and I64_MIN <= found <= I64_MAX:
        return "i", found
    if index_type == "float":
        if isinstance(found, float):
            return "f", found
        if isinstance(found, int) and abs(found) <= _MAX_EXACT_FLOAT_INT:
            return "f", float(found)  # a double holds it exactly: equal as Python compares
    return None, None


@dataclass(frozen=True)
class ScalarIndex:
    index_type: str
    columns: Mapping[str, str]


@dataclass(frozen=True)
class IndexedFields:
    """What the compiler may read instead of the generic path: scalar indexes of fields whose
    rows all conform (no `_o` row), and ready text indexes."""

    scalar: Mapping[tuple[str, ...], ScalarIndex]
    text: Mapping[tuple[str, ...], tuple[str, TextIndexOptions]]  # tokens column, options

    def condition(self, cond: Condition) -> str | None:
        """The condition read from index columns, or None for the generic path."""
        if cond.operator == "text":
            served = self.text.get(cond.field)
            if served is None:
                return None
            column, options = served
            return _text_condition(column, str(cond.value), options)
        index = self.scalar.get(cond.field)
        if index is None:
            return None
        op, want = cond.operator, cond.value
        if op in ("eq", "ne", "in", "nin"):
            wants = want if isinstance(want, tuple) else (want,)
            matched = _index_equals(index, [w for w in wants if w is not None], cond.case_sensitive)
            return matched if op in ("eq", "in") else f"(NOT {matched})"
        if op in RANGE_OPERATORS:
            assert want is not None and not isinstance(want, tuple | bool)
            return _index_range(index, op, want)
        return None  # exists, is_null, contains, starts_with, ends_with: the generic path


def _text_condition(column: str, query: str, options: TextIndexOptions) -> str:
    tokens = query_tokens(query, options)
    if not tokens or not all(indexable(token, options) and utf8_encodable(token) for token in tokens):
        return "false"  # the index cannot hold such a token: nothing matches
    listed = ", ".join(sql_string(token) for token in tokens)
    return f"({column} IS NOT NULL AND array_has_all({column}, make_array({listed})))"


def _present_in(column: str, literals: list[str]) -> str:
    if not literals:
        return "false"
    return f"({column} IS NOT NULL AND {column} IN ({', '.join(dict.fromkeys(literals))}))"


def _index_equals(index: ScalarIndex, wants: list[Scalar], case_sensitive: bool) -> str:
    kind = index.index_type
    if kind in STRING_KINDS:
        # A column holds only strings without lone surrogates (`_conforming`).
        strings = [w for w in wants if isinstance(w, str) and utf8_encodable(w)]
        column = index.columns["s" if case_sensitive else "l"]
        return _present_in(column, [sql_string(w if case_sensitive else w.lower()) for w in strings])
    if kind == "bool":
        return _present_in(index.columns["b"], [_CONSTANT[w] for w in wants if isinstance(w, bool)])
    numbers = [w for w in wants if isinstance(w, int | float) and not isinstance(w, bool)]
    if kind == "integer":
        integers = [int(w) for w in numbers if isinstance(w, int) or w.is_integer()]
        in_range = [int_literal(w) for w in integers if I64_MIN <= w <= I64_MAX]
        return _present_in(index.columns["i"], in_range)
    doubles = [float(w) for w in numbers if isinstance(w, float) or _exact_double(w)]
    return _present_in(index.columns["f"], [double(w) for w in doubles])


def _exact_double(value: int | float) -> bool:
    try:
        return int(float(value)) == value
    except OverflowError:
        return False


def _index_range(index: ScalarIndex, op: str, want: int | float | str) -> str:
    kind = index.index_type
    if isinstance(want, str):
        if kind not in STRING_KINDS:
            return "false"  # a number or bool field is never compared with a string
        column = index.columns["s"]
        sql_op, bound = string_bound(op, want)
        return f"({column} IS NOT NULL AND {column} {sql_op} {sql_string(bound)})"
    if kind == "integer":
        return _integer_column_range(index.columns["i"], op, want)
    if kind == "float":
        column = index.columns["f"]
        return f"({column} IS NOT NULL AND {float_vs(column, op, want)})"
    return "false"  # strings and booleans are never compared with a number


def _integer_column_range(column: str, op: str, want: int | float) -> str:
    """An int64 column against a number, exactly (bounds beyond int64 fold to a constant)."""
    bound = integer_bound(op, want)
    present = f"{column} IS NOT NULL"
    if bound > I64_MAX:
        return present if op in ("lt", "lte") else "false"
    if bound < I64_MIN:
        return present if op in ("gt", "gte") else "false"
    return f"({present} AND {column} {SQL_OP[op]} {int_literal(bound)})"
