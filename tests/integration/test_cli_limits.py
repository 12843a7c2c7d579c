"""`stratus limits ...` against a real moto server over HTTP: an organization's own rate limits,
as the limiter then reads them, and the refusals of a wrong command line."""

from __future__ import annotations

import json
import uuid

import pytest

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.domain.rate_limits import DEFAULT_LIMITS
from stratus.services.rate_limits import RateLimiter
from tests.integration.test_cli import run

ORG = "org_limits"


@pytest.fixture
def cli_table(aws_env: None, endpoint_url: str) -> str:
    import boto3

    from stratus_local.bootstrap import create_tables

    name = f"stratus-limits-{uuid.uuid4().hex[:8]}"
    create_tables(boto3.client("dynamodb", endpoint_url=endpoint_url), {"MetadataTable": name})
    return name


def test_set_show_and_clear_an_organizations_limits(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, cli_table: str
) -> None:
    connection = ("--endpoint-url", endpoint_url, "--table", cli_table)
    code, out, err = run(
        capsys, "limits", "set", "--org", ORG, "--search", "5", "--upload", "0", "--json", *connection
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["window"] == "1m"
    rows = {row["category"]: row for row in shown["limits"]}
    assert rows["search"] == {"category": "search", "limit": 5, "source": "organization"}
    assert rows["upload"]["limit"] == 0 and rows["metadata"]["source"] == "default"

    code, out, err = run(capsys, "limits", "set", "--org", ORG, "--data", "7", *connection)
    assert code == 0, err and "organization" in out
    store = DynamoDBMetadataStore(cli_table, endpoint_url=endpoint_url)
    assert store.get_rate_limits(ORG) == {"data": 7, "search": 5, "upload": 0}  # merged
    limiter = RateLimiter(store, DEFAULT_LIMITS, cache_seconds=0)
    assert (
        limiter.limit_of(ORG, "search") == 5 and limiter.limit_of(ORG, "compute") == DEFAULT_LIMITS["compute"]
    )

    code, out, err = run(capsys, "limits", "show", "--org", ORG, *connection)
    assert code == 0 and "search" in out and "organization" in out, (out, err)
    code, out, err = run(capsys, "limits", "clear", "--org", ORG, *connection)
    assert code == 0, err
    assert store.get_rate_limits(ORG) == {}


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["limits", "set", "--org", ORG], "at least one of"),
        (["limits", "set", "--org", ORG, "--search", "-3"], "out of range"),
    ],
)
def test_a_wrong_limits_command_is_exit_2(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, cli_table: str, argv: list[str], words: str
) -> None:
    code, _, err = run(capsys, *argv, "--endpoint-url", endpoint_url, "--table", cli_table)
    assert code == 2 and words in err, err
