"""The upsert body's vectors straight into numpy, without a Python float per value.

An upsert of 1,000 x 384 is ~4 MB of JSON, 384,000 numbers. Parsed the usual way each number
becomes a Python float (from_json), is validated one by one (pydantic's `list[float]`), then
copied again into the store's float32 matrix: most of the request's time went there, not into the
store's write (docs/performance.md, "Upserts"). Here simdjson (pysimdjson) parses the body, each
vector array is copied as doubles into numpy in C (`as_buffer`), and what FastAPI validates is the
rest of the body, each vector stood in for by a one-element list: every other rule and every
message of the request model still applies, as written.

It only answers for bodies it can read exactly as `json.loads` would and whose vectors are all
plain arrays of finite numbers within the dimension limits; for anything else (invalid JSON, NaN,
a string in a vector, numbers simdjson cannot hold, duplicate keys where it matters, a vector that
is not an array of numbers...) `decode` answers None and the body takes the usual path, which
reports exactly what it always did. Nested arrays are the one thing simdjson's buffer would hide
(it flattens them): every `[` of the body must be accounted for by an array seen, a `[` inside a
string, or a `\\u005b` escape, or the body takes the usual path.

simdjson, numpy and everything here are imported on first use: a cold start that never upserts
does not pay for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratus import limits

if TYPE_CHECKING:
    import numpy as np

# What a vector array stands in for in the body FastAPI validates (a valid vector of any index:
# the real dimension is checked by the service, from the real rows).
PLACEHOLDER: list[float] = [0.0] * limits.MIN_DIMENSION
_BRACKET = ord("[")


@dataclass
class IndexRows:
    """The vectors of one index: `positions` (documents, in order) and their rows."""

    positions: list[int] = field(default_factory=list)
    rows: list[np.ndarray[Any, Any]] = field(default_factory=list)


@dataclass
class Decoded:
    """The body with each vector replaced by PLACEHOLDER, and the vectors by index as float64
    rows (the numbers as sent; stores cast them as they store them)."""

    skeleton: dict[str, Any]
    vectors: dict[str, IndexRows]


class _NotPlain(Exception):
    """The body needs the usual path."""


def decode(body: bytes) -> Decoded | None:
    """The body split into what FastAPI validates and the vectors, or None (see the module)."""
    try:
        import numpy  # noqa: F401  (both must be there; the usual path needs neither)
        import simdjson
    except ImportError:
        return None
    # A parser per call: pysimdjson refuses to reuse one while a proxy of its last document lives,
    # and a call's proxies must never meet another thread's.
    parser = simdjson.Parser()
    try:
        root = parser.parse(body)
    except (ValueError, RuntimeError, TypeError, MemoryError):
        return None
    try:
        decoded = _decode(root, simdjson)
    except (_NotPlain, ValueError, RuntimeError, TypeError, KeyError, MemoryError):
        return None
    finally:
        del root
    if decoded is None or not _brackets_accounted_for(body, decoded):
        return None
    return decoded


def _decode(root: Any, simdjson: Any) -> Decoded | None:
    obj, array = simdjson.Object, simdjson.Array
    if type(root) is not obj:
        return None
    skeleton: dict[str, Any] = {}
    indexes: dict[str, IndexRows] = {}
    for key in _distinct_keys(root):
        value = root[key]
        if key == "documents" and type(value) is array:
            skeleton[key] = _documents(value, indexes, obj, array)
        else:
            skeleton[key] = _plain(value, simdjson)
    return Decoded(skeleton, indexes)


def _documents(documents: Any, indexes: dict[str, IndexRows], obj: type, array: type) -> list[Any]:
    """The documents with their vector arrays copied out into numpy rows (one tight loop: a batch
    is 1,000 documents; `_plain`'s conversions inlined)."""
    import numpy as np

    frombuffer, float64 = np.frombuffer, np.float64
    low, high = limits.MIN_DIMENSION, limits.MAX_DIMENSION
    out: list[Any] = []
    for position, doc in enumerate(documents):
        kind = type(doc)
        if kind is not obj:
            out.append(doc.as_list() if kind is array else doc)
            continue
        entry_out: dict[str, Any] = {}
        for key in _distinct_keys(doc):
            value = doc[key]
            kind = type(value)
            if key == "vectors" and kind is obj:
                vectors: dict[str, Any] = {}
                for name in _distinct_keys(value):
                    entry = value[name]
                    kind = type(entry)
                    if kind is not array:
                        vectors[name] = entry.as_dict() if kind is obj else entry  # a text to embed...
                        continue
                    row = frombuffer(entry.as_buffer(of_type="d"), dtype=float64)
                    size = len(row)
                    if not low <= size <= high or size != len(entry):
                        raise _NotPlain
                    rows = indexes.get(name)
                    if rows is None:
                        rows = indexes[name] = IndexRows()
                    rows.positions.append(position)
                    rows.rows.append(row)
                    vectors[name] = PLACEHOLDER
                entry_out[key] = vectors
            elif kind is obj:
                entry_out[key] = value.as_dict()
            elif kind is array:
                entry_out[key] = value.as_list()
            else:
                entry_out[key] = value
        out.append(entry_out)
    return out


def _distinct_keys(obj: Any) -> list[str]:
    """The object's keys; a key given twice takes the usual path (simdjson reads the first,
    `json.loads` the last)."""
    keys = list(obj)
    if len(keys) > 1 and len(set(keys)) != len(keys):
        raise _NotPlain
    return keys


def _plain(value: Any, simdjson: Any) -> Any:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _brackets_accounted_for(body: bytes, decoded: Decoded) -> bool:
    """Whether every `[` of the body is an array the decoded values hold, a `[` of one of their
    strings, or a `\\u005b` escape: then no vector held a nested array (which `as_buffer` would
    have flattened into it). Conservative: an escaped backslash before `u005b` only sends the body
    the usual way."""
    import numpy as np

    raw = int(np.count_nonzero(np.frombuffer(body, dtype=np.uint8) == _BRACKET))
    vectors = sum(len(rows.rows) for rows in decoded.vectors.values())
    documents = isinstance(decoded.skeleton.get("documents"), list)
    if raw == vectors + documents:
        return True  # one `[` per vector and the documents' array: the usual body, at one count
    if b"\\u005" in body:
        raw += body.count(b"\\u005b") + body.count(b"\\u005B")
    return vectors + _brackets_in(decoded.skeleton) == raw


def _brackets_in(value: Any) -> int:
    """Arrays in `value`, plus `[` characters in its strings and keys (vector placeholders
    excluded: their arrays are counted from the rows)."""
    if isinstance(value, str):
        return value.count("[")
    if isinstance(value, dict):
        return sum(key.count("[") + _brackets_in(item) for key, item in value.items())
    if isinstance(value, list):
        if value is PLACEHOLDER:
            return 0
        return 1 + sum(_brackets_in(item) for item in value)
    return 0
