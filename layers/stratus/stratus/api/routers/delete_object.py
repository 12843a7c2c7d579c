"""`DELETE /v1/buckets/{bucket_id}/objects/{object_id}`: an object, its file and its documents."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.objects import DeletedObject
from stratus.services import buckets, objects

router = APIRouter(tags=OBJECTS)


@router.delete(
    "/v1/buckets/{bucket_id}/objects/{object_id}",
    operation_id="delete_object",
    response_model=DeletedObject,
    summary="Delete an object: the documents made from it, its file, then its record",
    responses=error_responses(400, 404, 503),
)
def delete_object(
    bucket_id: str,
    object_id: str,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> DeletedObject:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    record = objects.delete_object(container, scope.namespace, bucket, object_id)
    return DeletedObject(object_id=record.object_id, bucket_id=record.bucket_id)
