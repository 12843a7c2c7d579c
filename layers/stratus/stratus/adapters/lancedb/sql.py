"""SQL primitives of the filter compiler (DataFusion's dialect): literals, and comparisons that
stay exact across Python's int, float and str ordering."""

from __future__ import annotations

import json
import math
import re

from stratus.adapters.filter_tokens import utf8_encodable

SQL_OP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
_ABOVE_SURROGATES = "\ue000"  # the first code point after them


def sql_string(value: str) -> str:
    """A SQL string literal. The dialect has no backslash escapes: doubling quotes is all."""
    return "'" + value.replace("'", "''") + "'"


def double(value: float) -> str:
    # repr is the shortest text that reads back as the same double.
    return f"CAST('{value!r}' AS DOUBLE)"


def int_literal(value: int) -> str:
    # -2**63 written plainly is the negation of 2**63, which overflows the parser's int64.
    return f"CAST('{value}' AS BIGINT)" if value == I64_MIN else str(value)


def string_bound(op: str, want: str) -> tuple[str, str]:
    """(SQL operator, bound) such that `have <op> want` is `have <SQL operator> bound` for every
    string `have` without a lone surrogate, with a bound SQL can hold. For a `want` holding one,
    at `i` first: `have` differs from `want` at or before `i` (it holds no surrogate), so
    `have > want` exactly when `have >= want[:i] + U+E000`, and `have < want` otherwise."""
    match = _SURROGATE.search(want)
    if match is None:
        return SQL_OP[op], want
    bound = want[: match.start()] + _ABOVE_SURROGATES
    return (">=" if op in ("gt", "gte") else "<"), bound


def stored_spelling(key: str) -> str:
    """A JSON key as Lance stores it: its JSON text holds every lone surrogate as an escape (the
    store writes such a payload with ensure_ascii); Lance joins an escaped high + low pair into
    one character and keeps any other escape as its six characters of text."""
    if utf8_encodable(key):
        return key
    joined = json.loads(json.dumps(key))  # Python joins the pairs the same way
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", joined)


def float_vs(expr: str, op: str, want: int | float) -> str:
    """Float field against a number, exactly. An integer that no double represents lies strictly
    between two adjacent doubles, so the comparison is decided against the nearest one."""
    if isinstance(want, float):
        return f"{expr} {SQL_OP[op]} {double(want)}"
    try:
        nearest = float(want)
    except OverflowError:  # beyond every finite double
        every_float_below = want > 0
        answer = every_float_below is (op in ("lt", "lte"))
        return f"({expr} IS NOT NULL AND {'true' if answer else 'false'})"
    if int(nearest) == want:
        return f"{expr} {SQL_OP[op]} {double(nearest)}"
    if int(nearest) > want:  # no double in (want, nearest)
        return f"{expr} {'>=' if op in ('gt', 'gte') else '<'} {double(nearest)}"
    return f"{expr} {'>' if op in ('gt', 'gte') else '<='} {double(nearest)}"


def integer_bound(op: str, want: int | float) -> int:
    """The integer bound that gives the same answer as `want` for every integer."""
    if isinstance(want, float):
        return math.floor(want) if op in ("gt", "lte") else math.ceil(want)
    return want
