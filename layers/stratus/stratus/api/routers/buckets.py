"""Bucket routes; the namespace comes from the `X-Namespace` header."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.deps import get_stores
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import error_responses
from stratus.models.common import ListResponse
from stratus.models.managed_content import BucketModel, CreateBucketRequest
from stratus.services import buckets as service
from stratus.settings import get_settings

TAGS: list[str | Enum] = ["buckets"]
create_bucket = APIRouter(tags=TAGS)
list_buckets = APIRouter(tags=TAGS)
get_bucket = APIRouter(tags=TAGS)
delete_bucket = APIRouter(tags=TAGS)


@create_bucket.post(
    "/v1/buckets",
    response_model=BucketModel,
    summary="Create a bucket (a prefix of the data S3 bucket) in the X-Namespace namespace",
    responses=error_responses(400, 404, 409),
)
def create_one(
    body: CreateBucketRequest, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> BucketModel:
    bucket = service.create_bucket(get_stores().metadata, scope.namespace, body, get_settings().data_bucket)
    return service.describe_bucket(bucket)


@list_buckets.get(
    "/v1/buckets",
    response_model=ListResponse[BucketModel],
    summary="List the buckets of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_get(
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read")),
) -> ListResponse[BucketModel]:
    return service.list_buckets(get_stores().metadata, scope.namespace, limit, cursor, include_total)


@get_bucket.get(
    "/v1/buckets/{bucket_id}",
    response_model=BucketModel,
    summary="Get a bucket",
    responses=error_responses(400, 404),
)
def get_one(bucket_id: str, scope: NamespaceScope = Depends(namespace_scope("read"))) -> BucketModel:
    return service.describe_bucket(service.get_bucket(get_stores().metadata, scope.namespace, bucket_id))


@delete_bucket.delete(
    "/v1/buckets/{bucket_id}",
    summary="Delete a bucket with its objects and the documents made from them",
    responses=error_responses(400, 404),
)
def delete_one(
    bucket_id: str, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> dict[str, object]:
    bucket = service.delete_bucket(get_stores(), scope.namespace, bucket_id)
    return {"bucket_id": bucket.bucket_id, "deleted": True}
