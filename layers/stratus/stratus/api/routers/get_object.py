"""`GET /v1/buckets/{bucket_id}/objects/{object_id}`: an object and its status."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.objects import ObjectModel
from stratus.services import buckets, objects

router = APIRouter(tags=OBJECTS)


@router.get(
    "/v1/buckets/{bucket_id}/objects/{object_id}",
    operation_id="get_object",
    response_model=ObjectModel,
    summary="Get an object and its status (PENDING, PROCESSING, COMPLETED or FAILED with the error)",
    responses=error_responses(400, 404),
)
def get_object(
    bucket_id: str,
    object_id: str,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> ObjectModel:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    return objects.describe_object(objects.get_object(container.metadata, bucket, object_id))
