"""Python values to DynamoDB items and back, and the opaque page cursors handed to clients."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from stratus.adapters.dynamodb.point_reads import plain_value
from stratus.adapters.dynamodb.schema import KEY_ATTRIBUTES, MAX_SORT_KEY_BYTES, key
from stratus.errors import BadRequestError

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeSerializer

MAX_CURSOR_LENGTH = 2048


@functools.cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


def to_dynamo_value(value: Any) -> Any:
    """DynamoDB numbers must be Decimal; `str()` keeps the float's shortest exact repr."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: to_dynamo_value(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo_value(inner) for inner in value]
    return value


def from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A number written without a fractional part (every int we store) comes back as int.
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, Mapping):
        return {key: from_dynamo_value(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [from_dynamo_value(inner) for inner in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer().serialize(to_dynamo_value(value)) for key, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python from DynamoDB's JSON, as boto3 or the HTTP point reader hands it over."""
    return {key: from_dynamo_value(plain_value(value)) for key, value in item.items()}


def record_item(pk: str, sk: str, entity: str, record: Any) -> dict[str, Any]:
    """The item of a pydantic record: its keys, its `entity` and its fields."""
    return {"PK": pk, "SK": sk, "entity": entity, **record.model_dump(mode="json")}


def plain_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """The record's fields, without the key attributes."""
    return {k: v for k, v in deserialize(item).items() if k not in KEY_ATTRIBUTES}


# ---------------------------------------------------------------------------------------------
# Cursors: opaque to clients, validated on the way back in.


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(sort_key: str) -> str:
    return _b64(json.dumps({"sk": sort_key}, separators=(",", ":")).encode("utf-8"))


def malformed_cursor() -> BadRequestError:
    return BadRequestError(
        "cursor is malformed; pass the next_cursor of a previous page unchanged, or omit it",
        {"field": "cursor"},
    )


def decode_cursor(cursor: str, prefix: str) -> str:
    """The sort key to resume after. Only sort keys under the queried `prefix` are accepted, so a
    cursor can never steer the query elsewhere (and the partition always comes from the caller)."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise malformed_cursor()
    try:
        decoded = json.loads(_unb64(cursor).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise malformed_cursor() from error
    sort_key = decoded.get("sk") if isinstance(decoded, dict) else None
    if not isinstance(sort_key, str) or not sort_key.startswith(prefix):
        raise malformed_cursor()
    if len(sort_key.encode("utf-8")) > MAX_SORT_KEY_BYTES:
        raise malformed_cursor()
    return sort_key


def encode_scan_cursor(last_key: Mapping[str, Any]) -> str:
    raw = json.dumps({"pk": last_key["PK"]["S"], "sk": last_key["SK"]["S"]}, separators=(",", ":"))
    return _b64(raw.encode("utf-8"))


def decode_scan_cursor(cursor: str) -> dict[str, Any]:
    try:
        decoded = json.loads(_unb64(cursor).decode("utf-8"))
        return key(str(decoded["pk"]), str(decoded["sk"]))
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise malformed_cursor() from error


def encode_name(name: str) -> str:
    """Client-chosen text (a field name) as a valid, collision-free attribute name part."""
    return _b64(name.encode("utf-8"))


def decode_name(encoded: str) -> str | None:
    try:
        return _unb64(encoded).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
