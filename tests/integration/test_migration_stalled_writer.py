"""Writers that stall between their two writes while a migration swaps, on both vector stores.

During a model migration a write reaches two copies of the index: the live one and the shadow
copy being filled. A writer may stall between the two (a Lambda can, up to its timeout) while the
migration's finalize reconciles the copy with the live index and swaps it in. Whatever the order
of the two writes and however long the stall, an upsert answered 200 must be in the index after
the swap, and a delete answered 200 must not come back. These tests stall the writer at its
second write (whichever copy that is), run the finalize to its swap and the drop of the retired
copy, then let the writer go.

With the shadow copy written first (as before the fix) both failed: the upsert was lost (the
finalize took the copy's document for deleted, removed it, swapped; the live write landed in the
retired copy), and the deleted document came back (the finalize copied the live document into
the copy again; the live delete landed in the retired copy)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from stratus.errors import InferenceServiceUnavailableError
from stratus.ports.vectors import Space, VectorColumns, VectorRecord
from tests.integration.backfill_rig import Rig, rig, tiny_clip_weights
from tests.integration.test_backfill import INDEX, NS, _doc, _managed, _migrate, _space_ids

__all__ = ["rig", "tiny_clip_weights"]


class StallAtSecondCopy:
    """Holds the writer at its first write of `doc_id` to a second space (after it wrote the
    document to one copy of the index, before the other). The request runs on the test client's
    threads and the finalize on this test's thread, whose writes go through."""

    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id
        self.finalizer = threading.current_thread()
        self.spaces: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def wrap(self, write: Callable[..., Any], ids_of: Callable[[Any], Sequence[str]]) -> Callable[..., Any]:
        def stalling(space: Space, what: Any, *rest: Any, **named: Any) -> Any:
            if threading.current_thread() is not self.finalizer and self.doc_id in ids_of(what):
                if self.spaces and space.name not in self.spaces:
                    self.entered.set()
                    assert self.release.wait(60)
                if space.name not in self.spaces:
                    self.spaces.append(space.name)
            return write(space, what, *rest, **named)

        return stalling


def _columns_ids(columns: VectorColumns) -> Sequence[str]:
    return columns.ids


def _record_ids(records: Sequence[VectorRecord]) -> Sequence[str]:
    return [record.id for record in records]


def _ids(ids: Sequence[str]) -> Sequence[str]:
    return ids


def _up_to_the_finalize(rig: Rig) -> str:
    """A migration of 20 documents with every page filled; its finalize is queued, not run.
    Returns the task id."""
    _managed(rig, count=20)
    task_id: str = rig.ok(_migrate(rig))["task_id"]
    while (message := rig.receive()) is not None:
        if '"finalize"' in message["Body"]:
            rig.release(message)
            break
        rig.deliver(message)
    return task_id


def _generation(rig: Rig) -> str:
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None
    return stored.migrations[INDEX].generation


def _stalled(rig: Rig, stall: StallAtSecondCopy, request: Callable[[], Any], task_id: str) -> list[int]:
    """Run `request` on the writer thread; once it is stalled between its two copies, run the
    finalize (reconcile, swap) and the drop of the retired copy; then let it go. Returns the
    status the writer was answered."""
    answers: list[int] = []
    writer = threading.Thread(target=lambda: answers.append(request().status_code))
    writer.start()
    try:
        assert stall.entered.wait(60), "the writer never reached its second copy"
        rig.drain()  # the finalize and the drop of the retired copy
        assert rig.task(task_id, NS)["status"] == "COMPLETED"
        assert rig.namespace(NS)["vector_inference_map"][INDEX] == "clip_vit_b32"
    finally:
        stall.release.set()
        writer.join(60)
    assert not writer.is_alive()
    assert len(stall.spaces) == 2  # it wrote both copies, the second after the swap
    return answers


def test_an_upsert_stalled_between_its_two_writes_during_the_swap_is_not_lost(rig: Rig) -> None:
    task_id = _up_to_the_finalize(rig)
    generation = _generation(rig)
    stalled = "doc-00099"
    stall = StallAtSecondCopy(stalled)
    vectors = rig.container.vectors
    live_write, copy_write = vectors.upsert_columns, vectors.upsert
    vectors.upsert_columns = stall.wrap(live_write, _columns_ids)  # type: ignore[method-assign]
    vectors.upsert = stall.wrap(copy_write, _record_ids)  # type: ignore[method-assign]
    try:
        answers = _stalled(
            rig,
            stall,
            lambda: rig.client.post(f"/v1/namespaces/{NS}/documents/upsert", json={"documents": [_doc(99)]}),
            task_id,
        )
    finally:
        vectors.upsert_columns, vectors.upsert = live_write, copy_write  # type: ignore[method-assign]
    assert answers == [200]
    documents = rig.documents(NS)
    assert stalled in documents
    assert len(documents[stalled]["vectors"][INDEX]) == 512  # in the swapped-in index, by the new model
    assert stalled in _space_ids(rig, INDEX, 512, generation)
    assert len(documents) == 21


def test_a_delete_stalled_between_its_two_writes_during_the_swap_does_not_come_back(rig: Rig) -> None:
    task_id = _up_to_the_finalize(rig)
    generation = _generation(rig)
    deleted = "doc-00003"
    assert deleted in _space_ids(rig, INDEX, 512, generation)  # the copy has it (its page ran)
    stall = StallAtSecondCopy(deleted)
    vectors = rig.container.vectors
    delete = vectors.delete
    vectors.delete = stall.wrap(delete, _ids)  # type: ignore[method-assign]
    try:
        answers = _stalled(
            rig, stall, lambda: rig.client.delete(f"/v1/namespaces/{NS}/documents/{deleted}"), task_id
        )
    finally:
        vectors.delete = delete  # type: ignore[method-assign]
    assert answers == [200]
    documents = rig.documents(NS)
    assert deleted not in documents
    assert deleted not in _space_ids(rig, INDEX, 512, generation)
    assert len(documents) == 19


def test_an_upsert_while_the_new_model_is_down_writes_nothing(rig: Rig) -> None:
    """The copy's vectors are embedded before either copy is written: an outage of the migration's
    model answers a retryable 503 and leaves the live index as it was."""
    _up_to_the_finalize(rig)
    rig.counting()
    down_text = "The payload's text only the new model embeds."

    def new_model_down(texts: Any) -> None:
        if down_text in texts:
            raise InferenceServiceUnavailableError("clip is down", {})

    rig.fail = new_model_down
    document = {**_doc(7), "payload": {"text": down_text}}
    response = rig.client.post(f"/v1/namespaces/{NS}/documents/upsert", json={"documents": [document]})
    assert response.status_code == 503, response.text
    assert rig.documents(NS)["doc-00007"]["payload"]["text"] != down_text
    rig.fail = lambda texts: None
    rig.ok(rig.client.post(f"/v1/namespaces/{NS}/documents/upsert", json={"documents": [document]}))
    assert rig.documents(NS)["doc-00007"]["payload"]["text"] == down_text
