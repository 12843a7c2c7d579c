"""Requests shaped to crash, starve or poison the service are a 4xx naming the field, and leave
nothing behind that later reads trip over: filters too wide to compile, on every route that takes
filters."""

from __future__ import annotations

from typing import Any

import pytest

from stratus import limits
from tests.security.conftest import Stack, assert_envelope

NAMESPACE = "hostile-ns"
UPSERT = f"/v1/namespaces/{NAMESPACE}/documents/direct"


@pytest.fixture(scope="module")
def namespace(shared_stack: Stack) -> str:
    body = {"namespace_id": NAMESPACE, "vector_configs": [{"name": "emb", "dimension": 2}]}
    assert shared_stack.call("POST", "/v1/namespaces/standalone", json=body).status_code == 200
    document = {"document_id": "d1", "vectors": {"emb": [1.0, 0.0]}, "payload": {"kind": "a"}}
    assert shared_stack.call("POST", UPSERT, json={"documents": [document]}).status_code == 200
    return NAMESPACE


def _filter_routes(filters: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every route whose body takes `filters`, with that filter."""
    query = {"vector_name": "emb", "vector": [1.0, 0.0]}
    return [
        ("/v1/search", {"namespace_id": NAMESPACE, "queries": [query], "filters": filters}),
        (f"/v1/namespaces/{NAMESPACE}/documents/list", {"filters": filters}),
        ("/v1/namespaces/list", {"filters": filters}),
    ]


WIDE = {"OR": [{"field": f"f{i}", "operator": "gt", "value": i} for i in range(limits.MAX_FILTER_COST)]}
NARROW = {
    "OR": [{"field": "kind", "operator": "in", "value": [f"v{i}" for i in range(limits.MAX_IN_VALUES)]}]
}


@pytest.mark.parametrize(
    ("path", "body"), _filter_routes(WIDE), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_filter_too_wide_is_a_400_naming_filters_and_the_limit(
    shared_stack: Stack, namespace: str, path: str, body: dict[str, Any]
) -> None:
    error = assert_envelope(shared_stack.call("POST", path, json=body), 400, "BadRequestError")
    assert error["details"] == {"field": "filters", "limit": limits.MAX_FILTER_COST}


@pytest.mark.parametrize(
    ("path", "body"), _filter_routes(NARROW), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_wide_but_legitimate_filter_is_answered(
    shared_stack: Stack, namespace: str, path: str, body: dict[str, Any]
) -> None:
    response = shared_stack.call("POST", path, json=body)
    assert response.status_code == 200, response.text
