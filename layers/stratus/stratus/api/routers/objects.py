"""Object and upload routes of a bucket; the namespace comes from the `X-Namespace` header."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.deps import get_stores
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import error_responses
from stratus.models.common import ListResponse
from stratus.models.managed_content import CreateObjectRequest, CreateUploadRequest, ObjectModel, UploadModel
from stratus.services import buckets, objects
from stratus.settings import get_settings

TAGS: list[str | Enum] = ["objects"]
create_object = APIRouter(tags=TAGS)
list_objects = APIRouter(tags=TAGS)
get_object = APIRouter(tags=TAGS)
create_upload = APIRouter(tags=TAGS)


@create_object.post(
    "/v1/buckets/{bucket_id}/objects",
    response_model=ObjectModel,
    summary="Store an object (its blobs: inline text, base64 or an https URL) for the extractors",
    responses=error_responses(400, 404, 413, 503),
)
def create_one(
    bucket_id: str, body: CreateObjectRequest, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> ObjectModel:
    stores = get_stores()
    bucket = buckets.get_bucket(stores.metadata, scope.namespace, bucket_id)
    return objects.describe_object(objects.create_object(stores, bucket, body, get_settings()))


@list_objects.get(
    "/v1/buckets/{bucket_id}/objects",
    response_model=ListResponse[ObjectModel],
    summary="List a bucket's objects with their processing status",
    responses=error_responses(400, 404),
)
def list_get(
    bucket_id: str,
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read")),
) -> ListResponse[ObjectModel]:
    stores = get_stores()
    bucket = buckets.get_bucket(stores.metadata, scope.namespace, bucket_id)
    return objects.list_objects(stores, bucket, limit, cursor, include_total)


@get_object.get(
    "/v1/buckets/{bucket_id}/objects/{object_id}",
    response_model=ObjectModel,
    summary="Get an object and its status (PENDING, PROCESSING, COMPLETED or FAILED with the error)",
    responses=error_responses(400, 404),
)
def get_one(
    bucket_id: str, object_id: str, scope: NamespaceScope = Depends(namespace_scope("read"))
) -> ObjectModel:
    stores = get_stores()
    bucket = buckets.get_bucket(stores.metadata, scope.namespace, bucket_id)
    return objects.describe_object(objects.get_object(stores, bucket, object_id))


@create_upload.post(
    "/v1/buckets/{bucket_id}/uploads",
    response_model=UploadModel,
    summary="Get a presigned URL: one HTTP PUT of the file to it stores and processes the file",
    responses=error_responses(400, 404, 503),
)
def create_one_upload(
    bucket_id: str, body: CreateUploadRequest, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> UploadModel:
    stores = get_stores()
    bucket = buckets.get_bucket(stores.metadata, scope.namespace, bucket_id)
    upload, _record = objects.create_upload(stores, bucket, body, get_settings())
    return upload
