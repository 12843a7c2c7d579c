"""Compile a `stratus.filters` tree to a LanceDB `where` string (DataFusion SQL), with exactly the
semantics of `stratus.filters.evaluate`.

Each LanceDB table carries, beside the payload, a column this module defines:

- `payload` (`pa.json_`, stored by Lance as JSONB): read with Lance's JSON UDFs (`json_get`,
  `json_get_string`, `json_get_int`, `json_get_float`) when a condition needs a field's value
  (`gt gte lt lte starts_with ends_with`, and `contains` on a string).
- `filter_terms` (`list<utf8>`), written by `filter_terms()` from the Python payload: for every
  value reachable through objects, its presence and its JSON type; for every scalar (and every
  scalar element of a list) the forms `eq`/`contains` compare (exact, lowercased, canonical
  number); for every string, its `text` words. `eq in ne nin exists is_null text` and `contains` on
  a list are answered with `array_has`/`array_has_any` alone.

Why terms: Lance's UDFs cannot iterate a JSON array element by element (`json_array_contains`
matches `"5"` and `5` alike), their converters fail on values of another type and there is no
CASE to guard them, and `json_extract*` is slow. A term is computed by the same Python the
reference evaluator runs (`str.lower`, `tokenize`, int/float equality), so it cannot disagree with
it, and `array_has` on a list column is cheap.

Safety: field names and values come from the client. They reach SQL only as string literals
(single quotes doubled; the dialect has no backslash escapes). JSON keys are looked up one segment
at a time with `json_get(doc, '<key>')`, never through a JSONPath string, and a term spells its
path as a JSON array, so no key or value can change the structure of the query or of a term.
Every function used is total on what reaches it (type-guarded, `TRY_CAST`), so no document can
make a query fail either.

Lone surrogates (invalid Unicode that JSON escapes can carry) never reach SQL: terms digest them,
a condition whose string value holds one is decided without reading strings (no string without a
lone surrogate contains, starts or ends with one; a range bound is moved to the nearest string SQL
can hold that orders the same), and a key holding one is spelled as Lance stores it.

Three known departures from `evaluate`, all outside ordinary data: case-insensitive `contains`,
`starts_with` and `ends_with` fold with the engine's `lower()` (Unicode 16; Python 3.11 knows
Unicode 14, so 55 letters added since fold differently); integers beyond 64 bits are stored by
Lance as the nearest double, so `gt gte lt lte` compare that double (`eq` is exact: it uses terms);
and a *document* string holding a lone surrogate is read by `contains starts_with ends_with gt gte
lt lte` as Lance stores it, with each lone surrogate as its six-character escape text (`\ud800`)
and an escaped high + low pair as one character (`eq in ne nin text exists` stay exact: terms).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.adapters.text_tokens import TextIndexOptions, document_tokens, indexable, query_tokens
from stratus.filters import RANGE_OPERATORS, And, Condition, FilterNode, Not, Or, Scalar, tokenize

PAYLOAD_COLUMN = "payload"
TERMS_COLUMN = "filter_terms"

# Longer texts are represented in terms by a digest, so a long text field costs fixed-size terms.
# A digest ("\x00sha256:" + 64 hex) is longer than the threshold: it never equals a stored text.
_MAX_TERM_TEXT = 64

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_U64_MAX = 2**64 - 1

_SQL_OP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


# ---------------------------------------------------------------------------------------------
# Terms (written with each record)


def filter_terms(payload: Mapping[str, Any]) -> list[str]:
    """The terms of one payload (see the module docstring), sorted and without duplicates."""
    return sorted(set(_walk(payload, ())))


def _walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[str]:
    for key, value in node.items():
        path = (*prefix, str(key))
        if value is None:  # null is "absent" to every operator
            continue
        yield _term("p_", path, "")
        yield _term("t_", path, _json_type(value))
        if isinstance(value, Mapping):
            yield from _walk(value, path)
        elif isinstance(value, list):
            for item in value:
                yield from _scalar_terms("e", path, item)
        else:
            yield from _scalar_terms("v", path, value)
            if isinstance(value, str):
                for word in tokenize(value):
                    yield _term("w_", path, word)


def _json_type(value: Any) -> str:
    """The type as Lance stores it: integers by the range Lance keeps exactly."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if _I64_MIN <= value <= _I64_MAX:
            return "i64"
        return "u64" if 0 <= value <= _U64_MAX else "bigint"  # Lance keeps a "bigint" as a float
    if isinstance(value, float):
        return "f64"
    if isinstance(value, list):
        return "list"
    return "obj" if isinstance(value, Mapping) else "other"


def _scalar_terms(position: str, path: tuple[str, ...], value: Any) -> Iterator[str]:
    """`position` is "v" for the field's own value and "e" for an element of a list field."""
    if isinstance(value, str):
        yield _term(position + "s", path, value)
        yield _term(position + "i", path, value.lower())
    elif isinstance(value, bool):
        yield _term(position + "b", path, "true" if value else "false")
    elif isinstance(value, int | float):
        yield _term(position + "n", path, _number_key(value))


def _term(kind: str, path: tuple[str, ...], text: str) -> str:
    """kind (two characters) + the path as a JSON array + the text: the JSON array ends where its
    brackets close, so different (kind, path, text) never give the same term."""
    if len(text) > _MAX_TERM_TEXT or not _utf8_encodable(text):
        # surrogatepass: a lone surrogate cannot be stored in Arrow, but can be digested.
        text = "\x00sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return kind + _path_key(path) + text


@functools.lru_cache(maxsize=4096)
def _path_key(path: tuple[str, ...]) -> str:
    # Payloads repeat their paths, so this is cached. ensure_ascii keeps the key storable, but it
    # spells the two lone surrogates "\ud83d\ude00" exactly as it spells "😀": a path holding a
    # lone surrogate is spelled by a digest of its code points instead ("!" + 64 hex, which no
    # JSON array starts with, and whose end is known).
    if all(_utf8_encodable(segment) for segment in path):
        return json.dumps(list(path), ensure_ascii=True, separators=(",", ":"))
    code_points = json.dumps(list(path), ensure_ascii=False).encode("utf-8", "surrogatepass")
    return "!" + hashlib.sha256(code_points).hexdigest()


def _utf8_encodable(text: str) -> bool:
    """False when the text holds a lone surrogate (JSON escapes can carry them into a payload or
    a filter); such a text can reach neither Arrow nor the SQL parser."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")
_ABOVE_SURROGATES = "\ue000"  # the first code point after them


def _stored_spelling(key: str) -> str:
    """A JSON key as Lance stores it: its JSON text holds every lone surrogate as an escape (the
    store writes such a payload with ensure_ascii); Lance joins an escaped high + low pair into
    one character and keeps any other escape as its six characters of text."""
    if _utf8_encodable(key):
        return key
    joined = json.loads(json.dumps(key))  # Python joins the pairs the same way
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", joined)


def _string_bound(op: str, want: str) -> tuple[str, str]:
    """(SQL operator, bound) such that `have <op> want` is `have <SQL operator> bound` for every
    string `have` without a lone surrogate, with a bound SQL can hold. For a `want` holding one,
    at `i` first: `have` differs from `want` at or before `i` (it holds no surrogate), so
    `have > want` exactly when `have >= want[:i] + U+E000`, and `have < want` otherwise."""
    match = _SURROGATE.search(want)
    if match is None:
        return _SQL_OP[op], want
    bound = want[: match.start()] + _ABOVE_SURROGATES
    return (">=" if op in ("gt", "gte") else "<"), bound


def _number_key(value: int | float) -> str:
    """Equal numbers (Python compares int and float exactly) get equal keys, others differ."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _value_terms(positions: tuple[str, ...], path: tuple[str, ...], want: Scalar, folded: bool) -> list[str]:
    if isinstance(want, str):
        kind, text = ("i", want.lower()) if folded else ("s", want)
    elif isinstance(want, bool):
        kind, text = "b", "true" if want else "false"
    else:
        kind, text = "n", _number_key(want)
    return [_term(position + kind, path, text) for position in positions]


# ---------------------------------------------------------------------------------------------
# SQL


def sql_string(value: str) -> str:
    """A SQL string literal. The dialect has no backslash escapes: doubling quotes is all."""
    return "'" + value.replace("'", "''") + "'"


def compile_filter(node: FilterNode, indexed: IndexedFields | None = None) -> str:
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
        served = _indexed_condition(node, indexed)
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
        if not _utf8_encodable(want):
            return element  # no string without a lone surrogate contains one
        substring = f"strpos({_Field(path).string(folded)}, {sql_string(_fold(want, folded))}) > 0"
        return f"({element} OR {_total(substring)})"
    if op in ("starts_with", "ends_with"):
        assert isinstance(want, str)
        if not _utf8_encodable(want):
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
            container = f"json_get({container}, {sql_string(_stored_spelling(segment))})"
        self.container, self.key = container, sql_string(_stored_spelling(path[-1]))

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


# ---------------------------------------------------------------------------------------------
# gt gte lt lte


def _range(field: _Field, op: str, want: Scalar) -> str:
    if isinstance(want, str):
        # UTF-8 byte order is code point order: the order Python compares strings in.
        sql_op, bound = _string_bound(op, want)
        return f"{field.string(False)} {sql_op} {sql_string(bound)}"
    assert not isinstance(want, bool), "the parser rejects booleans in range conditions"
    parts = [
        _integer_vs(value, op, want) if is_integer else _float_vs(value, op, want)
        for value, is_integer in field.numbers()
    ]
    return "(" + " OR ".join(parts) + ")"


def _integer_vs(expr: str, op: str, want: int | float) -> str:
    """Integer field against a number, exactly: a float bound becomes the integer bound that gives
    the same answer for every integer."""
    if isinstance(want, float):
        bound = math.floor(want) if op in ("gt", "lte") else math.ceil(want)
    else:
        bound = want
    # Every integer read lies in [-2**63, 2**64 - 1]; clamping keeps each answer.
    bound = max(_I64_MIN - 1, min(_U64_MAX + 1, bound))
    exact = f"CAST({expr} AS DECIMAL(38, 0))"
    return f"{exact} {_SQL_OP[op]} CAST('{bound}' AS DECIMAL(38, 0))"


def _float_vs(expr: str, op: str, want: int | float) -> str:
    """Float field against a number, exactly. An integer that no double represents lies strictly
    between two adjacent doubles, so the comparison is decided against the nearest one."""
    if isinstance(want, float):
        return f"{expr} {_SQL_OP[op]} {_double(want)}"
    try:
        nearest = float(want)
    except OverflowError:  # beyond every finite double
        every_float_below = want > 0
        answer = every_float_below is (op in ("lt", "lte"))
        return f"({expr} IS NOT NULL AND {'true' if answer else 'false'})"
    if int(nearest) == want:
        return f"{expr} {_SQL_OP[op]} {_double(nearest)}"
    if int(nearest) > want:  # no double in (want, nearest)
        return f"{expr} {'>=' if op in ('gt', 'gte') else '<'} {_double(nearest)}"
    return f"{expr} {'>' if op in ('gt', 'gte') else '<='} {_double(nearest)}"


def _double(value: float) -> str:
    # repr is the shortest text that reads back as the same double.
    return f"CAST('{value!r}' AS DOUBLE)"


# ---------------------------------------------------------------------------------------------
# Payload index columns
#
# A payload index of type keyword, uuid, datetime, integer, float or bool materializes the field
# into typed columns named from a digest of the field (`pi_<hex>_<kind>`), written on upsert for
# spaces whose `payload_indexes` hold the field and backfilled by `build_payload_index`; each
# carries a real scalar index (BTree, or Bitmap for low cardinality). A column holds the value
# only when the field is a *conforming* scalar (see `index_values`); anything else there (a list,
# a value of another type) sets the `_o` ("others") flag column. The store counts the rows with
# `_o` true or NULL (NULL: written without knowing the index, or not backfilled yet) before a
# query: when there are none, conditions compile to the typed columns alone (or to a constant for
# a value of another type, as `evaluate` answers); otherwise to the generic path above. Either way
# the answer is `evaluate`'s.
#
# A `text` index materializes `_t` (list<utf8>: the tokens of `text_tokens.document_tokens`, with
# a LabelList index, so `array_has_all` is index-served inside a prefiltered vector search) and
# `_x` (the raw string, with a LanceDB full-text index built with the mapped tokenizer options,
# for ranked full-text search; filters do not read it because Lance's tokenizers differ from the
# reference in small ways, e.g. `_` and digits).

STRING_KINDS = frozenset({"keyword", "uuid", "datetime"})
SCALAR_INDEX_TYPES = frozenset({*STRING_KINDS, "integer", "float", "bool"})
_MAX_EXACT_FLOAT_INT = 2**53


def index_column_base(field_name: str) -> str:
    return "pi_" + hashlib.sha256(field_name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


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
        tokens = [token for token in document_tokens(found, text) if _utf8_encodable(token)]
        return {"t": tokens, "x": found if _utf8_encodable(found) else None}
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
        ok = isinstance(found, str) and _utf8_encodable(found)
        return ("s", found) if ok else (None, None)
    if isinstance(found, bool):
        return ("b", found) if index_type == "bool" else (None, None)
    if index_type == "integer" and isinstance(found, int) and _I64_MIN <= found <= _I64_MAX:
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


_CONSTANT = {True: "true", False: "false"}


def _indexed_condition(cond: Condition, indexed: IndexedFields) -> str | None:
    """The condition read from index columns, or None for the generic path."""
    if cond.operator == "text":
        served = indexed.text.get(cond.field)
        if served is None:
            return None
        column, options = served
        return _text_condition(column, str(cond.value), options)
    index = indexed.scalar.get(cond.field)
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
    if not tokens or not all(indexable(token, options) and _utf8_encodable(token) for token in tokens):
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
        strings = [w for w in wants if isinstance(w, str) and _utf8_encodable(w)]
        column = index.columns["s" if case_sensitive else "l"]
        return _present_in(column, [sql_string(w if case_sensitive else w.lower()) for w in strings])
    if kind == "bool":
        return _present_in(index.columns["b"], [_CONSTANT[w] for w in wants if isinstance(w, bool)])
    numbers = [w for w in wants if isinstance(w, int | float) and not isinstance(w, bool)]
    if kind == "integer":
        integers = [int(w) for w in numbers if isinstance(w, int) or w.is_integer()]
        in_range = [_int_literal(w) for w in integers if _I64_MIN <= w <= _I64_MAX]
        return _present_in(index.columns["i"], in_range)
    doubles = [float(w) for w in numbers if isinstance(w, float) or _exact_double(w)]
    return _present_in(index.columns["f"], [_double(w) for w in doubles])


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
        sql_op, bound = _string_bound(op, want)
        return f"({column} IS NOT NULL AND {column} {sql_op} {sql_string(bound)})"
    if kind == "integer":
        return _integer_column_range(index.columns["i"], op, want)
    if kind == "float":
        column = index.columns["f"]
        return f"({column} IS NOT NULL AND {_float_vs(column, op, want)})"
    return "false"  # strings and booleans are never compared with a number


def _integer_column_range(column: str, op: str, want: int | float) -> str:
    """An int64 column against a number, exactly (bounds beyond int64 fold to a constant)."""
    if isinstance(want, float):
        bound = math.floor(want) if op in ("gt", "lte") else math.ceil(want)
    else:
        bound = want
    present = f"{column} IS NOT NULL"
    if bound > _I64_MAX:
        return present if op in ("lt", "lte") else "false"
    if bound < _I64_MIN:
        return present if op in ("gt", "gte") else "false"
    return f"({present} AND {column} {_SQL_OP[op]} {_int_literal(bound)})"


def _int_literal(value: int) -> str:
    # -2**63 written plainly is the negation of 2**63, which overflows the parser's int64.
    return f"CAST('{value}' AS BIGINT)" if value == _I64_MIN else str(value)
