"""`DELETE /v1/collections/{collection_id}/documents/{document_id}`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import DOCUMENTS, DocumentId, error_responses
from stratus.container import Container, get_container
from stratus.models.collection_documents import DeletedDocument
from stratus.services import collection_documents as service
from stratus.services import collections

router = APIRouter(tags=DOCUMENTS)


@router.delete(
    "/v1/collections/{collection_id}/documents/{document_id}",
    operation_id="delete_collection_document",
    response_model=DeletedDocument,
    summary="Delete one of a collection's documents (from every vector index)",
    responses=error_responses(400, 404),
)
def delete_collection_document(
    collection_id: str,
    document_id: str = DocumentId,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> DeletedDocument:
    collection = collections.get_collection(container.metadata, scope.namespace, collection_id)
    service.delete_document(container, scope.namespace, collection, document_id)
    return DeletedDocument(document_id=document_id, collection_id=collection.collection_id)
