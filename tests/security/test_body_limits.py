"""A request body over 6 MB (api.md, Limits) is refused with 413 in the error envelope before
anything reads it as JSON or runs a handler: with a Content-Length, without one (chunked), with a
lying one, and through a Lambda handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message

from stratus import limits
from stratus.api import upsert_body
from stratus.api.json_body import FastJSONRequest, UpsertJSONRequest
from stratus.api.operations import OPERATIONS
from stratus.services import documents
from tests.security.conftest import Stack, api_gateway_event, assert_envelope, invoke_function
from tests.unit.test_template_drift import router_routes

LIMIT = limits.MAX_BODY_BYTES
NAMESPACE = "limits-ns"
UPSERT = f"/v1/namespaces/{NAMESPACE}/documents/direct"
JSON = {"Content-Type": "application/json"}

# Every route that takes a body; each must refuse an oversized one the same way.
BODY_ROUTES = sorted(
    (method, path)
    for router in OPERATIONS.values()
    for method, path in router_routes(router)
    if method in ("POST", "PUT", "PATCH")
)


def _oversized(extra: int = 1) -> bytes:
    """Valid JSON, `LIMIT + extra` bytes long: only its size is wrong."""
    head = b'{"documents": [], "pad": "'
    tail = b'"}'
    return head + b"x" * (LIMIT + extra - len(head) - len(tail)) + tail


@pytest.fixture
def parsing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every read of a request body, every JSON parse of one, and every upsert handled."""
    calls: list[str] = []
    real_body, real_json = Request.body, Request.json
    # The upsert routes parse through their own request class (stratus.api.json_body).
    real_fast_json = FastJSONRequest.json
    real_upsert_json = UpsertJSONRequest.json
    real_upsert = documents.upsert_documents
    # The upsert route's one-thread path (stratus.api.upsert_route) decodes the body itself.
    real_decode = upsert_body.decode

    async def body(self: Request) -> bytes:
        calls.append("body")
        return await real_body(self)

    async def parse(self: Request) -> Any:
        calls.append("json")
        return await real_json(self)

    async def fast_parse(self: FastJSONRequest) -> Any:
        calls.append("json")
        return await real_fast_json(self)

    async def upsert_parse(self: UpsertJSONRequest) -> Any:
        calls.append("json")
        return await real_upsert_json(self)

    def decode(raw: bytes) -> Any:
        calls.append("json")
        return real_decode(raw)

    def upsert(*args: Any, **kwargs: Any) -> Any:
        calls.append("upsert")
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(Request, "body", body)
    monkeypatch.setattr(Request, "json", parse)
    monkeypatch.setattr(FastJSONRequest, "json", fast_parse)
    monkeypatch.setattr(UpsertJSONRequest, "json", upsert_parse)
    monkeypatch.setattr(upsert_body, "decode", decode)
    monkeypatch.setattr(documents, "upsert_documents", upsert)
    body_ = {"namespace_id": NAMESPACE, "vector_configs": [{"name": "emb", "dimension": 2}]}
    assert stack.call("POST", "/v1/namespaces/standalone", json=body_).status_code == 200
    calls.clear()
    yield calls


def test_the_spies_see_a_normal_request(stack: Stack, parsing: list[str]) -> None:
    response = stack.call("POST", UPSERT, json={"documents": [{"vectors": {"emb": [1.0, 0.0]}}]})
    assert response.status_code == 200, response.text
    assert "json" in parsing and parsing[-1] == "upsert"


def test_a_declared_oversized_body_is_413_unparsed(stack: Stack, parsing: list[str]) -> None:
    response = stack.call("POST", UPSERT, content=_oversized(), headers=JSON)
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    error = assert_envelope(response, 413, "PayloadTooLargeError")
    assert error["details"] == {"field": "body", "limit_bytes": LIMIT}
    assert parsing == []


def test_a_chunked_oversized_body_is_413_unparsed(stack: Stack, parsing: list[str]) -> None:
    raw = _oversized()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 1 << 20):
            yield raw[start : start + (1 << 20)]

    response = stack.call("POST", UPSERT, content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_envelope(response, 413, "PayloadTooLargeError")
    assert parsing == []


def test_a_body_of_exactly_the_limit_is_parsed(stack: Stack, parsing: list[str]) -> None:
    response = stack.call("POST", UPSERT, content=_oversized(extra=0), headers=JSON)
    assert response.status_code == 422, response.text  # too few documents, not too many bytes
    assert "json" in parsing


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_every_body_route_refuses_an_oversized_body(stack: Stack, method: str, path: str) -> None:
    concrete = path.replace("{", "").replace("}", "")  # any value will do: the size is checked first
    response = stack.call(method, concrete, content=_oversized(), headers={**JSON, "X-Namespace": "x"})
    assert_envelope(response, 413, "PayloadTooLargeError")


# ---------------------------------------------------------------------------------------------
# Straight at the ASGI app: a body streamed in many messages, with or without a (lying) length


async def _drive(
    app: Any, headers: list[tuple[bytes, bytes]], chunk: int, total: int
) -> tuple[int, int, bytes]:
    """Stream `total` bytes in `chunk`-sized messages; (status, bytes the app pulled, body)."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        if pulled >= total:
            return {"type": "http.disconnect"}
        size = min(chunk, total - pulled)
        pulled += size
        return {"type": "http.request", "body": b" " * size, "more_body": pulled < total}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": UPSERT,
        "raw_path": UPSERT.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("203.0.113.10", 1234),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), pulled, body


@pytest.mark.parametrize(
    "declared",
    [None, b"10", b"not-a-number"],
    ids=["no content-length", "lying content-length", "garbage content-length"],
)
def test_a_streamed_oversized_body_is_cut_off_at_the_limit(
    stack: Stack, parsing: list[str], declared: bytes | None
) -> None:
    import anyio

    headers = [(b"content-length", declared)] if declared is not None else []
    chunk = 256 * 1024
    total = 4 * LIMIT  # far more than the limit: the app must stop reading early
    status, pulled, body = anyio.run(_drive, stack.client.app, headers, chunk, total)

    assert status == 413
    assert json.loads(body)["error"]["type"] == "PayloadTooLargeError"
    assert pulled <= LIMIT + chunk, f"read {pulled} bytes of a {total}-byte body before refusing it"
    assert parsing == []


# ---------------------------------------------------------------------------------------------
# Lambda: the function's handler refuses it too (API Gateway passes bodies up to its own limit)


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no content-length"])
def test_a_lambda_handler_refuses_an_oversized_body(
    stack: Stack, parsing: list[str], with_length: bool, fresh_container: None
) -> None:
    raw = _oversized().decode()
    headers = {"authorization": f"Bearer {stack.keys['a_admin']}", "content-type": "application/json"}
    if with_length:
        headers["content-length"] = str(len(raw))
    event = api_gateway_event(f"POST {UPSERT}", UPSERT, raw, headers)

    status, text = invoke_function("upsert_documents", event)

    assert status == 413, text
    assert json.loads(text)["error"]["type"] == "PayloadTooLargeError"
    assert parsing == []
