"""`POST /v1/namespaces/standalone`: create a standalone namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.namespaces import CreateStandaloneNamespaceRequest, NamespaceModel
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces/standalone",
    operation_id="create_standalone_namespace",
    response_model=NamespaceModel,
    summary="Create a standalone namespace (you bring the vectors)",
    responses=error_responses(400, 409),
)
def create_standalone_namespace(
    body: CreateStandaloneNamespaceRequest,
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> NamespaceModel:
    namespace = service.create_standalone_namespace(container, principal.org_id, body)
    answer = service.describe_namespace(container, namespace)
    answer.warnings = body.unapplied()
    return answer
