"""The filter tree every vector store compiles: its nodes, the operators, the words a `text`
condition matches, and walking a tree (the fields and operators it reads)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

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
