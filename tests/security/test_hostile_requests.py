"""Requests shaped to crash, starve or poison the service are a 4xx naming the field, and leave
nothing behind that later reads trip over: filters too wide to compile (on every route that takes
filters), payloads nested too deep to read back, and lone surrogates (JSON escapes of half a
UTF-16 pair, which no UTF-8 store, SDK or response can carry) wherever free-form JSON is taken."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus import limits
from stratus.models.stored_json import MAX_DEPTH
from tests.security.conftest import Response, Stack, assert_envelope

NAMESPACE = "hostile-ns"
UPSERT = f"/v1/namespaces/{NAMESPACE}/documents/direct"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def namespace(shared_stack: Stack) -> str:
    body = {"namespace_id": NAMESPACE, "vector_configs": [{"name": "emb", "dimension": 2}]}
    assert shared_stack.call("POST", "/v1/namespaces/standalone", json=body).status_code == 200
    document = {"document_id": "d1", "vectors": {"emb": [1.0, 0.0]}, "payload": {"kind": "a"}}
    assert shared_stack.call("POST", UPSERT, json={"documents": [document]}).status_code == 200
    return NAMESPACE


def _filter_routes(filters: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every route whose body takes `filters`, with that filter."""
    query = {"vector_name": "emb", "vector": [1.0, 0.0]}
    return [
        ("/v1/search", {"namespace_id": NAMESPACE, "queries": [query], "filters": filters}),
        (f"/v1/namespaces/{NAMESPACE}/documents/list", {"filters": filters}),
        ("/v1/namespaces/list", {"filters": filters}),
    ]


WIDE = {"OR": [{"field": f"f{i}", "operator": "gt", "value": i} for i in range(limits.MAX_FILTER_COST)]}
NARROW = {
    "OR": [{"field": "kind", "operator": "in", "value": [f"v{i}" for i in range(limits.MAX_IN_VALUES)]}]
}


@pytest.mark.parametrize(
    ("path", "body"), _filter_routes(WIDE), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_filter_too_wide_is_a_400_naming_filters_and_the_limit(
    shared_stack: Stack, namespace: str, path: str, body: dict[str, Any]
) -> None:
    error = assert_envelope(shared_stack.call("POST", path, json=body), 400, "BadRequestError")
    assert error["details"] == {"field": "filters", "limit": limits.MAX_FILTER_COST}


@pytest.mark.parametrize(
    ("path", "body"), _filter_routes(NARROW), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_wide_but_legitimate_filter_is_answered(
    shared_stack: Stack, namespace: str, path: str, body: dict[str, Any]
) -> None:
    response = shared_stack.call("POST", path, json=body)
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------------------------
# Payload depth: the stored-JSON rule (at most MAX_DEPTH objects or arrays deep), so every stored
# document can be read back. Deeper ones were stored, then every GET, list and search that
# returned them answered 500.


def _nested(depth: int) -> dict[str, Any]:
    """A payload `depth` objects deep, itself included."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _reads(stack: Stack, document_id: str) -> list[Response]:
    query = {"vector_name": "emb", "vector": [1.0, 0.0], "top_k": 100}
    return [
        stack.call("GET", f"/v1/namespaces/{NAMESPACE}/documents/{document_id}"),
        stack.call("POST", f"/v1/namespaces/{NAMESPACE}/documents/list", json={"limit": 1000}),
        stack.call("POST", "/v1/search", json={"namespace_id": NAMESPACE, "queries": [query]}),
    ]


def test_a_payload_at_the_depth_limit_is_stored_and_read_back_everywhere(
    shared_stack: Stack, namespace: str
) -> None:
    document = {"document_id": "deepest", "vectors": {"emb": [1.0, 0.0]}, "payload": _nested(MAX_DEPTH)}
    assert shared_stack.call("POST", UPSERT, json={"documents": [document]}).status_code == 200
    for response in _reads(shared_stack, "deepest"):
        assert response.status_code == 200, response.text
    got = shared_stack.call("GET", f"/v1/namespaces/{NAMESPACE}/documents/deepest").json()
    assert got["payload"] == _nested(MAX_DEPTH)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 900])
def test_a_payload_deeper_than_the_limit_is_a_422_and_nothing_is_stored(
    shared_stack: Stack, namespace: str, depth: int
) -> None:
    document_id = f"deep-{depth}"
    vectors = {"emb": [1.0, 0.0]}
    documents = [
        {"document_id": "ok", "vectors": vectors},
        {"document_id": document_id, "vectors": vectors, "payload": _nested(depth)},
    ]
    body = {"documents": documents}
    error = assert_envelope(shared_stack.call("POST", UPSERT, json=body), 422, "ValidationError")
    (problem,) = error["details"]["validation_errors"]
    assert problem["location"] == "documents[1].payload"
    assert f"nested more than {MAX_DEPTH} objects or arrays deep" in problem["message"]
    missing = shared_stack.call("GET", f"/v1/namespaces/{NAMESPACE}/documents/{document_id}")
    assert_envelope(missing, 404, "NotFoundError")
    for response in _reads(shared_stack, "d1"):
        assert response.status_code == 200, response.text


def test_a_payload_number_must_be_finite(shared_stack: Stack, namespace: str) -> None:
    raw = '{"documents": [{"vectors": {"emb": [1.0, 0.0]}, "payload": {"score": NaN}}]}'
    error = assert_envelope(
        shared_stack.call("POST", UPSERT, content=raw, headers=JSON), 422, "ValidationError"
    )
    assert error["details"]["validation_errors"][0]["location"] == "documents[0].payload"
    assert "finite" in error["message"]


# ---------------------------------------------------------------------------------------------
# Lone surrogates. Typed strings were already refused by pydantic (422); free-form JSON (payloads,
# metadata, schemas) reached `.encode()` or boto3 and answered 500, and an error message quoting
# one could not be sent.

LONE = "\ud800"  # half a UTF-16 pair; json.dumps sends it as the escape \\ud800


def _post(stack: Stack, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """POST `body` as JSON text (ASCII, so lone surrogates travel as escapes, as a client sends them)."""
    return stack.call("POST", path, content=json.dumps(body), headers={**JSON, **(headers or {})})


@pytest.fixture(scope="module")
def managed(shared_stack: Stack) -> dict[str, str]:
    extractors = [{"feature_extractor_name": "text_extractor"}]
    body = {"namespace_name": "hostile-managed", "feature_extractors": extractors}
    created = shared_stack.call("POST", "/v1/namespaces", json=body)
    assert created.status_code == 200, created.text
    header = {"X-Namespace": created.json()["namespace_id"]}
    bucket = shared_stack.call("POST", "/v1/buckets", json={"bucket_name": "b"}, headers=header)
    assert bucket.status_code == 200, bucket.text
    return {**header, "bucket_id": bucket.json()["bucket_id"]}


def _documents(payload: dict[str, Any]) -> dict[str, Any]:
    return {"documents": [{"vectors": {"emb": [1.0, 0.0]}, "payload": payload}]}


def test_a_lone_surrogate_in_free_form_json_is_a_422_naming_the_field(
    shared_stack: Stack, namespace: str, managed: dict[str, str]
) -> None:
    header = {"X-Namespace": managed["X-Namespace"]}
    objects = f"/v1/buckets/{managed['bucket_id']}/objects"
    blobs = [{"property": "t", "type": "text", "data": "hi"}]
    cases: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        (UPSERT, _documents({"title": f"x{LONE}"}), {}, "documents[0].payload"),
        (UPSERT, _documents({"tags": ["a", LONE]}), {}, "documents[0].payload"),
        (UPSERT, _documents({LONE: 1}), {}, "documents[0].payload"),
        ("/v1/buckets", {"bucket_name": "s", "bucket_schema": {"f": LONE}}, header, "bucket_schema"),
        (objects, {"metadata": {"m": LONE}, "blobs": blobs}, header, "metadata"),
        (objects, {"metadata": {LONE: 1}, "blobs": blobs}, header, "metadata"),
        (
            f"/v1/buckets/{managed['bucket_id']}/uploads",
            {"filename": "a.txt", "content_type": "text/plain", "metadata": {"m": LONE}},
            header,
            "metadata",
        ),
    ]
    for path, body, headers, field in cases:
        error = assert_envelope(_post(shared_stack, path, body, headers), 422, "ValidationError")
        assert error["details"]["validation_errors"][0]["location"] == field, (path, error)
        assert "lone surrogate" in error["message"], (path, error)
    listed = shared_stack.call("GET", objects, headers=header)
    assert listed.status_code == 200 and listed.json()["results"] == []


SEARCH = {"namespace_id": NAMESPACE, "queries": [{"vector_name": "emb", "vector": [1, 0]}]}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Refusals that quote what was sent: the envelope must still be sendable.
        (
            "/v1/namespaces",
            {
                "namespace_name": "m2",
                "feature_extractors": [{"feature_extractor_name": "text_extractor", "params": {LONE: 1}}],
            },
            f"feature_extractors[0].params.{LONE}",
        ),
        ("/v1/search", {**SEARCH, "filters": {LONE: None}}, f"filters.{LONE}"),
        ("/v1/search", {**SEARCH, "filters": {"field": "a", "operator": LONE}}, "filters.operator"),
    ],
)
def test_an_error_quoting_a_lone_surrogate_is_still_a_400(
    shared_stack: Stack, namespace: str, path: str, body: dict[str, Any], field: str
) -> None:
    error = assert_envelope(_post(shared_stack, path, body), 400, "BadRequestError")
    assert error["details"]["field"] == field


def test_a_filter_on_a_field_named_with_a_lone_surrogate_answers_with_its_warning(
    shared_stack: Stack, namespace: str
) -> None:
    response = _post(shared_stack, "/v1/search", {**SEARCH, "filters": {"field": LONE, "operator": "exists"}})
    assert response.status_code == 200, response.text
    assert response.json()["warnings"][0].startswith("field '\\ud800' has no payload index")


# ---------------------------------------------------------------------------------------------
# A 503 for an unreadable API key secret names the service, never the secret's ARN (it names the
# account and the secret; operators find it in the logs).

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stratus/openai-AbCdEf"


@pytest.fixture
def missing_openai_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    monkeypatch.delenv("STRATUS_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("STRATUS_OPENAI_API_KEY_SECRET_ARN", SECRET_ARN)
    # Powertools keeps one Secrets Manager client per process: let it build one inside moto.
    monkeypatch.delitem(DEFAULT_PROVIDERS, "secrets", raising=False)


def test_a_503_for_an_unreadable_secret_does_not_reveal_its_arn(
    missing_openai_secret: None, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # text_extractor embeds with openai_text_3_small unless told otherwise.
    body = {
        "namespace_name": "openai-ns",
        "feature_extractors": [{"feature_extractor_name": "text_extractor"}],
    }
    created = stack.call("POST", "/v1/namespaces", json=body)
    assert created.status_code == 200, created.text
    documents = {"documents": [{"vectors": {"text_extractor_v1_embedding": {"text": "hello"}}}]}
    with caplog.at_level("WARNING"):
        response = stack.call("POST", "/v1/namespaces/openai-ns/documents/direct", json=documents)
    error = assert_envelope(response, 503, "InferenceServiceUnavailableError")
    assert error["details"]["service"] == "openai_text_3_small"
    assert "arn:" not in response.text and "123456789012" not in response.text, response.text
    assert SECRET_ARN in caplog.text
