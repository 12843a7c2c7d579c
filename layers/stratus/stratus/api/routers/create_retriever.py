"""`POST /v1/retrievers`: save a retriever (a named pipeline of stages) in the X-Namespace namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import RETRIEVERS, error_responses
from stratus.container import Container, get_container
from stratus.models.retrievers import CreateRetrieverRequest, RetrieverModel
from stratus.services import retrievers as service

router = APIRouter(tags=RETRIEVERS)


@router.post(
    "/v1/retrievers",
    operation_id="create_retriever",
    response_model=RetrieverModel,
    summary="Save a retriever: stages (nested or flat form), input_schema, collection_identifiers",
    responses=error_responses(400, 404, 409),
)
def create_retriever(
    body: CreateRetrieverRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> RetrieverModel:
    return service.describe_retriever(service.create_retriever(container.metadata, scope.namespace, body))
