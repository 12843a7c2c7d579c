"""Backfill on promotion and model migration through the whole app in-process, on both vector
stores (tests/integration/backfill_rig.py): the rules and their errors, a promotion's `source`
filling the new index (task progress, counts, a text search finding an old document), a
migration under writes (swapped, nothing lost, the old copy dropped), cancel and failure leaving
the index as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus.errors import InferenceServiceUnavailableError
from stratus.ports.vectors import Space
from tests.integration.backfill_rig import (
    PAGE_SIZE,
    Rig,
    rig,
    standalone_documents,
    text_of,
    tiny_clip_weights,
)

__all__ = ["rig", "tiny_clip_weights"]

NS = "library"
COUNT = 100
WITHOUT_TEXT = (3, 50, 97)


def _standalone(rig: Rig, count: int = COUNT, without_text: tuple[int, ...] = WITHOUT_TEXT) -> None:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": NS}))
    rig.upsert(NS, standalone_documents(count, without_text))


def _promote_with_source(rig: Rig, **entry: Any) -> dict[str, Any]:
    body = {
        "add_vectors": [
            {
                "name": "text_minilm",
                "dimension": 384,
                "inference_service": "minilm_l6_v2",
                "source": {"field": "text"},
                **entry,
            }
        ]
    }
    return rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json=body))


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


# -- promotion ------------------------------------------------------------------------------


def test_a_promotion_with_a_source_fills_the_new_index_for_the_old_documents(rig: Rig) -> None:
    _standalone(rig)
    rig.counting()
    answer = _promote_with_source(rig)
    task_id = answer["backfill_task_id"]
    assert task_id.startswith("task_")
    assert set(answer) == {
        "namespace_id", "previous_mode", "mode", "status", "vector_configs", "vector_inference_map",
        "backfill_task_id",
    }  # fmt: skip
    queued = rig.task(task_id, NS)
    assert queued["status"] == "PENDING" and queued["task_type"] == "api_collections_reembed"
    assert (queued["processed"], queued["skipped"], queued["failed"], queued["total"]) == (0, 0, 0, None)

    deliveries = rig.drain()
    assert deliveries == 1 + -(-COUNT // PAGE_SIZE)  # the start, then one message per page

    done = rig.task(task_id, NS)
    assert done["status"] == "COMPLETED", done
    assert done["total"] == COUNT
    assert done["processed"] == COUNT - len(WITHOUT_TEXT)
    assert done["skipped"] == len(WITHOUT_TEXT)  # no text: skipped, never failed
    assert done["failed"] == 0 and done["error"] is None and done["eta_seconds"] == 0
    # Every text embedded exactly once, in the model's batches.
    minilm = {text: n for text, n in rig.embedded.items() if text.startswith("minilm_l6_v2:")}
    assert len(minilm) == COUNT - len(WITHOUT_TEXT) and set(minilm.values()) == {1}
    # A text search on the new index finds an old document, by what it says.
    results = rig.search_text(NS, "text_minilm", text_of(42))
    assert results[0]["document_id"] == "doc-00042"
    # Old documents keep their old vectors; those without text have none in the new index.
    documents = rig.documents(NS)
    assert len(documents) == COUNT
    assert set(documents["doc-00042"]["vectors"]) == {"emb", "text_minilm"}
    assert set(documents["doc-00050"]["vectors"]) == {"emb"}


def test_a_promotion_without_a_source_answers_exactly_the_seed_shape_and_queues_nothing(rig: Rig) -> None:
    _standalone(rig, count=3)
    body = {"add_vectors": [{"name": "text_minilm", "dimension": 384, "inference_service": "minilm_l6_v2"}]}
    answer = rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json=body))
    assert "backfill_task_id" not in answer
    assert rig.receive() is None


def test_a_vector_mapping_with_a_source_fills_only_the_documents_without_a_vector(rig: Rig) -> None:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": NS}))
    documents = standalone_documents(10)
    for doc in documents[:4]:  # these also have a (toy) 384-d vector in `text_embedding` already
        doc["vectors"]["text_embedding"] = [0.5] * 384
    rig.upsert(NS, documents)
    body = {
        "vector_mappings": [
            {
                "existing_index": "text_embedding",
                "inference_service": "minilm_l6_v2",
                "source": {"field": "text"},
            }
        ]
    }
    task_id = rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json=body))["backfill_task_id"]
    rig.drain()
    done = rig.task(task_id, NS)
    assert (done["status"], done["total"], done["processed"], done["skipped"]) == ("COMPLETED", 10, 6, 4)
    assert rig.search_text(NS, "text_embedding", text_of(7))[0]["document_id"] == "doc-00007"


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"object": True}, "add_vectors[0].source.field"),
        ({}, "add_vectors[0].source.field"),
    ],
)
def test_a_source_on_a_standalone_promotion_must_name_a_field(
    rig: Rig, source: dict[str, Any], field: str
) -> None:
    _standalone(rig, count=3)
    error = _error(
        rig.client.post(
            f"/v1/namespaces/{NS}/promote",
            json={
                "add_vectors": [
                    {"name": "t", "dimension": 384, "inference_service": "minilm_l6_v2", "source": source}
                ]
            },
        ),
        400,
    )
    assert error["details"]["field"] == field
    assert rig.namespace(NS)["mode"] == "standalone" and rig.receive() is None


def test_a_source_needs_an_inference_service_to_embed_it(rig: Rig) -> None:
    _standalone(rig, count=3)
    body = {"add_vectors": [{"name": "t", "dimension": 384, "source": {"field": "text"}}]}
    error = _error(rig.client.post(f"/v1/namespaces/{NS}/promote", json=body), 400)
    assert error["details"]["field"] == "add_vectors[0].inference_service"
    assert rig.namespace(NS)["mode"] == "standalone"


def test_a_text_only_service_cannot_fill_from_a_field_holding_images(rig: Rig) -> None:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": NS}))
    rig.upsert(
        NS,
        [
            {
                "document_id": "a",
                "vectors": {"emb": [1.0, 2.0]},
                "payload": {"img": "https://example.com/a.png"},
            }
        ],
    )
    body = {
        "add_vectors": [
            {"name": "t", "dimension": 384, "inference_service": "minilm_l6_v2", "source": {"field": "img"}}
        ]
    }
    error = _error(rig.client.post(f"/v1/namespaces/{NS}/promote", json=body), 400)
    assert error["details"]["field"] == "add_vectors[0].source.field"
    assert "minilm_l6_v2" in error["message"] and rig.namespace(NS)["mode"] == "standalone"


# -- migration ------------------------------------------------------------------------------

INDEX = "text_embedding"


def _managed(rig: Rig, count: int = 60) -> None:
    """A promoted namespace whose `text_embedding` is embedded by minilm, with `count` documents
    written by text (and their text in the payload)."""
    rig.ok(
        rig.client.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": NS, "vector_configs": [{"name": INDEX, "dimension": 384}]},
        )
    )
    mapping = {"existing_index": INDEX, "inference_service": "minilm_l6_v2"}
    rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json={"vector_mappings": [mapping]}))
    rig.upsert(NS, [_doc(n) for n in range(count)])


def _doc(number: int, text: str | None = None) -> dict[str, Any]:
    text = text or text_of(number)
    return {"document_id": f"doc-{number:05d}", "vectors": {INDEX: {"text": text}}, "payload": {"text": text}}


def _migrate(rig: Rig, service: str = "clip_vit_b32", source: dict[str, Any] | None = None) -> Any:
    body = {"inference_service": service, "source": source if source is not None else {"field": "text"}}
    return rig.client.post(f"/v1/namespaces/{NS}/vectors/{INDEX}/migrate", json=body)


def _space_ids(rig: Rig, index: str, dimension: int, generation: str) -> set[str]:
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None
    return rig.container.vectors.ids(Space(stored.storage_key, index, dimension, "cosine", (), generation))


def test_a_migration_under_writes_swaps_the_index_and_loses_nothing(rig: Rig) -> None:
    _managed(rig)
    started = rig.ok(_migrate(rig))
    task_id = started["task_id"]
    assert (started["from_inference_service"], started["to_inference_service"]) == (
        "minilm_l6_v2",
        "clip_vit_b32",
    )
    assert (started["from_dimension"], started["to_dimension"]) == (384, 512)
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None
    generation = stored.migrations[INDEX].generation

    # The start lists the documents; one page is filled; then writes arrive mid-migration.
    rig.deliver(_next(rig))
    rig.deliver(_next(rig))
    rig.upsert(NS, [_doc(n) for n in range(60, 70)])  # new documents
    rig.upsert(NS, [_doc(5, "Document 5 now talks about a lighthouse on a cliff.")])  # a change
    assert rig.client.delete(f"/v1/namespaces/{NS}/documents/doc-00007").status_code == 200
    # The writes reached the shadow copy at once (after the index), not only at the final reconciliation.
    shadow = _space_ids(rig, INDEX, 512, generation)
    assert {f"doc-{n:05d}" for n in range(60, 70)} | {"doc-00005"} <= shadow and "doc-00007" not in shadow
    # Reads keep being served by the old index meanwhile.
    assert rig.search_text(NS, INDEX, text_of(12))[0]["document_id"] == "doc-00012"
    assert rig.namespace(NS)["vector_inference_map"][INDEX] == "minilm_l6_v2"

    rig.drain()
    done = rig.task(task_id, NS)
    assert done["status"] == "COMPLETED", done
    assert (done["total"], done["failed"]) == (60, 0)
    assert done["processed"] + done["skipped"] == 60
    namespace = rig.namespace(NS)
    assert namespace["vector_inference_map"][INDEX] == "clip_vit_b32"
    assert [c["dimension"] for c in namespace["vector_configs"] if c["name"] == INDEX] == [512]
    # Every document is in the new index, the deleted one is not, the change is there.
    expected = {f"doc-{n:05d}" for n in range(70)} - {"doc-00007"}
    assert _space_ids(rig, INDEX, 512, generation) == expected
    documents = rig.documents(NS)
    assert set(documents) == expected
    assert "lighthouse" in documents["doc-00005"]["payload"]["text"]
    assert all(len(doc["vectors"][INDEX]) == 512 for doc in documents.values())
    # Text queries are embedded by the new service now and find the documents.
    assert (
        rig.search_text(NS, INDEX, "Document 5 now talks about a lighthouse on a cliff.")[0]["document_id"]
        == "doc-00005"
    )
    # The retired copy was dropped (grace 0 here); the migration is gone from the namespace.
    assert _space_ids(rig, INDEX, 384, "") == set()
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None and stored.migrations == {} and stored.index_generations == {INDEX: generation}


def _next(rig: Rig) -> dict[str, Any]:
    message = rig.receive()
    assert message is not None
    return message


def test_migration_rules_each_have_their_error(rig: Rig) -> None:
    rig.ok(rig.client.post("/v1/namespaces/standalone", json={"namespace_id": "plain"}))
    rig.upsert("plain", [{"document_id": "a", "vectors": {INDEX: [0.1] * 384}, "payload": {"text": "x"}}])
    standalone = _error(
        rig.client.post(
            f"/v1/namespaces/plain/vectors/{INDEX}/migrate",
            json={"inference_service": "clip_vit_b32", "source": {"field": "text"}},
        ),
        409,
    )
    assert standalone["details"]["field"] == "mode"

    _managed(rig, count=3)
    assert _error(_migrate(rig, source={}), 400)["details"]["field"] == "source"
    assert (
        _error(_migrate(rig, source={"field": "text", "object": True}), 400)["details"]["field"] == "source"
    )
    assert _error(_migrate(rig, service="nope"), 400)["details"]["field"] == "inference_service"
    assert _error(_migrate(rig, service="minilm_l6_v2"), 400)["details"]["field"] == "inference_service"
    objects = _error(_migrate(rig, source={"object": True}), 400)
    assert objects["details"]["field"] == "source.object"
    missing = rig.client.post(
        f"/v1/namespaces/{NS}/vectors/nope/migrate",
        json={"inference_service": "clip_vit_b32", "source": {"field": "text"}},
    )
    assert _error(missing, 404)["details"]["field"] == "index_name"

    first = rig.ok(_migrate(rig))
    second = _error(_migrate(rig, service="openai_text_3_small"), 409)
    assert second["details"] == {"field": "index_name", "task_id": first["task_id"]}


def test_a_text_only_target_cannot_read_a_field_holding_images(rig: Rig) -> None:
    rig.ok(
        rig.client.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": NS, "vector_configs": [{"name": "pics", "dimension": 512}]},
        )
    )
    mapping = {"existing_index": "pics", "inference_service": "clip_vit_b32"}
    rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json={"vector_mappings": [mapping]}))
    rig.upsert(
        NS,
        [
            {
                "document_id": "a",
                "vectors": {"pics": [0.1] * 512},
                "payload": {"url": "data:image/png;base64,AAAA"},
            }
        ],
    )
    body = {"inference_service": "minilm_l6_v2", "source": {"field": "url"}}
    error = _error(rig.client.post(f"/v1/namespaces/{NS}/vectors/pics/migrate", json=body), 400)
    assert error["details"]["field"] == "source.field"


def test_a_canceled_migration_leaves_the_index_as_it_was_and_drops_its_copy(rig: Rig) -> None:
    _managed(rig)
    task_id = rig.ok(_migrate(rig))["task_id"]
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None
    generation = stored.migrations[INDEX].generation
    rig.deliver(_next(rig))  # the start: pages queued
    rig.deliver(_next(rig))  # one page filled
    assert _space_ids(rig, INDEX, 512, generation)

    canceled = rig.ok(rig.client.post(f"/v1/namespaces/{NS}/vectors/{INDEX}/migrate/cancel"))
    assert canceled["status"] == "CANCELED" and canceled["task_id"] == task_id
    again = _error(rig.client.post(f"/v1/namespaces/{NS}/vectors/{INDEX}/migrate/cancel"), 409)
    assert again["details"]["field"] == "index_name"
    rig.drain()  # the remaining pages do nothing; the delayed drop removes the copy

    assert rig.task(task_id, NS)["status"] == "CANCELED"
    namespace = rig.namespace(NS)
    assert namespace["vector_inference_map"][INDEX] == "minilm_l6_v2"
    assert [c["dimension"] for c in namespace["vector_configs"] if c["name"] == INDEX] == [384]
    assert _space_ids(rig, INDEX, 512, generation) == set()
    assert len(_space_ids(rig, INDEX, 384, "")) == 60
    assert rig.search_text(NS, INDEX, text_of(9))[0]["document_id"] == "doc-00009"
    # And the index can be migrated again.
    assert rig.ok(_migrate(rig))["status"] == "PENDING"


def test_a_migration_whose_new_service_keeps_failing_fails_and_leaves_the_index_as_it_was(rig: Rig) -> None:
    _managed(rig, count=10)
    rig.counting()

    def clip_down(texts: Any) -> None:
        if any("Document" in text for text in texts):
            raise InferenceServiceUnavailableError("clip is down", {})

    task_id = rig.ok(_migrate(rig))["task_id"]
    rig.fail = clip_down
    rig.drain()
    failed = rig.task(task_id, NS)
    assert failed["status"] == "FAILED" and "clip is down" in failed["error"]
    namespace = rig.namespace(NS)
    assert namespace["vector_inference_map"][INDEX] == "minilm_l6_v2"
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None and stored.migrations == {}
    rig.fail = lambda texts: None
    assert rig.search_text(NS, INDEX, text_of(4))[0]["document_id"] == "doc-00004"
    assert rig.dead_letters() == []  # ended by the function on the last receive, not left to the DLQ


def test_a_drop_never_removes_a_copy_the_namespace_still_uses(rig: Rig) -> None:
    """A cancel (or swap) that loses its race leaves its delayed drop behind: it must do nothing."""
    from stratus.services.backfill import messages

    _managed(rig, count=10)
    task_id = rig.ok(_migrate(rig))["task_id"]
    rig.deliver(_next(rig))  # the start
    rig.deliver(_next(rig))  # the only page: the copy holds the 10 documents
    stored = rig.container.metadata.get_namespace("org_a", NS)
    assert stored is not None
    generation = stored.migrations[INDEX].generation
    live = Space(stored.storage_key, INDEX, 384, "cosine")
    shadow = Space(stored.storage_key, INDEX, 512, "cosine", (), generation)
    held = _next(rig)  # the finalize: held back, so the migration is still running
    assert json.loads(held["Body"])["kind"] == "finalize"
    rig.container.backfill_queue.send([messages.drop(task_id, live), messages.drop(task_id, shadow)])
    for _ in range(2):
        message = _next(rig)
        assert json.loads(message["Body"])["kind"] == "drop" and rig.deliver(message)
    assert len(_space_ids(rig, INDEX, 384, "")) == 10
    assert len(_space_ids(rig, INDEX, 512, generation)) == 10
    # Once swapped, the old copy is no longer used: its own drop removes it.
    rig.release(held)
    rig.drain()
    assert rig.task(task_id, NS)["status"] == "COMPLETED"
    assert _space_ids(rig, INDEX, 384, "") == set()
    assert len(_space_ids(rig, INDEX, 512, generation)) == 10


def test_one_promotion_fills_two_indexes_and_counts_per_index(rig: Rig) -> None:
    _standalone(rig, count=30, without_text=(4,))
    body = {
        "add_vectors": [
            {"name": "a", "dimension": 384, "inference_service": "minilm_l6_v2", "source": {"field": "text"}},
            {"name": "b", "dimension": 512, "inference_service": "clip_vit_b32", "source": {"field": "text"}},
        ]
    }
    task_id = rig.ok(rig.client.post(f"/v1/namespaces/{NS}/promote", json=body))["backfill_task_id"]
    rig.drain()
    done = rig.task(task_id, NS)
    assert (done["status"], done["total"], done["processed"], done["skipped"], done["failed"]) == (
        "COMPLETED", 60, 58, 2, 0,
    )  # fmt: skip
    assert rig.search_text(NS, "a", text_of(17))[0]["document_id"] == "doc-00017"
    assert rig.search_text(NS, "b", text_of(17))[0]["document_id"] == "doc-00017"


def test_an_extractor_index_migrates_from_its_objects_and_the_extractor_follows(rig: Rig) -> None:
    """`source: {"object": true}`: the documents the extractor made are embedded again from
    their stored objects; after the swap, new objects are embedded by the index's new service."""
    body = {
        "namespace_name": "notes",
        "feature_extractors": [
            {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
        ],
    }
    namespace = rig.ok(rig.client.post("/v1/namespaces", json=body))["namespace_id"]
    scope = {"X-Namespace": namespace}
    bucket = rig.ok(rig.client.post("/v1/buckets", json={"bucket_name": "notes"}, headers=scope))["bucket_id"]
    rig.ok(
        rig.client.post(
            "/v1/collections",
            json={
                "collection_name": "notes-text",
                "source": {"type": "bucket", "bucket_ids": [bucket]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "parameters": {"inference_service": "minilm_l6_v2"},
                },
            },
            headers=scope,
        )
    )
    index = "text_extractor_v1_embedding"
    for n in range(3):
        stored = rig.ingest(namespace, bucket, [{"property": "body", "type": "text", "data": text_of(n)}])
        assert stored["status"] == "COMPLETED"
    refused = rig.client.post(
        f"/v1/namespaces/{namespace}/vectors/{index}/migrate",
        json={"inference_service": "clip_vit_b32", "source": {"object": True, "field": "text"}},
    )
    assert _error(refused, 400)["details"]["field"] == "source"
    task_id = rig.ok(
        rig.client.post(
            f"/v1/namespaces/{namespace}/vectors/{index}/migrate",
            json={"inference_service": "clip_vit_b32", "source": {"object": True}},
        )
    )["task_id"]
    rig.drain()
    done = rig.task(task_id, namespace)
    assert (done["status"], done["total"], done["processed"], done["skipped"]) == ("COMPLETED", 3, 3, 0)
    assert rig.namespace(namespace)["vector_inference_map"][index] == "clip_vit_b32"
    assert rig.search_text(namespace, index, text_of(1))[0]["payload"]["text"] == text_of(1)
    # A new object after the swap: the extractor embeds it with the index's service now.
    later = rig.ingest(namespace, bucket, [{"property": "body", "type": "text", "data": text_of(5)}])
    assert later["status"] == "COMPLETED", later
    assert rig.search_text(namespace, index, text_of(5))[0]["payload"]["text"] == text_of(5)
