"""`DELETE /v1/retrievers/{retriever_id}`: delete a retriever (by id or name)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import DeleteRetrieverResponse
from stratus.services import retrievers as service

router = APIRouter(tags=RETRIEVERS)


@router.delete(
    "/v1/retrievers/{retriever_id}",
    operation_id="delete_retriever",
    response_model=DeleteRetrieverResponse,
    summary="Delete a retriever",
    responses=error_responses(400, 404, 409),
)
def delete_retriever(
    retriever_id: str,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> DeleteRetrieverResponse:
    deleted = service.delete_retriever(container.metadata, scope.namespace, retriever_id)
    return DeleteRetrieverResponse(
        message=f"retriever '{deleted.retriever_name}' deleted", retriever_id=deleted.retriever_id
    )
