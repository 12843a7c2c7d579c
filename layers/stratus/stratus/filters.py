"""The filter DSL of api.md: parsed once into a small typed tree that every vector store compiles.

Semantics (the same in every store; `evaluate` below is the reference the stores are tested
against):
- `field` is a dot path into the payload. A list-valued field matches `eq`/`in` when any element
  does (Qdrant's and Pinecone's rule); `ne`/`nin` are exactly `NOT eq`/`NOT in`, so documents
  without the field match them.
- String comparisons (`eq ne in nin contains starts_with ends_with`) ignore case unless the
  enclosing group says `"case_sensitive": true`; the flag is inherited by nested groups.
- `gt gte lt lte` take a number (compared numerically; booleans are not numbers) or a string
  (compared as written, so ISO-8601 timestamps order correctly).
- `contains`: a substring of a string field, or an element of a list field.
- `is_null` (value true, the default): the field is missing or null. `exists` is its negation.
- `text`: every word of the value (`\\w+`, lowercased) occurs as a whole word in the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from stratus import limits
from stratus.errors import BadRequestError

Scalar = str | int | float | bool

OPERATORS = frozenset(
    {
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "nin",
        "contains",
        "starts_with",
        "ends_with",
        "exists",
        "is_null",
        "text",
    }
)
STRING_OPERATORS = frozenset({"eq", "ne", "in", "nin", "contains", "starts_with", "ends_with"})
RANGE_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
_GROUP_KEYS = frozenset({"AND", "OR", "NOT", "case_sensitive"})
_CONDITION_KEYS = frozenset({"field", "operator", "value", "case_sensitive"})
MAX_FIELD_LENGTH = 256


@dataclass(frozen=True)
class Condition:
    field: tuple[str, ...]
    operator: str
    value: Scalar | tuple[Scalar, ...] | None
    case_sensitive: bool = False

    @property
    def dotted(self) -> str:
        return ".".join(self.field)


@dataclass(frozen=True)
class And:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    child: FilterNode


FilterNode = Condition | And | Or | Not


def parse_filter(raw: Any, location: str = "filters") -> FilterNode | None:
    """Parse and validate a DSL object. Every mistake is a 400 naming where it is."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _bad(location, "a filter must be a JSON object")
    if not raw:
        return None
    return _parse_node(raw, location, depth=1, case_sensitive=False, budget=_Budget(location))


def condition_cost(condition: Condition) -> int:
    """What one condition counts against `limits.MAX_FILTER_COST`."""
    if condition.operator in ("in", "nin"):
        assert isinstance(condition.value, tuple)
        return len(condition.value)
    if condition.operator == "text":
        return len(tokenize(str(condition.value)))
    return limits.FILTER_OPERATOR_COSTS.get(condition.operator, 1)


class _Budget:
    """The cost of the conditions parsed so far, checked as each is parsed: a filter too wide is
    refused before the rest of it is read."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.spent = 0

    def spend(self, condition: Condition) -> Condition:
        self.spent += condition_cost(condition)
        if self.spent > limits.MAX_FILTER_COST:
            costs = ", ".join(
                f"{operator} {cost}" for operator, cost in sorted(limits.FILTER_OPERATOR_COSTS.items())
            )
            raise _bad(
                self.location,
                f"the filter is too wide: its conditions may cost at most {limits.MAX_FILTER_COST} in all "
                f"(a condition costs 1, each in/nin value and each text word 1, {costs}); "
                "match many values of one field with one 'in', or split the request",
                limit=limits.MAX_FILTER_COST,
            )
        return condition


def _parse_node(raw: Any, location: str, depth: int, case_sensitive: bool, budget: _Budget) -> FilterNode:
    if not isinstance(raw, Mapping):
        raise _bad(location, "each filter entry must be a JSON object")
    keys = set(raw)
    if keys & {"AND", "OR", "NOT"}:
        return _parse_group(raw, location, depth, case_sensitive, budget)
    if "field" in keys or "operator" in keys:
        return budget.spend(_parse_condition(raw, location, case_sensitive))
    if not keys - {"case_sensitive"}:
        raise _bad(location, "an empty filter group; use AND, OR, NOT or {field, operator, value}")
    # Shorthand: {"a.b": v, "c": w} is AND of equalities.
    flag = _case_flag(raw, location, case_sensitive)
    conditions = tuple(
        budget.spend(
            _condition(str(key), "eq", value, f"{location}.{key}", flag, value_location=f"{location}.{key}")
        )
        for key, value in raw.items()
        if key != "case_sensitive"
    )
    return conditions[0] if len(conditions) == 1 else And(conditions)


def _parse_group(
    raw: Mapping[str, Any], location: str, depth: int, inherited: bool, budget: _Budget
) -> FilterNode:
    if depth > limits.MAX_FILTER_DEPTH:
        raise _bad(location, f"filter nesting is deeper than {limits.MAX_FILTER_DEPTH} levels")
    unknown = sorted(set(raw) - _GROUP_KEYS)
    if unknown:
        raise _bad(location, f"unexpected key(s) {unknown} beside AND/OR/NOT; put conditions inside them")
    flag = _case_flag(raw, location, inherited)
    parts: list[FilterNode] = []
    for key in ("AND", "OR"):
        if key in raw:
            children = _children(raw[key], f"{location}.{key}", depth, flag, budget)
            parts.append(And(children) if key == "AND" else Or(children))
    if "NOT" in raw:
        negated = raw["NOT"]
        if isinstance(negated, list):
            inner: FilterNode = And(_children(negated, f"{location}.NOT", depth, flag, budget))
        else:
            inner = _parse_node(negated, f"{location}.NOT", depth + 1, flag, budget)
        parts.append(Not(inner))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _children(raw: Any, location: str, depth: int, flag: bool, budget: _Budget) -> tuple[FilterNode, ...]:
    if not isinstance(raw, list) or not raw:
        raise _bad(location, "must be a non-empty list of conditions or groups")
    return tuple(_parse_node(item, f"{location}[{i}]", depth + 1, flag, budget) for i, item in enumerate(raw))


def _parse_condition(raw: Mapping[str, Any], location: str, inherited: bool) -> Condition:
    unknown = sorted(set(raw) - _CONDITION_KEYS)
    if unknown:
        raise _bad(location, f"unexpected key(s) {unknown} in a condition; allowed: field, operator, value")
    field = raw.get("field")
    operator = raw.get("operator", "eq")
    if not isinstance(field, str):
        raise _bad(f"{location}.field", "field must be a dot-path string such as 'metadata.category'")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise _bad(
            f"{location}.operator",
            f"unknown operator {operator!r}; use one of {', '.join(sorted(OPERATORS))}",
            operator=operator,
        )
    return _condition(field, operator, raw.get("value"), location, _case_flag(raw, location, inherited))


def _case_flag(raw: Mapping[str, Any], location: str, inherited: bool) -> bool:
    flag = raw.get("case_sensitive", inherited)
    if not isinstance(flag, bool):
        raise _bad(f"{location}.case_sensitive", "case_sensitive must be true or false")
    return flag


def _condition(
    field: str,
    operator: str,
    value: Any,
    location: str,
    case_sensitive: bool,
    value_location: str | None = None,
) -> Condition:
    """`value_location` differs from `{location}.value` only for the shorthand `{"a.b": v}`."""
    path = _field_path(field, location)
    where = value_location or f"{location}.value"
    if operator in ("exists", "is_null"):
        if value is None:
            value = True
        if not isinstance(value, bool):
            raise _bad(where, f"'{operator}' takes true or false")
        return Condition(path, operator, value, case_sensitive)
    if operator in ("in", "nin"):
        if not isinstance(value, list) or not value:
            raise _bad(where, f"'{operator}' takes a non-empty list of values")
        if len(value) > limits.MAX_IN_VALUES:
            raise _bad(where, f"'{operator}' takes at most {limits.MAX_IN_VALUES} values")
        items = tuple(_scalar(item, f"{where}[{i}]") for i, item in enumerate(value))
        if len({_kind(item) for item in items}) > 1:
            raise _bad(where, f"'{operator}' values must all be strings, all numbers or all booleans")
        return Condition(path, operator, items, case_sensitive)
    scalar = _scalar(value, where)
    if operator in RANGE_OPERATORS and _kind(scalar) == "bool":
        raise _bad(where, f"'{operator}' takes a number or a string, not a boolean")
    if operator in ("starts_with", "ends_with", "text") and not isinstance(scalar, str):
        raise _bad(where, f"'{operator}' takes a string")
    if operator == "text" and not tokenize(str(scalar)):
        raise _bad(where, "'text' needs at least one word to match")
    return Condition(path, operator, scalar, case_sensitive)


def _field_path(field: str, location: str) -> tuple[str, ...]:
    if not field or len(field) > MAX_FIELD_LENGTH:
        raise _bad(f"{location}.field", f"field must be 1-{MAX_FIELD_LENGTH} characters")
    parts = tuple(field.split("."))
    if any(part == "" for part in parts):
        raise _bad(f"{location}.field", f"field {field!r} has an empty segment; use a dot path like 'a.b'")
    return parts


def _scalar(value: Any, location: str) -> Scalar:
    if value is None:
        raise _bad(location, "value is required; to match missing or null fields use operator 'is_null'")
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad(location, "value must be a finite number")
        return value
    raise _bad(location, "value must be a string, number or boolean")


def _kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _bad(location: str, message: str, **extra: Any) -> BadRequestError:
    return BadRequestError(f"{location}: {message}", {"field": location, **extra})


# ---------------------------------------------------------------------------------------------
# Helpers the stores and services share.


_WORD = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return [token.lower() for token in _WORD.findall(text)]


def iter_conditions(node: FilterNode | None) -> Iterator[Condition]:
    if node is None:
        return
    if isinstance(node, Condition):
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from iter_conditions(child)
    else:
        yield from iter_conditions(node.child)


def filtered_fields(node: FilterNode | None) -> list[str]:
    """The dot paths a filter reads, in first-seen order (for warnings and usage counters)."""
    seen: dict[str, None] = {}
    for condition in iter_conditions(node):
        seen.setdefault(condition.dotted)
    return list(seen)


def operators_used(node: FilterNode | None) -> set[str]:
    return {condition.operator for condition in iter_conditions(node)}


# ---------------------------------------------------------------------------------------------
# The reference evaluator: plain Python over a payload dict.

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
