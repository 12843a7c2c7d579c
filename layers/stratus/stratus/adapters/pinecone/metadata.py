"""The metadata of a Pinecone record: the payload as JSON text plus the *shadow* keys the filter
compiler asks about (what each key holds and why: docs/vector-stores.md, "Pinecone filters")."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stratus.adapters.filter_tokens import (
    json_text,
    number_key,
    path_code_points,
    text_digest,
    utf8_encodable,
)
from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.text_tokens import TextIndexOptions, document_tokens
from stratus.errors import BadRequestError
from stratus.filters import MAX_FIELD_LENGTH

PAYLOAD_KEY = "__payload"
# Integer payload leaves beyond this magnitude cannot be compared exactly as doubles.
MAX_EXACT_INTEGER = 2**106
# Texts up to this many characters are tokens as written; longer ones become a digest.
_MAX_TOKEN_TEXT = 64
# Readable keys up to this length; longer paths are spelled by their digest.
_MAX_READABLE_KEY = 64
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*")

TYPE_STRING, TYPE_NUMBER, TYPE_BOOL, TYPE_LIST, TYPE_OBJECT = "s", "n", "b", "l", "o"

TextIndexes = Mapping[tuple[str, ...], TextIndexOptions]


def record_metadata(
    document_id: str,
    payload: Mapping[str, Any],
    text_indexes: TextIndexes | None = None,
    payload_json: str | None = None,
) -> dict[str, Any]:
    """The Pinecone metadata of one record: the payload as JSON text plus its shadow keys (and
    the token shadows of the space's text indexes). `payload_json`: the payload's compact JSON,
    when the caller encoded it already (finite numbers only)."""
    given = payload_json is not None and utf8_encodable(payload_json)
    text = payload_json if given and payload_json is not None else payload_text(document_id, payload)
    metadata: dict[str, Any] = {PAYLOAD_KEY: text}
    for path, value in _reachable(payload, ()):
        _write_shadows(metadata, document_id, path, value)
        options = (text_indexes or {}).get(path)
        if options is not None and isinstance(value, str):
            tokens = [token for token in document_tokens(value, options) if utf8_encodable(token)]
            if tokens:  # Pinecone keeps no empty list; a missing key matches no token either
                metadata[shadow_key("tx", path)] = tokens
    return metadata


def payload_text(document_id: str, payload: Mapping[str, Any]) -> str:
    """The payload as written (key order, big integers, -0.0 kept), as compact JSON."""
    try:
        return json_text(payload, separators=(",", ":"))
    except ValueError:
        raise BadRequestError(
            f"payload of '{document_id}' holds a number that is not finite",
            {"document_id": document_id},
        ) from None
    except TypeError as exc:  # not JSON at all (only reachable by a programming error upstream)
        raise BadRequestError(
            f"payload of '{document_id}' is not JSON ({exc})", {"document_id": document_id}
        ) from None


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
    exact = sorted({token for item in items if (token := equality_token(item)) is not None})
    folded = sorted({token for item in items if (token := folded_token(item)) is not None})
    if exact:  # Pinecone lists hold strings only: every element is a token
        metadata[shadow_key("v", path)] = exact
    if folded:
        metadata[shadow_key("i", path)] = folded


def _write_scalar_shadows(
    metadata: dict[str, Any], document_id: str, path: tuple[str, ...], value: Any
) -> None:
    token = equality_token(value)
    if token is None:  # not a JSON value; the payload text would have refused it
        return
    metadata[shadow_key("t", path)] = _type_tag(value)
    metadata[shadow_key("v", path)] = token
    folded = folded_token(value)
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
    """The metadata key of one shadow kind (`t v i h l`) for one path: readable when its
    segments are plain, else a digest, so no key can start with `$` or clash with another path."""
    if all(_PLAIN_SEGMENT.fullmatch(segment) for segment in path):
        readable = f"{kind}_{'__'.join(path)}"
        if len(readable) <= _MAX_READABLE_KEY:
            return readable
    if all(utf8_encodable(segment) for segment in path):
        spelled = json.dumps(list(path), ensure_ascii=True).encode()
    else:
        spelled = path_code_points(path)  # never pure ASCII, so never the spelling above
    digest = hashlib.sha256(spelled).hexdigest()[:40]
    return f"{kind}-{digest}"


def equality_token(value: Any) -> str | None:
    """The typed equality token of a scalar; None for anything else (objects, lists, null)."""
    if isinstance(value, str):
        return text_token(value)
    if isinstance(value, bool):
        return "b1" if value else "b0"
    if isinstance(value, int | float):
        return "n" + number_key(value)
    return None


def folded_token(value: Any) -> str | None:
    """The lowercased token of a string that `lower()` changes; None otherwise."""
    if isinstance(value, str) and value.lower() != value:
        return text_token(value.lower())
    return None


def text_token(text: str) -> str:
    if len(text) <= _MAX_TOKEN_TEXT and utf8_encodable(text):
        return "s" + text
    return "d" + text_digest(text)


def split_number(value: int | float) -> tuple[float, float]:
    """(nearest double, exact remainder) with `value == high + low` exactly, for
    |value| <= MAX_EXACT_INTEGER (the remainder of such an integer fits a double exactly);
    beyond, the remainder is rounded but keeps its sign. OverflowError beyond every double."""
    if isinstance(value, float):
        return value, 0.0
    high = float(value)  # correctly rounded (half to even)
    return high, float(value - int(high))
