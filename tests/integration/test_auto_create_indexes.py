"""The scheduled auto_create_indexes job through its two entry points: the Lambda handler fed the
EventBridge event of tests/events/auto_create_indexes.json (moto in-process), and
`stratus indexes run-auto` against a moto server over HTTP, as an operator runs it locally."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratus import clock
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.models.namespaces import CreateStandaloneNamespaceRequest, VectorConfig
from stratus.ports import FieldUsage, VectorRecord
from stratus.services.filter_usage import hour_key
from stratus.services.namespaces import create_standalone_namespace
from stratus.services.spaces import spaces_of
from stratus_local.bootstrap.tables import create_tables
from stratus_local.template import REPO_ROOT
from tests.static_stores import StaticStores

ORG = "org_auto"
NS = "shop"
NOW = datetime(2025, 11, 22, 6, 0, tzinfo=UTC)


def _load_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    path = REPO_ROOT / "functions" / "auto_create_indexes" / "app.py"
    spec = importlib.util.spec_from_file_location("stratus_lambda_auto_create_indexes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.handler
    return handler


def _seed(store: DynamoDBMetadataStore, lancedb_uri: Path, queries: int) -> None:
    """An opted-in namespace with one document and `queries` filtered searches on `category`."""
    from stratus.adapters.lancedb.store import LanceDBVectorStore

    stores = StaticStores(metadata=store, vectors=LanceDBVectorStore(str(lancedb_uri)))
    request = CreateStandaloneNamespaceRequest(
        namespace_id=NS, vector_configs=[VectorConfig(name="emb", dimension=4)], auto_create_indexes=True
    )
    namespace = create_standalone_namespace(stores, ORG, request)
    stores.vectors.upsert(
        spaces_of(namespace)[0], [VectorRecord("d1", {"category": "shoes"}, [1.0, 0.0, 0.0, 0.0])]
    )
    usage = {"category": FieldUsage(queries, {"keyword": queries})}
    store.add_filter_usage(ORG, NS, hour_key(NOW), usage, 2**31)


def _category_index(store: DynamoDBMetadataStore) -> dict[str, Any] | None:
    namespace = store.get_namespace(ORG, NS)
    assert namespace is not None
    found = [i.model_dump() for i in namespace.payload_indexes if i.field_name == "category"]
    return found[0] if found else None


# --- the Lambda handler ----------------------------------------------------------------------


def test_handler_fed_the_scheduled_event_creates_the_index(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: None,
) -> None:
    monkeypatch.setenv("STRATUS_TABLE_NAME", moto_dynamodb.table_name)
    monkeypatch.setenv("STRATUS_VECTOR_STORE", "lancedb")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTO_INDEX_THRESHOLD", "100")
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)
    _seed(moto_dynamodb, tmp_path / "lancedb", 101)
    event = json.loads((REPO_ROOT / "tests" / "events" / "auto_create_indexes.json").read_text())

    report = _load_handler()(event, None)

    assert json.loads(json.dumps(report)) == report  # a JSON-able Lambda result
    assert [(c["field_name"], c["type"], c["state"]) for c in report["created"]] == [
        ("category", "keyword", "ready")
    ]
    index = _category_index(moto_dynamodb)
    assert index is not None and index["auto_created"] is True and index["state"] == "ready"


def test_handler_reads_the_threshold_from_settings(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: None,
) -> None:
    monkeypatch.setenv("STRATUS_TABLE_NAME", moto_dynamodb.table_name)
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTO_INDEX_THRESHOLD", "500")
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)
    _seed(moto_dynamodb, tmp_path / "lancedb", 101)

    report = _load_handler()({"source": "aws.events", "detail-type": "Scheduled Event"}, None)

    assert report["namespaces_checked"] == 1 and report["created"] == []


# --- the CLI against a moto server -----------------------------------------------------------


def test_cli_run_auto_against_a_moto_server(
    aws_env: None,
    endpoint_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from stratus.cli import main

    table = f"stratus-auto-{uuid.uuid4().hex[:8]}"
    create_tables(boto3.client("dynamodb", endpoint_url=endpoint_url), {"MetadataTable": table})
    store = DynamoDBMetadataStore(table, endpoint_url=endpoint_url)
    lancedb_uri = tmp_path / "lancedb"
    _seed(store, lancedb_uri, 101)
    # The stack's settings: where its vectors are.
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(lancedb_uri))
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)
    argv = ["indexes", "run-auto", "--endpoint-url", endpoint_url, "--table", table, "--json"]

    code = main(argv)
    first = json.loads(capsys.readouterr().out)
    again = main(argv)
    second = json.loads(capsys.readouterr().out)

    assert code == 0 and again == 0
    assert [c["field_name"] for c in first["created"]] == ["category"]
    assert second["created"] == [] and second["namespaces_checked"] == 1
    index = _category_index(store)
    assert index is not None and index["state"] == "ready" and index["type"] == "keyword"


def test_cli_run_auto_reports_an_unreachable_endpoint(
    aws_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stratus.cli import main

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    code = main(["indexes", "run-auto", "--endpoint-url", "http://127.0.0.1:9", "--table", "t"])

    assert code == 1
    assert "cannot reach DynamoDB" in capsys.readouterr().err
