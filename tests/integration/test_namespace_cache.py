"""A search may use a namespace its container read moments ago (one DynamoDB read less per query):
the copy is bounded in age, a container sees its own writes at once, and a query that fails
against a stale copy (another container promoted the namespace) is re-checked against a fresh
read instead of being refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.integration.test_dynamodb_metadata import ORG_A, make_namespace
from tests.wiring import WiredApi


def _get_item_calls(store: DynamoDBMetadataStore) -> list[str]:
    calls: list[str] = []
    store.client.meta.events.register("before-call.dynamodb.GetItem", lambda **kwargs: calls.append("get"))
    return calls


def test_a_recent_copy_answers_within_its_age_and_writes_drop_it(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace()
    moto_dynamodb.create_namespace(namespace)
    other_container = DynamoDBMetadataStore(moto_dynamodb.table_name, region="us-east-1")
    calls = _get_item_calls(moto_dynamodb)

    first = moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=60)
    reads_after_first = len(calls)
    again = moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=60)
    assert first == again and len(calls) == reads_after_first  # no read: the copy answered

    renamed = namespace.model_copy(update={"description": "changed elsewhere"})
    other_container.save_namespace(renamed, namespace.version, namespace.namespace_name)
    stale = moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=60)
    assert stale is not None and stale.description == "contracts"  # within its age, by design
    fresh = moto_dynamodb.find_namespace(ORG_A, "legal-docs")
    assert (
        fresh is not None
        and fresh.description == "changed elsewhere"
        and fresh.version == namespace.version + 1
    )

    # Its own write: every copy is dropped, the next read is fresh.
    moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=60)
    mine = fresh.model_copy(update={"description": "mine"})
    moto_dynamodb.save_namespace(mine, fresh.version, fresh.namespace_name)
    seen = moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=60)
    assert seen is not None and seen.description == "mine"


def test_copies_expire(moto_dynamodb: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_dynamodb.create_namespace(make_namespace())
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])  # the clock the adapter reads
    moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=2)
    calls = _get_item_calls(moto_dynamodb)
    now[0] += 1.5
    moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=2)
    assert calls == []
    now[0] += 1.0
    moto_dynamodb.find_namespace(ORG_A, "legal-docs", max_age_seconds=2)
    assert calls != []


@pytest.fixture
def two_containers(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps, each with its own container (as two Lambda functions have), on one table and one
    LanceDB directory."""
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", moto_dynamodb.table_name)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_NAMESPACE_CACHE_SECONDS", "60")  # stale for the whole test
    key = create_api_key(moto_dynamodb, ORG_A, "admin", ["read", "write", "admin"])[0]
    clients = []
    for _ in range(2):
        client = wired_api().client()
        client.headers["Authorization"] = f"Bearer {key}"
        clients.append(client)
    yield clients[0], clients[1]


def test_a_search_after_another_container_promoted_is_rechecked_not_refused(
    two_containers: tuple[TestClient, TestClient],
) -> None:
    search_container, write_container = two_containers
    vector = [0.1] * 384
    assert (
        write_container.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": "kb", "vector_configs": [{"name": "t", "dimension": 384}]},
        ).status_code
        == 200
    )
    assert (
        write_container.post(
            "/v1/namespaces/kb/documents/direct",
            json={"documents": [{"document_id": "a", "vectors": {"t": vector}}]},
        ).status_code
        == 200
    )
    by_vector = {"namespace_id": "kb", "queries": [{"vector_name": "t", "vector": vector, "top_k": 1}]}
    assert search_container.post("/v1/search", json=by_vector).status_code == 200  # caches "standalone"

    promoted = write_container.post(
        "/v1/namespaces/kb/promote",
        json={"vector_mappings": [{"existing_index": "t", "inference_service": "minilm_l6_v2"}]},
    )
    assert promoted.status_code == 200, promoted.text

    by_text = {"namespace_id": "kb", "queries": [{"vector_name": "t", "text": "anything", "top_k": 1}]}
    answer = search_container.post("/v1/search", json=by_text)
    assert answer.status_code == 200, answer.text
    assert [r["document_id"] for r in answer.json()["results"]] == ["a"]
