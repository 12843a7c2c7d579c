"""The batched extractor during a model migration (issue 19 through issue 18's pipeline): an object
ingested while its index is being migrated reaches the index's shadow copy at once, embedded by
the new service, so the swap loses nothing; after the swap the extractor embeds with the index's
new service. Real components through tests/integration/backfill_rig.py (both vector stores)."""

from __future__ import annotations

from typing import Any

from stratus.ports.vectors import Space
from tests.integration.backfill_rig import Rig, rig, text_of, tiny_clip_weights

__all__ = ["rig", "tiny_clip_weights"]

INDEX = "text_extractor_v1_embedding"


def _extractor_namespace(rig: Rig) -> tuple[str, str]:
    extractor = {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
    namespace = rig.ok(
        rig.client.post("/v1/namespaces", json={"namespace_name": "notes", "feature_extractors": [extractor]})
    )
    namespace_id = namespace["namespace_id"]
    scope = {"X-Namespace": namespace_id}
    bucket = rig.ok(rig.client.post("/v1/buckets", json={"bucket_name": "notes"}, headers=scope))["bucket_id"]
    collection = {
        "collection_name": "notes-text",
        "source": {"type": "bucket", "bucket_ids": [bucket]},
        "feature_extractor": {
            "feature_extractor_name": "text_extractor",
            "version": "v1",
            "parameters": {"inference_service": "minilm_l6_v2"},
        },
    }
    rig.ok(rig.client.post("/v1/collections", json=collection, headers=scope))
    return namespace_id, bucket


def _ingest(rig: Rig, namespace: str, bucket: str, n: int) -> dict[str, Any]:
    stored = rig.ingest(namespace, bucket, [{"property": "body", "type": "text", "data": text_of(n)}])
    assert stored["status"] == "COMPLETED", stored
    return stored


def _shadow_ids(rig: Rig, namespace_id: str) -> set[str]:
    stored = rig.container.metadata.get_namespace("org_a", namespace_id)
    assert stored is not None
    generation = stored.migrations[INDEX].generation
    return rig.container.vectors.ids(Space(stored.storage_key, INDEX, 512, "cosine", (), generation))


def test_an_object_ingested_mid_migration_reaches_the_shadow_copy_and_survives_the_swap(rig: Rig) -> None:
    namespace, bucket = _extractor_namespace(rig)
    before = [_ingest(rig, namespace, bucket, n) for n in range(3)]
    started = rig.ok(
        rig.client.post(
            f"/v1/namespaces/{namespace}/vectors/{INDEX}/migrate",
            json={"inference_service": "clip_vit_b32", "source": {"object": True}},
        )
    )
    listing = rig.receive()  # the start lists the documents; their pages are still queued
    assert listing is not None
    rig.deliver(listing)

    # The batch writes the index first and the copy after (services/backfill/mirror): a copy
    # never holds a write its index has not had, whatever the batch's stalls in between.
    written: list[str] = []
    vectors = rig.container.vectors
    upsert = vectors.upsert

    def recording(space: Space, records: Any) -> None:
        written.append(space.generation)
        upsert(space, records)

    vectors.upsert = recording  # type: ignore[method-assign]
    try:
        during = _ingest(rig, namespace, bucket, 7)
    finally:
        vectors.upsert = upsert  # type: ignore[method-assign]
    stored = rig.container.metadata.get_namespace("org_a", namespace)
    assert stored is not None
    assert written == ["", stored.migrations[INDEX].generation]

    # The batch wrote the new object's document to the shadow copy at once (the old objects'
    # pages are still queued), embedded by CLIP.
    live = rig.documents(namespace)
    made_during = {
        doc_id for doc_id, doc in live.items() if doc["payload"]["object_id"] == during["object_id"]
    }
    assert made_during and _shadow_ids(rig, namespace) == made_during
    assert rig.namespace(namespace)["vector_inference_map"][INDEX] == "minilm_l6_v2"
    rig.drain()
    assert rig.task(started["task_id"], namespace)["status"] == "COMPLETED"
    assert rig.namespace(namespace)["vector_inference_map"][INDEX] == "clip_vit_b32"
    # Nothing lost by the swap: every object's document is in the index, the mid-migration one too.
    documents = rig.documents(namespace)
    made_from = {doc["payload"]["object_id"] for doc in documents.values()}
    assert made_from == {o["object_id"] for o in [*before, during]}
    assert all(len(doc["vectors"][INDEX]) == 512 for doc in documents.values())
    assert rig.search_text(namespace, INDEX, text_of(7))[0]["payload"]["object_id"] == during["object_id"]
