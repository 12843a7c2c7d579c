"""The reference evaluator: a filter tree over a payload dict, in plain Python. Every store's
compiled filter is tested against it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from stratus.filters.tree import RANGE_OPERATORS, And, Condition, FilterNode, Not, Or, tokenize

_MISSING = object()


def lookup(payload: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = payload
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def value_at(payload: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dot path, None when the path is absent (`lookup` without its sentinel)."""
    found = lookup(payload, path)
    return None if found is _MISSING else found


def evaluate(node: FilterNode, payload: Mapping[str, Any]) -> bool:
    if isinstance(node, And):
        return all(evaluate(child, payload) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate(child, payload) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, payload)
    return _evaluate_condition(node, lookup(payload, node.field))


def _evaluate_condition(cond: Condition, found: Any) -> bool:
    op = cond.operator
    absent = found is _MISSING or found is None
    if op == "is_null":
        return absent is cond.value
    if op == "exists":
        return (not absent) is cond.value
    if op in _NEGATED:
        return not _evaluate_condition(replace(cond, operator=_NEGATED[op]), found)
    if absent:
        return False
    if op in RANGE_OPERATORS:
        return _compare(found, op, cond.value)
    test = _PRESENT_TESTS.get(op)
    if test is None:
        raise AssertionError(f"unhandled operator {op}")
    return test(found, cond.value, cond.case_sensitive)


def _eq(found: Any, want: Any, case_sensitive: bool) -> bool:
    candidates = found if isinstance(found, list) else [found]
    return any(_equal(item, want, case_sensitive) for item in candidates)


def _in(found: Any, wants: Any, case_sensitive: bool) -> bool:
    assert isinstance(wants, tuple)
    return any(_eq(found, want, case_sensitive) for want in wants)


def _contains(found: Any, want: Any, case_sensitive: bool) -> bool:
    if isinstance(found, list):
        return any(_equal(item, want, case_sensitive) for item in found)
    if isinstance(found, str) and isinstance(want, str):
        return _fold(want, case_sensitive) in _fold(found, case_sensitive)
    return False


def _starts_with(found: Any, want: Any, case_sensitive: bool) -> bool:
    if not isinstance(found, str) or not isinstance(want, str):
        return False
    return _fold(found, case_sensitive).startswith(_fold(want, case_sensitive))


def _ends_with(found: Any, want: Any, case_sensitive: bool) -> bool:
    if not isinstance(found, str) or not isinstance(want, str):
        return False
    return _fold(found, case_sensitive).endswith(_fold(want, case_sensitive))


def _text(found: Any, want: Any, case_sensitive: bool) -> bool:
    if not isinstance(found, str):
        return False
    words = set(tokenize(found))
    return all(token in words for token in tokenize(str(want)))


# `ne`/`nin` are the negations of `eq`/`in` (so they match documents without the field).
_NEGATED = {"ne": "eq", "nin": "in"}
# The operators that test a present value: (value found, value wanted, case_sensitive) -> match.
_PRESENT_TESTS: dict[str, Callable[[Any, Any, bool], bool]] = {
    "eq": _eq,
    "in": _in,
    "contains": _contains,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "text": _text,
}


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.lower()


def _equal(have: Any, want: Any, case_sensitive: bool) -> bool:
    if isinstance(want, str):
        return isinstance(have, str) and _fold(have, case_sensitive) == _fold(want, case_sensitive)
    if isinstance(want, bool) or isinstance(have, bool):
        return isinstance(have, bool) and isinstance(want, bool) and have == want
    return isinstance(have, int | float) and have == want


def _compare(have: Any, op: str, want: Any) -> bool:
    if isinstance(want, str):
        if not isinstance(have, str):
            return False
    elif isinstance(have, bool) or not isinstance(have, int | float):
        return False
    if op == "gt":
        return bool(have > want)
    if op == "gte":
        return bool(have >= want)
    if op == "lt":
        return bool(have < want)
    return bool(have <= want)
