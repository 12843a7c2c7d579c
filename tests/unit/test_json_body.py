"""stratus.api.json_body.loads: the answer json.loads gives, for every document (hypothesis),
the documents only json.loads accepts, and json.loads' own error for what neither accepts."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratus.api.json_body import loads


def _same(left: Any, right: Any) -> bool:
    """Equal, with the same types, the same sign of zero and NaN equal to NaN."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or (left == right and str(left) == str(right))
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[key], right[key]) for key in left)
    return bool(left == right)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_documents, st.booleans())
def test_any_document_parses_as_json_loads_parses_it(document: Any, ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8")

    assert _same(loads(body), json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b'"\\ud800"',  # a lone surrogate escape: from_json refuses it, json.loads does not
        b'{"a": "\\udfff x"}',
        json.dumps({"text": "é ✓"}).encode("utf-16"),
        json.dumps([1, 2.5]).encode("utf-32"),
        b"\xef\xbb\xbf[1]",
        b'{"a": 1, "a": 2}',
        b"-0.0",
        b"1e400",
        b"NaN",
        b'"\\u0000"',
    ],
)
def test_what_json_loads_accepts_is_accepted_the_same(body: bytes) -> None:
    assert _same(loads(body), json.loads(body))


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[1,2,]", b'{"a" 1}', b"nul", b'"\\x"', b"[1] x", b"\xff\xfe\xfd"]
)
def test_what_neither_accepts_raises_json_loads_own_error(body: bytes) -> None:
    """The same exception, message and position (FastAPI turns a JSONDecodeError into a 400 that
    names the position; anything else, like the undecodable bytes, into a plain 400)."""
    with pytest.raises(ValueError) as expected:
        json.loads(body)
    with pytest.raises(ValueError) as ours:
        loads(body)

    assert type(ours.value) is type(expected.value)
    assert str(ours.value) == str(expected.value)
