"""Free-form JSON that the metadata store keeps as sent: a bucket's `bucket_schema`, an object's
`metadata`, a payload index's `field_schema`, a collection's `input_mappings`.

DynamoDB holds only part of JSON, so these values are checked against its rules when the request
is validated (a 422 naming the offending value) instead of failing at write time (a 500) or,
worse, being written as an item that can no longer be read (a map with an empty key breaks every
later read and list of it):

- numbers: at most 38 digits, and 0 or a magnitude from 1e-130 to below 1e38 (finite). DynamoDB
  itself goes up to 1e126, but the store reads a number without a fractional part back as an int
  (`_from_dynamo_value`), and a float of 1e38 or more would come back as an int of more than 38
  digits: unreadable by this check and unwritable on the item's next update;
- object keys: at least one character;
- text (keys and values): Unicode, so no lone surrogate (a JSON escape can carry one; UTF-8, which
  every store writes, cannot);
- nesting: at most `MAX_DEPTH` objects/arrays deep (DynamoDB stops at 32 for a whole item);
- size, where a field sets one: the compact JSON's UTF-8 bytes (a whole item is at most 400 KB).

A document's payload (`payload_json`) follows the nesting and text rules too: deeper payloads were
stored, then answered 500 on every read (the response's serializer stops at ~255 levels).
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

from pydantic import AfterValidator

MAX_DEPTH = 16

# What boto3's serializer accepts (its DYNAMODB_CONTEXT), and the range above.
_DYNAMODB_NUMBERS = decimal.Context(
    prec=38,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
_SMALLEST = decimal.Decimal("1E-130")
_TOO_LARGE = decimal.Decimal("1E+38")

_NUMBER_RULE = (
    "numbers are stored with at most 38 digits and a magnitude of 0 or from 1e-130 to below 1e38; "
    "send other numbers as strings"
)


def storable_number(value: int | float) -> bool:
    if isinstance(value, float):
        if not math.isfinite(value):
            return False
        number = decimal.Decimal(str(value))  # the shortest repr, as the DynamoDB adapter writes it
    else:
        number = decimal.Decimal(value)
    try:
        _DYNAMODB_NUMBERS.create_decimal(number)
    except decimal.DecimalException:
        return False
    return number == 0 or _SMALLEST <= abs(number) < _TOO_LARGE


def _where(path: str) -> str:
    return f"at '{path}'" if path else "the value"


def storage_problem(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Why DynamoDB cannot hold `value` (decoded JSON), or None. `path` locates it in messages."""
    return _problem(value, path, depth, dynamodb=True)


def payload_problem(value: Any, path: str = "") -> str | None:
    """Why a document's payload (decoded JSON) cannot be stored and read back, or None: the same
    nesting and text rules, and numbers that are finite (a vector store's payload holds any other)."""
    if not path and type(value) is dict and _flat_and_fine(value):
        return None  # the usual payload, checked in one pass (an upsert checks 1,000 of them)
    return _problem(value, path, 0, dynamodb=False)


def _flat_and_fine(payload: dict[Any, Any]) -> bool:
    """True when `payload_problem` would find nothing, known cheaply: no nested object or array,
    ASCII keys and strings (no surrogate can hide there), finite floats. False means only that
    the full walk decides."""
    for key, value in payload.items():
        if type(key) is not str or not key.isascii():
            return False
        kind = type(value)
        if kind is str:
            if not value.isascii():
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif not (kind is int or kind is bool or value is None):
            return False
    return True


def _problem(value: Any, path: str, depth: int, dynamodb: bool) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return None if _is_unicode(value) else f"{_where(path)}: {_SURROGATE_RULE}"
    if isinstance(value, int | float):
        return _number_problem(value, path, dynamodb)
    if isinstance(value, dict | list):
        return _container_problem(value, path, depth, dynamodb)
    return f"{_where(path)}: a {type(value).__name__} is not JSON"


def _number_problem(value: int | float, path: str, dynamodb: bool) -> str | None:
    if dynamodb and not storable_number(value):
        return f"{_where(path)}: {value!r} cannot be stored; {_NUMBER_RULE}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{_where(path)}: {value!r} cannot be stored; send a finite number"
    return None


def _container_problem(
    value: dict[Any, Any] | list[Any], path: str, depth: int, dynamodb: bool
) -> str | None:
    if depth >= MAX_DEPTH:
        return f"{_where(path)}: nested more than {MAX_DEPTH} objects or arrays deep"
    if isinstance(value, list):
        entries = [(f"{path}[{index}]", inner) for index, inner in enumerate(value)]
    else:
        if dynamodb and "" in value:
            return f"{_where(path)}: an empty key; object keys need at least one character"
        if not all(_is_unicode(str(key)) for key in value):
            return f"{_where(path)}: a key holds {_SURROGATE_RULE}"
        entries = [(f"{path}.{key}" if path else str(key), inner) for key, inner in value.items()]
    for inner_path, inner in entries:
        problem = _problem(inner, inner_path, depth + 1, dynamodb)
        if problem is not None:
            return problem
    return None


_SURROGATE_RULE = (
    "a lone surrogate (a \\ud800-\\udfff escape without its pair), which is not Unicode text; "
    "send the character itself or its UTF-16 pair"
)


def _is_unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate (JSON escapes can carry one; UTF-8 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stored_json(max_bytes: int | None = None) -> AfterValidator:
    """A pydantic validator (`Annotated[dict[str, Any], stored_json(...)]`) for a free-form JSON
    field kept in the metadata store."""

    def check(value: Any) -> Any:
        problem = storage_problem(value)
        if problem is not None:
            raise ValueError(problem)
        if max_bytes is not None:
            size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
            if size > max_bytes:
                raise ValueError(f"{size} bytes of JSON; at most {max_bytes} bytes are accepted")
        return value

    return AfterValidator(check)


def payload_json() -> AfterValidator:
    """A pydantic validator for a document's payload (`payload_problem`)."""

    def check(value: Any) -> Any:
        problem = payload_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)
