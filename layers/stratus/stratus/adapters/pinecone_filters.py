"""Compile a `stratus.filters` tree to a Pinecone metadata filter, with exactly the semantics of
`stratus.filters.evaluate`, and write the metadata those filters read.

Pinecone metadata is flat: string, number (a 64-bit float), boolean or list of strings; no null,
no nesting, no lists of numbers. Its filters have `$eq $ne $gt $gte $lt $lte $in $nin $exists
$and $or` and no `NOT`. So every record carries, beside its payload, *shadow* keys written by
`record_metadata()` from the Python payload, and the compiler only ever asks questions about
them:

| key            | written for                     | holds                                            |
|----------------|---------------------------------|--------------------------------------------------|
| `__payload`    | every record                    | the payload as JSON text, returned to readers    |
| `t_<path>`     | every non-null value            | its type: `s` string, `n` number, `b` boolean,   |
|                |                                 | `l` list, `o` object (presence = `$exists`)      |
| `v_<path>`     | a scalar, or a list's scalars   | typed tokens: `s<text>`, `n<canonical number>`,  |
|                |                                 | `b1`/`b0` (a list: one token per element)        |
| `i_<path>`     | strings that `lower()` changes  | the lowercased tokens                            |
| `h_<path>`     | a scalar number                 | the nearest double                               |
| `l_<path>`     | a scalar integer no double holds| the exact remainder `value - h` (a small double) |

`<path>` is a value's dot path: only values reached through objects are written, exactly the
ones `stratus.filters.lookup` can reach (a key holding a dot, an empty key or a path longer than
a filter field may be are unreachable, so they have no shadows). A path whose segments are plain
(`[A-Za-z0-9-]+` joined by single `_`) is spelled readably, segments joined by `__`; any other
path by a SHA-256 digest (`t-<hex>`) of its JSON (ASCII-escaped; a path holding a lone surrogate,
from its code points), so no key can start with `$` or clash with another path.

Why each question is exact:
- Types never cross-match: a token starts with its type (`s5` is not `n5`, `b1` is not `n1`),
  and equal numbers share one canonical token (Python compares int and float exactly; so does
  `_number_token`). Texts longer than 64 characters are tokenized as a digest (`d<sha256>`),
  as in `lancedb_filters`, keeping metadata small.
- `eq`/`in` ask `$in` on `v_` (and, ignoring case, also on `i_`): Pinecone's `$in` on a list field
  matches when any element does, which is our rule for list fields. `i_` is only written when
  `lower()` changes the text, so "`lower(x) == w`" is "`x == w` (x already lower) or `i_` holds w".
- `ne nin` and `NOT` are pushed down to the atoms (De Morgan). A negated atom always adds
  `{key: {$exists: false}}`, so documents without the field match whatever Pinecone's `$ne`/`$nin`
  do with missing keys.
- `exists`/`is_null` ask `$exists` on `t_`; a null is written as no key at all.
- `gt gte lt lte` with a number compare `(h, l)` lexicographically: rounding to the nearest
  double is monotonic, so `v > w` is `h > hw or (h == hw and l > lw)` with `w = hw + lw` split the
  same way; both remainders are exact small doubles. Integer leaves beyond ±2**106 are refused
  at upsert (their remainder would not be exact either), so every stored number compares exactly.
  A bound beyond ±2**106 only needs the sign of its remainder: a stored number of the same high
  part is then a float (remainder 0), or an integer near ±2**106 (both remainders exact).
- `contains` with a number or boolean: an element of a list field (`t_ == l` and `$in` on `v_`);
  no string contains a number. With a string it would also be a *substring* test on string fields,
  which Pinecone cannot do: it is compiled as element membership and the compiled filter lists the
  path in `string_free_paths`; the store first checks that no record of the space holds a string
  there (one `topK=1` query on `t_ == s`) and answers 400 otherwise. So it is exact when it runs.

Refused with 400 (`BadRequestError` naming operator, field and store), never approximated:
`starts_with`, `ends_with`, `text` on a field without a `text` payload index (no full-text index
in Pinecone metadata), and `gt gte lt lte` with a string value (Pinecone ranges are numeric).

Payload indexes: Pinecone indexes every metadata key, so keyword, integer, float, bool, datetime
and uuid indexes need nothing beyond the shadows every record already has. A `text` index adds
`tx_<path>` (same spelling rules as the other shadows, kind `tx`): the list of the value's tokens
under the index's tokenizer (`text_tokens.document_tokens`), written for string values only. The
`text` operator on such a field asks `$in [token]` on it once per query token (`$and`), which is
exact for that tokenizer; a query token the index cannot hold (outside the length bounds) makes
the condition false. `is_tenant` on a keyword index changes nothing: a space is already one
Pinecone namespace (per Stratus namespace and vector index), and a tenant value is served by the
metadata filter on its `v_`/`i_` shadow. A namespace per tenant would make tenant-scoped queries
cheaper (Pinecone bills reads by namespace size) but multiply namespaces by tenants, turn every
cross-tenant query into a fan-out, and move a record on each change of its tenant value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.adapters.text_tokens import TextIndexOptions, document_tokens, indexable, query_tokens
from stratus.errors import BadRequestError
from stratus.filters import (
    MAX_FIELD_LENGTH,
    OPERATORS,
    RANGE_OPERATORS,
    And,
    Condition,
    FilterNode,
    Not,
    Or,
    Scalar,
)

STORE_NAME = "pinecone"
PAYLOAD_KEY = "__payload"

# The operators this store answers exactly (the rest answer 400); `contains` with a string value
# additionally needs the field to hold no string in the space (see the module docstring).
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

# Integer payload leaves beyond this magnitude cannot be compared exactly (see the docstring).
MAX_EXACT_INTEGER = 2**106
# Texts up to this many characters are tokens as written; longer ones become a digest.
_MAX_TOKEN_TEXT = 64
# Readable keys up to this length; longer paths are spelled by their digest.
_MAX_READABLE_KEY = 64
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*")

TYPE_STRING, TYPE_NUMBER, TYPE_BOOL, TYPE_LIST, TYPE_OBJECT = "s", "n", "b", "l", "o"


# ---------------------------------------------------------------------------------------------
# Shadow metadata (written with each record)


TextIndexes = Mapping[tuple[str, ...], TextIndexOptions]


def record_metadata(
    document_id: str, payload: Mapping[str, Any], text_indexes: TextIndexes | None = None
) -> dict[str, Any]:
    """The Pinecone metadata of one record: the payload as JSON text plus its shadow keys (and
    the token shadows of the space's text indexes)."""
    metadata: dict[str, Any] = {PAYLOAD_KEY: payload_text(document_id, payload)}
    for path, value in _reachable(payload, ()):
        _write_shadows(metadata, document_id, path, value)
        options = (text_indexes or {}).get(path)
        if options is not None and isinstance(value, str):
            tokens = [token for token in document_tokens(value, options) if _utf8_encodable(token)]
            if tokens:  # Pinecone keeps no empty list; a missing key matches no token either
                metadata[shadow_key("tx", path)] = tokens
    return metadata


def payload_text(document_id: str, payload: Mapping[str, Any]) -> str:
    """The payload as written (key order, big integers, -0.0 kept), as compact JSON."""
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        raise BadRequestError(
            f"payload of '{document_id}' holds a number that is not finite",
            {"document_id": document_id},
        ) from None
    except TypeError as exc:  # not JSON at all (only reachable by a programming error upstream)
        raise BadRequestError(
            f"payload of '{document_id}' is not JSON ({exc})", {"document_id": document_id}
        ) from None
    if not _utf8_encodable(text):
        # A lone surrogate cannot travel as UTF-8; JSON escapes keep it exactly.
        text = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text


def decode_payload(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The payload stored by `record_metadata` (empty for a record written by someone else)."""
    text = (metadata or {}).get(PAYLOAD_KEY)
    if not isinstance(text, str):
        return {}
    payload = json.loads(text)
    return payload if isinstance(payload, dict) else {}


def _reachable(node: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) for every non-null value a filter field can name."""
    for key, value in node.items():
        if not isinstance(key, str) or not key or "." in key:
            continue  # a filter path splits on dots and has no empty segment: unreachable
        path = (*prefix, key)
        if len(".".join(path)) > MAX_FIELD_LENGTH or value is None:
            continue  # null is "absent" to every operator; too long a path cannot be named
        yield path, value
        if isinstance(value, Mapping):
            yield from _reachable(value, path)


def _write_shadows(metadata: dict[str, Any], document_id: str, path: tuple[str, ...], value: Any) -> None:
    if isinstance(value, Mapping):
        metadata[shadow_key("t", path)] = TYPE_OBJECT
    elif isinstance(value, list):
        _write_list_shadows(metadata, path, value)
    else:
        _write_scalar_shadows(metadata, document_id, path, value)


def _write_list_shadows(metadata: dict[str, Any], path: tuple[str, ...], items: list[Any]) -> None:
    metadata[shadow_key("t", path)] = TYPE_LIST
    exact = sorted({token for item in items if (token := _token(item)) is not None})
    folded = sorted({token for item in items if (token := _folded_token(item)) is not None})
    if exact:  # Pinecone lists hold strings only: every element is a token
        metadata[shadow_key("v", path)] = exact
    if folded:
        metadata[shadow_key("i", path)] = folded


def _write_scalar_shadows(
    metadata: dict[str, Any], document_id: str, path: tuple[str, ...], value: Any
) -> None:
    token = _token(value)
    if token is None:  # not a JSON value; the payload text would have refused it
        return
    metadata[shadow_key("t", path)] = _type_tag(value)
    metadata[shadow_key("v", path)] = token
    folded = _folded_token(value)
    if folded is not None:
        metadata[shadow_key("i", path)] = folded
    if isinstance(value, int | float) and not isinstance(value, bool):
        _write_number_shadows(metadata, document_id, path, value)


def _write_number_shadows(
    metadata: dict[str, Any], document_id: str, path: tuple[str, ...], value: int | float
) -> None:
    if isinstance(value, int) and abs(value) > MAX_EXACT_INTEGER:
        dotted = ".".join(path)
        raise BadRequestError(
            f"payload of '{document_id}': the integer at '{dotted}' is beyond ±2**106; the "
            f"'{STORE_NAME}' vector store compares numbers as doubles and cannot keep it exactly "
            "(send it as a string)",
            {"document_id": document_id, "field": dotted, "vector_store": STORE_NAME},
        )
    high, low = split_number(value)
    metadata[shadow_key("h", path)] = high
    if low:
        metadata[shadow_key("l", path)] = low


def _type_tag(value: Any) -> str:
    if isinstance(value, str):
        return TYPE_STRING
    if isinstance(value, bool):
        return TYPE_BOOL
    return TYPE_NUMBER


def shadow_key(kind: str, path: tuple[str, ...]) -> str:
    """The metadata key of one shadow kind (`t v i h l`) for one path (see the docstring)."""
    if all(_PLAIN_SEGMENT.fullmatch(segment) for segment in path):
        readable = f"{kind}_{'__'.join(path)}"
        if len(readable) <= _MAX_READABLE_KEY:
            return readable
    if all(_utf8_encodable(segment) for segment in path):
        spelled = json.dumps(list(path), ensure_ascii=True).encode()
    else:
        # ensure_ascii spells the two lone surrogates "\ud83d\ude00" exactly as it spells "😀":
        # a path holding a lone surrogate is digested from its code points (never pure ASCII).
        spelled = json.dumps(list(path), ensure_ascii=False).encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(spelled).hexdigest()[:40]
    return f"{kind}-{digest}"


def _token(value: Any) -> str | None:
    """The typed equality token of a scalar; None for anything else (objects, lists, null)."""
    if isinstance(value, str):
        return _text_token(value)
    if isinstance(value, bool):
        return "b1" if value else "b0"
    if isinstance(value, int | float):
        return "n" + _number_token(value)
    return None


def _folded_token(value: Any) -> str | None:
    """The lowercased token of a string that `lower()` changes; None otherwise."""
    if isinstance(value, str) and value.lower() != value:
        return _text_token(value.lower())
    return None


def _text_token(text: str) -> str:
    if len(text) <= _MAX_TOKEN_TEXT and _utf8_encodable(text):
        return "s" + text
    # surrogatepass: a lone surrogate cannot be sent, but it can be digested.
    return "d" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _number_token(value: int | float) -> str:
    """Equal numbers (Python compares int and float exactly) get equal tokens, others differ."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def split_number(value: int | float) -> tuple[float, float]:
    """(nearest double, exact remainder) with `value == high + low` exactly, for
    |value| <= MAX_EXACT_INTEGER (the remainder of such an integer fits a double exactly);
    beyond, the remainder is rounded but keeps its sign. OverflowError beyond every double."""
    if isinstance(value, float):
        return value, 0.0
    high = float(value)  # correctly rounded (half to even)
    return high, float(value - int(high))


def _utf8_encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The filter compiler


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
        tokens = _unique(_text_token(str(w).lower()) for w in wants)
        # lower(x) == w: x is already lowercase and equal, or its lowercased shadow is.
        return _any(_Atom(shadow_key("v", path), "$in", tokens), _Atom(shadow_key("i", path), "$in", tokens))
    tokens = _unique(token for w in wants if (token := _token(w)) is not None)
    return _Atom(shadow_key("v", path), "$in", tokens) if tokens else False


def _text_tokens(path: tuple[str, ...], query: str, options: TextIndexOptions) -> _Expr:
    tokens = query_tokens(query, options)
    if not tokens or not all(indexable(token, options) and _utf8_encodable(token) for token in tokens):
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
