"""Nothing a caller sends in confidence — the API key, a document's payload, a vector — reaches the
logs, the metrics or the traces, on the happy path or any error path, in-process over HTTP or
through a Lambda handler (the HTTP functions and the extractor).

Every log record of every logger is captured at DEBUG (the app's Powertools logger, the SDKs',
the HTTP client's, anything that propagates to the root), rendered with its arguments, extras
and traceback, and so is everything written to stdout/stderr (capfd). Through the Lambda
handlers, so is what a function ships: its stdout as Lambda sees it (the JSON log lines and the
EMF metrics blobs) and the X-Ray subsegments it sends (tracing on)."""

from __future__ import annotations

import json
import logging
import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    LambdaContext,
    Pipeline,
    key_of,
    pipeline,
    setup_text,
    sqs_event,
    tiny_clip,
)
from tests.lambda_output import Stdout, XRayDaemon, captured_stdout, metrics_on, xray_daemon
from tests.security.conftest import Stack, api_gateway_event, assert_envelope, invoke_function

__all__ = ["pipeline", "tiny_clip"]  # fixtures

CANARY = "zebra-canary-7731"
# A 384-dimension vector (minilm_l6_v2's, so the index can be promoted onto it) whose non-zero
# components are unlike any number the stack prints by itself.
COMPONENTS = (0.41928371, -0.83746152, 0.27364518)
VECTOR = [*COMPONENTS, *([0.0] * 381)]
# How a component would look once formatted, whatever the precision or float width: repr of the
# float64 ("0.41928371") or float32 ("0.4192837"), "%f" ("0.419284" - rounded, hence 5 digits).
COMPONENT_MARKS = tuple(f"{abs(c):.6f}"[:7] for c in COMPONENTS)
NAMESPACE = "canary-ns"


@dataclass
class CapturedLogs:
    records: list[tuple[str, str]] = field(default_factory=list)  # (logger, everything it said)
    loggers: set[str] = field(default_factory=set)


class _Collect(logging.Handler):
    """Keeps every record as text: its message, every attribute (extras included) and traceback."""

    def __init__(self, captured: CapturedLogs) -> None:
        super().__init__(logging.NOTSET)
        self.captured = captured

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the raw parts
            message = f"{record.msg!r} % {record.args!r}"
        parts = [message, repr(record.__dict__)]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        if record.stack_info:
            parts.append(record.stack_info)
        self.captured.records.append((record.name, "\n".join(parts)))
        self.captured.loggers.add(record.name)


# The operator's knobs at DEBUG (LOG_LEVEL=DEBUG reaches the root logger and Powertools'): the
# root logger, and the loggers of the app, its frameworks, the servers and HTTP clients. Other
# loggers keep the level they were given: the app deliberately holds the SDKs' wire loggers at
# INFO (`stratus.wire_logs.quiet_sdk_wire_logs`), and that is part of what is tested here.
DEBUG_LOGGERS = (
    "stratus",
    "aws_lambda_powertools",
    "mangum",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "httpx2",
)


@pytest.fixture
def all_logs() -> Iterator[CapturedLogs]:
    """Every record any logger emits, with the operator's loggers at DEBUG: a collecting handler
    on the root logger and on each existing logger that does not propagate to it."""
    captured = CapturedLogs()
    handler = _Collect(captured)
    manager = logging.root.manager
    loggers = [logging.root, *(lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    saved_disable = manager.disable
    logging.disable(logging.NOTSET)
    attached: list[logging.Logger] = []
    for lg in loggers:
        lg.disabled = False
        if lg is logging.root or lg.name.split(".", 1)[0] in DEBUG_LOGGERS:
            lg.setLevel(logging.DEBUG)
        if lg is logging.root or not lg.propagate:
            lg.addHandler(handler)
            attached.append(lg)
    try:
        yield captured
    finally:
        for lg in attached:
            lg.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
        logging.disable(saved_disable)


def _leaks(text: str, api_keys: list[str]) -> list[str]:
    found = [f"API key {key[:6]}..." for key in api_keys if key in text or key.removeprefix("sk_") in text]
    if CANARY in text:
        found.append(f"payload value {CANARY!r}")
    found.extend(f"vector component {mark}" for mark in COMPONENT_MARKS if mark in text)
    return found


def _excerpt(text: str, api_keys: list[str]) -> str:
    marks = [CANARY, *COMPONENT_MARKS, *api_keys]
    first = min((i for i in (text.find(mark) for mark in marks) if i >= 0), default=0)
    return text[max(first - 250, 0) : first + 150]


def _assert_nothing_leaked(
    captured: CapturedLogs,
    capfd: pytest.CaptureFixture[str],
    api_keys: list[str],
    shipped: Stdout | None = None,
    traces: XRayDaemon | None = None,
) -> None:
    out, err = capfd.readouterr()
    problems = []
    sources = [(f"logger {name!r}", text) for name, text in captured.records]
    if shipped is not None:
        sources.append(("the function's stdout (JSON logs, EMF metrics)", shipped.text))
    if traces is not None:
        traces.received()
        sources.append(("X-Ray subsegments", b"\n".join(traces.raw).decode()))
    for where, text in [*sources, ("stdout", out), ("stderr", err)]:
        leaks = _leaks(text, api_keys)
        if leaks:
            problems.append(f"{where}: {', '.join(leaks)}\n    {_excerpt(text, api_keys)}")
    assert not problems, "secrets in the logs:\n" + "\n".join(problems)


def _document(document_id: str) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "vectors": {"emb": VECTOR},
        "payload": {"note": CANARY, "nested": {"deep": [CANARY]}, "category": "contract"},
    }


def _search_body(**extra: Any) -> dict[str, Any]:
    return {
        "namespace_id": NAMESPACE,
        "queries": [{"vector_name": "emb", "vector": VECTOR, "top_k": 3}],
        "filters": {"AND": [{"field": "note", "operator": "eq", "value": CANARY}]},
        "return_vectors": True,
        **extra,
    }


def _run_workflow(stack: Stack) -> None:
    """Every step of namespace-promotion.txt plus the error paths, each checked for its answer."""
    docs = f"/v1/namespaces/{NAMESPACE}/documents"
    created = stack.call(
        "POST",
        "/v1/namespaces/standalone",
        json={
            "namespace_id": NAMESPACE,
            "vector_configs": [{"name": "emb", "dimension": len(VECTOR)}],
            "payload_indexes": [{"field_name": "note", "type": "keyword"}],
            "auto_create_indexes": True,
        },
    )
    assert created.status_code == 200, created.text
    upserted = stack.call("POST", f"{docs}/direct", json={"documents": [_document("d1"), _document("d2")]})
    assert upserted.status_code == 200, upserted.text
    found = stack.call("POST", "/v1/search", key="a_read", json=_search_body())
    assert found.status_code == 200, found.text
    assert CANARY in found.text  # the answer carries the payload; the logs must not
    promoted = stack.call(
        "POST",
        f"/v1/namespaces/{NAMESPACE}/promote",
        json={"vector_mappings": [{"existing_index": "emb", "inference_service": "minilm_l6_v2"}]},
    )
    assert promoted.status_code == 200, promoted.text
    one = stack.call("GET", f"{docs}/d1?return_vectors=true", key="a_read")
    assert one.status_code == 200 and CANARY in one.text, one.text
    listed = stack.call("POST", f"{docs}/list", key="a_read", json={"return_vectors": True})
    assert listed.status_code == 200 and CANARY in listed.text, listed.text
    assert stack.call("GET", f"/v1/namespaces/{NAMESPACE}/analytics/filter-usage").status_code == 200

    # Managed content: an object (text blob and metadata) and a presigned upload (metadata).
    scope = {"X-Namespace": NAMESPACE}
    bucket = stack.call("POST", "/v1/buckets", json={"bucket_name": "canary-bucket"}, headers=scope)
    assert bucket.status_code == 200, bucket.text
    objects = f"/v1/buckets/{bucket.json()['bucket_id']}/objects"
    blob = {"property": "body", "type": "text", "data": f"the text says {CANARY}"}
    stored = stack.call("POST", objects, json={"metadata": {"note": CANARY}, "blobs": [blob]}, headers=scope)
    assert stored.status_code == 200 and CANARY in stored.text, stored.text
    one_object = stack.call("GET", f"{objects}/{stored.json()['object_id']}", key="a_read", headers=scope)
    assert one_object.status_code == 200 and CANARY in one_object.text, one_object.text
    assert stack.call("GET", objects, key="a_read", headers=scope).status_code == 200
    upload = {"filename": "notes.txt", "content_type": "text/plain", "metadata": {"note": CANARY}}
    presigned = stack.call("POST", objects.replace("/objects", "/uploads"), json=upload, headers=scope)
    assert presigned.status_code == 200, presigned.text

    # 4xx: unknown key, read-only key writing, wrong dimension, a malformed body, an unknown
    # filter operator and a missing document - each with the payload and vector in the request.
    unknown_key = {"Authorization": "Bearer sk_" + "Z" * 32}
    refused = stack.client.post(f"{docs}/direct", json={"documents": [_document("d3")]}, headers=unknown_key)
    assert_envelope(refused, 401, "UnauthorizedError")
    forbidden = stack.call("POST", f"{docs}/direct", key="a_read", json={"documents": [_document("d3")]})
    assert_envelope(forbidden, 403, "ForbiddenError")
    short = {"documents": [{**_document("d3"), "vectors": {"emb": list(COMPONENTS)}}]}
    assert_envelope(stack.call("POST", f"{docs}/direct", json=short), 400, "BadRequestError")
    malformed = {"documents": [{**_document("d3"), "vectors": {"emb": [*VECTOR[:-1], CANARY]}}]}
    assert_envelope(stack.call("POST", f"{docs}/direct", json=malformed), 422, "ValidationError")
    bad_filter = _search_body(filters={"field": "note", "operator": "regex", "value": CANARY})
    refused_filter = assert_envelope(
        stack.call("POST", "/v1/search", json=bad_filter), 400, "BadRequestError"
    )
    assert refused_filter["details"]["field"] == "filters.operator"
    assert_envelope(stack.call("GET", f"{docs}/nope"), 404, "NotFoundError")

    # 503: the vector store breaks (a plain file where the LanceDB directory was).
    shutil.rmtree(stack.lancedb_dir)
    stack.lancedb_dir.write_text("not a directory")
    stack.wired.rebuild()  # a new container opens the store anew
    down = stack.call("POST", f"{docs}/direct", json={"documents": [_document("d4")]})
    assert_envelope(down, 503, "VectorStoreUnavailableError")
    assert_envelope(stack.call("POST", "/v1/search", json=_search_body()), 503, "VectorStoreUnavailableError")


def test_a_whole_workflow_logs_no_key_payload_or_vector(
    stack: Stack, all_logs: CapturedLogs, capfd: pytest.CaptureFixture[str]
) -> None:
    _run_workflow(stack)

    # The capture saw the app's own logger (the 503s) and the SDKs' (botocore's INFO).
    assert "stratus" in all_logs.loggers and any(name.startswith("botocore") for name in all_logs.loggers)
    _assert_nothing_leaked(all_logs, capfd, list(stack.keys.values()))


def test_an_unexpected_error_logs_no_payload_or_vector(
    stack: Stack, all_logs: CapturedLogs, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library bug whose message quotes the data it choked on (as Arrow's conversion errors do):
    the 500 is logged for operators, without the message."""
    body = {"namespace_id": NAMESPACE, "vector_configs": [{"name": "emb", "dimension": len(VECTOR)}]}
    assert stack.call("POST", "/v1/namespaces/standalone", json=body).status_code == 200
    vectors = stack.wired.container.vectors

    def broken_upsert(space: Any, records: Any) -> None:
        raise TypeError(f"cannot convert {records!r}")

    monkeypatch.setattr(vectors, "upsert", broken_upsert)
    monkeypatch.setattr(vectors, "upsert_columns", broken_upsert)  # what the upsert route calls

    response = stack.call(
        "POST", f"/v1/namespaces/{NAMESPACE}/documents/direct", json={"documents": [_document("d1")]}
    )

    error = assert_envelope(response, 500, "InternalServerError")
    assert CANARY not in json.dumps(error)
    logged = "\n".join(text for _, text in all_logs.records)
    assert "TypeError" in logged and "broken_upsert" in logged  # operators still see what failed, and where
    _assert_nothing_leaked(all_logs, capfd, list(stack.keys.values()))


# ---------------------------------------------------------------------------------------------
# The Lambda path: API Gateway events through the functions' Mangum handlers


def _event(route_key: str, path: str, body: dict[str, Any] | None, api_key: str) -> dict[str, Any]:
    text = json.dumps(body) if body is not None else None
    headers = {"authorization": f"Bearer {api_key}", "content-length": str(len(text or ""))}
    return api_gateway_event(route_key, path, text, headers)


def test_the_lambda_handlers_log_measure_and_trace_no_key_payload_or_vector(
    stack: Stack,
    moto_dynamodb: DynamoDBMetadataStore,
    all_logs: CapturedLogs,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: None,
    tmp_path: Path,
) -> None:
    metrics_on(monkeypatch)
    with xray_daemon(monkeypatch, str(tmp_path)) as traces, captured_stdout() as shipped:
        _invoke_the_functions(stack, monkeypatch)

    # What the functions shipped is there to be checked: log lines, metrics, subsegments
    assert shipped.logs() and shipped.metrics() and traces.received()
    _assert_nothing_leaked(all_logs, capfd, [stack.keys["a_admin"]], shipped, traces)


def _invoke_the_functions(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    key = stack.keys["a_admin"]
    docs = f"/v1/namespaces/{NAMESPACE}/documents"
    body = {"namespace_id": NAMESPACE, "vector_configs": [{"name": "emb", "dimension": len(VECTOR)}]}
    steps: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
        (
            "create_standalone_namespace",
            "POST /v1/namespaces/standalone",
            "/v1/namespaces/standalone",
            body,
            200,
        ),
        ("upsert_documents", f"POST {docs}/direct", f"{docs}/direct", {"documents": [_document("d1")]}, 200),
        ("search", "POST /v1/search", "/v1/search", _search_body(), 200),
        ("get_document", f"GET {docs}/d1", f"{docs}/d1", None, 200),
        ("list_documents", f"POST {docs}/list", f"{docs}/list", {"return_vectors": True}, 200),
        ("search", "POST /v1/search", "/v1/search", _search_body(top_k=0), 422),
    ]
    for operation, route_key, path, request, expected in steps:
        status, text = invoke_function(operation, _event(route_key, path, request, key))
        assert status == expected, (operation, status, text)

    # An unexpected failure inside a handler: Mangum logs what the app re-raises, if it does. The
    # store's class is patched and the container rebuilt, so the traced method is the broken one.
    from stratus.container import get_container, reset_container

    def broken_upsert(store: Any, space: Any, records: Any) -> None:
        raise TypeError(f"cannot convert {records!r}")

    monkeypatch.setattr(type(get_container().vectors), "upsert", broken_upsert)
    monkeypatch.setattr(type(get_container().vectors), "upsert_columns", broken_upsert)
    reset_container()
    status, text = invoke_function(
        "upsert_documents",
        _event(f"POST {docs}/direct", f"{docs}/direct", {"documents": [_document("d2")]}, key),
    )
    assert status == 500 and CANARY not in text, text


def test_the_extractor_logs_measures_and_traces_no_document_text(
    pipeline: Pipeline,
    all_logs: CapturedLogs,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """An object's text (chunked, embedded, stored as documents) and a failing object's bytes never
    reach what the extractor function ships."""
    _, bucket, _ = setup_text(pipeline, split_by="paragraphs", chunk_size=60)
    text = f"First paragraph about {CANARY}.\n\nSecond paragraph, again {CANARY}."
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "note.txt"), Body=text.encode())
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, "odd.pdf"), Body=f"%PDF {CANARY}".encode())
    messages = [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]
    metrics_on(monkeypatch)

    with xray_daemon(monkeypatch, str(tmp_path)) as traces, captured_stdout() as shipped:
        pipeline.rewire()  # a container built with tracing on
        response = pipeline.extractor.handler(sqs_event(messages), LambdaContext())

    assert len(response["batchItemFailures"]) == 1  # the PDF
    assert any(document["name"] == "embedder.embed_texts" for document in traces.received())
    assert shipped.metrics() and shipped.logs()
    _assert_nothing_leaked(all_logs, capfd, [], shipped, traces)
