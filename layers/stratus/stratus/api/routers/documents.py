"""Document routes (direct upsert, get, delete, list)."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends, Path

from stratus import limits
from stratus.api.auth import require
from stratus.api.deps import get_stores
from stratus.api.routers import error_responses
from stratus.models.common import ListResponse
from stratus.models.documents import (
    DeleteDocumentResponse,
    DocumentModel,
    ListDocumentsRequest,
    UpsertDocumentsRequest,
    UpsertDocumentsResponse,
)
from stratus.services import documents as service
from stratus.services.api_keys import Principal
from stratus.services.namespaces import resolve_namespace

TAGS: list[str | Enum] = ["documents"]
upsert_documents = APIRouter(tags=TAGS)
get_document = APIRouter(tags=TAGS)
delete_document = APIRouter(tags=TAGS)
list_documents = APIRouter(tags=TAGS)

DocumentId = Path(pattern=limits.DOCUMENT_ID_PATTERN)


def _upsert(
    namespace_identifier: str, body: UpsertDocumentsRequest, principal: Principal = Depends(require("write"))
) -> UpsertDocumentsResponse:
    stores = get_stores()
    namespace = resolve_namespace(stores.metadata, principal.org_id, namespace_identifier)
    return service.upsert_documents(stores, namespace, body)


for _path in ("direct", "upsert"):
    upsert_documents.add_api_route(
        f"/v1/namespaces/{{namespace_identifier}}/documents/{_path}",
        _upsert,
        methods=["POST"],
        response_model=UpsertDocumentsResponse,
        summary="Upsert documents with their vectors (1-1000 per call)",
        operation_id=f"upsert_documents_{_path}",
        responses=error_responses(400, 404, 409),
    )


@get_document.get(
    "/v1/namespaces/{namespace_identifier}/documents/{document_id}",
    response_model=DocumentModel,
    summary="Get one document",
    responses=error_responses(404),
)
def get_one(
    namespace_identifier: str,
    document_id: str = DocumentId,
    return_vectors: bool = False,
    principal: Principal = Depends(require("read")),
) -> DocumentModel:
    stores = get_stores()
    namespace = resolve_namespace(stores.metadata, principal.org_id, namespace_identifier)
    return service.get_document(stores, namespace, document_id, return_vectors)


@delete_document.delete(
    "/v1/namespaces/{namespace_identifier}/documents/{document_id}",
    response_model=DeleteDocumentResponse,
    summary="Delete one document",
    responses=error_responses(404),
)
def delete_one(
    namespace_identifier: str, document_id: str = DocumentId, principal: Principal = Depends(require("write"))
) -> DeleteDocumentResponse:
    stores = get_stores()
    namespace = resolve_namespace(stores.metadata, principal.org_id, namespace_identifier)
    service.delete_document(stores, namespace, document_id)
    return DeleteDocumentResponse(document_id=document_id)


@list_documents.post(
    "/v1/namespaces/{namespace_identifier}/documents/list",
    response_model=ListResponse[DocumentModel],
    summary="List documents in id order, optionally filtered",
    responses=error_responses(400, 404),
)
def list_many(
    namespace_identifier: str, body: ListDocumentsRequest, principal: Principal = Depends(require("read"))
) -> ListResponse[DocumentModel]:
    stores = get_stores()
    namespace = resolve_namespace(stores.metadata, principal.org_id, namespace_identifier)
    return service.list_documents(stores, namespace, body)
