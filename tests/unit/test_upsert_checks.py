"""The upsert path's per-document checks, made cheap, against their plain definitions: the
payload rule (`payload_problem`, whose usual payload is checked in one pass), the payload's
compact JSON (one encoder made once, against `json.dumps`) and the not-applied warnings
(`ReportsUnapplied.unapplied`, which only looks at the fields that can warn)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from stratus.models import sdk_fields
from stratus.models.documents import UpsertDocumentsRequest
from stratus.models.sdk_fields import ReportsUnapplied, not_applied_warning
from stratus.models.stored_json import _problem, payload_problem
from stratus.services.documents import _payload_text

_text = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["\ud800", "a\udfffb", "é", "日本", "", "[x]"]),  # lone surrogates, non-ASCII
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=12,
)
_payloads = st.dictionaries(_text, _values, max_size=5)


def _deep(levels: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        payload = {"k": payload}
    return payload


@settings(max_examples=400, deadline=None)
@given(_payloads)
def test_payload_problem_is_the_full_walks_answer(payload: dict[str, Any]) -> None:
    assert payload_problem(payload) == _problem(payload, "", 0, dynamodb=False)


@pytest.mark.parametrize(
    "payload",
    [
        {"category": "c1", "n": 7, "score": 0.5, "flag": True, "none": None},
        {"x": math.nan},
        {"x": -math.inf},
        {"\ud800": 1},
        {"x": "a\udfffb"},
        {"x": [1, {"y": math.nan}]},
        {"x": {"y": "\ud800"}},
        _deep(15),
        _deep(16),
        {},
    ],
)
def test_payload_problem_answers_these_as_the_full_walk(payload: dict[str, Any]) -> None:
    assert payload_problem(payload) == _problem(payload, "", 0, dynamodb=False)


def _dumps(payload: dict[str, Any]) -> tuple[str, bool]:
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False), True
    except ValueError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")), False


@settings(max_examples=400, deadline=None)
@given(_payloads)
def test_the_payload_text_is_json_dumps_text(payload: dict[str, Any]) -> None:
    assert _payload_text(payload) == _dumps(payload)


def test_what_json_cannot_encode_raises_what_json_dumps_raises() -> None:
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        _payload_text({"x": object()})


def _reference_unapplied(model: BaseModel, location: str = "") -> list[str]:
    """`ReportsUnapplied.unapplied` as first written: every field, in order."""
    assert isinstance(model, ReportsUnapplied)
    warnings: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        spec = model.NOT_APPLIED.get(name)
        path = f"{location}{name}"
        if spec is not None and name in model.model_fields_set and not spec.is_neutral(value):
            warnings.append(not_applied_warning(path, spec.reason))
        if isinstance(value, ReportsUnapplied):
            assert isinstance(value, BaseModel)
            warnings.extend(_reference_unapplied(value, f"{path}."))
        elif isinstance(value, list):
            for position, item in enumerate(value):
                if isinstance(item, ReportsUnapplied):
                    assert isinstance(item, BaseModel)
                    warnings.extend(_reference_unapplied(item, f"{path}[{position}]."))
    return warnings


_DOCUMENT_FIELDS = {
    "acl": st.sampled_from([None, {}, {"read": ["a"]}]),
    "source_type": st.sampled_from([None, "direct_upsert", "bucket"]),
    "root_object_id": st.sampled_from([None, "obj_1"]),
    "lineage_path": st.sampled_from([None, "a/b"]),
    "lineage_chain": st.sampled_from([None, [], [{"step": 1}]]),
    "content_hash": st.sampled_from([None, "abc"]),
}


@st.composite
def _upserts(draw: st.DrawFn) -> dict[str, Any]:
    documents = []
    for position in range(draw(st.integers(1, 4))):
        document: dict[str, Any] = {"document_id": f"d{position}", "vectors": {"a": [0.5]}}
        for name, values in _DOCUMENT_FIELDS.items():
            if draw(st.booleans()):
                document[name] = draw(values)
        documents.append(document)
    body: dict[str, Any] = {"documents": documents}
    if draw(st.booleans()):
        body["options"] = draw(st.sampled_from([None, {}, {"wait": True}]))
    return body


@settings(max_examples=200, deadline=None)
@given(_upserts())
def test_the_upserts_warnings_are_the_plain_walks(body: dict[str, Any]) -> None:
    request = UpsertDocumentsRequest.model_validate(body)

    assert request.unapplied() == _reference_unapplied(request)


def _request_models() -> list[type[BaseModel]]:
    import stratus.models.collection_documents
    import stratus.models.managed
    import stratus.models.managed_content
    import stratus.models.namespaces
    import stratus.models.objects  # noqa: F401  (their request models subclass ReportsUnapplied)

    found: list[type[BaseModel]] = []
    pending: list[type[Any]] = [ReportsUnapplied]
    while pending:
        subclasses: list[type[Any]] = pending.pop().__subclasses__()
        for subclass in subclasses:
            pending.append(subclass)
            if issubclass(subclass, BaseModel):
                found.append(subclass)
    return found


def test_every_field_that_can_hold_a_reporting_model_is_looked_at() -> None:
    """A field holding a `ReportsUnapplied` model, or a list of them, is never skipped (its
    warnings would be silently dropped); the known nestings are found."""
    models = _request_models()
    assert len(models) >= 10
    for model in models:
        _, nestable, order = sdk_fields._plan(model)
        for name, field in model.model_fields.items():
            text = repr(field.annotation)
            reporting = [other.__name__ for other in models if other.__name__ in text]
            if reporting and not text.startswith("dict["):
                assert name in nestable and name in order, (model.__name__, name, text)
    assert "documents" in sdk_fields._plan(UpsertDocumentsRequest)[1]
