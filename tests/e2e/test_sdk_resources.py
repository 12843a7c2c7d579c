"""The official Mixpeek SDK (`mixpeek==1.3.783`) against the local stack, beyond search: namespaces,
buckets, objects, uploads, collections, collection documents, tasks and the extractor catalogue,
through both of its surfaces. The typed surface (`*Api` classes) parses every answer with the
SDK's own strict models, so a call returning at all proves the shape; the high-level
`Mixpeek(...)` client is checked on what it hands back. Runs on both vector stores.

Retrievers and search belong to tests/e2e/test_sdk_search.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest
from mixpeek import (
    BatchUpdateDocumentsRequest,
    BucketCreateRequest,
    BucketObjectsApi,
    BucketsApi,
    BucketUploadsApi,
    CollectionDocumentsApi,
    CollectionsApi,
    ConfirmUploadRequest,
    CreateCollectionRequest,
    CreateNamespaceRequest,
    CreateObjectRequest,
    CreateUploadRequest,
    FeatureExtractorsApi,
    ListBucketsRequest,
    ListCollectionsRequest,
    ListDocumentsRequest,
    ListNamespacesRequest,
    ListObjectsRequest,
    NamespacesApi,
    PatchNamespaceRequest,
    SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput,
    SourceConfigInput,
    TasksApi,
    UpdateNamespaceRequest,
)
from mixpeek.exceptions import BadRequestException, NotFoundException
from mixpeek.models.source_type import SourceType
from mixpeek.models.task_response import TaskResponse
from mixpeek.models.task_status_enum import TaskStatusEnum

from tests.e2e.conftest import LocalStack
from tests.seed_bodies import seed_body

WAIT_SECONDS = 90.0
MINILM = {"inference_service": "minilm_l6_v2"}
T = TypeVar("T")
M = TypeVar("M")


def _wait_for(what: str, check: Callable[[], T | None], stack: LocalStack) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}\n{stack.log()[-4000:]}")


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def made(value: T | None) -> T:
    """An optional answer field that must be there."""
    assert value is not None
    return value


def build(model: type[M], body: dict[str, Any]) -> M:
    """`model.from_dict(body)`, as the SDK's users build requests (the SDK types it Optional)."""
    built = model.from_dict(body)  # type: ignore[attr-defined]
    assert isinstance(built, model)
    return built


def raw(answer: object) -> dict[str, Any]:
    """What the high-level client hands back: the answer's JSON (its `list()` methods are
    annotated `list[dict]`, but return the answer object as it came)."""
    assert isinstance(answer, dict)
    return answer


# ---------------------------------------------------------------------------------------------
# Namespaces


def test_namespaces_through_the_typed_surface_with_the_seed_body(local_stack: LocalStack) -> None:
    namespaces = NamespacesApi(local_stack.mixpeek_api())
    body = seed_body("create-namespace.json")
    body["namespace_name"] = f"spotify_{_suffix()}"

    created = namespaces.create_namespace(build(CreateNamespaceRequest, body))  # sends mode: managed

    assert created.namespace_id and created.mode == "managed"
    assert (created.vector_inference_map or {})["image_extractor_v1_embedding"] == "google_siglip_base_v1"
    assert {e.feature_extractor_id for e in created.feature_extractors or []} == {
        "multimodal_extractor_v1",
        "image_extractor_v1",
    }
    listed = namespaces.list_namespaces()  # POST /v1/namespaces/list with no body
    assert listed.total_count >= 1 and created.namespace_id in {n.namespace_id for n in listed.results}
    found = namespaces.list_namespaces(
        list_namespaces_request=ListNamespacesRequest(search=body["namespace_name"], limit=5)
    )  # the body always carries case_sensitive
    assert [n.namespace_id for n in found.results] == [created.namespace_id] and found.total_count == 1
    got = namespaces.list_namespaces_get(limit=1)
    assert got.total_count == listed.total_count and len(got.results) == 1
    assert namespaces.get_namespace(created.namespace_id).namespace_name == body["namespace_name"]
    patched = namespaces.patch_namespace(
        created.namespace_id, PatchNamespaceRequest(description="patched", auto_create_indexes=False)
    )
    assert patched.description == "patched" and patched.auto_create_indexes is False
    renamed = namespaces.update_namespace(
        created.namespace_id, UpdateNamespaceRequest(namespace_name=body["namespace_name"] + "_r")
    )
    assert renamed.namespace_name == body["namespace_name"] + "_r"
    ensured = raw(namespaces.ensure_namespace_indexes(created.namespace_id))
    assert set(ensured["skipped"]) >= {"metadata.title", "metadata.description"} and ensured["created"] == []
    namespaces.delete_namespace(created.namespace_id)
    with pytest.raises(NotFoundException) as missing:
        namespaces.get_namespace(created.namespace_id)
    assert missing.value.data is not None and missing.value.data.error.type == "NotFoundError"
    assert namespaces.list_namespaces_get().total_count == listed.total_count - 1


def test_namespaces_through_the_high_level_client(local_stack: LocalStack) -> None:
    mp = local_stack.mixpeek()
    name = f"hl-{_suffix()}"

    managed = mp.namespaces.create(
        name=name,
        feature_extractors=[{"feature_extractor_name": "text_extractor", "version": "v1", "params": MINILM}],
    )
    standalone = mp.namespaces.create(
        namespace_id=f"{name}-sa", vector_configs=[{"name": "emb", "dimension": 3}]
    )

    assert managed["mode"] == "managed" and standalone["mode"] == "standalone"
    listed = raw(mp.namespaces.list())
    assert {managed["namespace_id"], standalone["namespace_id"]} <= {
        n["namespace_id"] for n in listed["results"]
    }
    assert listed["total_count"] >= 2
    assert mp.namespaces.get(name)["namespace_id"] == managed["namespace_id"]  # by name
    mp.namespaces.delete(managed["namespace_id"])
    mp.namespaces.delete(standalone["namespace_id"])


# ---------------------------------------------------------------------------------------------
# Buckets, collections, objects, uploads, documents, tasks: one managed namespace


@pytest.fixture(scope="module")
def managed(local_stack: LocalStack) -> dict[str, str]:
    """A managed namespace (text_extractor on the local MiniLM), a bucket with a text property and
    a collection reading it, all made through the typed surface."""
    name = f"sdk-content-{_suffix()}"
    namespace = NamespacesApi(local_stack.mixpeek_api()).create_namespace(
        build(
            CreateNamespaceRequest,
            {
                "namespace_name": name,
                "feature_extractors": [
                    {"feature_extractor_name": "text_extractor", "version": "v1", "params": MINILM}
                ],
                "payload_indexes": [{"field_name": "metadata.category", "type": "keyword"}],
            },
        )
    )
    assert namespace.namespace_id is not None
    client = local_stack.mixpeek_api(namespace=namespace.namespace_id)
    bucket = BucketsApi(client).create_bucket(
        build(
            BucketCreateRequest,
            {"bucket_name": f"{name}-files", "bucket_schema": {"properties": {"content": {"type": "text"}}}},
        )
    )
    assert bucket.bucket_id is not None and bucket.total_size_bytes == 0 and bucket.object_count == 0
    collection = CollectionsApi(client).create_collection(
        build(
            CreateCollectionRequest,
            {
                "collection_name": f"{name}-text",
                "source": {"type": "bucket", "bucket_ids": [bucket.bucket_id]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "params": MINILM,
                    "input_mappings": {"text": "content"},
                },
            },
        )
    )  # the SDK adds enabled, include_all_source_fields and source.field_map
    assert collection.collection_id is not None and collection.enabled is True
    return {
        "namespace": namespace.namespace_id,
        "namespace_name": name,
        "bucket": bucket.bucket_id,
        "bucket_name": bucket.bucket_name,
        "collection": collection.collection_id,
    }


def test_buckets_on_both_surfaces(local_stack: LocalStack, managed: dict[str, str]) -> None:
    buckets = BucketsApi(local_stack.mixpeek_api(namespace=managed["namespace"]))
    mp = local_stack.mixpeek(namespace=managed["namespace"])

    assert buckets.get_bucket(managed["bucket_name"]).bucket_id == managed["bucket"]  # by name
    listed = buckets.list_buckets()  # POST /v1/buckets/list, no body
    assert listed.total_count >= 1 and managed["bucket"] in {b.bucket_id for b in listed.results}
    searched = buckets.list_buckets(list_buckets_request=ListBucketsRequest(search=managed["bucket_name"]))
    assert [b.bucket_id for b in searched.results] == [managed["bucket"]]
    assert buckets.list_buckets_get(limit=5).total_count == listed.total_count
    assert managed["bucket"] in {b["bucket_id"] for b in raw(mp.buckets.list())["results"]}
    extra = mp.buckets.create(bucket_name=f"{managed['namespace_name']}-extra")
    assert extra["bucket_schema"] is None and extra["total_size_bytes"] == 0
    mp.buckets.delete(extra["bucket_id"])
    with pytest.raises(NotFoundException):
        buckets.get_bucket(extra["bucket_id"])


def test_objects_uploads_tasks_and_documents_on_both_surfaces(
    local_stack: LocalStack, managed: dict[str, str]
) -> None:
    client = local_stack.mixpeek_api(namespace=managed["namespace"])
    objects, uploads = BucketObjectsApi(client), BucketUploadsApi(client)
    mp = local_stack.mixpeek(namespace=managed["namespace"])
    bucket, collection = managed["bucket"], managed["collection"]

    # Objects: the SDK adds skip_duplicates, canonicalize_source, force_remirror.
    first = objects.create_object_buckets(
        bucket,
        build(
            CreateObjectRequest,
            {
                "blobs": [
                    {
                        "property": "content",
                        "type": "text",
                        "data": "The quick brown fox jumps over the lazy dog.",
                    }
                ],
                "metadata": {"category": "a"},
            },
        ),
    )
    assert first.object_id and first.status is not None
    task_id = first.additional_properties["task_id"]
    again = objects.create_object_buckets(
        bucket,
        build(
            CreateObjectRequest,
            {
                "blobs": [
                    {
                        "property": "content",
                        "type": "text",
                        "data": "The quick brown fox jumps over the lazy dog.",
                    }
                ],
                "skip_duplicates": True,
            },
        ),
    )
    assert again.object_id == first.object_id and again.additional_properties["replayed"] is True
    second = mp.buckets.upload(
        bucket,
        data="Databases keep records in tables.",
        blob_property="content",
        blob_type="text",
        metadata={"category": "b"},
    )

    # Uploads: presigned_url_expiration, create_object_on_confirm, skip_duplicates sent.
    upload = uploads.create_upload_buckets(
        bucket,
        CreateUploadRequest(
            filename="notes.txt", content_type="text/plain", object_metadata={"category": "c"}
        ),
    )
    assert upload.status == TaskStatusEnum.PENDING and upload.presigned_url_expiration == 3600
    assert upload.create_object_on_confirm is True and upload.bucket_id == bucket
    put = httpx.put(
        upload.presigned_url or "",
        content=b"Rivers carve canyons over millions of years.",
        headers={"Content-Type": "text/plain"},
    )
    assert put.status_code == 200, put.text
    confirmed = uploads.confirm_upload_buckets(bucket, upload.upload_id)  # no body
    assert confirmed.status == TaskStatusEnum.COMPLETED and confirmed.object_id
    assert (
        uploads.confirm_upload_buckets(
            bucket, upload.upload_id, confirm_upload_request=ConfirmUploadRequest()
        ).object_id
        == confirmed.object_id
    )

    # Tasks: TasksApi never sends X-Namespace; mp.tasks too when the client has no namespace.
    tasks = TasksApi(local_stack.mixpeek_api())

    def completed() -> TaskResponse | None:
        task = tasks.get_task(task_id)
        return task if task.status == TaskStatusEnum.COMPLETED else None

    done = _wait_for("the first object's task", completed, local_stack)
    assert done.task_type.value == "engine_object_processing" and done.inputs and done.outputs
    assert local_stack.mixpeek().tasks.get(task_id)["status"] == "COMPLETED"

    # Objects listed, every one processed.
    listed = objects.list_objects_buckets(bucket)  # POST .../objects/list, no body
    assert {o.object_id for o in listed.results} == {
        first.object_id,
        second["object_id"],
        confirmed.object_id,
    }
    _wait_for(
        "three objects completed",
        lambda: all(o["status"] == "COMPLETED" for o in mp.buckets.list_objects(bucket)["results"]),
        local_stack,
    )
    only_b = objects.list_objects_buckets(
        bucket,
        list_objects_request=build(
            ListObjectsRequest,
            {"filters": {"AND": [{"field": "metadata.category", "operator": "eq", "value": "b"}]}},
        ),
    )
    assert [o.object_id for o in only_b.results] == [second["object_id"]]
    assert len(objects.list_objects_get_buckets(bucket, limit=10).results) == 3
    totals = BucketsApi(client).get_bucket(bucket)
    assert totals.object_count == 3 and totals.total_size_bytes > 0

    # Collection documents: flat, carrying document_id and collection_id.
    documents = CollectionDocumentsApi(client)
    page = documents.list_documents(collection)  # no body
    assert len(page.results or []) == 3 and {d.collection_id for d in page.results or []} == {collection}
    by_filter = documents.list_documents(
        collection,
        list_documents_request=build(
            ListDocumentsRequest,
            {
                "filters": {"AND": [{"field": "metadata.category", "operator": "eq", "value": "c"}]},
                "limit": 10,
            },
        ),
    )
    (from_upload,) = by_filter.results or []
    assert from_upload.additional_properties["object_id"] == confirmed.object_id
    got = documents.get_document(collection, from_upload.document_id)
    assert "canyons" in got.additional_properties["text"]
    patched = documents.patch_document(
        collection, from_upload.document_id, {"metadata": {"category": "c", "seen": True}}
    )
    assert patched.additional_properties["metadata"]["seen"] is True
    batch = documents.batch_update(
        collection,
        build(
            BatchUpdateDocumentsRequest,
            {"updates": [{"document_id": from_upload.document_id, "update_data": {"flag": 1}}]},
        ),
    )
    assert batch.updated_count == 1
    hl_docs = mp.documents.list(collection)["results"]
    assert len(hl_docs) == 3 and all("document_id" in d and d["collection_id"] == collection for d in hl_docs)
    assert mp.documents.get(collection, from_upload.document_id)["flag"] == 1
    mp.documents.update(collection, from_upload.document_id, update_data={"flag": 2})
    assert (
        mp.documents.batch_update(
            collection, updates=[{"document_id": from_upload.document_id, "update_data": {"flag": 3}}]
        )["updated_count"]
        == 1
    )
    documents.delete_document(collection, from_upload.document_id)
    with pytest.raises(NotFoundException):
        documents.get_document(collection, from_upload.document_id)
    other = next(d for d in hl_docs if d["document_id"] != from_upload.document_id)
    mp.documents.delete(collection, other["document_id"])
    assert len(documents.list_documents(collection).results or []) == 1

    # An object deleted: its file, record, documents and share of the bucket's totals.
    objects.delete_object_buckets(bucket, second["object_id"])
    with pytest.raises(NotFoundException):
        objects.get_object_buckets(bucket, second["object_id"])
    assert BucketsApi(client).get_bucket(bucket).object_count == 2


def test_collections_on_both_surfaces(local_stack: LocalStack, managed: dict[str, str]) -> None:
    client = local_stack.mixpeek_api(namespace=managed["namespace"])
    collections = CollectionsApi(client)
    mp = local_stack.mixpeek(namespace=managed["namespace"])

    # The constructor path sends `parameters: null` and `input_mappings: null`.
    paused = collections.create_collection(
        CreateCollectionRequest(
            collection_name=f"paused-{_suffix()}",
            source=SourceConfigInput(type=SourceType.BUCKET, bucket_ids=[managed["bucket_name"]]),
            feature_extractor=SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                feature_extractor_name="text_extractor", version="v1", params=MINILM
            ),
            enabled=False,
        )
    )
    assert paused.enabled is False and paused.source.bucket_ids == [managed["bucket"]]
    paused_id = made(paused.collection_id)
    listed = collections.list_collections()  # POST /v1/collections/list, no body
    assert listed.total_count >= 2 and {managed["collection"], paused.collection_id} <= {
        c.collection_id for c in listed.results
    }
    filtered = collections.list_collections(
        list_collections_request=ListCollectionsRequest(filters={"enabled": False})
    )
    assert [c.collection_id for c in filtered.results] == [paused.collection_id] and filtered.total_count == 1
    assert collections.list_collections_get(limit=1).total_count == listed.total_count
    assert collections.get_collection(paused_id).collection_name == paused.collection_name
    assert mp.collections.get(paused_id)["enabled"] is False
    assert paused.collection_id in {c["collection_id"] for c in raw(mp.collections.list())["results"]}
    mp.collections.delete(paused_id)
    with pytest.raises(NotFoundException):
        collections.delete_collection(paused_id)
    with pytest.raises(BadRequestException) as refused:  # a source Stratus does not read
        collections.create_collection(
            build(
                CreateCollectionRequest,
                {
                    "collection_name": "from-a-taxonomy",
                    "source": {"type": "taxonomy"},
                    "feature_extractor": {"feature_extractor_name": "text_extractor", "version": "v1"},
                },
            )
        )
    assert refused.value.data is not None and "source.type" in refused.value.data.error.message


def test_the_extractor_catalogue_is_public_and_a_bare_array(local_stack: LocalStack) -> None:
    # FeatureExtractorsApi sends no Authorization and no X-Namespace.
    catalogue = FeatureExtractorsApi(
        local_stack.mixpeek_api(api_key="sk_not_a_key")
    ).list_feature_extractors()

    assert {entry.feature_extractor_id for entry in catalogue} == {
        "text_extractor_v1",
        "image_extractor_v1",
        "multimodal_extractor_v1",
    }
    one = FeatureExtractorsApi(local_stack.mixpeek_api()).get_feature_extractor_by("image_extractor_v1")
    assert (
        one.supported_input_types == ["image"]
        and (one.required_vector_indexes or [])[0].name == "image_extractor_v1_embedding"
    )


def test_tasks_are_found_by_id_within_the_organization_only(
    local_stack: LocalStack, managed: dict[str, str]
) -> None:
    from tests.e2e.conftest import OTHER_ORG_ID, create_key_with_cli

    client = local_stack.mixpeek_api(namespace=managed["namespace"])
    made = BucketObjectsApi(client).create_object_buckets(
        managed["bucket"],
        build(
            CreateObjectRequest, {"blobs": [{"property": "content", "type": "text", "data": "task scope"}]}
        ),
    )
    task_id = made.additional_properties["task_id"]
    assert TasksApi(local_stack.mixpeek_api()).get_task(task_id).task_id == task_id
    stranger = create_key_with_cli(local_stack, OTHER_ORG_ID)
    with pytest.raises(NotFoundException):
        TasksApi(local_stack.mixpeek_api(api_key=stranger)).get_task(task_id)
    BucketObjectsApi(client).delete_object_buckets(managed["bucket"], made.object_id or "")


def test_cleanup_the_managed_namespace(local_stack: LocalStack, managed: dict[str, str]) -> None:
    NamespacesApi(local_stack.mixpeek_api()).delete_namespace(managed["namespace"])
    with pytest.raises(NotFoundException):
        BucketsApi(local_stack.mixpeek_api(namespace=managed["namespace"])).get_bucket(managed["bucket"])
