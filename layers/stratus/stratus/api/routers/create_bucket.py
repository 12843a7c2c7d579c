"""`POST /v1/buckets`: create a bucket; the namespace comes from the `X-Namespace` header."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import BUCKETS, error_responses
from stratus.container import Container, get_container
from stratus.models.managed_content import BucketCreated, CreateBucketRequest
from stratus.services import buckets as service

router = APIRouter(tags=BUCKETS)


@router.post(
    "/v1/buckets",
    operation_id="create_bucket",
    response_model=BucketCreated,
    summary="Create a bucket (a prefix of the data S3 bucket) in the X-Namespace namespace",
    responses=error_responses(400, 404, 409),
)
def create_bucket(
    body: CreateBucketRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> BucketCreated:
    bucket = service.create_bucket(container.metadata, scope.namespace, body, container.settings.data_bucket)
    return BucketCreated(**service.describe_bucket(bucket).model_dump(), warnings=body.unapplied())
