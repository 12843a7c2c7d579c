"""Compile a `stratus.filters` tree to a Pinecone metadata filter over the shadow keys of
`metadata`, with exactly the semantics of `stratus.filters.evaluate` (why each question is exact,
and what is refused: docs/vector-stores.md, "Pinecone filters")."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.adapters.filter_tokens import utf8_encodable
from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.pinecone.metadata import (
    TYPE_LIST,
    TYPE_NUMBER,
    TYPE_STRING,
    TextIndexes,
    equality_token,
    shadow_key,
    split_number,
    text_token,
)
from stratus.adapters.text_tokens import TextIndexOptions, indexable, query_tokens
from stratus.errors import BadRequestError
from stratus.filters import OPERATORS, RANGE_OPERATORS, And, Condition, FilterNode, Not, Or, Scalar

# The operators this store answers exactly (the rest answer 400); `contains` with a string value
# additionally needs the field to hold no string in the space.
SUPPORTED_OPERATORS = OPERATORS - {"starts_with", "ends_with", "text"}
CAPABILITY_NOTES: dict[str, str] = {
    "contains": "exact for an element of a list field; with a string value it answers 400 when the "
    "field holds a string in any document of the space (a substring test Pinecone cannot do); "
    "eq/in also match any element of a list",
    "gt gte lt lte": "numbers only (exact, int and float alike); a string value answers 400",
    "starts_with ends_with": "400: Pinecone metadata filters have no prefix or suffix match",
    "text": "needs a `text` payload index on the field (tokens as metadata; exact for its tokenizer); "
    "400 without one",
}


@dataclass(frozen=True)
class CompiledFilter:
    """`filter` is None when every record matches; `matches_nothing` when none can. Before using
    `filter`, the store must check that no record holds a string at any `string_free_paths`."""

    filter: dict[str, Any] | None
    matches_nothing: bool
    string_free_paths: tuple[tuple[str, ...], ...]


def compile_filter(node: FilterNode, text_indexes: TextIndexes | None = None) -> CompiledFilter:
    """The Pinecone filter true exactly for the records `evaluate(node, payload)` accepts (`text`
    on an indexed field: `text_tokens.evaluate_indexed`), or a `BadRequestError` for a condition
    it cannot answer exactly."""
    paths: dict[tuple[str, ...], None] = {}
    expr = _compile(node, negated=False, string_free=paths, text=text_indexes or {})
    if expr is True:
        return CompiledFilter(None, False, tuple(paths))
    if expr is False:
        return CompiledFilter(None, True, tuple(paths))
    return CompiledFilter(_emit(expr), False, tuple(paths))


def strings_at(path: tuple[str, ...]) -> dict[str, Any]:
    """The filter of records holding a string at `path` (the `contains` check)."""
    return {shadow_key("t", path): {"$eq": TYPE_STRING}}


def contains_on_strings_error(path: tuple[str, ...]) -> BadRequestError:
    dotted = ".".join(path)
    return BadRequestError(
        f"filters: operator 'contains' cannot be evaluated exactly by the '{STORE_NAME}' vector store "
        f"on field '{dotted}': it holds strings in this namespace, and a substring test is not "
        "available there; to match an element of a list field use 'eq' or 'in'",
        {"field": dotted, "operator": "contains", "vector_store": STORE_NAME},
    )


def unsupported_error(cond: Condition, why: str = "") -> BadRequestError:
    return BadRequestError(
        f"filters: operator '{cond.operator}' cannot be evaluated exactly by the '{STORE_NAME}' "
        f"vector store{why}",
        {"field": cond.dotted, "operator": cond.operator, "vector_store": STORE_NAME},
    )


# A small boolean algebra over Pinecone atoms, so negations can be pushed down before emitting.


@dataclass(frozen=True)
class _Atom:
    key: str
    op: str  # $in $nin $exists $eq $ne $gt $gte $lt $lte
    value: Any


@dataclass(frozen=True)
class _All:
    parts: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Any:
    parts: tuple[_Expr, ...]


_Expr = _Atom | _All | _Any | bool
_Paths = dict[tuple[str, ...], None]  # the string-free paths `contains` needs checked

_NEGATED_OP = {"$eq": "$ne", "$gt": "$lte", "$gte": "$lt", "$lt": "$gte", "$lte": "$gt", "$in": "$nin"}
_RANGE_OP = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


def _all(*parts: _Expr) -> _Expr:
    kept: list[_Expr] = []
    for part in parts:
        if part is False:
            return False
        if part is True:
            continue
        kept.extend(part.parts if isinstance(part, _All) else (part,))
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else _All(tuple(kept))


def _any(*parts: _Expr) -> _Expr:
    kept: list[_Expr] = []
    for part in parts:
        if part is True:
            return True
        if part is False:
            continue
        kept.extend(part.parts if isinstance(part, _Any) else (part,))
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else _Any(tuple(kept))


def _not(expr: _Expr) -> _Expr:
    if isinstance(expr, bool):
        return not expr
    if isinstance(expr, _All):
        return _any(*(_not(part) for part in expr.parts))
    if isinstance(expr, _Any):
        return _all(*(_not(part) for part in expr.parts))
    if expr.op == "$exists":
        return _Atom(expr.key, "$exists", not expr.value)
    assert expr.op in _NEGATED_OP, f"only positive atoms are negated, not {expr.op}"
    # A record without the key answers "no" to the atom, so "yes" to its negation, whatever
    # Pinecone's $ne/$nin do with missing keys.
    return _any(_Atom(expr.key, _NEGATED_OP[expr.op], expr.value), _Atom(expr.key, "$exists", False))


def _emit(expr: _Expr) -> dict[str, Any]:
    assert not isinstance(expr, bool), "constants are folded before emitting"
    if isinstance(expr, _All):
        return {"$and": [_emit(part) for part in expr.parts]}
    if isinstance(expr, _Any):
        return {"$or": [_emit(part) for part in expr.parts]}
    return {expr.key: {expr.op: expr.value}}


def _compile(node: FilterNode, negated: bool, string_free: _Paths, text: TextIndexes) -> _Expr:
    if isinstance(node, Not):
        return _compile(node.child, not negated, string_free, text)
    if isinstance(node, And | Or):
        parts = [_compile(child, negated, string_free, text) for child in node.children]
        conjunction = isinstance(node, And) is not negated  # De Morgan
        return _all(*parts) if conjunction else _any(*parts)
    return _condition(node, negated, string_free, text)


def _condition(cond: Condition, negated: bool, string_free: _Paths, text: TextIndexes) -> _Expr:
    """The condition (its negation if `negated`). `ne nin is_null` are compiled as the negations
    of `eq in exists`, so only positive atoms are ever negated, once."""
    op, want, path = cond.operator, cond.value, cond.field
    if op in ("exists", "is_null"):
        present = _Atom(shadow_key("t", path), "$exists", True)
        holds = (op == "exists") is bool(want)
        return present if holds is not negated else _not(present)
    if op in ("eq", "ne", "in", "nin"):
        wants = want if isinstance(want, tuple) else (want,)
        matched = _equals(path, [w for w in wants if w is not None], cond.case_sensitive)
        return matched if (op in ("eq", "in")) is not negated else _not(matched)
    expr = _positive(cond, string_free, text)
    return _not(expr) if negated else expr


def _positive(cond: Condition, string_free: _Paths, text: TextIndexes) -> _Expr:
    op, want, path = cond.operator, cond.value, cond.field
    if op in ("starts_with", "ends_with"):
        raise unsupported_error(cond, ": Pinecone metadata filters have no prefix or suffix match")
    if op == "text":
        options = text.get(path)
        if options is None:
            raise unsupported_error(
                cond,
                " without a 'text' payload index on the field: Pinecone metadata filters have "
                "no full-text match",
            )
        return _text_tokens(path, str(want), options)
    assert want is not None and not isinstance(want, tuple), f"{op} takes one scalar"
    if op == "contains":
        if isinstance(want, str):
            string_free.setdefault(path)
        element = _equals(path, [want], cond.case_sensitive)
        return _all(_Atom(shadow_key("t", path), "$in", [TYPE_LIST]), element)
    if op in RANGE_OPERATORS:
        if isinstance(want, str):
            raise unsupported_error(
                cond, " with a string value: Pinecone compares only numbers in range filters"
            )
        assert not isinstance(want, bool), "the parser rejects booleans in range conditions"
        return _range(path, op, want)
    raise AssertionError(f"unhandled operator {op}")


def _equals(path: tuple[str, ...], wants: Sequence[Scalar], case_sensitive: bool) -> _Expr:
    """Any value (or any list element) at `path` equals one of `wants` (all of one type)."""
    if wants and isinstance(wants[0], str) and not case_sensitive:
        tokens = _unique(text_token(str(w).lower()) for w in wants)
        # lower(x) == w: x is already lowercase and equal, or its lowercased shadow is.
        return _any(_Atom(shadow_key("v", path), "$in", tokens), _Atom(shadow_key("i", path), "$in", tokens))
    tokens = _unique(token for w in wants if (token := equality_token(w)) is not None)
    return _Atom(shadow_key("v", path), "$in", tokens) if tokens else False


def _text_tokens(path: tuple[str, ...], query: str, options: TextIndexOptions) -> _Expr:
    tokens = query_tokens(query, options)
    if not tokens or not all(indexable(token, options) and utf8_encodable(token) for token in tokens):
        return False  # the index cannot hold such a token: nothing matches
    key = shadow_key("tx", path)
    return _all(*(_Atom(key, "$in", [token]) for token in tokens))


def _unique(tokens: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(tokens))


def _range(path: tuple[str, ...], op: str, want: int | float) -> _Expr:
    try:
        high, low = split_number(want)
    except OverflowError:
        # Beyond every double, so beyond every stored number: the answer is the same for all.
        holds = (op in ("gt", "gte")) is (want < 0)
        return _Atom(shadow_key("t", path), "$in", [TYPE_NUMBER]) if holds else False
    high_key, low_key = shadow_key("h", path), shadow_key("l", path)
    strict = "$gt" if op in ("gt", "gte") else "$lt"
    # v = h + l and w = high + low exactly; rounding is monotonic, so compare (h, l) lexically.
    # An integer w beyond ±MAX_EXACT_INTEGER may have an inexact `low`, but of the right sign,
    # and only that sign matters: the numbers stored with h == high are then floats (l == 0),
    # or integers near ±2**106 whose remainder, like w's, is then small enough to be exact.
    remainder = _any(
        _Atom(low_key, _RANGE_OP[op], low),
        _Atom(low_key, "$exists", False) if _holds(0.0, op, low) else False,  # no key: l == 0
    )
    return _any(_Atom(high_key, strict, high), _all(_Atom(high_key, "$eq", high), remainder))


def _holds(have: float, op: str, want: float) -> bool:
    if op == "gt":
        return have > want
    if op == "gte":
        return have >= want
    if op == "lt":
        return have < want
    return have <= want
