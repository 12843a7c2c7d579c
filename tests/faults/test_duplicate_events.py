"""Duplicate and late S3 events for a key that has a newer version (S3 delivers notifications at
least once, in no guaranteed order).

The extractor always reads the object as S3 has it now, and an object COMPLETED at that ETag is
skipped. So an old version's event, delivered again after the new version was processed, changes
nothing: no document, count or object field moves (not even `updated_at`), nothing is embedded,
and the object is never rolled back to the old content. Delivered out of order, the two events
still end on the new version, each chunk once. A new version whose first delivery fails and is
retried must also end with exactly its own chunks (the old version's extra chunks removed)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.api import OPENAI_MAX_ATTEMPTS, OPENAI_TIMEOUT_SECONDS
from tests.faults.ingestion_checks import (
    Text,
    counts,
    deliver,
    documents,
    object_events,
    replay,
    setup_openai_text,
    task_of,
    the_object,
)
from tests.integration.ingestion_rig import DATA_BUCKET, Pipeline
from tests.loopback_openai import LoopbackOpenAI

PARAMS: dict[str, Any] = {"split_by": "paragraphs", "chunk_size": 60}
V1 = [f"Version one, paragraph {i}, about the old topic {i}." for i in range(3)]
V2 = [f"Version two, paragraph {i}, about the new topic {i}." for i in range(2)]


def _put(pipeline: Pipeline, text: Text, paragraphs: list[str]) -> str:
    """Put a version of `notes.txt`; its ETag."""
    response = pipeline.s3.put_object(
        Bucket=DATA_BUCKET, Key=text.key("notes.txt"), Body="\n\n".join(paragraphs).encode()
    )
    return str(response["ETag"]).strip('"')


def _state(pipeline: Pipeline, text: Text) -> dict[str, Any]:
    stored = the_object(pipeline, text)
    return {
        "object": stored,
        "task": task_of(pipeline, text, stored["task_id"]),
        "documents": documents(pipeline, text),
        "counts": counts(pipeline, text),
    }


def _assert_holds_exactly(pipeline: Pipeline, text: Text, paragraphs: list[str], etag: str) -> None:
    stored = the_object(pipeline, text)
    assert stored["status"] == "COMPLETED" and stored["etag"] == etag
    assert stored["document_count"] == len(paragraphs)
    assert sorted(doc["payload"]["text"] for doc in documents(pipeline, text)) == sorted(paragraphs)
    assert counts(pipeline, text) == {
        "namespace.document_count": len(paragraphs),
        "namespace.object_count": 1,
        "bucket.object_count": 1,
        "index.records": len(paragraphs),
        "index.ids": len(paragraphs),
    }


def test_an_old_versions_event_after_the_new_version_was_processed_changes_nothing(
    ingestion: Pipeline, openai_server: LoopbackOpenAI
) -> None:
    text = setup_openai_text(ingestion, **PARAMS)
    ingestion.queued()
    etag1 = _put(ingestion, text, V1)
    old_events = object_events(ingestion)
    assert replay(ingestion, old_events)["batchItemFailures"] == []
    _assert_holds_exactly(ingestion, text, V1, etag1)
    old_task = the_object(ingestion, text)["task_id"]
    etag2 = _put(ingestion, text, V2)
    assert replay(ingestion, object_events(ingestion))["batchItemFailures"] == []
    _assert_holds_exactly(ingestion, text, V2, etag2)
    before = _state(ingestion, text)
    embedded = len(openai_server.requests)

    late = replay(ingestion, old_events)
    twice = replay(ingestion, old_events + old_events)

    assert late["batchItemFailures"] == [] and twice["batchItemFailures"] == []
    assert _state(ingestion, text) == before
    assert len(openai_server.requests) == embedded, "nothing was embedded again"
    assert before["task"]["task_id"] != old_task
    assert task_of(ingestion, text, old_task)["status"] == "COMPLETED"  # the old version's own task
    _assert_holds_exactly(ingestion, text, V2, etag2)


@pytest.mark.parametrize("order", ["old-then-new", "new-then-old"])
def test_events_of_two_versions_delivered_late_or_out_of_order_end_on_the_new_version(
    ingestion: Pipeline, order: str
) -> None:
    text = setup_openai_text(ingestion, **PARAMS)
    ingestion.queued()
    _put(ingestion, text, V1)
    (old_event,) = object_events(ingestion)
    etag2 = _put(ingestion, text, V2)
    (new_event,) = object_events(ingestion)
    first, second = (old_event, new_event) if order == "old-then-new" else (new_event, old_event)

    assert replay(ingestion, [first])["batchItemFailures"] == []
    _assert_holds_exactly(ingestion, text, V2, etag2)  # S3 already holds the new version
    after_first = _state(ingestion, text)
    assert replay(ingestion, [second])["batchItemFailures"] == []

    assert _state(ingestion, text) == after_first
    _assert_holds_exactly(ingestion, text, V2, etag2)


def test_a_new_version_retried_after_an_embedding_timeout_drops_the_old_versions_extra_chunks(
    ingestion: Pipeline, openai_server: LoopbackOpenAI
) -> None:
    """V1 has 3 chunks, V2 has 2. V2's first delivery times out at the embedding service (the
    object is then PROCESSING at V2's ETag); its retry must still remove V1's third chunk."""
    text = setup_openai_text(ingestion, **PARAMS)
    ingestion.queued()
    _put(ingestion, text, V1)
    assert deliver(ingestion).failed == set()
    etag2 = _put(ingestion, text, V2)
    openai_server.hang_next(OPENAI_MAX_ATTEMPTS, seconds=OPENAI_TIMEOUT_SECONDS * 3)

    first = deliver(ingestion)
    assert first.failed == {first.messages[0]["MessageId"]}
    stored = the_object(ingestion, text)
    assert stored["status"] == "PROCESSING" and stored["etag"] == etag2
    assert "timed out" in stored["error"]
    retry = deliver(ingestion)

    assert retry.receive_counts == [2] and retry.failed == set()
    _assert_holds_exactly(ingestion, text, V2, etag2)
