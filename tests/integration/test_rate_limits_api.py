"""Rate limits over the app in-process on moto's DynamoDB and LanceDB: the 429 a Mixpeek client
gets (envelope, `Retry-After`, `details`, what the SDK reads), the counter items the table holds,
each organization's own limits, what is not counted (401, 403, health), the DynamoDB calls one
request costs, and a counter DynamoDB refuses to write (the request goes through).

The atomicity of concurrent increments is DynamoDB Local's to prove (moto takes no lock):
tests/integration/test_dynamodb_local_races.py."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.domain.rate_limits import window_start
from tests.conftest import MOTO_TABLE_NAME
from tests.wiring import WiredApi

LIMITS = "search=3,metadata=10,data=1000,upload=1000,compute=1000"
SEARCH_BODY = {"namespace_id": "rl-docs", "queries": [{"vector_name": "emb", "vector": [0.1, 0.2]}]}


class Api:
    def __init__(self, wired: WiredApi, store: DynamoDBMetadataStore, keys: dict[str, str]) -> None:
        self.wired = wired
        self.store = store
        self.keys = keys
        self.client: TestClient = wired.client()

    def call(self, method: str, path: str, key: str = "a", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[key]}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def search(self, key: str = "a") -> Any:
        return self.call("POST", "/v1/search", key=key, json=SEARCH_BODY)


@pytest.fixture
def api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", MOTO_TABLE_NAME)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_RATE_LIMITS", LIMITS)
    keys = {
        "a": create_api_key(moto_dynamodb, "org_a", "a", ["read", "write", "admin"])[0],
        "a_read": create_api_key(moto_dynamodb, "org_a", "a_read", ["read"])[0],
        "b": create_api_key(moto_dynamodb, "org_b", "b", ["read", "write", "admin"])[0],
    }
    wired = wired_api()
    stack = Api(wired, moto_dynamodb, keys)
    _ensure_whole_window(needed_seconds=20)
    with stack.client:
        for key in ("a", "b"):
            body = {"namespace_id": "rl-docs", "vector_configs": [{"name": "emb", "dimension": 2}]}
            response = stack.call("POST", "/v1/namespaces/standalone", key=key, json=body)
            assert response.status_code == 200, response.text
        yield stack


def _ensure_whole_window(needed_seconds: float) -> None:
    """Wait for a fresh minute if this one ends too soon: a test counting up to a limit must not
    straddle two windows."""
    left = window_start(time.time()) + 60 - time.time()
    if left < needed_seconds:
        time.sleep(left + 0.05)


def _counters(store: DynamoDBMetadataStore) -> dict[str, dict[str, Any]]:
    import boto3

    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=store.table_name)["Items"]
    return {item["PK"]["S"]: item for item in items if item["PK"]["S"].startswith("RATE#")}


def test_past_the_limit_a_search_is_a_429_a_mixpeek_client_understands(api: Api) -> None:
    answers = [api.search() for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200], answers[-1].text
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"

    refused = api.search()
    assert refused.status_code == 429
    body = refused.json()
    assert body["success"] is False and body["status"] == 429
    assert body["error"]["type"] == "TooManyRequestsError"
    details = body["error"]["details"]
    assert set(details) == {"category", "limit", "window", "retry_after", "retry_after_seconds"}
    assert details["category"] == "search" and details["limit"] == 3 and details["window"] == "1m"
    assert 1 <= details["retry_after"] <= 60 and details["retry_after_seconds"] == details["retry_after"]
    assert refused.headers["Retry-After"] == str(details["retry_after"])
    assert refused.headers["X-RateLimit-Remaining"] == "0"

    # The SDK's high-level client waits what the answer says, header or body.
    from mixpeek._client.client import MixpeekAPIError, _advised_wait

    assert _advised_wait(refused, body) == details["retry_after"]
    assert _advised_wait(None, body) == details["retry_after"]
    assert MixpeekAPIError(429, body).retryable is True


def test_the_counter_is_one_item_per_org_category_and_minute_expiring_by_ttl(api: Api) -> None:
    for _ in range(4):
        api.search()
    window = window_start(time.time())
    counters = _counters(api.store)
    item = counters[f"RATE#org_a#search#{window}"]
    assert item["SK"]["S"] == "COUNTER" and item["entity"]["S"] == "rate_counter"
    assert item["n"]["N"] == "3"  # the refused fourth added nothing
    assert int(item["expires_at"]["N"]) >= window + 60
    # The namespace creations of the fixture were counted as metadata, once each per org.
    assert counters[f"RATE#org_a#metadata#{window}"]["n"]["N"] == "1"
    assert counters[f"RATE#org_b#metadata#{window}"]["n"]["N"] == "1"


def test_organizations_and_categories_are_limited_apart(api: Api) -> None:
    for _ in range(3):
        api.search()
    assert api.search().status_code == 429
    assert api.search(key="b").status_code == 200  # another organization
    assert api.call("GET", "/v1/namespaces/rl-docs").status_code == 200  # another category
    assert api.call("POST", "/v1/namespaces/rl-docs/documents/list", json={}).status_code == 200


def test_an_organizations_own_limits_win(api: Api) -> None:
    api.store.put_rate_limits("org_b", {"search": 1})
    assert api.search(key="b").status_code == 200
    refused = api.search(key="b")
    assert refused.status_code == 429 and refused.json()["error"]["details"]["limit"] == 1
    assert api.search().status_code == 200  # org_a keeps the default


def test_refused_keys_and_public_routes_are_not_counted(api: Api) -> None:
    for _ in range(5):
        assert api.client.post("/v1/search", json=SEARCH_BODY).status_code == 401
        wrong = api.client.post(
            "/v1/search", json=SEARCH_BODY, headers={"Authorization": "Bearer sk_" + "x" * 32}
        )
        assert wrong.status_code == 401
        # 403: a read key on a write route.
        assert api.call("DELETE", "/v1/namespaces/rl-docs", key="a_read").status_code == 403
        assert api.client.get("/v1/health").status_code == 200
    window = window_start(time.time())
    counters = _counters(api.store)
    assert f"RATE#org_a#search#{window}" not in counters
    assert counters[f"RATE#org_a#metadata#{window}"]["n"]["N"] == "1"  # the fixture's create only


def test_a_warm_request_costs_one_dynamodb_call_the_counters_update(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys and limits cached (as a warm Lambda has them): the only DynamoDB call of a request
    that needs no table read is the counter's conditional ADD. Never a read before it."""
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "60")
    container = api.wired.rebuild()
    calls: list[str] = []
    store = container.metadata
    assert isinstance(store, DynamoDBMetadataStore)
    store.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    assert api.call("GET", "/v1/inference/services").status_code == 200  # cold: key, limits, count
    assert calls == ["GetItem", "GetItem", "UpdateItem"], calls
    calls.clear()
    for _ in range(3):
        assert api.call("GET", "/v1/inference/services").status_code == 200
    assert calls == ["UpdateItem"] * 3, calls


def test_a_counter_dynamodb_refuses_to_write_lets_requests_through(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    import boto3

    from tests.faults.dynamo_faults import DynamoFaults

    store = api.wired.container.metadata
    assert isinstance(store, DynamoDBMetadataStore)
    faults = DynamoFaults(store.client, sender=boto3.client("dynamodb", region_name="us-east-1"))
    faults.throttle("UpdateItem", times=math.inf)
    for _ in range(5):  # past the limit of 3: nothing is counted, nothing is refused
        assert api.search().status_code == 200
    assert faults.injected["UpdateItem"] >= 5
    assert any("rate limit not counted" in record.getMessage() for record in caplog.records)
