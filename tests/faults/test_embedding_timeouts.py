"""The embedding service timing out during ingestion, through the real OpenAI client.

The rig (moto S3 → SQS with the template's redrive policy → the `extractor` entry point → LanceDB)
embeds with `openai_text_3_small` against the loopback OpenAI server, which hangs requests past the
client's timeout (0.5 s, 2 attempts per batch). A timeout is the inference service's outage, not
the object's fault: the message is retried (`batchItemFailures`) with the object PROCESSING and
"attempt n of 3 failed, retrying: ..."; on the last receive the object is FAILED with the reason
and SQS itself (moto's redrive) moves the message to the dead-letter queue. An outage that heals
before the last receive completes the object."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from tests.faults.api import OPENAI_MAX_ATTEMPTS, OPENAI_TIMEOUT_SECONDS
from tests.faults.ingestion_checks import (
    counts,
    deliver,
    documents,
    setup_openai_text,
    task_of,
    the_object,
)
from tests.integration.ingestion_rig import DATA_BUCKET, MAX_RECEIVES, NOTES, Pipeline
from tests.loopback_openai import LoopbackOpenAI, expected_vector

HANG_SECONDS = OPENAI_TIMEOUT_SECONDS * 3
REASON = (
    "inference service 'openai_text_3_small' is unavailable: request timed out "
    f"after {OPENAI_MAX_ATTEMPTS} attempts"
)


def test_timeouts_on_every_receive_fail_the_object_and_dead_letter_the_message(
    ingestion: Pipeline, openai_server: LoopbackOpenAI
) -> None:
    text = setup_openai_text(ingestion)
    ingestion.queued()  # the notification setup's s3:TestEvent
    openai_server.hang_next(OPENAI_MAX_ATTEMPTS * MAX_RECEIVES, seconds=HANG_SECONDS)
    key = text.key("cats.txt")
    ingestion.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=NOTES["cats.txt"].encode())

    for receive in range(1, MAX_RECEIVES + 1):
        delivery = deliver(ingestion)

        assert delivery.receive_counts == [receive]
        assert delivery.failed == {delivery.messages[0]["MessageId"]}
        stored = the_object(ingestion, text)
        task = task_of(ingestion, text, stored["task_id"])
        if receive < MAX_RECEIVES:
            assert stored["status"] == "PROCESSING"
            assert stored["error"] == f"attempt {receive} of {MAX_RECEIVES} failed, retrying: {REASON}"
        else:
            assert stored["status"] == "FAILED" and stored["error"] == REASON
        assert (task["status"], task["error"]) == (stored["status"], stored["error"])

    assert deliver(ingestion).messages == [], "past maxReceiveCount SQS redrives instead of delivering"
    (dead,) = ingestion.dead_letters()
    assert unquote_plus(json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"]) == key
    # Every attempt reached the server and was abandoned at the client's timeout.
    assert len(openai_server.requests) == OPENAI_MAX_ATTEMPTS * MAX_RECEIVES
    assert {r.model for r in openai_server.requests} == {"text-embedding-3-small"}
    assert counts(ingestion, text)["namespace.document_count"] == 0
    assert the_object(ingestion, text)["document_count"] == 0


@pytest.mark.parametrize(
    ("hung", "completing_receive"),
    [(1, 1), (OPENAI_MAX_ATTEMPTS, 2)],
    ids=["absorbed-by-the-embedders-retry", "heals-on-the-2nd-receive"],
)
def test_an_outage_that_heals_completes_the_object_once(
    ingestion: Pipeline, openai_server: LoopbackOpenAI, hung: int, completing_receive: int
) -> None:
    text = setup_openai_text(ingestion)
    ingestion.queued()
    openai_server.hang_next(hung, seconds=HANG_SECONDS)
    ingestion.s3.put_object(Bucket=DATA_BUCKET, Key=text.key("cats.txt"), Body=NOTES["cats.txt"].encode())

    for receive in range(1, completing_receive + 1):
        delivery = deliver(ingestion)
        assert delivery.receive_counts == [receive]
        stored = the_object(ingestion, text)
        if receive < completing_receive:
            assert delivery.failed == {delivery.messages[0]["MessageId"]}
            assert stored["status"] == "PROCESSING"
            assert stored["error"] == f"attempt 1 of {MAX_RECEIVES} failed, retrying: {REASON}"

    assert delivery.failed == set()
    stored = the_object(ingestion, text)
    assert stored["status"] == "COMPLETED" and stored["error"] is None and stored["document_count"] == 1
    task = task_of(ingestion, text, stored["task_id"])
    assert task["status"] == "COMPLETED" and task["error"] is None
    assert deliver(ingestion).messages == [] and ingestion.dead_letters() == []
    assert len(openai_server.requests) == hung + 1
    (document,) = documents(ingestion, text, vectors=True)
    embedded = document["vectors"]["text_extractor_v1_embedding"]
    assert embedded == pytest.approx(expected_vector(document["payload"]["text"], 1536), abs=1e-6)
    assert counts(ingestion, text) == {
        "namespace.document_count": 1,
        "namespace.object_count": 1,
        "bucket.object_count": 1,
        "index.records": 1,
        "index.ids": 1,
    }
