"""Each Lambda handler (functions/<op>/app.py, loaded by path as Lambda loads it) fed the API
Gateway HTTP API v2.0 event in tests/events/<op>.json — the same files `sam local invoke
<Fn> -e tests/events/<op>.json` uses — against moto's DynamoDB (the template's table) and LanceDB
in a temp directory.

The events carry a fixed fake key, `EVENT_API_KEY`. Before invoking, the fixture stores its
SHA-256 hash in the table through the metadata store (`put_api_key`), exactly what
`create_api_key` stores for a generated key. Steps that need state (the `legal-docs` namespace
with 1536-dimension `text_embedding`, two documents) are made by invoking the create and upsert
events first, so every request in these tests goes through a real handler.

Adding an operation: add tests/events/<op>.json and an entry in `EXPECTATIONS`."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus_local.template import REPO_ROOT

EVENTS_DIR = REPO_ROOT / "tests" / "events"
FUNCTIONS_DIR = REPO_ROOT / "functions"
EVENT_API_KEY = "sk_eventsEventsEventsEventsEvents00"
NAMESPACE_ID = "legal-docs"

Body = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Lambda plumbing


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Mangum and Powertools read from a real LambdaContext."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/stratus-test"
    log_stream_name: str = "2025/11/22/[$LATEST]0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@functools.cache
def load_handler(operation: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """functions/<op>/app.py's `handler`, imported by path (no sys.path edits). Cached: like a
    warm container, one import per operation; state lives in the container reset per test."""
    path = FUNCTIONS_DIR / operation / "app.py"
    spec = importlib.util.spec_from_file_location(f"stratus_lambda_{operation}", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.handler

    def in_a_fresh_main_thread(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _give_the_main_thread_an_event_loop()
        return handler(event, context)

    return in_a_fresh_main_thread


def _give_the_main_thread_an_event_loop() -> None:
    """Mangum calls `asyncio.get_event_loop()`. In Lambda's fresh main thread that creates a loop;
    in this process an earlier `asyncio.run` (a library, a test server) may have left the thread
    with none, and the call raises. Restore what the Lambda runtime gives every handler."""
    policy = asyncio.get_event_loop_policy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            policy.get_event_loop()
    except RuntimeError:
        policy.set_event_loop(policy.new_event_loop())


def load_event(operation: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{operation}.json").read_text(encoding="utf-8"))
    return event


@dataclass
class Answer:
    status: int
    body: Any
    raw: dict[str, Any]


def invoke(operation: str, event: dict[str, Any] | None = None) -> Answer:
    event = load_event(operation) if event is None else event
    context = FakeLambdaContext(function_name=f"stratus-{operation.replace('_', '-')}")
    raw = load_handler(operation)(event, context)
    text = raw.get("body") or ""
    return Answer(raw["statusCode"], json.loads(text) if text else None, raw)


# ---------------------------------------------------------------------------------------------
# What each event must answer


@dataclass(frozen=True)
class Expectation:
    """`setup`: operations whose events run first (each must answer 200). `check` gets the
    answer's JSON body; `then`, if set, is a follow-up operation and its own check."""

    status: int
    check: Callable[[Any], None]
    setup: tuple[str, ...] = ()
    then: tuple[str, int, Callable[[Any], None]] | None = None
    ok_statuses: frozenset[int] = field(default_factory=frozenset)


def _document_ids(body: Body) -> list[str]:
    return sorted(item["document_id"] for item in body["results"])


def _check_health(body: Body) -> None:
    assert body["status"] == "ok"


def _check_created(body: Body) -> None:
    assert body["namespace_id"] == NAMESPACE_ID
    assert body["mode"] == "standalone"
    assert body["vector_configs"] == [{"name": "text_embedding", "dimension": 1536, "metric": "cosine"}]
    own = [index["field_name"] for index in body["payload_indexes"] if not index["is_protected"]]
    assert own == ["category"]


def _check_listed_namespaces(body: Body) -> None:
    assert [item["namespace_id"] for item in body["results"]] == [NAMESPACE_ID]
    assert "pagination" in body


def _check_namespace_with_documents(body: Body) -> None:
    assert body["namespace_id"] == NAMESPACE_ID
    assert body["namespace_name"] == "Legal documents"
    assert body["document_count"] == 2


def _check_updated(body: Body) -> None:
    assert body["namespace_id"] == NAMESPACE_ID
    assert body["description"] == "Contracts, NDAs and amendments"


def _check_not_found(body: Body) -> None:
    assert body["success"] is False
    assert body["error"]["type"] == "NotFoundError"


def _check_promoted(body: Body) -> None:
    assert (body["previous_mode"], body["mode"]) == ("standalone", "managed")
    assert body["vector_inference_map"] == {"text_embedding": "openai_text_3_small"}


def _check_created_managed(body: Body) -> None:
    # The exact body of create-namespace.txt.
    assert body["namespace_name"] == "spotify_playlists_dev" and body["mode"] == "managed"
    assert body["namespace_id"].startswith("ns_")
    assert body["vector_inference_map"]["image_extractor_v1_embedding"] == "google_siglip_base_v1"
    assert body["auto_create_indexes"] is True


def _check_managed(body: Body) -> None:
    assert body["namespace_id"] == NAMESPACE_ID
    assert body["mode"] == "managed"


def _check_inference_services(body: Body) -> None:
    dimensions = {service["name"]: service["dimension"] for service in body["results"]}
    assert dimensions["openai_text_3_small"] == 1536


def _check_upserted(body: Body) -> None:
    assert body["inserted"] == 2
    assert sorted(body["document_ids"]) == ["contract-0001", "contract-0002"]


def _check_listed_documents(body: Body) -> None:
    assert _document_ids(body) == ["contract-0001", "contract-0002"]


def _check_document(body: Body) -> None:
    assert body["document_id"] == "contract-0001"
    assert body["payload"]["title"] == "Master services agreement"
    assert not body.get("vectors"), "return_vectors=false must not return vectors"


def _check_only_first_document_left(body: Body) -> None:
    assert _document_ids(body) == ["contract-0001"]


def _check_search(body: Body) -> None:
    # The query is contract-0001's own vector and the filter keeps only category=contract.
    assert [hit["document_id"] for hit in body["results"]] == ["contract-0001"]
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert body["results"][0]["payload"]["category"] == "contract"


def _check_payload_index(body: Body) -> None:
    assert body["payload_index"]["field_name"] == "year"
    assert body["payload_index"]["type"] == "integer"  # sent as `field_type`
    assert body["payload_index"]["state"] == "ready"


def _check_filter_usage(body: Body) -> None:
    assert body["namespace_id"] == NAMESPACE_ID
    assert body["threshold"] == 100 and body["window_hours"] == 24
    assert isinstance(body["fields"], list)


def _accept_any(_body: Any) -> None:
    """For deletes, whose body api.md leaves open; the `then` step proves the effect."""


def _check_extractor_catalogue(body: Any) -> None:
    assert isinstance(body, list)  # a bare array: the SDK's type
    assert {item["feature_extractor_id"] for item in body} == {
        "text_extractor_v1",
        "image_extractor_v1",
        "multimodal_extractor_v1",
    }


def _check_bucket(body: Body) -> None:
    assert body["bucket_id"].startswith("bkt_") and body["bucket_name"] == "product-images"
    assert body["s3_uri"].startswith("s3://stratus-data/") and body["s3_uri"].endswith(
        f"/{body['bucket_id']}/"
    )


def _check_listed_buckets(body: Body) -> None:
    assert [item["bucket_name"] for item in body["results"]] == ["product-images"]


def _check_collection(body: Body) -> None:
    assert body["collection_id"].startswith("col_") and body["enabled"] is True
    assert body["vector_index"] == "multimodal_extractor_v1_embedding"
    assert body["feature_extractor"]["parameters"] == {"model": "clip_vit_b32"}


def _check_listed_collections(body: Body) -> None:
    assert [item["collection_name"] for item in body["results"]] == ["product-embeddings"]


def _check_object(body: Body) -> None:
    assert body["object_id"].startswith("obj_") and body["status"] == "PENDING" and body["source"] == "api"
    assert body["metadata"] == {"title": "Q3 notes", "quarter": 3}
    assert body["key"].endswith(".stratus-object.json") and "/reports/" in body["key"]
    assert [blob["property"] for blob in body["blobs"]] == ["content"]


def _check_objects_batch(body: Body) -> None:
    assert body["total_requested"] == body["succeeded_count"] == 2 and body["failed"] == []
    assert [item["object_index"] for item in body["succeeded"]] == [0, 1]
    assert [item["metadata"]["title"] for item in body["succeeded"]] == ["Q3 notes", "Q4 notes"]
    assert all(item["status"] == "PENDING" and item["source"] == "api" for item in body["succeeded"])


def _check_listed_batch_objects(body: Body) -> None:
    assert sorted(item["metadata"]["title"] for item in body["results"]) == ["Q3 notes", "Q4 notes"]


def _check_listed_objects(body: Body) -> None:
    assert [item["metadata"]["title"] for item in body["results"]] == ["Q3 notes"]


def _check_migration(body: Body) -> None:
    assert body["task_id"].startswith("task_") and body["status"] == "PENDING"
    assert (body["index"], body["from_dimension"], body["to_dimension"]) == ("text_embedding", 1536, 3072)
    assert (body["from_inference_service"], body["to_inference_service"]) == (
        "openai_text_3_small",
        "openai_text_3_large",
    )


def _check_canceled(body: Body) -> None:
    assert body["status"] == "CANCELED" and body["task_type"] == "api_namespaces_migrations_run"


def _check_migration_gone(body: Body) -> None:
    # Canceled: the index kept its service and dimension.
    assert body["vector_inference_map"] == {"text_embedding": "openai_text_3_small"}
    assert body["vector_configs"] == [{"name": "text_embedding", "dimension": 1536, "metric": "cosine"}]


def _check_upload(body: Body) -> None:
    assert body["upload_id"].startswith("upl_") and body["method"] == "PUT"
    assert body["s3_key"].endswith(f"/reports/{body['upload_id']}/q3 notes.txt")
    assert "X-Amz-Signature=" in body["presigned_url"] and body["headers"] == {"Content-Type": "text/plain"}


def _check_retriever(body: Body) -> None:
    assert body["retriever_id"].startswith("ret_") and body["retriever_name"] == "contracts-finder"
    assert [stage["config"]["stage_id"] for stage in body["stages"]] == [
        "feature_search",
        "attribute_filter",
        "sort_attribute",
    ]
    assert body["stages"][0]["parameters"] == body["stages"][0]["config"]["parameters"]


def _check_listed_retrievers(body: Body) -> None:
    assert [item["retriever_name"] for item in body["results"]] == ["contracts-finder"]


def _check_stage_catalogue(body: Any) -> None:
    assert isinstance(body, list) and "feature_search" in [stage["stage_id"] for stage in body]


def _check_patched_retriever(body: Body) -> None:
    assert body["retriever"]["description"] == "Contracts first, newest first"
    assert body["retriever"]["version"] == 2


def _check_execution(body: Body) -> None:
    # The query is contract-0001's own vector; the filter stage keeps only category=contract.
    assert body["execution_id"].startswith("exec_") and body["status"] == "completed"
    assert [document["document_id"] for document in body["documents"]] == ["contract-0001"]
    assert body["documents"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert body["documents"][0]["category"] == "contract"


def _check_index_dropped(body: Body) -> None:
    assert body["deleted"] is True and body["field_name"] == "category"
    assert "category" not in [index["field_name"] for index in body["payload_indexes"]]


def _check_category_gone(body: Body) -> None:
    assert "category" not in [index["field_name"] for index in body["payload_indexes"]]


def _check_indexes_ensured(body: Body) -> None:
    assert body["vector_indexes"] == ["text_embedding"]
    assert body["skipped"] == ["category"] and body["created"] == [] and body["failed"] == []


def _check_confirmed(body: Body) -> None:
    assert body["status"] == "COMPLETED" and body["object_id"].startswith("obj_")
    assert body["task_id"].startswith("task_") and body["file_size_bytes"] == len(UPLOADED)


def _check_no_documents_yet(body: Body) -> None:
    assert body["results"] == [] and body["pagination"]["next_cursor"] is None


def _check_batch_missing_document(body: Body) -> None:
    assert (body["updated_count"], body["failed_count"]) == (0, 1)
    assert body["results"][0]["success"] is False


# Server-made ids (bkt_, col_) cannot be written into the event files: the events name fixed
# placeholders, and these rewrite them with the ids the setup steps answered, as a client would.
Answers = dict[str, Any]


def _with_path_parameter(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    old = event["pathParameters"][name]
    event["pathParameters"][name] = value
    event["rawPath"] = event["rawPath"].replace(old, value)
    event["requestContext"]["http"]["path"] = event["rawPath"]
    return event


def _bucket_id_from_setup(event: dict[str, Any], answers: Answers) -> dict[str, Any]:
    return _with_path_parameter(event, "bucket_id", answers["create_bucket"]["bucket_id"])


def _collection_id_from_setup(event: dict[str, Any], answers: Answers) -> dict[str, Any]:
    return _with_path_parameter(event, "collection_id", answers["create_collection"]["collection_id"])


def _source_bucket_from_setup(event: dict[str, Any], answers: Answers) -> dict[str, Any]:
    body = json.loads(event["body"])
    body["source"]["bucket_ids"] = [answers["create_bucket"]["bucket_id"]]
    event["body"] = json.dumps(body)
    event["headers"]["content-length"] = str(len(event["body"].encode("utf-8")))
    return event


def _object_from_setup(event: dict[str, Any], answers: Answers) -> dict[str, Any]:
    event = _bucket_id_from_setup(event, answers)
    return _with_path_parameter(event, "object_id", answers["create_object"]["object_id"])


UPLOADED = b"Q3 notes: revenue up, costs down."


def _upload_from_setup(event: dict[str, Any], answers: Answers) -> dict[str, Any]:
    """The file arrives first (as the client's PUT to the presigned URL would bring it)."""
    import boto3

    upload = answers["create_upload"]
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=upload["s3_uri"].removeprefix("s3://").split("/", 1)[0],
        Key=upload["s3_key"],
        Body=UPLOADED,
        ContentType="text/plain",
    )
    event = _bucket_id_from_setup(event, answers)
    return _with_path_parameter(event, "upload_id", upload["upload_id"])


PREPARE: dict[str, Callable[[dict[str, Any], Answers], dict[str, Any]]] = {
    "delete_object": _object_from_setup,
    "confirm_upload": _upload_from_setup,
    "list_collection_documents": _collection_id_from_setup,
    "get_collection_document": _collection_id_from_setup,
    "update_collection_document": _collection_id_from_setup,
    "delete_collection_document": _collection_id_from_setup,
    "batch_update_collection_documents": _collection_id_from_setup,
    "get_bucket": _bucket_id_from_setup,
    "create_object": _bucket_id_from_setup,
    "create_objects_batch": _bucket_id_from_setup,
    "list_objects": _bucket_id_from_setup,
    "get_object": _object_from_setup,
    "create_upload": _bucket_id_from_setup,
    "delete_bucket": _bucket_id_from_setup,
    "create_collection": _source_bucket_from_setup,
    "get_collection": _collection_id_from_setup,
    "delete_collection": _collection_id_from_setup,
}


def invoke_prepared(operation: str, answers: Answers) -> Answer:
    prepare = PREPARE.get(operation)
    return invoke(operation, prepare(load_event(operation), answers) if prepare else None)


CREATE = "create_standalone_namespace"
UPSERT = "upsert_documents"
MANAGED = "create_namespace"
BUCKET = "create_bucket"
COLLECTION = "create_collection"
RETRIEVER = "create_retriever"

EXPECTATIONS: dict[str, Expectation] = {
    "health": Expectation(200, _check_health),
    "create_namespace": Expectation(200, _check_created_managed),
    CREATE: Expectation(200, _check_created),
    "list_namespaces": Expectation(200, _check_listed_namespaces, setup=(CREATE,)),
    "get_namespace": Expectation(200, _check_namespace_with_documents, setup=(CREATE, UPSERT)),
    "update_namespace": Expectation(200, _check_updated, setup=(CREATE,)),
    "delete_namespace": Expectation(
        200,
        _accept_any,
        setup=(CREATE, UPSERT),
        then=("get_namespace", 404, _check_not_found),
        ok_statuses=frozenset({204}),
    ),
    "promote_namespace": Expectation(
        200, _check_promoted, setup=(CREATE,), then=("get_namespace", 200, _check_managed)
    ),
    "migrate_vector_index": Expectation(200, _check_migration, setup=(CREATE, "promote_namespace")),
    "cancel_vector_index_migration": Expectation(
        200,
        _check_canceled,
        setup=(CREATE, "promote_namespace", "migrate_vector_index"),
        then=("get_namespace", 200, _check_migration_gone),
    ),
    "list_inference_services": Expectation(200, _check_inference_services),
    UPSERT: Expectation(200, _check_upserted, setup=(CREATE,)),
    "list_documents": Expectation(200, _check_listed_documents, setup=(CREATE, UPSERT)),
    "get_document": Expectation(200, _check_document, setup=(CREATE, UPSERT)),
    "delete_document": Expectation(
        200,
        _accept_any,
        setup=(CREATE, UPSERT),
        then=("list_documents", 200, _check_only_first_document_left),
        ok_statuses=frozenset({204}),
    ),
    "search": Expectation(200, _check_search, setup=(CREATE, UPSERT)),
    "create_payload_index": Expectation(200, _check_payload_index, setup=(CREATE, UPSERT)),
    "get_filter_usage": Expectation(200, _check_filter_usage, setup=(CREATE,)),
    # Managed content: the events' X-Namespace is the managed namespace of create_namespace.
    "list_feature_extractors": Expectation(200, _check_extractor_catalogue, setup=(MANAGED,)),
    "create_bucket": Expectation(200, _check_bucket, setup=(MANAGED,)),
    "list_buckets": Expectation(200, _check_listed_buckets, setup=(MANAGED, BUCKET)),
    "get_bucket": Expectation(200, _check_bucket, setup=(MANAGED, BUCKET)),
    "delete_bucket": Expectation(
        200, _accept_any, setup=(MANAGED, BUCKET), then=("get_bucket", 404, _check_not_found)
    ),
    "create_collection": Expectation(200, _check_collection, setup=(MANAGED, BUCKET)),
    "list_collections": Expectation(200, _check_listed_collections, setup=(MANAGED, BUCKET, COLLECTION)),
    "get_collection": Expectation(200, _check_collection, setup=(MANAGED, BUCKET, COLLECTION)),
    "delete_collection": Expectation(
        200,
        _accept_any,
        setup=(MANAGED, BUCKET, COLLECTION),
        then=("get_collection", 404, _check_not_found),
    ),
    "create_object": Expectation(
        200, _check_object, setup=(MANAGED, BUCKET), then=("list_objects", 200, _check_listed_objects)
    ),
    "create_objects_batch": Expectation(
        200,
        _check_objects_batch,
        setup=(MANAGED, BUCKET),
        then=("list_objects", 200, _check_listed_batch_objects),
    ),
    "list_objects": Expectation(200, _check_listed_objects, setup=(MANAGED, BUCKET, "create_object")),
    "get_object": Expectation(200, _check_object, setup=(MANAGED, BUCKET, "create_object")),
    "create_upload": Expectation(200, _check_upload, setup=(MANAGED, BUCKET)),
    # Tasks are written by the ingestion pipeline; the event's id names none.
    "get_task": Expectation(404, _check_not_found, setup=(MANAGED,)),
    # Retrievers: the events name `legal-docs` in X-Namespace and the retriever by its name.
    RETRIEVER: Expectation(200, _check_retriever, setup=(CREATE, UPSERT)),
    "list_retrievers": Expectation(200, _check_listed_retrievers, setup=(CREATE, RETRIEVER)),
    "list_retriever_stages": Expectation(200, _check_stage_catalogue),
    "get_retriever": Expectation(200, _check_retriever, setup=(CREATE, RETRIEVER)),
    "update_retriever": Expectation(200, _check_patched_retriever, setup=(CREATE, RETRIEVER)),
    "delete_retriever": Expectation(
        200, _accept_any, setup=(CREATE, RETRIEVER), then=("get_retriever", 404, _check_not_found)
    ),
    "execute_retriever": Expectation(200, _check_execution, setup=(CREATE, UPSERT, RETRIEVER)),
    "execute_adhoc_retriever": Expectation(200, _check_execution, setup=(CREATE, UPSERT)),
    "search_features": Expectation(200, _check_execution, setup=(CREATE, UPSERT)),
    "delete_payload_index": Expectation(
        200, _check_index_dropped, setup=(CREATE,), then=("get_namespace", 200, _check_category_gone)
    ),
    "ensure_namespace_indexes": Expectation(200, _check_indexes_ensured, setup=(CREATE,)),
    "delete_object": Expectation(
        200,
        _accept_any,
        setup=(MANAGED, BUCKET, "create_object"),
        then=("get_object", 404, _check_not_found),
        ok_statuses=frozenset({204}),
    ),
    "confirm_upload": Expectation(200, _check_confirmed, setup=(MANAGED, BUCKET, "create_upload")),
    # No extractor runs here: a new collection has no documents yet.
    "list_collection_documents": Expectation(
        200, _check_no_documents_yet, setup=(MANAGED, BUCKET, COLLECTION)
    ),
    "get_collection_document": Expectation(404, _check_not_found, setup=(MANAGED, BUCKET, COLLECTION)),
    "update_collection_document": Expectation(404, _check_not_found, setup=(MANAGED, BUCKET, COLLECTION)),
    "delete_collection_document": Expectation(404, _check_not_found, setup=(MANAGED, BUCKET, COLLECTION)),
    "batch_update_collection_documents": Expectation(
        200, _check_batch_missing_document, setup=(MANAGED, BUCKET, COLLECTION)
    ),
}

# Events of non-HTTP functions: the scheduled job's is tested with its function
# (tests/integration/test_auto_create_indexes.py), the extractor's below.
NON_HTTP_EVENTS = frozenset({"auto_create_indexes", "sqs-s3-put", "sqs-backfill"})
EVENT_OPERATIONS = sorted(path.stem for path in EVENTS_DIR.glob("*.json") if path.stem not in NON_HTTP_EVENTS)


# ---------------------------------------------------------------------------------------------
# Fixture


@pytest.fixture
def lambda_env(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: None,
) -> Iterator[DynamoDBMetadataStore]:
    """The environment template.yaml gives a function, pointed at moto and a LanceDB temp dir,
    with the events' API key stored (as its hash) for an organization of its own. The handlers
    build the process's container from it (`fresh_container`)."""
    from stratus.clock import iso_now
    from stratus.ports import ApiKey
    from stratus.services.api_keys import hash_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", moto_dynamodb.table_name)
    monkeypatch.setenv("STRATUS_AWS_REGION", "us-east-1")
    monkeypatch.setenv("STRATUS_VECTOR_STORE", "lancedb")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "stratus")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", "stratus-data")
    monkeypatch.setenv("STRATUS_IDEMPOTENCY_TABLE_NAME", "stratus-idempotency")
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="stratus-data")
    # The template gives the functions that start backfills (promote, migrate, cancel) its queue.
    queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="stratus-backfill")
    monkeypatch.setenv("STRATUS_BACKFILL_QUEUE_URL", queue["QueueUrl"])
    moto_dynamodb.put_api_key(
        ApiKey(
            key_id="key_events",
            key_hash=hash_api_key(EVENT_API_KEY),
            org_id="org_events",
            name="tests/events",
            permissions=["read", "write", "admin"],
            created_at=iso_now(),
        )
    )
    yield moto_dynamodb


# ---------------------------------------------------------------------------------------------
# Tests


def test_every_event_has_an_expectation() -> None:
    missing = sorted(set(EVENT_OPERATIONS) - set(EXPECTATIONS))
    assert not missing, f"tests/events/{missing[0]}.json has no entry in EXPECTATIONS; add one"


def test_events_use_the_key_the_fixture_stores() -> None:
    for operation in EVENT_OPERATIONS:
        authorization = load_event(operation)["headers"].get("authorization")
        assert authorization in (None, f"Bearer {EVENT_API_KEY}"), f"{operation}.json uses another key"


@pytest.mark.parametrize("operation", EVENT_OPERATIONS)
def test_handler_answers_its_event(operation: str, lambda_env: DynamoDBMetadataStore) -> None:
    expectation = EXPECTATIONS.get(operation)
    if expectation is None:
        pytest.fail(f"tests/events/{operation}.json has no entry in EXPECTATIONS")

    # Given the state the event needs, made through the handlers themselves
    answers: Answers = {}
    for step in expectation.setup:
        answer = invoke_prepared(step, answers)
        assert answer.status == 200, f"setup step {step} answered {answer.status}: {answer.body}"
        answers[step] = answer.body

    # When the operation's handler gets its event
    answer = invoke_prepared(operation, answers)

    # Then it answers as api.md says, with a JSON body
    accepted = {expectation.status} | expectation.ok_statuses
    assert answer.status in accepted, f"{operation} answered {answer.status}: {answer.body}"
    assert answer.raw.get("isBase64Encoded") is False
    if answer.status != 204:
        expectation.check(answer.body)
    if expectation.then is not None:
        follow_up, status, check = expectation.then
        after = invoke_prepared(follow_up, answers)
        assert after.status == status, f"after {operation}, {follow_up} answered {after.status}: {after.body}"
        check(after.body)


def test_missing_key_is_401_in_the_error_envelope(lambda_env: DynamoDBMetadataStore) -> None:
    event = load_event("get_namespace")
    del event["headers"]["authorization"]

    answer = invoke("get_namespace", event)

    assert answer.status == 401, answer.body
    assert answer.body["success"] is False
    assert answer.body["error"]["type"] == "UnauthorizedError"


def test_the_extractor_ingests_the_object_of_its_sqs_event(lambda_env: DynamoDBMetadataStore) -> None:
    """`sam local invoke ExtractorFunction -e tests/events/sqs-s3-put.json`, in process: the
    event's key lies under a bucket of a managed namespace whose collection reads it."""
    import boto3

    from stratus.models.managed_content import Bucket

    body = json.loads(load_event("sqs-s3-put")["Records"][0]["body"])
    s3_object = body["Records"][0]["s3"]["object"]
    key = s3_object["key"].replace("+", " ")
    storage_key, bucket_id, _rest = key.split("/", 2)
    managed = invoke("create_namespace").body
    bucket = Bucket(
        org_id="org_events",
        namespace_id=managed["namespace_id"],
        bucket_id=bucket_id,
        bucket_name="reports",
        s3_uri=f"s3://stratus-data/{storage_key}/{bucket_id}/",
        created_at="2026-11-22T00:00:00Z",
    )
    lambda_env.create_bucket(bucket)
    text = "Revenue grew 12% in the third quarter; churn fell to 2.1%.\n"
    boto3.client("s3", region_name="us-east-1").put_object(Bucket="stratus-data", Key=key, Body=text.encode())

    answer = load_handler("extractor")(load_event("sqs-s3-put"), FakeLambdaContext("stratus-extractor"))

    assert answer == {"batchItemFailures": []}
    (stored,) = lambda_env.list_objects("org_events", managed["namespace_id"], bucket_id, 10, None).objects
    assert (stored.status, stored.etag, stored.source) == ("COMPLETED", s3_object["eTag"], "s3")
    assert stored.blobs[0].size == s3_object["size"] and stored.key == key


def test_the_backfill_function_runs_the_task_of_its_sqs_event(lambda_env: DynamoDBMetadataStore) -> None:
    """`sam local invoke BackfillFunction -e tests/events/sqs-backfill.json`, in process: the
    event's `start` names the task of a promotion whose new index is filled from `title`."""
    invoke(CREATE)
    invoke(UPSERT)
    promote = load_event("promote_namespace")
    promote["body"] = json.dumps(
        {
            "add_vectors": [
                {
                    "name": "title_minilm",
                    "dimension": 384,
                    "inference_service": "minilm_l6_v2",
                    "source": {"field": "title"},
                }
            ]
        }
    )
    promote["headers"]["content-length"] = str(len(promote["body"]))
    promoted = invoke("promote_namespace", promote)
    assert promoted.status == 200, promoted.body
    task_id = promoted.body["backfill_task_id"]
    event = load_event("sqs-backfill")
    record = event["Records"][0]
    record["body"] = json.dumps({"kind": "start", "task_id": task_id})

    answer = load_handler("backfill")(event, FakeLambdaContext("stratus-backfill"))

    assert answer == {"batchItemFailures": []}
    task = lambda_env.get_task(task_id)
    assert task is not None and task.status == "PROCESSING" and task.total == 2
