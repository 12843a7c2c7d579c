"""What the Lambda functions tell an operator (stratus/observability.py, docs/operating.md): the
real handlers (functions/<op>/app.py) fed tests/events/*.json with a fake Lambda context, their
stdout read back: JSON log lines with the correlation id, the stage and the cold-start flag, one
EMF metrics blob per invocation with its names, dimensions and values, and (tracing on) the X-Ray
subsegments around store calls, sent to a stand-in daemon."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stratus import observability
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.errors import VectorStoreUnavailableError
from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    NOTES,
    LambdaContext,
    Pipeline,
    key_of,
    pipeline,
    setup_text,
    sqs_event,
    tiny_clip,
)
from tests.integration.test_handlers_with_events import (
    EVENT_API_KEY,
    FakeLambdaContext,
    invoke,
    invoke_prepared,
    lambda_env,
    load_event,
    load_handler,
)
from tests.lambda_output import (
    captured_stdout,
    cold_start_next,
    dimensions,
    metric_values,
    metrics_on,
    xray_daemon,
)

__all__ = ["lambda_env", "pipeline", "tiny_clip"]  # fixtures

STAGE = "qa"


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STRATUS_STAGE", STAGE)
    return STAGE


def _setup_search(*operations: str) -> None:
    for operation in operations:
        answer = invoke(operation)
        assert answer.status == 200, (operation, answer.body)


def _one_blob(blobs: list[dict[str, Any]], operation: str) -> dict[str, Any]:
    mine = [blob for blob in blobs if blob.get("operation") == operation]
    assert len(mine) == 1, f"expected one EMF blob of {operation}, got {len(mine)}: {blobs}"
    return mine[0]


# ---------------------------------------------------------------------------------------------
# HTTP


def test_a_success_logs_json_with_the_request_id_and_the_cold_start_and_is_counted(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    metrics_on(monkeypatch)
    cold_start_next(monkeypatch)
    event = load_event("health")

    with captured_stdout() as stdout:
        assert invoke("health", event).status == 200
        assert invoke("health", event).status == 200  # the same container, warm

    first, second = [line for line in stdout.logs() if line["message"] == "GET /v1/health 200"]
    assert first["level"] == "INFO"
    assert first["correlation_id"] == event["requestContext"]["requestId"] == "evt-health"
    assert (first["service"], first["stage"], first["operation"]) == ("stratus", stage, "health")
    assert first["cold_start"] is True and second["cold_start"] is False
    assert first["function_name"] == "stratus-health" and first["function_request_id"]
    assert first["route"] == "GET /v1/health" and first["status"] == 200 and first["latency_ms"] > 0
    # Every line of the invocations is JSON with the service, the stage and the correlation id.
    assert all(line["service"] == "stratus" and line["stage"] == stage for line in stdout.logs())

    cold, warm = stdout.metrics()
    assert cold["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stratus"
    assert dimensions(cold) == {"service": "stratus", "stage": stage, "operation": "health"}
    values = metric_values(cold)
    assert values.pop("Latency") > 0
    assert values == {"Requests": 1, "Errors4xx": 0, "Errors5xx": 0, "ColdStart": 1}
    assert "ColdStart" not in metric_values(warm) and metric_values(warm)["Requests"] == 1


def test_a_4xx_is_counted_as_a_client_error(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    metrics_on(monkeypatch)
    event = load_event("get_namespace")
    del event["headers"]["authorization"]

    with captured_stdout() as stdout:
        assert invoke("get_namespace", event).status == 401

    values = metric_values(_one_blob(stdout.metrics(), "get_namespace"))
    assert (values["Requests"], values["Errors4xx"], values["Errors5xx"]) == (1, 1, 0)
    (summary,) = [line for line in stdout.logs() if line.get("status") == 401]
    assert summary["message"] == "GET /v1/namespaces/{namespace_identifier} 401"
    assert summary["correlation_id"] == event["requestContext"]["requestId"]


def test_a_5xx_is_counted_as_a_server_error_and_logged_with_the_request_id(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    _setup_search("create_standalone_namespace", "upsert_documents")
    from stratus.container import get_container

    def down(*args: Any, **kwargs: Any) -> Any:
        raise VectorStoreUnavailableError("the vector store is down", {"vector_store": "lancedb"})

    monkeypatch.setattr(get_container().vectors, "query", down)
    metrics_on(monkeypatch)
    event = load_event("search")

    with captured_stdout() as stdout:
        assert invoke("search", event).status == 503

    values = metric_values(_one_blob(stdout.metrics(), "search"))
    assert (values["Requests"], values["Errors4xx"], values["Errors5xx"]) == (1, 0, 1)
    assert "SearchResults" not in values  # no answer, nothing counted
    (warning,) = [line for line in stdout.logs() if line["message"] == "dependency failure"]
    assert warning["level"] == "WARNING" and warning["error_type"] == "VectorStoreUnavailableError"
    assert warning["correlation_id"] == event["requestContext"]["requestId"]


def test_an_unhandled_error_is_a_5xx_logged_by_type_only(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    _setup_search("create_standalone_namespace", "upsert_documents")
    from stratus.container import get_container

    secret = "-".join(("zebra", "unlogged", "text"))  # made at run time: not in any source line

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"cannot convert {secret}")

    monkeypatch.setattr(get_container().vectors, "query", broken)
    metrics_on(monkeypatch)

    with captured_stdout() as stdout:
        assert invoke("search").status == 500

    assert metric_values(_one_blob(stdout.metrics(), "search"))["Errors5xx"] == 1
    (error,) = [line for line in stdout.logs() if line["message"] == "unhandled error"]
    assert error["error_types"] == ["builtins.TypeError"] and error["correlation_id"] == "evt-search"
    assert secret not in stdout.text


@pytest.mark.parametrize(
    ("operation", "hits", "setup"),
    [
        ("search", "results", ()),
        ("execute_adhoc_retriever", "documents", ()),
        ("search_features", "documents", ()),
        ("execute_retriever", "documents", ("create_retriever",)),
    ],
)
def test_a_search_counts_its_results(
    operation: str,
    hits: str,
    setup: tuple[str, ...],
    lambda_env: DynamoDBMetadataStore,
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
) -> None:
    answers: dict[str, Any] = {}
    for step in ("create_standalone_namespace", "upsert_documents", *setup):
        answer = invoke_prepared(step, answers)
        assert answer.status == 200, (step, answer.body)
        answers[step] = answer.body
    metrics_on(monkeypatch)

    with captured_stdout() as stdout:
        answer = invoke_prepared(operation, answers)

    assert answer.status == 200 and len(answer.body[hits]) == 1, answer.body
    blob = _one_blob(stdout.metrics(), operation)
    assert dimensions(blob) == {"service": "stratus", "stage": stage, "operation": operation}
    values = metric_values(blob)
    assert (values["Requests"], values["SearchResults"], values["Errors4xx"], values["Errors5xx"]) == (
        1,
        1,
        0,
        0,
    )


def test_metrics_switched_off_print_nothing_and_keep_nothing(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # POWERTOOLS_METRICS_DISABLED=true, as tests/conftest.py and the local stack set it
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    with captured_stdout() as stdout:
        for _ in range(3):
            assert invoke("health").status == 200

    assert stdout.metrics() == [] and len(stdout.logs()) == 3
    assert observability.metrics.metric_set == {}  # nothing piles up in the process
    observability.count("SearchResults", 5)  # outside an invocation (uvicorn, TestClient): no-op
    assert observability.current() is None


def test_the_scheduled_job_logs_its_event_id_and_counts_its_run(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    metrics_on(monkeypatch)
    event = load_event("auto_create_indexes")

    with captured_stdout() as stdout:
        report = load_handler("auto_create_indexes")(event, FakeLambdaContext("stratus-auto-create-indexes"))

    assert report["created"] == []
    values = metric_values(_one_blob(stdout.metrics(), "auto_create_indexes"))
    assert values.pop("Latency") > 0
    assert values == {"Runs": 1, "NamespacesChecked": 0, "IndexesCreated": 0, "IndexErrors": 0, "Errors": 0}
    assert {line["correlation_id"] for line in stdout.logs()} == {event["id"]}


# ---------------------------------------------------------------------------------------------
# The extractor


def test_an_extractor_batch_counts_its_documents_and_failures_and_logs_each_message_id(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a text collection (paragraph chunks) and four objects: a five-paragraph file, a
    # one-line file, a PDF (unsupported: fails) and a key outside any bucket (skipped)
    _, bucket, _ = setup_text(pipeline, split_by="paragraphs", chunk_size=60)
    paragraphs = "\n\n".join(f"Paragraph {i} talks about topic number {i} at length." for i in range(5))
    puts = {"long.txt": paragraphs, "cats.txt": NOTES["cats.txt"], "slides.pdf": "%PDF-1.4"}
    for name, body in puts.items():
        pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key_of(bucket, name), Body=body.encode())
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key="stray/file.txt", Body=b"nobody's")
    messages = [m for m in pipeline.queued() if "ObjectCreated" in m["Body"]]
    assert len(messages) == 4
    pdf_message = next(m["MessageId"] for m in messages if "slides.pdf" in m["Body"])
    metrics_on(monkeypatch)

    # When one batch carries them
    with captured_stdout() as stdout:
        response = pipeline.extractor.handler(sqs_event(messages), LambdaContext())

    # Then the answer, the metrics and the logs agree
    assert response["batchItemFailures"] == [{"itemIdentifier": pdf_message}]
    blob = _one_blob(stdout.metrics(), "extractor")
    assert dimensions(blob) == {"service": "stratus", "stage": "local", "operation": "extractor"}
    values = metric_values(blob)
    assert values.pop("Latency") > 0
    assert values == {
        "Batches": 1,
        "Messages": 4,
        "IngestFailures": 1,
        "ObjectsCompleted": 2,
        "ObjectsSkipped": 1,
        "IngestedDocuments": 6,
        "Errors": 0,
    }
    (summary,) = [line for line in stdout.logs() if line["message"].startswith("batch of")]
    assert summary["message"] == "batch of 4 message(s), 1 failed"
    assert summary["message_ids"] == [m["MessageId"] for m in messages]
    assert summary["failed_message_ids"] == [pdf_message] and summary["documents"] == 6
    # Each object's line carries its message's id as correlation id
    object_lines = [line for line in stdout.logs() if line["message"].startswith("object ")]
    assert len(object_lines) == 4  # the batched pipeline answers the PDF's outcome too: failed
    assert {line["correlation_id"] for line in object_lines} == {m["MessageId"] for m in messages}
    (failed,) = [line for line in object_lines if ": failed " in line["message"]]
    assert failed["correlation_id"] == pdf_message
    assert "purr" not in stdout.text and "topic number" not in stdout.text  # no document text


# ---------------------------------------------------------------------------------------------
# Tracing


def test_tracing_puts_a_subsegment_around_the_handler_and_each_store_call(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stage: str
) -> None:
    with xray_daemon(monkeypatch, str(tmp_path)) as daemon:
        _setup_search("create_standalone_namespace", "upsert_documents")
        cold_start_next(monkeypatch)
        daemon.received().clear()

        assert invoke("search").status == 200

        (handler,) = daemon.named("## search")
        assert handler["annotations"] == {"operation": "search", "stage": stage, "ColdStart": True}
        names = {document["name"] for document in daemon.received()}
        assert {"metadata.find_namespace", "vectors.query"} <= names, names
        assert all(
            document["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793" for document in daemon.documents
        )
        assert not any(document.get("fault") or document.get("error") for document in daemon.documents)
        sent = b"".join(daemon.raw).decode()
        assert EVENT_API_KEY not in sent and "Master services agreement" not in sent  # no key, no payload


def test_a_failing_store_call_marks_its_subsegment_with_the_error_type_only(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stage: str
) -> None:
    from stratus.adapters.lancedb.store import LanceDBVectorStore
    from stratus.container import reset_container

    with xray_daemon(monkeypatch, str(tmp_path)) as daemon:
        _setup_search("create_standalone_namespace", "upsert_documents")

        def down(*args: Any, **kwargs: Any) -> Any:
            raise VectorStoreUnavailableError("lancedb said: contract-0001 is unreadable", {})

        # A new container, whose vector store is traced around the failing method
        monkeypatch.setattr(LanceDBVectorStore, "query", down)
        reset_container()
        daemon.received().clear()

        assert invoke("search").status == 503

        (query,) = daemon.named("vectors.query")
        assert query["fault"] is True and "cause" not in query
        assert query["annotations"]["error_type"] == "stratus.errors.VectorStoreUnavailableError"
        assert "contract-0001" not in json.dumps(daemon.documents)  # never the message


def test_tracing_is_off_unless_asked_for_and_never_off_lambda(
    lambda_env: DynamoDBMetadataStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stratus.settings import Settings

    on = Settings(tracing=True)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")
    assert observability.tracing_active(on) and not observability.tracing_active(Settings())
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    assert not observability.tracing_active(on)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    assert not observability.tracing_active(on)
    monkeypatch.delenv("AWS_SAM_LOCAL")
    monkeypatch.delenv("LAMBDA_TASK_ROOT")
    assert not observability.tracing_active(on)
    # Off, the container's adapters are the adapters themselves: nothing wrapped, nothing imported
    from stratus.container import get_container

    vectors = get_container().vectors
    assert type(vectors).query is getattr(vectors.query, "__func__", None)
