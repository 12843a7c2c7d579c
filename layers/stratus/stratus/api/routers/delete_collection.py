"""`DELETE /v1/collections/{collection_id}`: documents already written stay in the namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import COLLECTIONS, error_responses
from stratus.container import Container, get_container
from stratus.services import collections as service

router = APIRouter(tags=COLLECTIONS)


@router.delete(
    "/v1/collections/{collection_id}",
    operation_id="delete_collection",
    summary="Delete a collection (documents already written stay in the namespace)",
    responses=error_responses(400, 404),
)
def delete_collection(
    collection_id: str,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> dict[str, object]:
    collection = service.delete_collection(container.metadata, scope.namespace, collection_id)
    return {"collection_id": collection.collection_id, "deleted": True}
