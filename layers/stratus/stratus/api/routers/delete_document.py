"""`DELETE /v1/namespaces/{namespace_identifier}/documents/{document_id}`: one document."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import DOCUMENTS, DocumentId, error_responses
from stratus.container import Container, get_container
from stratus.models.documents import DeleteDocumentResponse
from stratus.services import documents as service
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=DOCUMENTS)


@router.delete(
    "/v1/namespaces/{namespace_identifier}/documents/{document_id}",
    operation_id="delete_document",
    response_model=DeleteDocumentResponse,
    summary="Delete one document",
    responses=error_responses(400, 404),
)
def delete_document(
    namespace_identifier: str,
    document_id: str = DocumentId,
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> DeleteDocumentResponse:
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    service.delete_document(container, namespace, document_id)
    return DeleteDocumentResponse(document_id=document_id)
