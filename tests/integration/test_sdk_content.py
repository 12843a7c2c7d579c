"""The managed-content behaviours the Mixpeek SDK's fields and routes ask for, each proved on the
real pipeline (moto's S3, SQS and DynamoDB, LanceDB, the local MiniLM model, the deployed
extractor entry point):

- `skip_duplicates`: an object (API) or an upload whose content the bucket holds makes nothing
  new; a deleted object's content can be stored again;
- upload `confirm`, with and without `create_object_on_confirm`, and a staged upload as a blob;
- `total_size_bytes` moved with each object write (API, upload, plain put, new version, delete);
- `DELETE .../objects/{id}`: its documents, file, record and share of the totals go;
- a collection with `enabled: false` is not run; field passthrough and `include_all_source_fields`;
- `/v1/collections/{id}/documents/...`: the collection's documents only (list with filters and
  cursors, get, PATCH, delete, batch);
- `POST .../objects/list` with filters and search; buckets and collections named by name."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests

from tests.integration.ingestion_rig import (
    DATA_BUCKET,
    NOTES,
    Pipeline,
    key_of,
    objects_of,
    ok,
    pipeline,
    search_text,
    setup_text,
    tiny_clip,
)

__all__ = ["pipeline", "tiny_clip"]  # fixtures

TEXT = "Cats purr and sleep on warm windowsills all afternoon."


def _headers(namespace: str) -> dict[str, str]:
    return {"X-Namespace": namespace}


def _bucket(pipeline: Pipeline, namespace: str, bucket_id: str) -> dict[str, Any]:
    return ok(pipeline.client.get(f"/v1/buckets/{bucket_id}", headers=_headers(namespace)))


def _create_object(
    pipeline: Pipeline, namespace: str, bucket_id: str, text: str = TEXT, **extra: Any
) -> dict[str, Any]:
    body = {"blobs": [{"property": "body", "type": "text", "data": text}], **extra}
    return ok(
        pipeline.client.post(f"/v1/buckets/{bucket_id}/objects", json=body, headers=_headers(namespace))
    )


def _upload(pipeline: Pipeline, namespace: str, bucket_id: str, **body: Any) -> dict[str, Any]:
    body = {"filename": "rockets.md", "content_type": "text/markdown", **body}
    return ok(
        pipeline.client.post(f"/v1/buckets/{bucket_id}/uploads", json=body, headers=_headers(namespace))
    )


def _put(upload: dict[str, Any], data: bytes) -> None:
    response = requests.put(upload["presigned_url"], data=data, headers=upload["headers"], timeout=10)
    assert response.status_code == 200, response.text


def _confirm(pipeline: Pipeline, namespace: str, bucket_id: str, upload_id: str, **body: Any) -> Any:
    return pipeline.client.post(
        f"/v1/buckets/{bucket_id}/uploads/{upload_id}/confirm",
        json=body or None,
        headers=_headers(namespace),
    )


def _documents(pipeline: Pipeline, namespace: str, collection_id: str, **body: Any) -> dict[str, Any]:
    return ok(
        pipeline.client.post(
            f"/v1/collections/{collection_id}/documents/list", json=body, headers=_headers(namespace)
        )
    )


# ---------------------------------------------------------------------------------------------
# skip_duplicates


def test_skip_duplicates_answers_the_object_holding_the_content_and_creates_nothing(
    pipeline: Pipeline,
) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    first = _create_object(pipeline, namespace, bucket["bucket_id"], metadata={"v": 1})
    totals = _bucket(pipeline, namespace, bucket["bucket_id"])

    again = _create_object(pipeline, namespace, bucket["bucket_id"], metadata={"v": 2}, skip_duplicates=True)

    assert again["replayed"] is True and again["replayed_by"] == "skip_duplicates"
    assert again["object_id"] == first["object_id"] and again["metadata"] == {"v": 1}
    assert [o["object_id"] for o in objects_of(pipeline, namespace, bucket["bucket_id"])] == [
        first["object_id"]
    ]
    assert _bucket(pipeline, namespace, bucket["bucket_id"]) == totals  # counts and size unmoved
    # Other content is not a duplicate; without the flag the same content is stored twice.
    other = _create_object(pipeline, namespace, bucket["bucket_id"], text="Dogs bark.", skip_duplicates=True)
    twice = _create_object(pipeline, namespace, bucket["bucket_id"])
    assert other["replayed"] is False and twice["replayed"] is False
    assert len({first["object_id"], other["object_id"], twice["object_id"]}) == 3
    assert _bucket(pipeline, namespace, bucket["bucket_id"])["object_count"] == 3


def test_a_deleted_objects_content_can_be_stored_again_with_skip_duplicates(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    first = _create_object(pipeline, namespace, bucket["bucket_id"])
    deleted = pipeline.client.delete(
        f"/v1/buckets/{bucket['bucket_id']}/objects/{first['object_id']}", headers=_headers(namespace)
    )
    assert deleted.status_code == 200, deleted.text

    again = _create_object(pipeline, namespace, bucket["bucket_id"], skip_duplicates=True)

    assert again["replayed"] is False and again["object_id"] != first["object_id"]


def test_a_skip_duplicates_upload_of_a_held_file_makes_no_object(pipeline: Pipeline) -> None:
    namespace, bucket, collection = setup_text(pipeline)
    data = NOTES["rockets.md"].encode()
    first = _upload(pipeline, namespace, bucket["bucket_id"], skip_duplicates=True)
    _put(first, data)
    pipeline.drain()
    (held,) = objects_of(pipeline, namespace, bucket["bucket_id"])

    second = _upload(pipeline, namespace, bucket["bucket_id"], skip_duplicates=True)
    _put(second, data)
    pipeline.drain()

    assert [o["object_id"] for o in objects_of(pipeline, namespace, bucket["bucket_id"])] == [
        held["object_id"]
    ]
    confirmed = ok(_confirm(pipeline, namespace, bucket["bucket_id"], second["upload_id"]))
    assert confirmed["status"] == "SKIPPED" and confirmed["is_duplicate"] is True
    assert confirmed["existing_object_id"] == held["object_id"] == confirmed["object_id"]
    assert len(_documents(pipeline, namespace, collection["collection_id"])["results"]) == 1
    # With the file's SHA-256 up front, the duplicate is known before any upload: no URL at all.
    known = _upload(
        pipeline,
        namespace,
        bucket["bucket_id"],
        skip_duplicates=True,
        file_hash=hashlib.sha256(data).hexdigest(),
    )
    assert known["is_duplicate"] is True and known["presigned_url"] is None
    assert known["status"] == "SKIPPED" and known["existing_object_id"] == held["object_id"]
    # Without skip_duplicates the same file is an object of its own.
    third = _upload(pipeline, namespace, bucket["bucket_id"])
    _put(third, data)
    pipeline.drain()
    assert len(objects_of(pipeline, namespace, bucket["bucket_id"])) == 2


# ---------------------------------------------------------------------------------------------
# Uploads: confirm


def test_confirm_makes_the_object_when_the_file_arrived_and_is_idempotent(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    data = NOTES["rockets.md"].encode()
    upload = _upload(pipeline, namespace, bucket["bucket_id"], object_metadata={"team": "propulsion"})
    assert upload["create_object_on_confirm"] is True and upload["status"] == "PENDING"

    early = _confirm(pipeline, namespace, bucket["bucket_id"], upload["upload_id"])
    assert early.status_code == 400 and "no file has arrived" in early.json()["error"]["message"]
    _put(upload, data)
    pipeline.queued()  # the notification is held back: confirm comes first here

    confirmed = ok(
        _confirm(pipeline, namespace, bucket["bucket_id"], upload["upload_id"], file_size_bytes=len(data))
    )

    assert confirmed["status"] == "COMPLETED" and confirmed["object_id"] == upload["object_id"]
    assert confirmed["file_hash"] == hashlib.sha256(data).hexdigest()
    (record,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert record["object_id"] == upload["object_id"] and record["status"] == "PENDING"
    assert record["metadata"] == {"team": "propulsion"} and record["size_bytes"] == len(data)
    task = ok(pipeline.client.get(f"/v1/tasks/{confirmed['task_id']}"))
    assert task["status"] == "PENDING" and task["inputs"][0]["object_id"] == upload["object_id"]
    assert ok(_confirm(pipeline, namespace, bucket["bucket_id"], upload["upload_id"])) == confirmed
    totals = _bucket(pipeline, namespace, bucket["bucket_id"])
    assert (totals["object_count"], totals["total_size_bytes"]) == (1, len(data))
    wrong = _upload(pipeline, namespace, bucket["bucket_id"], file_hash="0" * 64)
    _put(wrong, data)
    refused = _confirm(pipeline, namespace, bucket["bucket_id"], wrong["upload_id"])
    assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == "file_hash"


def test_an_upload_confirmed_after_processing_keeps_its_one_object(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    upload = _upload(pipeline, namespace, bucket["bucket_id"])
    _put(upload, NOTES["rockets.md"].encode())
    pipeline.drain()

    confirmed = ok(
        _confirm(pipeline, namespace, bucket["bucket_id"], upload["upload_id"], auto_submit_batch=False)
    )

    (record,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert record["status"] == "COMPLETED" and confirmed["object_id"] == record["object_id"]
    assert confirmed["task_id"] == record["task_id"]
    assert _bucket(pipeline, namespace, bucket["bucket_id"])["object_count"] == 1


def test_a_staged_upload_is_no_object_until_a_blob_names_it(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    upload = _upload(pipeline, namespace, bucket["bucket_id"], create_object_on_confirm=False)
    assert upload["object_id"] is None and bucket["bucket_id"] not in upload["s3_key"].split("/")[1]
    _put(upload, NOTES["rockets.md"].encode())
    pipeline.drain()
    assert objects_of(pipeline, namespace, bucket["bucket_id"]) == []  # staged: not in the bucket
    confirmed = ok(_confirm(pipeline, namespace, bucket["bucket_id"], upload["upload_id"]))
    assert confirmed["status"] == "COMPLETED" and confirmed["object_id"] is None

    made = _create_object(pipeline, namespace, bucket["bucket_id"])
    from_upload = ok(
        pipeline.client.post(
            f"/v1/buckets/{bucket['bucket_id']}/objects",
            json={"blobs": [{"property": "notes", "type": "text", "upload_id": upload["upload_id"]}]},
            headers=_headers(namespace),
        )
    )
    pipeline.drain()

    assert (
        from_upload["blobs"][0]["filename"] == "rockets.md" and from_upload["object_id"] != made["object_id"]
    )
    assert "rocket engine" in search_text(pipeline, namespace, "orbital launch vehicle")[0]["payload"]["text"]


# ---------------------------------------------------------------------------------------------
# total_size_bytes and object deletes


def test_total_size_bytes_follows_every_write(pipeline: Pipeline) -> None:
    namespace, bucket, collection = setup_text(pipeline)
    made = _create_object(pipeline, namespace, bucket["bucket_id"])
    assert made["size_bytes"] > 0
    assert _bucket(pipeline, namespace, bucket["bucket_id"])["total_size_bytes"] == made["size_bytes"]
    key = key_of(bucket, "plain/notes.txt")
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=b"x" * 100)
    pipeline.drain()
    assert _bucket(pipeline, namespace, bucket["bucket_id"])["total_size_bytes"] == made["size_bytes"] + 100
    pipeline.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=b"a shorter new version")  # same object
    pipeline.drain()
    after = _bucket(pipeline, namespace, bucket["bucket_id"])
    assert (after["object_count"], after["total_size_bytes"]) == (2, made["size_bytes"] + 21)
    assert len(_documents(pipeline, namespace, collection["collection_id"])["results"]) == 2

    gone = ok(
        pipeline.client.delete(
            f"/v1/buckets/{bucket['bucket_id']}/objects/{made['object_id']}", headers=_headers(namespace)
        )
    )

    assert gone["deleted"] is True and gone["object_id"] == made["object_id"]
    after = _bucket(pipeline, namespace, bucket["bucket_id"])
    assert (after["object_count"], after["total_size_bytes"]) == (1, 21)
    listed = pipeline.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=made["key"]).get("KeyCount", 0)
    assert listed == 0  # its file
    remaining = _documents(pipeline, namespace, collection["collection_id"])["results"]
    assert [d["object_id"] for d in remaining] != [made["object_id"]] and len(remaining) == 1  # its documents
    missing = pipeline.client.delete(
        f"/v1/buckets/{bucket['bucket_id']}/objects/{made['object_id']}", headers=_headers(namespace)
    )
    assert missing.status_code == 404


# ---------------------------------------------------------------------------------------------
# Collections: enabled, passthrough


def _collection(pipeline: Pipeline, namespace: str, bucket_id: str, name: str, **body: Any) -> dict[str, Any]:
    extractor = body.pop("feature_extractor", {})
    return ok(
        pipeline.client.post(
            "/v1/collections",
            json={
                "collection_name": name,
                "source": {"type": "bucket", "bucket_ids": [bucket_id]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "params": {"inference_service": "minilm_l6_v2"},
                    **extractor,
                },
                **body,
            },
            headers=_headers(namespace),
        )
    )


def test_a_disabled_collection_is_not_run(pipeline: Pipeline) -> None:
    namespace, bucket, enabled = setup_text(pipeline)
    disabled = _collection(pipeline, namespace, bucket["bucket_id"], "paused", enabled=False)
    assert disabled["enabled"] is False and enabled["enabled"] is True

    made = _create_object(pipeline, namespace, bucket["bucket_id"])
    pipeline.drain()

    (record,) = objects_of(pipeline, namespace, bucket["bucket_id"])
    assert record["status"] == "COMPLETED" and record["document_count"] == 1
    assert len(_documents(pipeline, namespace, enabled["collection_id"])["results"]) == 1
    assert _documents(pipeline, namespace, disabled["collection_id"])["results"] == []
    task = ok(pipeline.client.get(f"/v1/tasks/{made['task_id']}"))
    assert task["outputs"][0]["collections"] == {enabled["collection_id"]: 1}


def test_passthrough_fields_land_at_the_top_of_each_document(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    everything = _collection(
        pipeline,
        namespace,
        bucket["bucket_id"],
        "all-fields",
        feature_extractor={"include_all_source_fields": True},
    )
    chosen = _collection(
        pipeline,
        namespace,
        bucket["bucket_id"],
        "chosen-fields",
        feature_extractor={
            "field_passthrough": [
                {"source_path": "metadata.author", "target_path": "writer"},
                {"source_path": "missing", "default": "n/a"},
            ]
        },
        source={
            "type": "bucket",
            "bucket_ids": [bucket["bucket_name"]],  # named by name: stored by id
            "field_map": {bucket["bucket_id"]: [{"source_path": "year"}]},
        },
    )
    assert chosen["source"]["bucket_ids"] == [bucket["bucket_id"]]
    _create_object(
        pipeline, namespace, bucket["bucket_id"], metadata={"author": "Ann", "year": 2024, "object_id": "x"}
    )
    pipeline.drain()

    (all_doc,) = _documents(pipeline, namespace, everything["collection_id"])["results"]
    (chosen_doc,) = _documents(pipeline, namespace, chosen["collection_id"])["results"]
    assert (all_doc["author"], all_doc["year"]) == ("Ann", 2024)
    assert all_doc["object_id"].startswith("obj_")  # a source field never shadows a system one
    assert (chosen_doc["writer"], chosen_doc["missing"], chosen_doc["year"]) == ("Ann", "n/a", 2024)
    assert "author" not in chosen_doc


def test_the_sdks_defaulted_collection_fields_are_accepted_and_unapplied_ones_reported(
    pipeline: Pipeline,
) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    # What the typed SDK sends: enabled, include_all_source_fields, field_map {}, nulls for
    # parameters/input_mappings, or `parameters` filled with another extractor's defaults.
    created = _collection(
        pipeline,
        namespace,
        bucket["bucket_id"],
        "typed-sdk",
        enabled=True,
        feature_extractor={
            "include_all_source_fields": False,
            "input_mappings": None,
            "parameters": {"extractor_type": "audio_fingerprint_extractor", "segment_duration_sec": 5.0},
        },
        source={"type": "bucket", "bucket_ids": [bucket["bucket_id"]], "field_map": {}},
        schedule={"cron": "0 * * * *"},
    )
    assert created["feature_extractor"]["parameters"]["inference_service"] == "minilm_l6_v2"
    assert any(
        w.startswith("feature_extractor.parameters.segment_duration_sec:") for w in created["warnings"]
    )
    assert any(w.startswith("schedule: accepted but not applied") for w in created["warnings"])
    typo = pipeline.client.post(
        "/v1/collections",
        json={
            "collection_name": "typo",
            "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
            "feature_extractor": {
                "feature_extractor_name": "text_extractor",
                "parameters": {"chunk_sise": 5},
            },
        },
        headers=_headers(namespace),
    )
    assert typo.status_code == 400 and "chunk_sise" in typo.json()["error"]["message"]
    other_source = pipeline.client.post(
        "/v1/collections",
        json={
            "collection_name": "from-collection",
            "source": {"type": "collection", "collection_id": created["collection_id"]},
            "feature_extractor": {"feature_extractor_name": "text_extractor"},
        },
        headers=_headers(namespace),
    )
    assert (
        other_source.status_code == 400 and other_source.json()["error"]["details"]["field"] == "source.type"
    )


# ---------------------------------------------------------------------------------------------
# Collection documents


def test_collection_documents_are_the_collections_own(pipeline: Pipeline) -> None:
    namespace, bucket, collection = setup_text(
        pipeline, chunk_size=50, split_by="characters", chunk_overlap=0
    )
    other = _collection(pipeline, namespace, bucket["bucket_id"], "other")
    _create_object(
        pipeline, namespace, bucket["bucket_id"], text=NOTES["rockets.md"] * 2, metadata={"k": "a"}
    )
    _create_object(pipeline, namespace, bucket["bucket_id"], metadata={"k": "b"})
    pipeline.drain()
    col = collection["collection_id"]
    base = f"/v1/collections/{col}/documents"

    everything = _documents(pipeline, namespace, col, limit=1000)["results"]
    assert len(everything) > 3 and {d["collection_id"] for d in everything} == {col}
    assert all("payload" not in d and "text" in d for d in everything)  # flat, Mixpeek's shape
    seen: list[str] = []
    cursor = None
    while True:  # cursors over pages of 2
        page = _documents(pipeline, namespace, col, limit=2, cursor=cursor)
        seen += [d["document_id"] for d in page["results"]]
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(d["document_id"] for d in everything)
    only_b = _documents(
        pipeline, namespace, col, filters={"AND": [{"field": "metadata.k", "operator": "eq", "value": "b"}]}
    )
    assert only_b["results"] and {d["metadata"]["k"] for d in only_b["results"]} == {"b"}
    in_a = [d for d in everything if d["metadata"]["k"] == "a"]
    counted = _documents(pipeline, namespace, col, include_total=True, select=["text"])
    assert counted["total_documents"] == len(everything) and set(counted["results"][0]) == {
        "document_id",
        "collection_id",
        "text",
    }

    target = only_b["results"][0]["document_id"]
    patched = ok(
        pipeline.client.patch(
            f"{base}/{target}", json={"metadata": {"k": "b", "seen": True}}, headers=_headers(namespace)
        )
    )
    assert patched["metadata"] == {"k": "b", "seen": True}
    got = ok(pipeline.client.get(f"{base}/{target}?return_vectors=true", headers=_headers(namespace)))
    assert (
        got["metadata"] == {"k": "b", "seen": True}
        and len(got["vectors"]["text_extractor_v1_embedding"]) == 384
    )
    hit = search_text(pipeline, namespace, TEXT, top_k=1, filters={"metadata.seen": True})
    assert hit[0]["document_id"] == target  # the vector stayed, the payload changed
    fixed = pipeline.client.patch(
        f"{base}/{target}", json={"collection_id": "col_x"}, headers=_headers(namespace)
    )
    assert fixed.status_code == 400
    other_docs = _documents(pipeline, namespace, other["collection_id"])["results"]
    assert (
        pipeline.client.get(f"{base}/{other_docs[0]['document_id']}", headers=_headers(namespace)).status_code
        == 404
    )

    batch = ok(
        pipeline.client.post(
            f"{base}/batch",
            json={
                "updates": [
                    {"document_id": target, "update_data": {"flag": 1}},
                    {"document_id": "nope", "update_data": {"flag": 1}},
                ]
            },
            headers=_headers(namespace),
        )
    )
    assert (batch["updated_count"], batch["failed_count"]) == (1, 1)
    by_filter = ok(
        pipeline.client.post(
            f"{base}/batch",
            json={"filters": {"metadata.k": "a"}, "update_data": {"flag": 2}},
            headers=_headers(namespace),
        )
    )
    assert by_filter["updated_count"] == len(in_a) and in_a
    flags = {
        d["document_id"]: d.get("flag") for d in _documents(pipeline, namespace, col, limit=1000)["results"]
    }
    assert flags[target] == 1 and {flags[d["document_id"]] for d in in_a} == {2}
    assert "flag" not in _documents(pipeline, namespace, other["collection_id"])["results"][0]

    deleted = ok(pipeline.client.delete(f"{base}/{target}", headers=_headers(namespace)))
    assert deleted["success"] is True
    assert pipeline.client.get(f"{base}/{target}", headers=_headers(namespace)).status_code == 404
    by_name = ok(
        pipeline.client.post(
            f"/v1/collections/{collection['collection_name']}/documents/list", headers=_headers(namespace)
        )
    )
    assert len(by_name["results"]) == min(10, len(everything) - 1)  # no body; named by name


# ---------------------------------------------------------------------------------------------
# Lists of objects, buckets, collections


def test_objects_list_with_filters_search_and_no_body(pipeline: Pipeline) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    for letter in "abcab":
        _create_object(
            pipeline, namespace, bucket["bucket_id"], text=f"note {letter}", metadata={"k": letter}
        )
    path = f"/v1/buckets/{bucket['bucket_id']}/objects/list"

    everything = ok(pipeline.client.post(path, headers=_headers(namespace)))
    assert len(everything["results"]) == 5
    only_a = ok(
        pipeline.client.post(
            path, json={"filters": {"metadata.k": "A"}, "page_size": 1}, headers=_headers(namespace)
        )
    )
    seen = [o["metadata"]["k"] for o in only_a["results"]]
    cursor = only_a["pagination"]["next_cursor"]
    while cursor:
        page = ok(
            pipeline.client.post(
                path,
                json={"filters": {"metadata.k": "A"}, "page_size": 1, "cursor": cursor},
                headers=_headers(namespace),
            )
        )
        seen += [o["metadata"]["k"] for o in page["results"]]
        cursor = page["pagination"]["next_cursor"]
    assert seen == ["a", "a"]
    sensitive = ok(
        pipeline.client.post(
            path, json={"filters": {"metadata.k": "A"}, "case_sensitive": True}, headers=_headers(namespace)
        )
    )
    assert sensitive["results"] == []
    counted = ok(
        pipeline.client.post(
            path + "?include_total=true", json={"sort": {"field": "x"}}, headers=_headers(namespace)
        )
    )
    assert counted["pagination"]["total"] == 5
    assert counted["warnings"] == [
        "sort: accepted but not applied: a bucket's objects are listed in object_id order"
    ]


def test_bucket_and_collection_lists_filter_search_sort_and_count(pipeline: Pipeline) -> None:
    namespace, _, collection = setup_text(pipeline)
    for name in ("zeta", "alpha", "Mid"):
        ok(
            pipeline.client.post(
                "/v1/buckets",
                json={"bucket_name": name, "description": f"{name} files"},
                headers=_headers(namespace),
            )
        )

    listed = ok(pipeline.client.post("/v1/buckets/list", headers=_headers(namespace)))
    assert listed["total_count"] == 4 and len(listed["results"]) == 4
    named = ok(
        pipeline.client.post(
            "/v1/buckets/list?page_size=2",
            json={"sort": {"field": "bucket_name", "direction": "desc"}, "case_sensitive": False},
            headers=_headers(namespace),
        )
    )
    assert [b["bucket_name"] for b in named["results"]] == ["zeta", "notes"] and named["total_count"] == 4
    rest = ok(
        pipeline.client.post(
            "/v1/buckets/list",
            json={
                "sort": {"field": "bucket_name", "direction": "desc"},
                "cursor": named["pagination"]["next_cursor"],
            },
            headers=_headers(namespace),
        )
    )
    assert [b["bucket_name"] for b in rest["results"]] == ["alpha", "Mid"]  # code point order
    found = ok(pipeline.client.post("/v1/buckets/list", json={"search": "MID"}, headers=_headers(namespace)))
    assert [b["bucket_name"] for b in found["results"]] == ["Mid"] and found["total_count"] == 1
    filtered = ok(pipeline.client.get("/v1/buckets?search=files&limit=1", headers=_headers(namespace)))
    assert filtered["total_count"] == 3 and len(filtered["results"]) == 1
    assert ok(pipeline.client.get("/v1/buckets/alpha", headers=_headers(namespace)))["bucket_name"] == "alpha"
    unsortable = pipeline.client.post(
        "/v1/buckets/list", json={"sort": {"field": "s3_uri"}}, headers=_headers(namespace)
    )
    assert unsortable.status_code == 400 and unsortable.json()["error"]["details"]["field"] == "sort.field"

    collections = ok(
        pipeline.client.post(
            "/v1/collections/list",
            json={"case_sensitive": False, "include_system": False, "filters": {"enabled": True}},
            headers=_headers(namespace),
        )
    )
    assert (
        collections["total_count"] == 1
        and collections["results"][0]["collection_id"] == collection["collection_id"]
    )
    by_name = ok(
        pipeline.client.get(f"/v1/collections/{collection['collection_name']}", headers=_headers(namespace))
    )
    assert by_name["collection_id"] == collection["collection_id"]


@pytest.mark.parametrize("blob_type", ["video", "pdf"])
def test_blob_types_stratus_does_not_extract_are_a_400_naming_the_supported_ones(
    pipeline: Pipeline, blob_type: str
) -> None:
    namespace, bucket, _ = setup_text(pipeline)
    response = pipeline.client.post(
        f"/v1/buckets/{bucket['bucket_id']}/objects",
        json={"blobs": [{"property": "clip", "type": blob_type, "data": "https://example.com/a"}]},
        headers=_headers(namespace),
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "field": "blobs[0].type",
        "supported": ["text", "string", "image"],
    }
