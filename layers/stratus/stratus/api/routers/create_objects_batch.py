"""`POST /v1/buckets/{bucket_id}/objects/batch`: store up to 100 objects for the extractors in one
call (migrations that cannot write to S3 directly); the namespace comes from `X-Namespace`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.objects import CreateObjectsBatchRequest, CreateObjectsBatchResponse
from stratus.services import buckets, objects_batch

router = APIRouter(tags=OBJECTS)


@router.post(
    "/v1/buckets/{bucket_id}/objects/batch",
    operation_id="create_objects_batch",
    response_model=CreateObjectsBatchResponse,
    summary="Store up to 100 objects in one call (each as POST .../objects takes it)",
    responses=error_responses(400, 404, 409, 413, 503),
)
def create_objects_batch(
    bucket_id: str,
    body: CreateObjectsBatchRequest,
    auto_process: bool | None = Query(
        default=None,
        description="Accepted for the Mixpeek SDK; Stratus always processes an object as it lands",
    ),
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> CreateObjectsBatchResponse:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    return objects_batch.create_objects(container, bucket, body, container.settings)
