"""The upsert route stores what it stored before its vectors went straight into numpy: for the
same bodies, the fast path (stratus.api.upsert_body + VectorStore.upsert_columns) and the usual
path (the body parsed whole, as before) leave the same records in the store, row for row, and
answer every bad body with the same status and message.

"Before" is also checked against its definition: each stored vector is the float32 of the JSON
numbers sent (LanceDB) or those numbers exactly (Pinecone, which casts them itself), and each
payload reads back as sent. Real components: the app in-process over moto DynamoDB, LanceDB in a
temp directory, and the real Pinecone client against the loopback server."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stratus.api import upsert_body
from tests.faults.api import Api, serve
from tests.loopback_pinecone import LoopbackPinecone

NAMESPACES = ("fast", "usual")


@pytest.fixture(params=["lancedb", "pinecone"])
def api(
    request: pytest.FixtureRequest, moto_dynamodb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, LoopbackPinecone | None]]:
    if request.param == "lancedb":
        monkeypatch.setenv("STRATUS_VECTOR_STORE", "lancedb")
        monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
        for app in serve(monkeypatch, moto_dynamodb):
            yield app, None
        return
    from tests.loopback_pinecone import reset_client_retry_state

    reset_client_retry_state()
    with LoopbackPinecone() as server:
        monkeypatch.setenv("STRATUS_VECTOR_STORE", "pinecone")
        monkeypatch.setenv("STRATUS_PINECONE_API_KEY", server.api_key)
        monkeypatch.setenv("STRATUS_PINECONE_CONTROL_PLANE_HOST", server.url)
        for app in serve(monkeypatch, moto_dynamodb):
            try:
                yield app, server
            finally:
                app.stores.vectors.close()


def _number(rng: random.Random) -> float | int:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice([0, 1, -1, 7])
    if kind == 1:
        return round(rng.uniform(-1, 1), rng.randrange(1, 9))
    if kind == 2:
        return float(f"{rng.uniform(-9, 9):.3e}")
    return rng.uniform(-1, 1)


def _payload(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "n": n,
        "category": rng.choice(["alpha", "beta", "gamma [x]", "délta", "日本"]),
        "score": rng.uniform(0, 100),
        "big": rng.choice([2**62 + n, -(2**62), 0]),
        "flag": rng.choice([True, False, None]),
        "tags": rng.sample(["a", "b", "c", "[d]"], rng.randrange(0, 4)),
        "nested": {"deep": {"x": n % 3, "quote": 'say "hi"\\n'}, "list": [[1, 2], {"k": "v"}]},
    }


def _bodies(seed: int = 11) -> list[bytes]:
    """A first batch making two indexes by schema-on-write, then one overwriting half the ids
    (some without their `b` vector: removed from `b`) and adding new ones."""
    rng = random.Random(seed)
    first = [
        {
            "document_id": f"doc-{n:03d}",
            "vectors": {"a": [_number(rng) for _ in range(16)], "b": [_number(rng) for _ in range(8)]},
            "payload": _payload(rng, n),
        }
        for n in range(60)
    ]
    second = [
        {
            "document_id": f"doc-{n:03d}",
            "vectors": {"a": [_number(rng) for _ in range(16)]}
            | ({"b": [_number(rng) for _ in range(8)]} if n % 2 else {}),
            "metadata": _payload(rng, n + 1000),
        }
        for n in range(30, 90)
    ]
    return [
        json.dumps({"documents": first}).encode(),
        json.dumps({"documents": second}, ensure_ascii=False, indent=1).encode(),
    ]


def _post(app: Api, namespace: str, body: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(upsert_body, "decode", lambda raw: None)
        return app.client.post(
            f"/v1/namespaces/{namespace}/documents/direct",
            content=body,
            headers={"Content-Type": "application/json"},
        )


def _documents(app: Api, namespace: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = app.client.post(
            f"/v1/namespaces/{namespace}/documents/list",
            json={"limit": 1000, "return_vectors": True, **({"cursor": cursor} if cursor else {})},
        )
        assert page.status_code == 200, page.text
        found.extend(page.json()["results"])
        cursor = page.json()["pagination"]["next_cursor"]
        if cursor is None:
            return found


def _stored_rows(app: Api, server: LoopbackPinecone | None, namespace: str) -> dict[str, Any]:
    """Each index's records as the store itself holds them (LanceDB's columns; Pinecone's values
    and metadata), by index name and id."""
    from stratus.services.spaces import spaces_of

    rows: dict[str, Any] = {}
    for space in spaces_of(app.namespace(namespace)):
        if server is None:
            import lancedb

            table = lancedb.connect(app.stores.settings.lancedb_uri).open_table(space.name)
            arrow = table.to_arrow().sort_by("id")
            columns = ["id", "vector", "payload_json", "filter_terms"]
            rows[space.index_name] = {name: arrow.column(name).to_pylist() for name in columns}
        else:
            pool = app.stores.vectors.pool_name(space)
            rows[space.index_name] = server.records(pool, space.name)
    return rows


def test_the_same_bodies_store_the_same_records_either_way(
    api: tuple[Api, LoopbackPinecone | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, server = api
    for namespace in NAMESPACES:
        assert (
            app.client.post("/v1/namespaces/standalone", json={"namespace_id": namespace}).status_code == 200
        )
    requests_before = len(server.requests) if server else 0
    for body in _bodies():
        fast = _post(app, "fast", body, True, monkeypatch)
        usual = _post(app, "usual", body, False, monkeypatch)
        assert fast.status_code == usual.status_code == 200, (fast.text, usual.text)
        assert fast.json() == usual.json()

    fast_rows, usual_rows = _stored_rows(app, server, "fast"), _stored_rows(app, server, "usual")
    assert set(fast_rows) == {"a", "b"}
    assert fast_rows == usual_rows
    if server is not None:  # as many upsert requests each way
        upserts = [r for r in server.requests[requests_before:] if r.path.endswith("/vectors/upsert")]
        assert len(upserts) % 2 == 0 and len(upserts) > 0
    assert _documents(app, "fast") == _documents(app, "usual")


def test_what_is_stored_is_what_was_sent(
    api: tuple[Api, LoopbackPinecone | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, server = api
    assert app.client.post("/v1/namespaces/standalone", json={"namespace_id": "fast"}).status_code == 200
    sent: dict[str, dict[str, Any]] = {}
    for body in _bodies():
        assert _post(app, "fast", body, True, monkeypatch).status_code == 200
        for doc in json.loads(body)["documents"]:
            sent[doc["document_id"]] = doc

    stored = {doc["document_id"]: doc for doc in _documents(app, "fast")}

    assert set(stored) == set(sent)
    for doc_id, doc in sent.items():
        assert stored[doc_id]["payload"] == doc.get("payload", doc.get("metadata"))
        assert set(stored[doc_id]["vectors"]) == set(doc["vectors"])  # `b` dropped where not sent
        for name, vector in doc["vectors"].items():
            expected = np.asarray(vector, dtype=np.float32)  # LanceDB stores float32; so does Pinecone
            assert np.array_equal(np.asarray(stored[doc_id]["vectors"][name], dtype=np.float32), expected)
    if server is not None:  # Pinecone was sent the JSON numbers themselves
        namespace = app.namespace("fast")
        from stratus.services.spaces import space_of

        space = space_of(namespace, "a")
        assert space is not None
        records = server.records(app.stores.vectors.pool_name(space), space.name)
        values = {doc_id: values for doc_id, (values, _) in records.items()}
        assert values == {doc_id: [float(x) for x in doc["vectors"]["a"]] for doc_id, doc in sent.items()}


# ---------------------------------------------------------------------------------------------
# Bad bodies: the same answers either way


def _doc(**fields: Any) -> dict[str, Any]:
    return {"document_id": "d1", "vectors": {"a": [0.5, 0.25]}, **fields}


BAD_BODIES: dict[str, Any] = {
    "wrong dimension": {"documents": [_doc(), _doc(document_id="d2", vectors={"a": [1.0, 2.0, 3.0]})]},
    "repeated id": {"documents": [_doc(), _doc()]},
    "payload too large": {"documents": [_doc(payload={"x": "y" * 41_000})]},
    "too large before a wrong dimension": {
        "documents": [_doc(payload={"x": "y" * 41_000}), _doc(document_id="d2", vectors={"a": [1.0]})]
    },
    "a string in a vector": {"documents": [_doc(vectors={"a": [0.5, "x"]})]},
    "a nested vector": {"documents": [_doc(vectors={"a": [0.5, [0.25]]})]},
    "an empty vector": {"documents": [_doc(vectors={"a": []})]},
    "no vectors": {"documents": [_doc(vectors={})]},
    "an unknown field": {"documents": [_doc(extra=1)]},
    "a bad id": {"documents": [_doc(document_id="bad/id")]},
    "too many documents": {"documents": [_doc(document_id=f"d{n}") for n in range(1001)]},
    "text for an unmapped index": {"documents": [_doc(vectors={"a": {"text": "hello"}})]},
    "a bad index name": {"documents": [_doc(vectors={"9bad": [0.5, 0.25]})]},
    "no documents": {"documents": []},
}
RAW_BAD_BODIES: dict[str, bytes] = {
    "NaN in a vector": b'{"documents": [{"vectors": {"a": [NaN, 1.0]}}]}',
    "a number past float64": b'{"documents": [{"vectors": {"a": [1e400, 1.0]}}]}',
    "not JSON": b'{"documents": [',
    "a key twice": b'{"documents": [{"vectors": {"a": [0.5, 0.25]}, "vectors": {"a": [1]}}]}',
}


@pytest.mark.parametrize("name", [*BAD_BODIES, *RAW_BAD_BODIES])
def test_a_bad_body_gets_the_same_answer_either_way(
    api: tuple[Api, LoopbackPinecone | None], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    app, _ = api
    body = RAW_BAD_BODIES.get(name) or json.dumps(BAD_BODIES[name]).encode()
    for namespace in NAMESPACES:
        created = app.client.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": namespace, "vector_configs": [{"name": "a", "dimension": 2}]},
        )
        assert created.status_code == 200

    fast = _post(app, "fast", body, True, monkeypatch)
    usual = _post(app, "usual", body, False, monkeypatch)

    assert fast.status_code == usual.status_code, (fast.text, usual.text)
    assert json.loads(fast.text.replace('"fast"', '"usual"').replace("'fast'", "'usual'")) == usual.json()
    assert 400 <= fast.status_code < 500
