"""`stratus.api.upsert_body.decode`: for any body, either None (the body takes the usual path) or
exactly what `json.loads` reads, split in two: the body with each vector replaced by a placeholder,
and the vectors as float64 rows equal to the floats `json.loads` gives (types and values alike).
It never accepts what the usual path would refuse as a vector: nested arrays, NaN, strings."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from stratus import limits
from stratus.api.upsert_body import PLACEHOLDER, Decoded, decode


def _reassembled(decoded: Decoded) -> dict[str, Any]:
    """The skeleton with every vector put back where its placeholder stands."""
    body: dict[str, Any] = json.loads(json.dumps(decoded.skeleton))  # a deep copy with fresh lists
    for name, rows in decoded.vectors.items():
        for position, row in zip(rows.positions, rows.rows, strict=True):
            assert decoded.skeleton["documents"][position]["vectors"][name] is PLACEHOLDER
            body["documents"][position]["vectors"][name] = row.tolist()
    return body


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal JSON types (1 and 1.0 differ; -0.0 and 0.0 differ; NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _vectors_as_floats(body: Any) -> Any:
    """`json.loads`' body with each vector's numbers as floats (pydantic's `list[float]`)."""
    documents = body.get("documents") if isinstance(body, dict) else None
    for doc in documents if isinstance(documents, list) else []:
        vectors = doc.get("vectors") if isinstance(doc, dict) else None
        if not isinstance(vectors, dict):
            continue
        for name, value in list(vectors.items()):
            if isinstance(value, list):
                vectors[name] = [float(x) for x in value]
    return body


def assert_decodes_like_json_loads(raw: bytes) -> Decoded | None:
    decoded = decode(raw)
    if decoded is None:
        return None
    expected = _vectors_as_floats(json.loads(raw))
    assert _same(_reassembled(decoded), expected), raw[:300]
    return decoded


# ---------------------------------------------------------------------------------------------
# Examples


def test_a_plain_batch_is_decoded_into_one_row_per_vector() -> None:
    body = {
        "documents": [
            {
                "document_id": f"d{i}",
                "vectors": {"a": [0.5, -1.25e-3, 3.0], "b": [1.0, 2.0]},
                "payload": {"n": i},
            }
            for i in range(5)
        ]
    }
    decoded = assert_decodes_like_json_loads(json.dumps(body).encode())
    assert decoded is not None
    assert decoded.vectors["a"].positions == [0, 1, 2, 3, 4]
    assert np.stack(decoded.vectors["a"].rows).dtype == np.float64
    assert decoded.vectors["b"].rows[0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "vector",
    [
        "[1, [2]]",
        "[[1], [2]]",
        "[[1, 2]]",
        "[1, []]",
        "[[]]",
        "[]",
        "[1, true]",
        '[1, "2"]',
        "[1, null]",
        "[1, {}]",
        "[NaN]",
        "[1e400]",
        "[.5]",
        "[01]",
        "[1,]",
        "[123456789012345678901234567890]",
    ],
)
def test_what_is_not_a_plain_vector_takes_the_usual_path(vector: str) -> None:
    raw = ('{"documents": [{"vectors": {"a": ' + vector + "}}]}").encode()
    assert decode(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"documents": [{"vectors": {"a": [1.0]}, "vectors": {"a": [2.0]}}]}',  # a key twice
        b'{"documents": [{"vectors": {"a": [1.0], "a": [2.0]}}]}',
        b'{"documents": [], "documents": [{"vectors": {"a": [2.0]}}]}',
        b'{"documents": [{"vectors": {"a": [1.0]}, "payload": {"s": "\\ud800"}}]}',  # a lone surrogate
        b"\xff\xfe{",
        b"",
        b"[]",
        b'"documents"',
    ],
)
def test_bodies_json_loads_reads_differently_take_the_usual_path(raw: bytes) -> None:
    assert decode(raw) is None


def test_an_escaped_bracket_cannot_hide_a_nested_array() -> None:
    """`[` counted in the body must match arrays and string characters: a `\\u005b` in a string
    and a nested one-element array would cancel out if escapes were not counted."""
    raw = b'{"documents": [{"vectors": {"a": [1, [2]]}, "payload": {"s": "\\u005b"}}]}'
    assert decode(raw) is None
    fine = b'{"documents": [{"vectors": {"a": [1, 2]}, "payload": {"s": "\\u005b[", "l": [[1], "["]}}]}'
    decoded = assert_decodes_like_json_loads(fine)
    assert decoded is not None and decoded.vectors["a"].rows[0].tolist() == [1.0, 2.0]


def test_integers_become_floats_as_pydantic_makes_them() -> None:
    raw = b'{"documents": [{"vectors": {"a": [1, -0, 9007199254740993, 18446744073709551615]}}]}'
    decoded = assert_decodes_like_json_loads(raw)
    assert decoded is not None
    assert decoded.vectors["a"].rows[0].tolist() == [1.0, 0.0, 9007199254740992.0, 1.8446744073709552e19]


def test_the_dimension_limits_send_a_vector_the_usual_way() -> None:
    too_long = json.dumps({"documents": [{"vectors": {"a": [0.5] * (limits.MAX_DIMENSION + 1)}}]})
    assert decode(too_long.encode()) is None


# ---------------------------------------------------------------------------------------------
# Any body


_KEYS = st.sampled_from(
    ["documents", "document_id", "vectors", "payload", "metadata", "a", "b", "["]
) | st.text(max_size=4)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]) | st.sampled_from('[]\\"\n'), max_size=6)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)
_NUMBERS = st.integers(min_value=-(2**60), max_value=2**60) | st.floats(allow_nan=False, allow_infinity=False)
_VECTORS = st.lists(_NUMBERS, min_size=0, max_size=6) | st.lists(st.lists(_NUMBERS, max_size=2), max_size=3)
_DOCUMENT = st.fixed_dictionaries(
    {"vectors": st.dictionaries(st.sampled_from(["a", "b", "c"]), _VECTORS | _JSON, max_size=3)},
    optional={"document_id": _JSON, "payload": _JSON, "metadata": _JSON, "x": _JSON},
)
_BODY = (
    st.fixed_dictionaries({"documents": st.lists(_DOCUMENT | _JSON, max_size=4)}, optional={"extra": _JSON})
    | _JSON
)


@settings(max_examples=500, deadline=None)
@given(body=_BODY, indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_any_body_decodes_exactly_as_json_loads_reads_it_or_not_at_all(
    body: Any, indent: int | None, ascii_only: bool
) -> None:
    raw = json.dumps(body, indent=indent, ensure_ascii=ascii_only).encode()
    decoded = assert_decodes_like_json_loads(raw)
    event("decoded" if decoded is not None and decoded.vectors else "usual path or no vectors")
    if decoded is not None:
        for rows in decoded.vectors.values():
            assert all(np.isfinite(row).all() and row.ndim == 1 and len(row) >= 1 for row in rows.rows)


_FLAT = st.lists(_NUMBERS, min_size=1, max_size=8)
# Numbers simdjson holds (64 bits); beyond them a body takes the usual path, as tested above.
_JSON_64 = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]) | st.sampled_from('[]\\"\n'), max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)
_PLAIN_DOCUMENT = st.fixed_dictionaries(
    {"vectors": st.dictionaries(st.sampled_from(["a", "b"]), _FLAT, min_size=1, max_size=2)},
    optional={"document_id": st.text(max_size=6), "payload": st.dictionaries(_KEYS, _JSON_64, max_size=4)},
)


@settings(max_examples=300, deadline=None)
@given(documents=st.lists(_PLAIN_DOCUMENT, min_size=1, max_size=6), ascii_only=st.booleans())
def test_plain_batches_are_decoded_and_equal_what_json_loads_reads(
    documents: list[dict[str, Any]], ascii_only: bool
) -> None:
    raw = json.dumps({"documents": documents}, ensure_ascii=ascii_only).encode()
    decoded = assert_decodes_like_json_loads(raw)
    # Only a vector number beyond 64 bits (simdjson's limit) sends a plain batch the usual way.
    huge = any(
        isinstance(x, int) and not -(2**63) <= x < 2**64
        for doc in documents
        for vector in doc["vectors"].values()
        for x in vector
    )
    assert decoded is not None or huge
