"""`POST /v1/namespaces/{namespace_identifier}/documents/direct` (and `.../upsert`): upsert
documents with their vectors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from stratus.api.auth import require
from stratus.api.json_body import UPSERT_VECTORS_STATE
from stratus.api.routers import DOCUMENTS, error_responses
from stratus.api.upsert_route import PERMISSION, UpsertRoute
from stratus.container import Container, get_container
from stratus.models.documents import UpsertDocumentsRequest, UpsertDocumentsResponse
from stratus.services import documents as service
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

# Upsert bodies run to megabytes of floats: their vectors are decoded straight into numpy, off the
# event loop, and FastAPI validates the rest (stratus.api.upsert_body); the usual upsert is served
# in one worker thread, with the same rules and answers (stratus.api.upsert_route).
router = APIRouter(tags=DOCUMENTS, route_class=UpsertRoute)


def upsert_documents(
    namespace_identifier: str,
    body: UpsertDocumentsRequest,
    request: Request,
    principal: Principal = Depends(require(PERMISSION)),
    container: Container = Depends(get_container),
) -> UpsertDocumentsResponse:
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    decoded = getattr(request.state, UPSERT_VECTORS_STATE, None)
    return service.upsert_documents(container, namespace, body, decoded)


for _path in ("direct", "upsert"):
    router.add_api_route(
        f"/v1/namespaces/{{namespace_identifier}}/documents/{_path}",
        upsert_documents,
        methods=["POST"],
        response_model=UpsertDocumentsResponse,
        summary="Upsert documents with their vectors (1-1000 per call)",
        operation_id=f"upsert_documents_{_path}",
        responses=error_responses(400, 404, 409),
    )
