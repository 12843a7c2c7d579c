"""`POST /v1/namespaces/{namespace_identifier}/documents/list`: documents in id order."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import DOCUMENTS, error_responses
from stratus.container import Container, get_container
from stratus.models.common import ListResponse
from stratus.models.documents import DocumentModel, ListDocumentsRequest
from stratus.services import document_reads as service
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=DOCUMENTS)


@router.post(
    "/v1/namespaces/{namespace_identifier}/documents/list",
    operation_id="list_documents",
    response_model=ListResponse[DocumentModel],
    summary="List documents in id order, optionally filtered",
    responses=error_responses(400, 404),
)
def list_documents(
    namespace_identifier: str,
    body: ListDocumentsRequest,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> ListResponse[DocumentModel]:
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    return service.list_documents(container, namespace, body)
