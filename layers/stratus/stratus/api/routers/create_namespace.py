"""`POST /v1/namespaces`: create a managed namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.managed import CreateNamespaceRequest
from stratus.models.namespaces import NamespaceModel
from stratus.services import managed_namespaces
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces",
    operation_id="create_namespace",
    response_model=NamespaceModel,
    summary="Create a managed namespace (feature extractors define its vector indexes)",
    responses=error_responses(400, 409),
)
def create_namespace(
    body: CreateNamespaceRequest,
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> NamespaceModel:
    namespace = managed_namespaces.create_managed_namespace(container, principal.org_id, body)
    answer = service.describe_namespace(container, namespace)
    answer.warnings = body.unapplied()
    return answer
