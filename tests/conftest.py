"""Fixtures shared by every test suite.

Project modules are imported inside the fixtures, not at the top of this file: a conftest is
imported before any test runs, and SDK clients must not exist before moto's mocks start."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

# Lambda handlers called by tests print no EMF metrics blobs (a test that checks them turns them
# on: tests/lambda_output.py); tracing is off anyway outside Lambda (STRATUS_TRACING is unset).
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

if TYPE_CHECKING:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus.container import Container
    from tests.wiring import WiredApi

MOTO_TABLE_NAME = "stratus"

# Variables that could point boto3 at a real account or another endpoint.
_AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "STRATUS_AWS_ENDPOINT_URL",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials in us-east-1, and no config file or endpoint from the developer's machine."""
    for name in _AWS_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.mktemp("aws") / "none"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # moto's in-process mock patches boto3, not the store's own HTTP point reads.
    monkeypatch.setenv("STRATUS_DYNAMODB_HTTP_READS", "false")


@pytest.fixture
def moto_dynamodb(aws_env: None) -> Iterator[DynamoDBMetadataStore]:
    """An in-process moto DynamoDB with the template's table, and a store on it. The store
    builds its own client lazily, as it does in Lambda, inside the mock."""
    import boto3
    from moto import mock_aws

    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus_local.bootstrap import create_tables

    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), {"MetadataTable": MOTO_TABLE_NAME})
        yield DynamoDBMetadataStore(MOTO_TABLE_NAME, region="us-east-1")


@pytest.fixture
def wired_api() -> Iterator[Callable[..., WiredApi]]:
    """Builds the whole API over a container: by default a container of its own from the
    environment as the test has set it by then (`wired_api()`), or the one given. The one way
    tests wire the API (tests/wiring.py)."""
    from tests.wiring import WiredApi, container_from_environment

    built: list[WiredApi] = []

    def build(container: Container | None = None) -> WiredApi:
        wired = WiredApi(container or container_from_environment())
        built.append(wired)
        return wired

    yield build
    for wired in built:
        wired.unwire()


@pytest.fixture
def fresh_container() -> Iterator[None]:
    """For tests that go through a Lambda handler, which takes the process's container: it is
    dropped before the test (so the next use builds it from the environment the test sets) and
    after it."""
    from stratus.container import reset_container

    reset_container()
    yield
    reset_container()
