"""API keys exist in plaintext only in the answer that creates them (api.md, Auth): the table holds
their SHA-256 hash, whoever made them (the service, the CLI) and however they were used over HTTP;
and every comparison of a secret in the code base is constant-time."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.cli import main as cli
from stratus_local.template import REPO_ROOT
from tests.conftest import MOTO_TABLE_NAME
from tests.security.conftest import Stack, table_text

# Anything shaped like a Stratus key (api.md: `sk_` + 32 url-safe characters).
KEY_SHAPE = re.compile(r"sk_[A-Za-z0-9_-]{32}")
CLI_ORG = "org_cli"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = cli([*argv, "--table", MOTO_TABLE_NAME, "--region", "us-east-1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _cli_key(capsys: pytest.CaptureFixture[str], name: str, *, as_json: bool) -> str:
    argv = ["keys", "create", "--org", CLI_ORG, "--name", name, "--permissions", "read", "write"]
    out = _cli(capsys, *argv, *(["--json"] if as_json else []))
    # The human form prints the key alone on its last line.
    key = str(json.loads(out)["api_key"]) if as_json else out.strip().splitlines()[-1]
    assert KEY_SHAPE.fullmatch(key), out
    return key


def test_the_table_holds_only_hashes_of_keys(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    plaintexts = dict(stack.keys)  # made by the service (`create_api_key`)
    plaintexts["cli_json"] = _cli_key(capsys, "ops-json", as_json=True)
    plaintexts["cli_text"] = _cli_key(capsys, "ops-text", as_json=False)

    # Every key is real: it authenticates over HTTP, and the requests write state of their own
    # (a namespace, a promotion audit record naming the key).
    for name, key in plaintexts.items():
        response = stack.client.get("/v1/namespaces", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, (name, response.text)
    body = {"namespace_id": "keys-ns", "vector_configs": [{"name": "emb", "dimension": 4}]}
    assert stack.call("POST", "/v1/namespaces/standalone", json=body).status_code == 200
    assert stack.call("POST", "/v1/namespaces/keys-ns/promote", json={}).status_code == 200
    # Revoking and listing keys rewrite and read their items.
    listed = json.loads(_cli(capsys, "keys", "list", "--org", CLI_ORG, "--json"))
    revoked = next(item["key_id"] for item in listed if item["name"] == "ops-text")
    _cli(capsys, "keys", "revoke", "--org", CLI_ORG, "--key-id", revoked)

    stored = table_text()
    for name, key in plaintexts.items():
        assert key not in stored, f"the plaintext of key {name!r} is in the table"
        assert key.removeprefix("sk_") not in stored, f"the random part of key {name!r} is in the table"
        digest = hashlib.sha256(key.encode()).hexdigest()
        assert digest in stored, f"key {name!r} is not stored as its SHA-256 hash"
    assert not KEY_SHAPE.search(stored), "something shaped like an API key is stored in the table"


def test_listing_keys_shows_neither_keys_nor_hashes(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    key = _cli_key(capsys, "ops", as_json=True)
    digest = hashlib.sha256(key.encode()).hexdigest()

    as_json = _cli(capsys, "keys", "list", "--org", CLI_ORG, "--json")
    as_table = _cli(capsys, "keys", "list", "--org", CLI_ORG)

    assert json.loads(as_json)[0]["name"] == "ops"  # the listing does show the key's record
    for out in (as_json, as_table):
        assert key not in out and digest not in out and "key_hash" not in out


def test_auth_errors_do_not_echo_the_key(stack: Stack) -> None:
    unknown = "sk_" + "Q" * 32
    malformed = "sk_not-a-real-key-zebra"
    for key in (unknown, malformed):
        response = stack.client.get("/v1/namespaces", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
        assert key not in response.text and key.removeprefix("sk_") not in response.text


# ---------------------------------------------------------------------------------------------
# Constant-time comparison


def test_authentication_compares_the_hash_in_constant_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert stack.call("GET", "/v1/namespaces", key="a_read").status_code == 200
    digest = hashlib.sha256(stack.keys["a_read"].encode()).hexdigest()
    assert (digest, digest) in compared


# Identifiers that hold a secret (or its hash): an `==`/`!=` with one of them on either side is a
# timing oracle waiting to happen; use `hmac.compare_digest`. Comparing with a literal (`key ==
# ""`, `token is None`) is not a secret comparison.
_SECRET_NAME = re.compile(
    r"(^|[_-])(api_?key|key_hash|hash|digest|secret|password|passwd|token|credentials?|signature|plaintext)s?([_-]|$)",
    re.IGNORECASE,
)
_SOURCE_ROOTS = ("layers/stratus/stratus", "infra/stratus_local", "functions")


def _identifier(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Call):
        return _identifier(node.func)
    return None


def secret_comparisons(source: str, filename: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if not isinstance(op, ast.Eq | ast.NotEq):
                continue
            if isinstance(left, ast.Constant) or isinstance(right, ast.Constant):
                continue
            names = [_identifier(left), _identifier(right)]
            if any(name and _SECRET_NAME.search(name) for name in names):
                yield f"{filename}:{node.lineno}: {ast.unparse(node)}"


def test_the_scan_finds_a_plain_comparison_of_secrets() -> None:
    # The scan below is only as good as its pattern: these must be caught...
    caught = "\n".join(
        [
            "if record.key_hash == key_hash: pass",
            "if current.api_key != key: pass",
            "ok = headers['x-signature'] == expected",
            "same = secret_value == provided",
        ]
    )
    assert len(list(secret_comparisons(caught, "<caught>"))) == 4
    # ...and these are not secret comparisons.
    fine = "if key == '': pass\nif record is None or p.key_id == key_id: pass\nif status != 200: pass"
    assert list(secret_comparisons(fine, "<fine>")) == []


def test_no_secret_is_compared_with_eq() -> None:
    problems: list[str] = []
    for root in _SOURCE_ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            relative = str(Path(path).relative_to(REPO_ROOT))
            problems.extend(secret_comparisons(path.read_text(encoding="utf-8"), relative))
    assert not problems, "compare secrets with hmac.compare_digest, not ==/!=:\n" + "\n".join(problems)
