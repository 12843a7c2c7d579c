"""`POST /v1/buckets/{bucket_id}/objects`: store an object for the extractors; the namespace
comes from the `X-Namespace` header."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.managed_content import CreateObjectRequest, ObjectModel
from stratus.services import buckets, objects

router = APIRouter(tags=OBJECTS)


@router.post(
    "/v1/buckets/{bucket_id}/objects",
    operation_id="create_object",
    response_model=ObjectModel,
    summary="Store an object (its blobs: inline text, base64 or an https URL) for the extractors",
    responses=error_responses(400, 404, 413, 503),
)
def create_object(
    bucket_id: str,
    body: CreateObjectRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> ObjectModel:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    return objects.describe_object(objects.create_object(container, bucket, body, container.settings))
