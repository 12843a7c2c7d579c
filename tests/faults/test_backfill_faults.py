"""A backfill's faults, on both vector stores (tests/integration/backfill_rig.py): the worker dies
mid-page (a `SystemExit` after a batch was written: nothing catches it, as nothing catches a
killed process), after a page was counted, or after the listing; the inference service fails for
one page; the queue or the commit fail around a promotion. Every time the task resumes and ends
with exact counts, and no document is embedded twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from stratus.errors import InferenceServiceUnavailableError, MetadataStoreUnavailableError
from tests.integration.backfill_rig import Rig, rig, standalone_documents, text_of, tiny_clip_weights

__all__ = ["rig", "tiny_clip_weights"]

NS = "faults"
COUNT = 300
PAGE = 150  # three model batches per page (64, 64, 22): room to die between two of them
WITHOUT_TEXT = (10, 160, 299)
BODY = {
    "add_vectors": [
        {
            "name": "text_minilm",
            "dimension": 384,
            "inference_service": "minilm_l6_v2",
            "source": {"field": "text"},
        }
    ]
}


@pytest.fixture
def big_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stratus.services.backfill.messages.PAGE_SIZE", PAGE)


def _promote(rig: Rig) -> str:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": NS}))
    rig.upsert(NS, standalone_documents(COUNT, WITHOUT_TEXT))
    rig.counting()
    task_id: str = rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json=BODY))["backfill_task_id"]
    return task_id


def _assert_exact(rig: Rig, task_id: str) -> None:
    task = rig.task(task_id, NS)
    assert task["status"] == "COMPLETED", task
    assert (task["total"], task["processed"], task["skipped"], task["failed"]) == (
        COUNT,
        COUNT - len(WITHOUT_TEXT),
        len(WITHOUT_TEXT),
        0,
    )
    embedded = {text: n for text, n in rig.embedded.items() if text.startswith("minilm_l6_v2:")}
    assert len(embedded) == COUNT - len(WITHOUT_TEXT), "every document with text embedded"
    twice = sorted(text for text, n in embedded.items() if n > 1)
    assert not twice, f"embedded more than once: {twice[:3]}"
    assert rig.search_text(NS, "text_minilm", text_of(222))[0]["document_id"] == "doc-00222"
    assert rig.dead_letters() == []


def _die_once(
    original: Callable[..., Any], when: Callable[..., bool], after: bool = True
) -> Callable[..., Any]:
    """`original`, killed (SystemExit) at the first call `when` picks: after it ran, or before."""
    fired: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if fired or not when(*args, **kwargs):
            return original(*args, **kwargs)
        fired.append(True)
        if not after:
            raise SystemExit("killed")
        original(*args, **kwargs)
        raise SystemExit("killed")

    return wrapper


def _target(space: Any, *_: Any, **__: Any) -> bool:
    return bool(space.index_name == "text_minilm")


def test_the_worker_dies_mid_page_and_the_redelivery_finishes_it_exactly(
    rig: Rig, big_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = _promote(rig)
    vectors = rig.container.vectors
    upsert = vectors.upsert
    writes: list[int] = []

    def counted(space: Any, records: Sequence[Any]) -> None:
        if space.index_name == "text_minilm":
            writes.append(len(records))
        upsert(space, records)

    def second_batch(space: Any, records: Sequence[Any]) -> bool:
        return space.index_name == "text_minilm" and len(writes) == 1  # page 0: 64 written, then this

    monkeypatch.setattr(vectors, "upsert", _die_once(counted, second_batch))
    rig.drain(crash=lambda message: True)
    # Page 0: 64, 64 (then the crash), then only its last 22 again; page 1: 64, 64, 20.
    assert writes[:3] == [64, 64, 21], writes
    _assert_exact(rig, task_id)


def test_the_worker_dies_after_counting_the_last_page_and_the_redelivery_completes_the_task(
    rig: Rig, big_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = _promote(rig)
    backfill = rig.container.backfill
    counted: list[int] = []

    def last_page(task: str, page: int, *_: Any) -> bool:
        counted.append(page)
        return len(counted) == 2

    monkeypatch.setattr(backfill, "finish_page", _die_once(backfill.finish_page, last_page))
    rig.drain(crash=lambda message: True)
    _assert_exact(rig, task_id)


def test_the_worker_dies_after_the_listing_and_the_redelivered_start_sends_the_pages(
    rig: Rig, big_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = _promote(rig)
    backfill = rig.container.backfill
    monkeypatch.setattr(backfill, "record_listing", _die_once(backfill.record_listing, lambda *a: True))
    rig.drain(crash=lambda message: True)
    _assert_exact(rig, task_id)


def test_the_inference_service_fails_for_one_page_and_the_retry_ends_with_exact_counts(
    rig: Rig, big_pages: None
) -> None:
    task_id = _promote(rig)
    failures: list[int] = []

    def fail_page_one_once(texts: Sequence[str]) -> None:
        if not failures and text_of(200) in texts:  # page 1 (documents 150-299)
            failures.append(1)
            raise InferenceServiceUnavailableError("the model is down for a moment", {})

    rig.fail = fail_page_one_once
    rig.drain()
    assert failures == [1]
    _assert_exact(rig, task_id)


def test_a_page_failing_on_every_receive_counts_its_documents_as_failed(rig: Rig, big_pages: None) -> None:
    task_id = _promote(rig)

    def page_one_is_down(texts: Sequence[str]) -> None:
        if any(text in texts for text in (text_of(n) for n in range(150, 300))):
            raise InferenceServiceUnavailableError("down", {})

    rig.fail = page_one_is_down
    rig.drain()
    task = rig.task(task_id, NS)
    assert task["status"] == "COMPLETED_WITH_ERRORS" and "could not be embedded" in task["error"]
    # Page 0 (documents 0-149) was filled; page 1's documents with text failed, the two without
    # text are skipped; nothing is counted twice.
    assert (task["processed"], task["skipped"], task["failed"]) == (149, 3, 148)
    assert rig.dead_letters() == []


def test_a_queue_outage_refuses_the_promotion_and_changes_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": NS}))
    rig.upsert(NS, standalone_documents(5))
    monkeypatch.setattr(rig.container.backfill_queue, "queue_url", rig.queue_url + "-gone")
    response = rig.client.post(f"/v1/namespaces/{NS}/promote", json=BODY)
    assert response.status_code == 503, response.text
    namespace = rig.namespace(NS)
    assert namespace["mode"] == "standalone" and [c["name"] for c in namespace["vector_configs"]] == ["emb"]


def test_a_commit_that_fails_after_the_start_was_queued_leaves_a_message_that_does_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": NS}))
    rig.upsert(NS, standalone_documents(5))
    metadata = rig.container.metadata

    def down(*args: Any, **kwargs: Any) -> Any:
        raise MetadataStoreUnavailableError("down", {})

    monkeypatch.setattr(metadata, "promote_namespace", down)
    assert rig.client.post(f"/v1/namespaces/{NS}/promote", json=BODY).status_code == 503
    monkeypatch.undo()
    assert rig.namespace(NS)["mode"] == "standalone"
    message = rig.receive()
    assert message is not None and json.loads(message["Body"])["kind"] == "start"
    # Young, it is retried (the commit may still land); old, it is dropped.
    assert rig.deliver(message) is False
    aged = rig.receive()
    assert aged is not None
    aged["Attributes"]["SentTimestamp"] = str(int((time.time() - 3600) * 1000))
    assert rig.deliver(aged) is True
    assert rig.receive() is None and rig.namespace(NS)["mode"] == "standalone"
