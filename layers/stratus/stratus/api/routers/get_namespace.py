"""`GET /v1/namespaces/{namespace_identifier}`: a namespace by id or name."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.namespaces import NamespaceModel
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=NAMESPACES)


@router.get(
    "/v1/namespaces/{namespace_identifier}",
    operation_id="get_namespace",
    response_model=NamespaceModel,
    summary="Get a namespace by id or name",
    responses=error_responses(400, 404),
)
def get_namespace(
    namespace_identifier: str,
    principal: Principal = Depends(require("read")),
    container: Container = Depends(get_container),
) -> NamespaceModel:
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    return service.describe_namespace(container, namespace)
