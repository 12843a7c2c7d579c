"""`POST /v1/collections`: bucket source → feature extractor → a vector index of the
`X-Namespace` namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import COLLECTIONS, error_responses
from stratus.container import Container, get_container
from stratus.models.managed_content import CollectionCreated, CreateCollectionRequest
from stratus.services import collections as service

router = APIRouter(tags=COLLECTIONS)


@router.post(
    "/v1/collections",
    operation_id="create_collection",
    response_model=CollectionCreated,
    summary="Create a collection: bucket source → feature extractor → a vector index of the namespace",
    responses=error_responses(400, 404),
)
def create_collection(
    body: CreateCollectionRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> CollectionCreated:
    collection, warnings = service.create_collection(container.metadata, scope.namespace, body)
    return CollectionCreated(**service.describe_collection(collection).model_dump(), warnings=warnings)
