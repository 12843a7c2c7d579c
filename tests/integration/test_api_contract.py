"""The HTTP contract in-process: the whole app through Starlette's TestClient, with real
components behind it (moto's DynamoDB with the template's table, LanceDB in a temp directory).

Every limit of api.md is a 4xx naming the field; every failure is in the error envelope."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.wiring import WiredApi

DIM = 8


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]  # "a" (admin, org a), "a_read" (read-only, org a), "b" (admin, org b)
    store: DynamoDBMetadataStore
    lancedb_dir: Path
    wired: WiredApi

    def call(self, method: str, path: str, key: str | None = "a", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys[key]}"
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    from stratus.services.api_keys import create_api_key

    lancedb_dir = tmp_path / "lancedb"
    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(lancedb_dir))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    keys = {
        "a": create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0],
        "a_read": create_api_key(moto_dynamodb, "org_a", "reader", ["read"])[0],
        "b": create_api_key(moto_dynamodb, "org_b", "admin", ["read", "write", "admin"])[0],
    }
    wired = wired_api()
    with wired.client() as client:
        yield Api(client, keys, moto_dynamodb, lancedb_dir, wired)


def _vec(*head: float) -> list[float]:
    return [*head, *([0.0] * (DIM - len(head)))]


def _create(api: Api, namespace_id: str = "legal-docs", **extra: Any) -> Any:
    body = {"namespace_id": namespace_id, "vector_configs": [{"name": "emb", "dimension": DIM}], **extra}
    return api.call("POST", "/v1/namespaces/standalone", json=body)


def _error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["status"] == status
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def _locations(error: dict[str, Any]) -> list[str]:
    return [item["location"] for item in error["details"]["validation_errors"]]


# --- auth and isolation ------------------------------------------------------------------------


def test_health_needs_no_key(api: Api) -> None:
    response = api.call("GET", "/v1/health", key=None)
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.parametrize("header", [None, "Bearer sk_nope", "Basic abc", "Bearer "])
def test_missing_or_invalid_key_is_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    error = _error(api.call("GET", "/v1/namespaces", key=None, headers=headers), 401, "UnauthorizedError")
    assert "key" in error["message"].lower()


def test_read_only_key_cannot_write(api: Api) -> None:
    error = _error(_create_with(api, "a_read"), 403, "ForbiddenError")
    assert "write" in error["message"]


def _create_with(api: Api, key: str) -> Any:
    body = {"namespace_id": "x-ns", "vector_configs": [{"name": "emb", "dimension": DIM}]}
    return api.call("POST", "/v1/namespaces/standalone", key=key, json=body)


def test_other_orgs_namespace_is_404_everywhere(api: Api) -> None:
    assert _create(api).status_code == 200
    upsert = {"documents": [{"document_id": "d1", "vectors": {"emb": _vec(1)}}]}
    assert api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json=upsert).status_code == 200
    search = {"namespace_id": "legal-docs", "queries": [{"vector_name": "emb", "vector": _vec(1)}]}
    for method, path, body in [
        ("GET", "/v1/namespaces/legal-docs", None),
        ("PATCH", "/v1/namespaces/legal-docs", {"description": "mine"}),
        ("DELETE", "/v1/namespaces/legal-docs", None),
        ("POST", "/v1/namespaces/legal-docs/documents/direct", upsert),
        ("GET", "/v1/namespaces/legal-docs/documents/d1", None),
        ("DELETE", "/v1/namespaces/legal-docs/documents/d1", None),
        ("POST", "/v1/namespaces/legal-docs/documents/list", {}),
        ("POST", "/v1/search", search),
    ]:
        error = _error(api.call(method, path, key="b", json=body), 404, "NotFoundError")
        assert error["details"] == {"resource": "namespace", "id": "legal-docs"}
    assert api.call("GET", "/v1/namespaces", key="b").json()["results"] == []
    # ...and org a still has everything.
    assert api.call("GET", "/v1/namespaces/legal-docs/documents/d1").status_code == 200


def test_unknown_namespace_is_404(api: Api) -> None:
    error = _error(api.call("GET", "/v1/namespaces/nope"), 404, "NotFoundError")
    assert error["message"] == "namespace 'nope' not found"


def test_duplicate_namespace_id_is_409(api: Api) -> None:
    assert _create(api).status_code == 200
    _error(_create(api), 409, "AlreadyExistsError")


# --- namespace validation ---------------------------------------------------------------------


@pytest.mark.parametrize("namespace_id", ["A-Upper", "-lead", "x", "a" * 64, "under_score", "sp ace"])
def test_bad_namespace_id_is_422_naming_the_field(api: Api, namespace_id: str) -> None:
    error = _error(_create(api, namespace_id), 422, "ValidationError")
    assert _locations(error) == ["namespace_id"]
    assert error["message"].startswith("namespace_id:")


def test_unknown_metric_is_422_naming_the_field(api: Api) -> None:
    body = {
        "namespace_id": "metric-ns",
        "vector_configs": [{"name": "emb", "dimension": 4, "metric": "manhattan"}],
    }
    error = _error(api.call("POST", "/v1/namespaces/standalone", json=body), 422, "ValidationError")
    assert _locations(error) == ["vector_configs[0].metric"]


@pytest.mark.parametrize("dimension", [0, 20001])
def test_dimension_out_of_range_is_422(api: Api, dimension: int) -> None:
    body = {"namespace_id": "dims", "vector_configs": [{"name": "emb", "dimension": dimension}]}
    error = _error(api.call("POST", "/v1/namespaces/standalone", json=body), 422, "ValidationError")
    assert _locations(error) == ["vector_configs[0].dimension"]


def test_namespace_round_trip_by_id_and_name(api: Api) -> None:
    created = _create(api, namespace_name="Legal Docs", description="contracts").json()
    assert created["mode"] == "standalone" and created["status"] == "active"
    assert created["vector_configs"] == [{"name": "emb", "dimension": DIM, "metric": "cosine"}]
    assert created["vector_inference_map"] == {} and created["document_count"] == 0
    assert created["infrastructure"]["vector_store"] == "lancedb"
    by_name = api.call("GET", "/v1/namespaces/Legal Docs").json()
    assert by_name["namespace_id"] == "legal-docs"
    patched = api.call("PATCH", "/v1/namespaces/legal-docs", json={"namespace_name": "Renamed"}).json()
    assert patched["namespace_name"] == "Renamed"
    _error(api.call("GET", "/v1/namespaces/Legal Docs"), 404, "NotFoundError")


# --- documents --------------------------------------------------------------------------------


def test_wrong_dimension_is_400_naming_the_field(api: Api) -> None:
    _create(api)
    body = {"documents": [{"vectors": {"emb": _vec(1)}}, {"vectors": {"emb": [1.0, 2.0]}}]}
    error = _error(
        api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json=body), 400, "BadRequestError"
    )
    assert error["details"]["field"] == "documents[1].vectors.emb"
    assert error["details"]["expected_dimension"] == DIM


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_floats_are_rejected_naming_the_position(api: Api, literal: str) -> None:
    _create(api)
    template = '{"documents": [{"vectors": {"emb": [0.1, LITERAL, 0, 0, 0, 0, 0, 0]}}]}'
    raw = template.replace("LITERAL", literal)
    response = api.call(
        "POST",
        "/v1/namespaces/legal-docs/documents/direct",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    error = _error(response, 422, "ValidationError")
    assert _locations(error) == ["documents[0].vectors.emb[1]"]


def test_more_than_1000_documents_is_422(api: Api) -> None:
    _create(api)
    body = {"documents": [{"vectors": {"emb": [0.5]}}] * 1001}
    error = _error(
        api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json=body), 422, "ValidationError"
    )
    assert _locations(error) == ["documents"]


def test_payload_over_40kb_is_413_naming_the_document(api: Api) -> None:
    _create(api)
    body = {"documents": [{"vectors": {"emb": _vec(1)}, "payload": {"text": "x" * 41_000}}]}
    error = _error(
        api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json=body), 413, "PayloadTooLargeError"
    )
    assert error["details"]["field"] == "documents[0].payload"


def test_body_over_6mb_is_413_before_parsing(api: Api) -> None:
    _create(api)
    raw = b'{"documents": [' + b" " * (6 * 1024 * 1024) + b"]}"
    response = api.call(
        "POST",
        "/v1/namespaces/legal-docs/documents/direct",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    _error(response, 413, "PayloadTooLargeError")


def test_invalid_json_is_400(api: Api) -> None:
    response = api.call(
        "POST", "/v1/namespaces/standalone", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    _error(response, 400, "BadRequestError")


def test_deeply_nested_json_is_400_not_500(api: Api) -> None:
    _create(api)
    nested = "[" * 100_000 + "]" * 100_000
    raw = '{"documents": [{"vectors": {"emb": [1]}, "payload": {"a": NESTED}}]}'.replace("NESTED", nested)
    response = api.call(
        "POST",
        "/v1/namespaces/legal-docs/documents/direct",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text


def test_upsert_get_list_delete_round_trip_with_metadata_alias(api: Api) -> None:
    _create(api)
    body = {
        "documents": [
            {"document_id": "d1", "vectors": {"emb": _vec(1)}, "metadata": {"title": "Ünïcode ✓", "n": 1}},
            {"vectors": {"emb": _vec(0, 1)}, "payload": {"title": "two"}},
        ]
    }
    answer = api.call("POST", "/v1/namespaces/legal-docs/documents/upsert", json=body).json()
    assert answer["inserted"] == 2 and answer["document_ids"][0] == "d1"
    assert answer["document_ids"][1].startswith("doc_")
    one = api.call("GET", "/v1/namespaces/legal-docs/documents/d1?return_vectors=true").json()
    assert one["payload"] == {"title": "Ünïcode ✓", "n": 1}
    assert one["vectors"]["emb"] == pytest.approx(_vec(1))
    listed = api.call("POST", "/v1/namespaces/legal-docs/documents/list", json={"limit": 1}).json()
    assert listed["pagination"]["page_size"] == 1 and listed["pagination"]["next_cursor"]
    assert api.call("GET", "/v1/namespaces/legal-docs").json()["document_count"] == 2
    assert api.call("DELETE", "/v1/namespaces/legal-docs/documents/d1").status_code == 200
    _error(api.call("GET", "/v1/namespaces/legal-docs/documents/d1"), 404, "NotFoundError")
    _error(api.call("DELETE", "/v1/namespaces/legal-docs/documents/d1"), 404, "NotFoundError")


# --- search -----------------------------------------------------------------------------------


def _search(api: Api, **body: Any) -> Any:
    payload = {"namespace_id": "legal-docs", "queries": [{"vector_name": "emb", "vector": _vec(1)}], **body}
    return api.call("POST", "/v1/search", json=payload)


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 5000}, "top_k"),
        ({"queries": [{"vector_name": "emb", "vector": _vec(1), "top_k": 0}]}, "queries[0].top_k"),
        ({"queries": [{"vector_name": "emb", "vector": _vec(1)}] * 6}, "queries"),
        ({"fusion": "sum"}, "fusion"),
    ],
)
def test_search_limits_are_422_naming_the_field(api: Api, body: dict[str, Any], location: str) -> None:
    _create(api)
    error = _error(_search(api, **body), 422, "ValidationError")
    assert _locations(error) == [location]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"AND": {"field": "a"}}, "filters.AND"),
        ({"AND": [{"field": "a", "operator": "like", "value": 1}]}, "filters.AND[0].operator"),
        ({"field": "a", "operator": "in", "value": "x"}, "filters.value"),
        ({"field": "a..b", "operator": "eq", "value": 1}, "filters.field"),
        ({"OR": [{"a": None}]}, "filters.OR[0].a"),
    ],
)
def test_malformed_filters_are_400_naming_where(api: Api, filters: dict[str, Any], field: str) -> None:
    _create(api)
    error = _error(_search(api, filters=filters), 400, "BadRequestError")
    assert error["details"]["field"] == field


def test_filter_deeper_than_8_is_400(api: Api) -> None:
    _create(api)
    leaf: dict[str, Any] = {"field": "a", "operator": "eq", "value": 1}
    for _ in range(9):
        leaf = {"AND": [leaf]}
    error = _error(_search(api, filters=leaf), 400, "BadRequestError")
    assert error["details"]["field"] == "filters" + ".AND[0]" * 8
    assert "deeper than 8" in error["message"]
    eight: dict[str, Any] = {"field": "a", "operator": "eq", "value": 1}
    for _ in range(8):
        eight = {"AND": [eight]}
    assert _search(api, filters=eight).status_code == 200


def test_unknown_operator_is_400_naming_it(api: Api) -> None:
    _create(api)
    error = _error(
        _search(api, filters={"field": "a", "operator": "regex", "value": "x"}), 400, "BadRequestError"
    )
    assert error["details"] == {"field": "filters.operator", "operator": "regex"}


def test_search_finds_nearest_first_with_filters_and_warning(api: Api) -> None:
    _create(api, payload_indexes=[{"field_name": "category", "type": "keyword"}])
    docs = [
        {
            "document_id": "exact",
            "vectors": {"emb": _vec(1)},
            "payload": {"category": "contract", "year": 2020},
        },
        {
            "document_id": "close",
            "vectors": {"emb": _vec(1, 0.2)},
            "payload": {"category": "contract", "year": 2024},
        },
        {
            "document_id": "other",
            "vectors": {"emb": _vec(0, 1)},
            "payload": {"category": "memo", "year": 2024},
        },
    ]
    api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json={"documents": docs})
    answer = _search(api).json()
    assert [r["document_id"] for r in answer["results"]] == ["exact", "close", "other"]
    assert answer["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert answer["results"][0]["scores"] == {"emb": pytest.approx(1.0, abs=1e-5)}
    assert answer["warnings"] == []
    filtered = _search(
        api,
        filters={
            "AND": [
                {"field": "category", "operator": "eq", "value": "Contract"},
                {"field": "year", "operator": "gte", "value": 2021},
            ]
        },
    ).json()
    assert [r["document_id"] for r in filtered["results"]] == ["close"]
    assert len(filtered["warnings"]) == 1 and "'year'" in filtered["warnings"][0]


def test_multi_query_rrf_fuses(api: Api) -> None:
    _create(api)
    docs = [
        {"document_id": "a", "vectors": {"emb": _vec(1)}},
        {"document_id": "b", "vectors": {"emb": _vec(0.7, 0.7)}},
        {"document_id": "c", "vectors": {"emb": _vec(0, 1)}},
    ]
    api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json={"documents": docs})
    queries = [{"vector_name": "emb", "vector": _vec(1)}, {"vector_name": "emb", "vector": _vec(0, 1)}]
    answer = _search(api, queries=queries, fusion="rrf").json()
    scores = {r["document_id"]: r["score"] for r in answer["results"]}
    assert scores["b"] == pytest.approx(2 / 62)  # second in both lists
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 63)


# --- dependency failure -----------------------------------------------------------------------


def test_vector_store_failure_mid_request_is_503_and_metadata_untouched(api: Api) -> None:
    assert _create(api, vector_configs=[]).status_code == 200
    before = api.store.get_namespace("org_a", "legal-docs")
    # The LanceDB directory becomes unusable (a plain file where the database was).
    shutil.rmtree(api.lancedb_dir, ignore_errors=True)
    api.lancedb_dir.write_text("not a directory")
    api.wired.rebuild()  # a new container opens the store anew
    body = {"documents": [{"document_id": "d1", "vectors": {"new_index": [1.0, 0.0]}}]}
    response = api.call("POST", "/v1/namespaces/legal-docs/documents/direct", json=body)
    error = _error(response, 503, "VectorStoreUnavailableError")
    assert response.headers["Retry-After"]
    assert "new_index" in json.dumps(error) or error["message"]
    after = api.store.get_namespace("org_a", "legal-docs")
    assert after == before  # no vector index registered, version unchanged
