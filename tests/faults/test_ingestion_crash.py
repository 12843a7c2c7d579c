"""An extractor Lambda that dies between its vector write and its status writes, then the next
delivery of the same message (SQS brings it back when the visibility timeout ends).

The crash is a `SystemExit` raised at the chosen point (nothing in the code catches it, as nothing
catches a killed process), or a DynamoDB throttle on the COMPLETED write (an ordinary failure).
The vectors are already in the index; the object record (and its task) still say PROCESSING.
The next delivery must converge to exactly what a clean run of the same file gives: the object
COMPLETED with its document count, its task COMPLETED with the same outputs, each chunk once in
the index, and the namespace's and bucket's counts unchanged by the crash."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.dynamo_faults import DynamoFaults
from tests.faults.ingestion_checks import (
    ShortLivedContext,
    Text,
    counts,
    deliver,
    documents,
    setup_openai_text,
    task_of,
    the_object,
)
from tests.integration.ingestion_rig import DATA_BUCKET, MAX_RECEIVES, LambdaContext, Pipeline
from tests.loopback_openai import LoopbackOpenAI

PARAGRAPHS = [f"Paragraph {i} talks about topic number {i} at length." for i in range(3)]
CONTENT = "\n\n".join(PARAGRAPHS).encode()
PARAMS: dict[str, Any] = {"split_by": "paragraphs", "chunk_size": 60}
# What differs between two namespaces holding the same file: ids, keys, times.
_PER_RUN = {"object_id", "bucket_id", "namespace_id", "key", "s3_uri", "task_id", "created_at", "updated_at"}
_PAYLOAD_PER_RUN = {"object_id", "bucket_id", "collection_id", "feature_extractor_id", "source_key"}
_PAYLOAD_PER_RUN |= {"created_at", "updated_at"}


def _ingest(pipeline: Pipeline, name: str) -> Text:
    text = setup_openai_text(pipeline, name, **PARAMS)
    pipeline.queued()  # the previous run's leftovers, if any (and the s3:TestEvent)
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=text.key("notes.txt"), Body=CONTENT)
    return text


def _snapshot(pipeline: Pipeline, text: Text) -> dict[str, Any]:
    stored = the_object(pipeline, text)
    task = task_of(pipeline, text, stored["task_id"])
    return {
        "object": {k: v for k, v in stored.items() if k not in _PER_RUN},
        "task": {
            "status": task["status"],
            "error": task["error"],
            "document_count": (task["outputs"] or [{}])[0].get("document_count"),
            "per_collection": sorted((task["outputs"] or [{}])[0].get("collections", {}).values()),
        },
        "documents": sorted(
            (
                {k: v for k, v in doc["payload"].items() if k not in _PAYLOAD_PER_RUN}
                for doc in documents(pipeline, text)
            ),
            key=lambda payload: payload["chunk_index"],
        ),
        "counts": counts(pipeline, text),
    }


def _once(
    should_fail: Callable[..., bool], method: Callable[..., Any], after: bool = False
) -> Callable[..., Any]:
    """`method`, killed (SystemExit) at the first call `should_fail` picks: before it runs, or
    right after it returned (`after`)."""
    fired: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if fired or not should_fail(*args, **kwargs):
            return method(*args, **kwargs)
        fired.append(True)
        if after:
            method(*args, **kwargs)
        raise SystemExit("the Lambda was killed here (injected by the fault test)")

    return wrapper


def _completed(writes: Any, *args: Any, **kwargs: Any) -> bool:
    """The batch's status write that completes its objects."""
    return any(write.record.status == "COMPLETED" for write in writes)


CRASHES = {
    # Inside the job: its idempotency record is left IN_PROGRESS, the job runs again.
    "killed-right-after-the-vector-upsert": ("vectors", "upsert", lambda *a, **k: True, True),
    # After the job: its saved result is reused, nothing is embedded again. The objects' records
    # and their tasks are saved together (batched transactions), COMPLETED last.
    "killed-at-the-completed-write": ("metadata", "save_objects", _completed, False),
    "killed-right-after-the-completed-write": ("metadata", "save_objects", _completed, True),
}


def _completed_object_write(body: dict[str, Any]) -> bool:
    """The TransactWriteItems saving an object (and its task) as COMPLETED."""
    items = [item.get("Put", {}).get("Item", {}) for item in body.get("TransactItems", [])]
    return any(
        item.get("entity") == {"S": "object"} and item.get("status") == {"S": "COMPLETED"} for item in items
    )


@pytest.mark.parametrize("crash", [*CRASHES, "completed-object-write-throttled"])
def test_the_next_delivery_after_a_crash_converges_to_the_clean_run(
    ingestion: Pipeline,
    openai_server: LoopbackOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    crash: str,
) -> None:
    clean = _ingest(ingestion, "clean")
    assert deliver(ingestion).failed == set()
    expected = _snapshot(ingestion, clean)
    assert expected["object"]["status"] == "COMPLETED" and expected["object"]["document_count"] == 3
    assert expected["counts"]["index.records"] == 3
    embedded_before = len(openai_server.requests)

    text = _ingest(ingestion, "crashy")
    stores = ingestion.container
    if crash in CRASHES:
        store_name, method_name, should_fail, after = CRASHES[crash]
        store = getattr(stores, store_name)
        monkeypatch.setattr(store, method_name, _once(should_fail, getattr(store, method_name), after))
        with pytest.raises(SystemExit):
            deliver(ingestion, ShortLivedContext())
        time.sleep(0.2)  # past the killed invocation's deadline (its in-progress record expires)
    else:
        metadata: Any = stores.metadata  # the DynamoDB adapter
        faults = DynamoFaults(metadata.client)
        request.addfinalizer(faults.close)
        faults.throttle(
            "TransactWriteItems",
            times=float("inf"),
            code="ProvisionedThroughputExceededException",
            when=_completed_object_write,
        )
        failed = deliver(ingestion)
        assert failed.failed == {failed.messages[0]["MessageId"]}
        stored = the_object(ingestion, text)
        assert stored["status"] == "PROCESSING"
        assert stored["error"] == (
            f"attempt 1 of {MAX_RECEIVES} failed, retrying: "
            "the metadata store is temporarily unavailable; retry the request"
        )
        faults.clear()

    # Between the crash and the retry: the vectors are written; unless the crash came after the
    # COMPLETED write (then the next delivery must simply be skipped), the object is not done.
    assert counts(ingestion, text)["index.records"] == 3
    done_before_the_crash = crash == "killed-right-after-the-completed-write"
    assert the_object(ingestion, text)["status"] == ("COMPLETED" if done_before_the_crash else "PROCESSING")

    retry = deliver(ingestion, LambdaContext())

    assert retry.receive_counts == [2] and retry.failed == set()
    assert _snapshot(ingestion, text) == expected
    assert deliver(ingestion).messages == [] and ingestion.dead_letters() == []
    embedded = len(openai_server.requests) - embedded_before
    assert embedded == (2 if crash == "killed-right-after-the-vector-upsert" else 1), embedded


def test_a_new_version_killed_after_its_vector_upsert_still_drops_the_old_versions_extra_chunks(
    ingestion: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first version has 3 chunks, the second 2: the death comes after the second version's
    chunks are written and before the first version's third chunk is removed. The object record
    already carries the new ETag (PROCESSING); the next delivery must still remove that chunk."""

    text = _ingest(ingestion, "versions")
    assert deliver(ingestion).failed == set()
    shorter = "\n\n".join(PARAGRAPHS[:2]).encode()
    etag = str(ingestion.s3.put_object(Bucket=DATA_BUCKET, Key=text.key("notes.txt"), Body=shorter)["ETag"])
    vectors = ingestion.container.vectors
    monkeypatch.setattr(vectors, "upsert", _once(lambda *a, **k: True, vectors.upsert, after=True))
    with pytest.raises(SystemExit):
        deliver(ingestion, ShortLivedContext())
    time.sleep(0.2)
    assert the_object(ingestion, text)["etag"] == etag.strip('"')

    retry = deliver(ingestion, LambdaContext())

    assert retry.failed == set()
    stored = the_object(ingestion, text)
    assert stored["status"] == "COMPLETED" and stored["document_count"] == 2
    assert sorted(doc["payload"]["text"] for doc in documents(ingestion, text)) == PARAGRAPHS[:2]
    assert counts(ingestion, text)["index.records"] == 2
