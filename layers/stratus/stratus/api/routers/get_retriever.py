"""`GET /v1/retrievers/{retriever_id}`: one retriever (by id or name)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import RetrieverModel
from stratus.services import retrievers as service

router = APIRouter(tags=RETRIEVERS)


@router.get(
    "/v1/retrievers/{retriever_id}",
    operation_id="get_retriever",
    response_model=RetrieverModel,
    summary="Get a retriever by id or name",
    responses=error_responses(400, 404),
)
def get_retriever(
    retriever_id: str,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> RetrieverModel:
    return service.describe_retriever(
        service.get_retriever(container.metadata, scope.namespace, retriever_id)
    )
