"""Upsert bodies through the whole app: parsed by stratus.api.json_body (vectors straight into
numpy by stratus.api.upsert_body, the rest by FastAPI; large bodies off the event loop) or, the
usual upsert, by the route's one-thread path (stratus.api.upsert_route: always on its worker
thread), with the same answers and errors as FastAPI's own parsing.

Real components: the app through TestClient, moto's DynamoDB, LanceDB in a temp directory."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.api import json_body, upsert_body, upsert_route
from tests.wiring import WiredApi

DIM = 384
NS = "bulk"


@pytest.fixture
def client(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Any]:
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    key = create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0]
    with wired_api().client() as test_client:
        test_client.headers["Authorization"] = f"Bearer {key}"
        body = {"namespace_id": NS, "vector_configs": [{"name": "emb", "dimension": DIM}]}
        created = test_client.post("/v1/namespaces/standalone", json=body)
        assert created.status_code == 200, created.text
        yield test_client


@pytest.fixture(params=[True, False], ids=["one thread", "fastapi"])
def one_thread(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test with the route's one-thread path on, and off (FastAPI's path)."""
    monkeypatch.setattr(upsert_route, "ONE_THREAD", request.param)
    return bool(request.param)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each upsert body decoded (either path): whether the thread was running an event loop."""
    seen: list[bool] = []
    real = upsert_body.decode

    def spying_decode(body: bytes) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return real(body)

    monkeypatch.setattr(upsert_body, "decode", spying_decode)
    return seen


def _documents(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "document_id": f"doc-{i}",
            "vectors": {"emb": [rng.random() for _ in range(DIM)]},
            "payload": {"n": i},
        }
        for i in range(count)
    ]


def _post(client: Any, content: bytes) -> Any:
    return client.post(
        f"/v1/namespaces/{NS}/documents/direct", content=content, headers={"Content-Type": "application/json"}
    )


def test_a_large_upsert_is_parsed_off_the_event_loop_and_stored_exactly(
    client: Any, parses: list[bool], one_thread: bool
) -> None:
    documents = _documents(200)
    content = json.dumps({"documents": documents}).encode()
    assert len(content) > json_body.OFFLOAD_BYTES

    response = _post(client, content)

    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 200
    assert parses == [False], "a large body is parsed on a worker thread"
    stored = client.get(f"/v1/namespaces/{NS}/documents/doc-123", params={"return_vectors": "true"})
    assert stored.status_code == 200, stored.text
    # float32 storage: the vector comes back within float32 rounding of what was sent.
    sent = documents[123]["vectors"]["emb"]
    assert stored.json()["vectors"]["emb"] == pytest.approx(sent, rel=1e-6)


def test_a_small_upsert_is_parsed_where_it_is_served(
    client: Any, parses: list[bool], one_thread: bool
) -> None:
    """FastAPI's path parses a small body in place (a thread hop would cost more than the parse);
    the one-thread path parses every body on the thread it serves the request on."""
    response = _post(client, json.dumps({"documents": _documents(1)}).encode())

    assert response.status_code == 200, response.text
    assert parses == [not one_thread]


@pytest.mark.parametrize("content", [b'{"documents": [', b'{"documents": [1,]}', b"\xff\xfe\xfd"])
def test_malformed_bodies_get_the_400_every_route_gives(
    client: Any, content: bytes, one_thread: bool
) -> None:
    ours = _post(client, content)
    # The same body to a route that parses with FastAPI's own json.loads.
    theirs = client.post("/v1/namespaces/list", content=content, headers={"Content-Type": "application/json"})

    assert ours.status_code == theirs.status_code == 400
    assert ours.json()["error"] == theirs.json()["error"]


def test_a_non_finite_vector_is_still_a_422_naming_the_position(client: Any, one_thread: bool) -> None:
    document = _documents(1)[0]
    content = json.dumps({"documents": [document]}).replace("0.", "NaN, 0.", 1).encode()

    response = _post(client, content)

    assert response.status_code == 422, response.text
    assert (
        response.json()["error"]["message"] == "documents[0].vectors.emb[0]: Input should be a finite number"
    )
