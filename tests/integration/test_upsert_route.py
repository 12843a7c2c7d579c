"""The upsert route's one-thread path (stratus.api.upsert_route) against FastAPI's own path: the
same requests, sent once with the path on and once with it off (`ONE_THREAD`), get the same
statuses, bodies and headers, count the same against the rate limit and leave the same rows in
the store. Organization `org_a` takes the one-thread path and `org_b` FastAPI's, each with its own
namespace `docs` and its own rate-limit counters, so every answer (ids, messages, the
`X-RateLimit-*` headers) can be compared whole.

Real components: the app in-process (TestClient), moto's DynamoDB, LanceDB in a temp directory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.api import upsert_body, upsert_route
from stratus.domain.rate_limits import window_start
from tests.conftest import MOTO_TABLE_NAME
from tests.integration.test_upsert_equivalence import BAD_BODIES, RAW_BAD_BODIES, _bodies
from tests.wiring import WiredApi

ONE, USUAL = "org_a", "org_b"
NAMESPACE = "docs"  # index `a` of 2 dimensions
OPEN = "open"  # no index yet: schema-on-write makes them
DATA_LIMIT = 1000


class Api:
    def __init__(self, wired: WiredApi, store: DynamoDBMetadataStore, keys: dict[str, str]) -> None:
        self.wired = wired
        self.store = store
        self.keys = keys
        self.client: TestClient = wired.client()
        # Per one-thread attempt: "served", "raised" (its error is the answer) or "handed over".
        self.outcomes: list[str] = []

    def upsert(
        self,
        org: str,
        body: bytes,
        *,
        key: str = "rw",
        headers: dict[str, str] | None = None,
        namespace: str = NAMESPACE,
        path: str = "direct",
    ) -> Any:
        """POST the body as `org`: the one-thread path for ONE, FastAPI's for USUAL."""
        sent = {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys[f'{org}:{key}']}"}
        for name, value in (headers or {}).items():
            if value is None:
                sent.pop(name, None)
            else:
                sent[name] = value
        upsert_route.ONE_THREAD = org == ONE
        try:
            return self.client.post(
                f"/v1/namespaces/{namespace}/documents/{path}", content=body, headers=sent
            )
        finally:
            upsert_route.ONE_THREAD = True

    def both(self, body: bytes, **options: Any) -> tuple[Any, Any]:
        return self.upsert(ONE, body, **options), self.upsert(USUAL, body, **options)

    def rows(self, org: str, namespace_id: str = NAMESPACE) -> dict[str, Any]:
        """Each index's rows as LanceDB holds them, by index and column."""
        import lancedb

        from stratus.services.spaces import spaces_of

        namespace = self.store.get_namespace(org, namespace_id)
        assert namespace is not None
        rows: dict[str, Any] = {}
        for space in spaces_of(namespace):
            table = lancedb.connect(self.wired.container.settings.lancedb_uri).open_table(space.name)
            arrow = table.to_arrow().sort_by("id")
            rows[space.index_name] = {
                name: arrow.column(name).to_pylist()
                for name in ("id", "vector", "payload_json", "filter_terms")
            }
        return rows

    def counted(self, org: str) -> int:
        import boto3

        key = {"PK": {"S": f"RATE#{org}#data#{window_start(time.time())}"}, "SK": {"S": "COUNTER"}}
        item = boto3.client("dynamodb", region_name="us-east-1").get_item(TableName=MOTO_TABLE_NAME, Key=key)
        return int(item.get("Item", {}).get("n", {}).get("N", 0))


def _api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
    data_limit: int,
) -> Iterator[Api]:
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", MOTO_TABLE_NAME)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_RATE_LIMITS", f"metadata=1000,data={data_limit}")
    keys = {}
    for org in (ONE, USUAL):
        keys[f"{org}:rw"] = create_api_key(moto_dynamodb, org, "rw", ["read", "write"])[0]
        keys[f"{org}:read"] = create_api_key(moto_dynamodb, org, "read", ["read"])[0]
    api = Api(wired_api(), moto_dynamodb, keys)
    real = upsert_route._serve

    def serve(*args: Any) -> Any:
        try:
            served = real(*args)
        except Exception:
            api.outcomes.append("raised")
            raise
        api.outcomes.append("handed over" if served is None else "served")
        return served

    monkeypatch.setattr(upsert_route, "_serve", serve)
    # A test counting requests must not straddle two rate-limit windows.
    left = window_start(time.time()) + 60 - time.time()
    if left < 20:
        time.sleep(left + 0.05)
    with api.client:
        for org in (ONE, USUAL):
            for body in (
                {"namespace_id": NAMESPACE, "vector_configs": [{"name": "a", "dimension": 2}]},
                {"namespace_id": OPEN},
            ):
                created = api.client.post(
                    "/v1/namespaces/standalone",
                    json=body,
                    headers={"Authorization": f"Bearer {keys[f'{org}:rw']}"},
                )
                assert created.status_code == 200, created.text
        yield api


@pytest.fixture
def api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    yield from _api(moto_dynamodb, tmp_path, monkeypatch, wired_api, DATA_LIMIT)


def _same(one: Any, usual: Any) -> None:
    """The same answer: status, body and headers, in order."""
    assert one.status_code == usual.status_code, (one.text, usual.text)
    assert one.content == usual.content
    assert one.headers.multi_items() == usual.headers.multi_items()


def test_upserts_get_the_same_answers_and_store_the_same_rows(api: Api) -> None:
    for body in _bodies():
        one, usual = api.both(body, namespace=OPEN)
        _same(one, usual)
        assert one.status_code == 200, one.text
        assert one.headers["X-RateLimit-Limit"] == str(DATA_LIMIT)
    one, usual = api.both(_bodies()[0], namespace=OPEN, path="upsert")  # the route's other path
    _same(one, usual)

    assert api.outcomes == ["served"] * 3
    rows = api.rows(ONE, OPEN)
    assert set(rows) == {"a", "b"}  # both made by schema-on-write
    assert len(rows["a"]["id"]) == 90 and len(rows["b"]["id"]) == 75
    assert rows == api.rows(USUAL, OPEN)
    assert api.counted(ONE) == api.counted(USUAL) == 3


SERVICE_CHECKS = {
    "wrong dimension", "repeated id", "payload too large", "too large before a wrong dimension",
    "text for an unmapped index", "a bad index name",
}  # fmt: skip


@pytest.mark.parametrize("name", [*BAD_BODIES, *RAW_BAD_BODIES])
def test_bad_bodies_get_the_same_answers_and_are_counted_once(
    api: Api, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = RAW_BAD_BODIES.get(name) or json.dumps(BAD_BODIES[name]).encode()
    decodes: list[bool] = []  # per decode: whether it split the body
    real = upsert_body.decode

    def counting_decode(raw: bytes) -> Any:
        decoded = real(raw)
        decodes.append(decoded is not None)
        return decoded

    monkeypatch.setattr(upsert_body, "decode", counting_decode)
    one = api.upsert(ONE, body)
    one_decodes = list(decodes)
    usual = api.upsert(USUAL, body)

    _same(one, usual)
    assert 400 <= one.status_code < 500
    # A body the one-thread path decoded is handed over decoded; one it could not split is not
    # JSON, or not plain, and FastAPI's path tries it its own way.
    assert one_decodes in ([True], [False, False]), one_decodes
    # The service's own checks (dimensions, ids, sizes) answer on the one-thread path.
    assert api.outcomes == (["raised"] if name in SERVICE_CHECKS else ["handed over"])
    # Counted as FastAPI counts it: a body that is JSON is counted, one that is not is not.
    assert api.counted(ONE) == api.counted(USUAL) == (0 if name == "not JSON" else 1)
    assert (
        api.rows(ONE)
        == api.rows(USUAL)
        == {"a": {"id": [], "vector": [], "payload_json": [], "filter_terms": []}}
    )


GOOD = json.dumps({"documents": [{"document_id": "d1", "vectors": {"a": [0.5, 0.25]}}]}).encode()


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("no key", {"headers": {"Authorization": None}}),
        ("another scheme", {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}),
        ("a bare scheme", {"headers": {"Authorization": "Bearer"}}),
        ("a malformed key", {"headers": {"Authorization": "Bearer sk_short"}}),
        ("an unknown key", {"headers": {"Authorization": "Bearer sk_" + "x" * 32}}),
        ("a read-only key", {"key": "read"}),
        ("no content type", {"headers": {"Content-Type": None}}),
        ("text", {"headers": {"Content-Type": "text/plain"}}),
        ("a json subtype", {"headers": {"Content-Type": "application/merge-patch+json"}}),
        ("a charset", {"headers": {"Content-Type": "application/json; charset=utf-8"}}),
        ("an unknown namespace", {"namespace": "nowhere"}),
        ("a namespace name holding the key separator", {"namespace": "a%23b"}),
    ],
)
def test_every_other_request_gets_the_same_answer(api: Api, case: str, options: dict[str, Any]) -> None:
    one, usual = api.both(GOOD, **options)

    _same(one, usual)
    assert api.counted(ONE) == api.counted(USUAL)
    assert api.rows(ONE) == api.rows(USUAL)


@pytest.fixture
def limited(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    yield from _api(moto_dynamodb, tmp_path, monkeypatch, wired_api, 2)


def test_past_the_limit_the_429_comes_before_the_bodys_errors_either_way(limited: Api) -> None:
    invalid = json.dumps(BAD_BODIES["an unknown field"]).encode()
    answers = [limited.both(body) for body in (GOOD, invalid, GOOD, invalid)]

    for one, usual in answers:
        assert one.status_code == usual.status_code
        assert one.json() == usual.json()
    assert [one.status_code for one, _ in answers] == [200, 422, 429, 429]
    assert limited.counted(ONE) == limited.counted(USUAL) == 2


def test_the_collector_is_paused_while_the_upsert_is_served_and_resumed_after(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from stratus.services import documents

    collecting: list[bool] = []
    real = documents.upsert_documents

    def upsert(*args: Any) -> Any:
        collecting.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(documents, "upsert_documents", upsert)
    assert gc.isenabled()
    one, usual = api.both(GOOD)

    _same(one, usual)
    assert collecting == [False, True]  # the one-thread path paused it; FastAPI's did not
    assert gc.isenabled()
