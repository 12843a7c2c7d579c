"""`GET /v1/buckets/{bucket_id}`: one bucket of the `X-Namespace` namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import BUCKETS, error_responses
from stratus.container import Container, get_container
from stratus.models.managed_content import BucketModel
from stratus.services import buckets as service

router = APIRouter(tags=BUCKETS)


@router.get(
    "/v1/buckets/{bucket_id}",
    operation_id="get_bucket",
    response_model=BucketModel,
    summary="Get a bucket",
    responses=error_responses(400, 404),
)
def get_bucket(
    bucket_id: str,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> BucketModel:
    return service.describe_bucket(service.get_bucket(container.metadata, scope.namespace, bucket_id))
