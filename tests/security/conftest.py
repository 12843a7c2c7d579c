"""The app in-process against moto (DynamoDB + S3) and LanceDB in a temp directory, with API keys
of two organizations at every permission level."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.conftest import _AWS_ENV_TO_CLEAR, MOTO_TABLE_NAME
from tests.wiring import WiredApi, container_from_environment

DATA_BUCKET = "stratus-security-data"


class Response(Protocol):
    """What these tests read of TestClient's answer (an httpx2 or httpx response, whichever
    Starlette uses)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def request(self) -> Any: ...

    def json(self, **kwargs: Any) -> Any: ...


# Key name → (organization, permissions). Each level holds exactly what its name says, so a
# route answering 2xx to "a_read" needs no more than read.
KEY_SPECS: dict[str, tuple[str, list[str]]] = {
    "a_admin": ("org_a", ["read", "write", "admin"]),
    "a_write": ("org_a", ["read", "write"]),
    "a_read": ("org_a", ["read"]),
    "b_admin": ("org_b", ["read", "write", "admin"]),
}


@dataclass
class Stack:
    client: TestClient
    store: DynamoDBMetadataStore
    keys: dict[str, str]  # key name (KEY_SPECS) → plaintext key
    key_ids: dict[str, str]
    lancedb_dir: Path
    wired: WiredApi

    def call(self, method: str, path: str, key: str | None = "a_admin", **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys[key]}"
        return self.client.request(method, path, headers=headers, **kwargs)


def scan_table(table_name: str = MOTO_TABLE_NAME) -> list[dict[str, Any]]:
    """Every item of the table, as DynamoDB returns it (attribute-value JSON)."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table_name):
        items.extend(page.get("Items", []))
    return items


def table_text(table_name: str = MOTO_TABLE_NAME) -> str:
    return json.dumps(scan_table(table_name), sort_keys=True)


def assert_envelope(response: Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is False and body["status"] == status, body
    assert body["error"]["type"] == error_type, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert isinstance(body["error"]["details"], dict), body
    error: dict[str, Any] = body["error"]
    return error


# ---------------------------------------------------------------------------------------------
# The Lambda path: API Gateway HTTP API v2.0 events through functions/<op>/app.py's handler


def api_gateway_event(
    route_key: str, path: str, body: str | None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A complete HTTP API v2.0 event (tests/events/search.json) for another request."""
    from tests.integration.test_handlers_with_events import load_event

    event = load_event("search")
    method = route_key.split(" ", 1)[0]
    kept = {k: v for k, v in event["headers"].items() if k not in ("authorization", "content-length")}
    event.update(routeKey=route_key, rawPath=path, rawQueryString="", isBase64Encoded=False)
    event["headers"] = {**kept, **(headers or {})}
    event["requestContext"] = {
        **event["requestContext"],
        "routeKey": route_key,
        "http": {**event["requestContext"]["http"], "method": method, "path": path},
    }
    event.pop("pathParameters", None)
    event.pop("body", None)
    if body is not None:
        event["body"] = body
    return event


def invoke_function(operation: str, event: dict[str, Any]) -> tuple[int, str]:
    """(status, body) of functions/<operation>/app.py's handler, loaded as Lambda loads it."""
    from tests.integration.test_handlers_with_events import FakeLambdaContext, load_handler

    answer = load_handler(operation)(event, FakeLambdaContext(function_name=f"stratus-{operation}"))
    return int(answer["statusCode"]), str(answer.get("body") or "")


@contextmanager
def running_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_dir: Path, store: DynamoDBMetadataStore
) -> Iterator[Stack]:
    """The app on `store`'s table (inside a moto mock), its data bucket, and one key per KEY_SPECS."""
    import boto3

    from stratus.services.api_keys import create_api_key

    lancedb_dir = tmp_dir / "lancedb"
    monkeypatch.setenv("STRATUS_TABLE_NAME", MOTO_TABLE_NAME)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(lancedb_dir))
    monkeypatch.setenv("STRATUS_VECTOR_STORE", "lancedb")
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", DATA_BUCKET)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=DATA_BUCKET)
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    for name, (org, permissions) in KEY_SPECS.items():
        keys[name], record = create_api_key(store, org, name, permissions)
        key_ids[name] = record.key_id
    wired = WiredApi(container_from_environment())
    try:
        with wired.client() as client:
            yield Stack(client, store, keys, key_ids, lancedb_dir, wired)
    finally:
        wired.unwire()


@pytest.fixture
def stack(
    moto_dynamodb: DynamoDBMetadataStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    with running_stack(monkeypatch, tmp_path, moto_dynamodb) as running:
        yield running


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for a whole module, for tests that each make their own uniquely named state.
    The environment is what `tests/conftest.py`'s `aws_env` sets, at module scope."""
    import boto3
    from moto import mock_aws

    from stratus_local.bootstrap.tables import create_tables

    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in _AWS_ENV_TO_CLEAR:
            monkeypatch.delenv(name, raising=False)
        empty = tmp_path_factory.mktemp("aws") / "none"
        monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
            monkeypatch.setenv(name, "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        # moto's in-process mock patches boto3, not the store's own HTTP point reads.
        monkeypatch.setenv("STRATUS_DYNAMODB_HTTP_READS", "false")
        with mock_aws():
            create_tables(
                boto3.client("dynamodb", region_name="us-east-1"), {"MetadataTable": MOTO_TABLE_NAME}
            )
            store = DynamoDBMetadataStore(MOTO_TABLE_NAME, region="us-east-1")
            with running_stack(monkeypatch, tmp_path_factory.mktemp("stack"), store) as running:
                yield running
