"""`PATCH /v1/collections/{collection_id}/documents/{document_id}`: set payload fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import DOCUMENTS, DocumentId, error_responses
from stratus.container import Container, get_container
from stratus.services import collection_documents as service
from stratus.services import collections

router = APIRouter(tags=DOCUMENTS)


@router.patch(
    "/v1/collections/{collection_id}/documents/{document_id}",
    operation_id="update_collection_document",
    summary="Set payload fields of one of a collection's documents (the body: the fields; vectors stay)",
    responses=error_responses(400, 404, 413),
)
def update_collection_document(
    collection_id: str,
    document_id: str = DocumentId,
    body: dict[str, Any] = Body(description='Payload fields to set, e.g. {"metadata": {...}}'),
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> dict[str, Any]:
    collection = collections.get_collection(container.metadata, scope.namespace, collection_id)
    document = service.update_document(container, scope.namespace, collection, document_id, body)
    return service.flat(collection, document)
