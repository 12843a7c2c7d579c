"""`PATCH /v1/retrievers/{retriever_id}`: change a retriever (by id or name)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import PatchRetrieverRequest, PatchRetrieverResponse
from stratus.services import retrievers as service

router = APIRouter(tags=RETRIEVERS)


@router.patch(
    "/v1/retrievers/{retriever_id}",
    operation_id="update_retriever",
    response_model=PatchRetrieverResponse,
    summary="Update a retriever; the answer is {'retriever': {...}} (the SDK's PatchRetrieverResponse)",
    responses=error_responses(400, 404, 409),
)
def update_retriever(
    retriever_id: str,
    body: PatchRetrieverRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> PatchRetrieverResponse:
    updated = service.update_retriever(container.metadata, scope.namespace, retriever_id, body)
    return PatchRetrieverResponse(retriever=service.describe_retriever(updated))
