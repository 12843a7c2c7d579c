"""Opaque cursors: base64url JSON, so clients cannot depend on what is inside."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from stratus.errors import BadRequestError


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, location: str = "cursor") -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(
            f"{location} is not a cursor this API returned; pass next_cursor from the previous page",
            {"field": location},
        ) from exc
