"""`DELETE /v1/buckets/{bucket_id}`: a bucket with its objects and the documents made from them."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import BUCKETS, error_responses
from stratus.container import Container, get_container
from stratus.services import buckets as service

router = APIRouter(tags=BUCKETS)


@router.delete(
    "/v1/buckets/{bucket_id}",
    operation_id="delete_bucket",
    summary="Delete a bucket with its objects and the documents made from them",
    responses=error_responses(400, 404),
)
def delete_bucket(
    bucket_id: str,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> dict[str, object]:
    bucket = service.delete_bucket(container, scope.namespace, bucket_id)
    return {"bucket_id": bucket.bucket_id, "deleted": True}
