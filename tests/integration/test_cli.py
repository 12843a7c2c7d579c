"""`stratus keys ...` against a real moto server over HTTP, as an operator would run it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.cli import main
from stratus.errors import UnauthorizedError
from stratus.services.api_keys import authenticate
from stratus_local.bootstrap.tables import create_tables

ORG = "org_cli"


@pytest.fixture
def table(aws_env: None, endpoint_url: str) -> str:
    # moto's state is process-wide: a fresh table per test keeps the tests independent.
    name = f"stratus-cli-{uuid.uuid4().hex[:8]}"
    create_tables(boto3.client("dynamodb", endpoint_url=endpoint_url), {"MetadataTable": name})
    return name


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def create_key_json(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, table: str, *extra: str
) -> dict[str, Any]:
    code, out, err = run(
        capsys,
        "keys", "create", "--org", ORG, "--name", "ci", "--json",
        "--endpoint-url", endpoint_url, "--table", table, *extra,
    )  # fmt: skip
    assert code == 0, err
    created: dict[str, Any] = json.loads(out)
    return created


def test_given_a_created_key_when_used_then_it_authenticates_until_revoked(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, table: str
) -> None:
    created = create_key_json(capsys, endpoint_url, table, "--permissions", "read", "admin")
    store = DynamoDBMetadataStore(table, endpoint_url=endpoint_url)

    principal = authenticate(store, created["api_key"], None)
    assert principal.org_id == ORG
    assert principal.key_id == created["key_id"]
    assert principal.permissions == frozenset({"read", "admin"})
    assert "key_hash" not in created

    code, out, err = run(
        capsys, "keys", "revoke", "--org", ORG, "--key-id", created["key_id"],
        "--endpoint-url", endpoint_url, "--table", table,
    )  # fmt: skip
    assert code == 0, err
    assert created["key_id"] in out
    with pytest.raises(UnauthorizedError):
        authenticate(store, created["api_key"], None)


def test_given_no_permissions_flag_when_created_then_plain_output_and_read_write(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, table: str
) -> None:
    code, out, err = run(
        capsys, "keys", "create", "--org", ORG, "--name", "dev",
        "--endpoint-url", endpoint_url, "--table", table,
    )  # fmt: skip

    assert code == 0, err
    plaintext = out.strip().splitlines()[-1]
    assert plaintext.startswith("sk_") and len(plaintext) == 35
    principal = authenticate(DynamoDBMetadataStore(table, endpoint_url=endpoint_url), plaintext, None)
    assert principal.permissions == frozenset({"read", "write"})


def test_given_keys_when_listed_then_ids_shown_and_no_secret_or_hash(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, table: str
) -> None:
    created = create_key_json(capsys, endpoint_url, table)
    key_hash = DynamoDBMetadataStore(table, endpoint_url=endpoint_url).list_api_keys(ORG)[0].key_hash

    code, table_out, _ = run(
        capsys, "keys", "list", "--org", ORG, "--endpoint-url", endpoint_url, "--table", table
    )
    assert code == 0
    code, json_out, _ = run(
        capsys, "keys", "list", "--org", ORG, "--json", "--endpoint-url", endpoint_url, "--table", table
    )
    assert code == 0

    assert created["key_id"] in table_out and "active" in table_out
    listed = json.loads(json_out)
    assert [k["key_id"] for k in listed] == [created["key_id"]]
    for output in (table_out, json_out):
        assert created["api_key"] not in output
        assert key_hash not in output


def test_given_connection_options_before_the_action_then_they_apply(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, table: str
) -> None:
    code, out, err = run(
        capsys, "keys", "--endpoint-url", endpoint_url, "--table", table,
        "list", "--org", ORG,
    )  # fmt: skip

    assert code == 0, err
    assert "No API keys" in out


def test_given_connection_settings_in_env_when_run_without_flags_then_they_apply(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, endpoint_url: str, table: str
) -> None:
    monkeypatch.setenv("STRATUS_TABLE_NAME", table)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)

    code, out, err = run(capsys, "keys", "create", "--org", ORG, "--name", "env", "--json")

    assert code == 0, err
    assert (
        DynamoDBMetadataStore(table, endpoint_url=endpoint_url).list_api_keys(ORG)[0].key_id
        == json.loads(out)["key_id"]
    )


def test_given_an_unknown_key_id_when_revoked_then_exit_1_with_a_message(
    capsys: pytest.CaptureFixture[str], endpoint_url: str, table: str
) -> None:
    code, _, err = run(
        capsys, "keys", "revoke", "--org", ORG, "--key-id", "key_nope",
        "--endpoint-url", endpoint_url, "--table", table,
    )  # fmt: skip

    assert code == 1
    assert "key_nope" in err and ORG in err


def test_given_a_missing_table_when_run_then_exit_1_naming_the_table(
    capsys: pytest.CaptureFixture[str], aws_env: None, endpoint_url: str
) -> None:
    code, _, err = run(
        capsys, "keys", "list", "--org", ORG, "--endpoint-url", endpoint_url, "--table", "no-such-table"
    )

    assert code == 1
    assert "table 'no-such-table' not found" in err


def test_given_an_unreachable_endpoint_when_run_then_exit_1_saying_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, aws_env: None
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast instead of retrying a closed port

    code, _, err = run(capsys, "keys", "list", "--org", ORG, "--endpoint-url", "http://127.0.0.1:1")

    assert code == 1
    assert "cannot reach DynamoDB at http://127.0.0.1:1" in err


def test_given_an_invalid_endpoint_url_when_run_then_exit_2(
    capsys: pytest.CaptureFixture[str], aws_env: None
) -> None:
    code, _, err = run(capsys, "keys", "list", "--org", ORG, "--endpoint-url", "not a url")

    assert code == 2
    assert "invalid --endpoint-url" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["keys"],
        ["keys", "create", "--org", ORG],
        ["keys", "create", "--org", ORG, "--name", "x", "--permissions", "root"],
        ["keys", "revoke", "--org", ORG],
        ["nope"],
    ],
)
def test_given_a_wrong_command_line_when_run_then_exit_2(
    capsys: pytest.CaptureFixture[str], aws_env: None, argv: list[str]
) -> None:
    code, _, err = run(capsys, *argv)

    assert code == 2
    assert "usage:" in err


def test_given_help_when_run_then_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keys", "create", "--help")

    assert code == 0
    assert "--permissions" in out
