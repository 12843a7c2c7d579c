"""`GET /v1/namespaces/{namespace_identifier}/documents/{document_id}`: one document."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import DOCUMENTS, DocumentId, error_responses
from stratus.container import Container, get_container
from stratus.models.documents import DocumentModel
from stratus.services import document_reads as service
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=DOCUMENTS)


@router.get(
    "/v1/namespaces/{namespace_identifier}/documents/{document_id}",
    operation_id="get_document",
    response_model=DocumentModel,
    summary="Get one document",
    responses=error_responses(400, 404),
)
def get_document(
    namespace_identifier: str,
    document_id: str = DocumentId,
    return_vectors: bool = False,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> DocumentModel:
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    return service.get_document(container, namespace, document_id, return_vectors)
