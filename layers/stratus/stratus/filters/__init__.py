"""The filter DSL of api.md: parsed once into a small typed tree that every vector store compiles.

Semantics (the same in every store; `evaluate` is the reference the stores are tested
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

The parts: `tree` (the nodes, the operators, walking a tree), `parsing` (the DSL checked into a
tree), `evaluation` (the reference evaluator). Their public names are importable from here.
"""

from __future__ import annotations

from stratus.filters.evaluation import evaluate, lookup, value_at
from stratus.filters.parsing import condition_cost, parse_filter
from stratus.filters.tree import (
    MAX_FIELD_LENGTH,
    OPERATORS,
    RANGE_OPERATORS,
    STRING_OPERATORS,
    And,
    Condition,
    FilterNode,
    Not,
    Or,
    Scalar,
    filtered_fields,
    iter_conditions,
    operators_used,
    tokenize,
)

__all__ = [
    "MAX_FIELD_LENGTH",
    "OPERATORS",
    "RANGE_OPERATORS",
    "STRING_OPERATORS",
    "And",
    "Condition",
    "FilterNode",
    "Not",
    "Or",
    "Scalar",
    "condition_cost",
    "evaluate",
    "filtered_fields",
    "iter_conditions",
    "lookup",
    "operators_used",
    "parse_filter",
    "tokenize",
    "value_at",
]
