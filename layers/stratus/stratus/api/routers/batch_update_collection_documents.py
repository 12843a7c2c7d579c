"""`POST /v1/collections/{collection_id}/documents/batch`: set payload fields of many documents."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import DOCUMENTS, error_responses
from stratus.container import Container, get_container
from stratus.models.collection_documents import BatchUpdateDocumentsRequest, BatchUpdateDocumentsResponse
from stratus.services import collection_documents as service
from stratus.services import collections

router = APIRouter(tags=DOCUMENTS)


@router.post(
    "/v1/collections/{collection_id}/documents/batch",
    operation_id="batch_update_collection_documents",
    response_model=BatchUpdateDocumentsResponse,
    summary="Update many of a collection's documents: updates [{document_id, update_data}], or "
    "filters + update_data",
    responses=error_responses(400, 404),
)
def batch_update_collection_documents(
    collection_id: str,
    body: BatchUpdateDocumentsRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> BatchUpdateDocumentsResponse:
    collection = collections.get_collection(container.metadata, scope.namespace, collection_id)
    return service.batch_update(container, scope.namespace, collection, body)
