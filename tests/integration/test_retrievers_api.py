"""The retriever routes through the whole app on moto's DynamoDB and LanceDB: route precedence
(`/v1/retrievers/stages`, `/execute`, `/list` before `/{retriever_id}`), the public catalogue,
the SDK's body-less `POST .../list`, and cost: on a warm container, executing a saved retriever
(and an ad-hoc pipeline, and a feature search) reads DynamoDB no more than `POST /v1/search`,
while a PATCH made by another container shows within the same bound as a namespace change."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.wiring import WiredApi

ORG = "org_a"
VECTOR = [1.0, 0.0, 0.0, 0.0]
SEARCH_STAGE = {
    "stage_name": "search",
    "config": {
        "stage_id": "feature_search",
        "parameters": {
            "searches": [{"feature_uri": "emb", "query": {"input_mode": "vector", "value": VECTOR}}]
        },
    },
}


@dataclass
class Apis:
    key: str
    containers: list[WiredApi]

    def client(self, index: int = 0, namespace: str | None = "docs") -> TestClient:
        client = self.containers[index].client()
        client.headers["Authorization"] = f"Bearer {self.key}"
        if namespace is not None:
            client.headers["X-Namespace"] = namespace
        return client

    def reads(self, index: int = 0) -> list[str]:
        """Every DynamoDB read the container's store makes from now on."""
        calls: list[str] = []
        store = self.containers[index].container.metadata
        assert isinstance(store, DynamoDBMetadataStore)
        for operation in ("GetItem", "Query", "Scan", "BatchGetItem"):
            store.client.meta.events.register(
                f"before-call.dynamodb.{operation}", lambda op=operation, **_: calls.append(op)
            )
        return calls


@pytest.fixture
def apis(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Apis]:
    """Two apps with a container each (two Lambda containers), on one table and one LanceDB
    directory, with a `docs` namespace of two documents."""
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", moto_dynamodb.table_name)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_NAMESPACE_CACHE_SECONDS", "30")
    key = create_api_key(moto_dynamodb, ORG, "admin", ["read", "write", "admin"])[0]
    built = Apis(key, [wired_api(), wired_api()])
    client = built.client()
    assert (
        client.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": "docs", "vector_configs": [{"name": "emb", "dimension": 4}]},
        ).status_code
        == 200
    )
    documents = [
        {"document_id": "a", "vectors": {"emb": VECTOR}, "payload": {"kind": "x"}},
        {"document_id": "b", "vectors": {"emb": [0.0, 1.0, 0.0, 0.0]}, "payload": {"kind": "y"}},
    ]
    assert (
        client.post("/v1/namespaces/docs/documents/direct", json={"documents": documents}).status_code == 200
    )
    yield built


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_static_routes_win_over_the_retriever_id_route(apis: Apis) -> None:
    anonymous = apis.containers[0].client()
    catalogue = anonymous.get("/v1/retrievers/stages")
    assert catalogue.status_code == 200, catalogue.text  # public, and not a retriever named "stages"
    assert [stage["stage_id"] for stage in catalogue.json()][:2] == ["feature_search", "attribute_filter"]

    client = apis.client(0)
    adhoc = _ok(client.post("/v1/retrievers/execute", json={"stages": [SEARCH_STAGE]}))
    assert [d["document_id"] for d in adhoc["documents"]] == ["a", "b"]
    listed = client.post("/v1/retrievers/list", content=b"", headers={"Content-Type": "application/json"})
    assert _ok(listed)["results"] == []  # the SDK's list sends no body at all
    refused = client.post("/v1/retrievers", json={"retriever_name": "stages", "stages": [SEARCH_STAGE]})
    assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == "retriever_name"


def test_a_warm_container_executes_a_saved_retriever_with_no_more_reads_than_search(apis: Apis) -> None:
    client = apis.client(0)
    retriever = _ok(
        client.post("/v1/retrievers", json={"retriever_name": "finder", "stages": [SEARCH_STAGE]})
    )
    requests: dict[str, Callable[[], Any]] = {
        "search": lambda: client.post(
            "/v1/search", json={"namespace_id": "docs", "queries": [{"vector_name": "emb", "vector": VECTOR}]}
        ),
        "execute by id": lambda: client.post(f"/v1/retrievers/{retriever['retriever_id']}/execute", json={}),
        "execute by name": lambda: client.post("/v1/retrievers/finder/execute", json={"inputs": {}}),
        "ad hoc": lambda: client.post("/v1/retrievers/execute", json={"stages": [SEARCH_STAGE]}),
        "feature search": lambda: client.post(
            "/v1/features/search",
            json={"feature_uri": "emb", "query": {"input_mode": "vector", "vector": VECTOR}},
        ),
    }
    for send in requests.values():  # warm: key, namespace and retriever read once
        _ok(send())
    reads = apis.reads(0)
    counted: dict[str, int] = {}
    for name, send in requests.items():
        before = len(reads)
        _ok(send())
        counted[name] = len(reads) - before

    assert counted == dict.fromkeys(requests, counted["search"]), counted
    assert counted["search"] == 0


def test_a_patch_elsewhere_shows_within_the_cache_bound_and_at_once_here(
    apis: Apis, monkeypatch: pytest.MonkeyPatch
) -> None:
    executing, patching = apis.client(0), apis.client(1)
    _ok(executing.post("/v1/retrievers", json={"retriever_name": "finder", "stages": [SEARCH_STAGE]}))
    now = [time.monotonic()]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])

    def executed() -> list[str]:
        answer = _ok(executing.post("/v1/retrievers/finder/execute", json={}))
        return [d["document_id"] for d in answer["documents"]]

    assert executed() == ["a", "b"]
    narrowed = [SEARCH_STAGE, {"type": "attribute_filter", "conditions": {"kind": "y"}}]
    patched = _ok(patching.patch("/v1/retrievers/finder", json={"stages": narrowed}))
    assert patched["retriever"]["version"] == 2

    now[0] += 10
    assert executed() == ["a", "b"]  # another container's copy, within its 30 s
    now[0] += 25
    assert executed() == ["b"]  # past the bound: read again

    _ok(executing.patch("/v1/retrievers/finder", json={"stages": [SEARCH_STAGE]}))
    assert executed() == ["a", "b"]  # its own write: at once
    _ok(executing.delete("/v1/retrievers/finder"))
    assert executing.post("/v1/retrievers/finder/execute", json={}).status_code == 404


def test_every_retriever_route_answers_through_the_full_app(apis: Apis) -> None:
    client = apis.client(0)
    created = _ok(
        client.post(
            "/v1/retrievers",
            json={
                "retriever_name": "finder",
                "requires_subscription": False,
                "stages": [SEARCH_STAGE, {"type": "sort_attribute", "field": "kind", "direction": "desc"}],
            },
        )
    )
    assert _ok(client.get(f"/v1/retrievers/{created['retriever_id']}"))["retriever_name"] == "finder"
    assert [
        r["retriever_name"] for r in _ok(client.get("/v1/retrievers?limit=5&include_total=true"))["results"]
    ] == ["finder"]
    listed = _ok(
        client.post("/v1/retrievers/list?page_size=5", json={"search": "FIND", "case_sensitive": False})
    )
    assert [r["retriever_name"] for r in listed["results"]] == ["finder"]
    executed = _ok(
        client.post(
            "/v1/retrievers/finder/execute?return_vectors=true&include_legacy_results=true",
            json={
                "stream": False,
                "skip_cache": False,
                "return_presigned_urls": False,
                "return_vectors": False,
                "explain": False,
            },
        )
    )
    assert [d["document_id"] for d in executed["documents"]] == ["b", "a"]
    assert executed["documents"][0]["vectors"] == {"emb": [0.0, 1.0, 0.0, 0.0]}
    assert executed["results"] == executed["documents"] and executed["warnings"] == []
    unknown = client.post("/v1/retrievers/finder/execute", json={"inputs": {}, "colour": "red"})
    assert unknown.status_code == 422
    assert client.get("/v1/retrievers/finder", headers={"X-Namespace": "nope"}).status_code == 404
