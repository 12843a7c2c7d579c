"""`GET /v1/collections/{collection_id}/documents/{document_id}`: one of a collection's documents,
flat (`document_id`, `collection_id`, the payload's fields)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import DOCUMENTS, DocumentId, error_responses
from stratus.container import Container, get_container
from stratus.services import collection_documents as service
from stratus.services import collections

router = APIRouter(tags=DOCUMENTS)


@router.get(
    "/v1/collections/{collection_id}/documents/{document_id}",
    operation_id="get_collection_document",
    summary="Get one of a collection's documents (payload fields at the top level)",
    responses=error_responses(400, 404),
)
def get_collection_document(
    collection_id: str,
    document_id: str = DocumentId,
    return_vectors: bool = Query(default=False),
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> dict[str, Any]:
    collection = collections.get_collection(container.metadata, scope.namespace, collection_id)
    document = service.get_document(container, scope.namespace, collection, document_id, return_vectors)
    return service.flat(collection, document)
