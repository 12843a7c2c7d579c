"""The primitives both filter compilers build their tokens from (Pinecone's metadata shadows,
LanceDB's filter terms): equal numbers get equal keys, long or unstorable text a digest, and no
text that UTF-8 cannot carry (a lone surrogate, which JSON escapes can bring in) reaches a store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def utf8_encodable(text: str) -> bool:
    """False when the text holds a lone surrogate: neither Arrow, SQL nor Pinecone can hold it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def number_key(value: int | float) -> str:
    """Equal numbers (Python compares int and float exactly) get equal keys, others differ."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def text_digest(text: str) -> str:
    """SHA-256 (hex) of the text's code points: a lone surrogate cannot be stored, but it can be
    digested (surrogatepass)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def path_code_points(path: tuple[str, ...]) -> bytes:
    """A dot path spelled by its code points, for a path holding a lone surrogate: `ensure_ascii`
    would spell the two lone surrogates "\\ud83d\\ude00" exactly as it spells "😀"."""
    return json.dumps(list(path), ensure_ascii=False).encode("utf-8", "surrogatepass")


def json_text(payload: Mapping[str, Any], separators: tuple[str, str] | None = None) -> str:
    """The payload as JSON (key order, big integers, -0.0 kept), in UTF-8 where it can be; a lone
    surrogate is kept exactly as a JSON escape. ValueError for a number that is not finite,
    TypeError for a value that is not JSON."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=separators)
    if not utf8_encodable(text):
        text = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=separators)
    return text
