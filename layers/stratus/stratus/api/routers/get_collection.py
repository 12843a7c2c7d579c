"""`GET /v1/collections/{collection_id}`: one collection of the `X-Namespace` namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import COLLECTIONS, error_responses
from stratus.container import Container, get_container
from stratus.models.managed_content import CollectionModel
from stratus.services import collections as service

router = APIRouter(tags=COLLECTIONS)


@router.get(
    "/v1/collections/{collection_id}",
    operation_id="get_collection",
    response_model=CollectionModel,
    summary="Get a collection",
    responses=error_responses(400, 404),
)
def get_collection(
    collection_id: str,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CollectionModel:
    return service.describe_collection(
        service.get_collection(container.metadata, scope.namespace, collection_id)
    )
