"""`PATCH` and `PUT /v1/namespaces/{namespace_identifier}`: update a namespace."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.namespaces import NamespaceModel, ReplaceNamespaceRequest, UpdateNamespaceRequest
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.patch(
    "/v1/namespaces/{namespace_identifier}",
    operation_id="update_namespace",
    response_model=NamespaceModel,
    summary="Update name, description, auto_create_indexes or payload_indexes (merged by field_name)",
    responses=error_responses(400, 404, 409),
)
def update_namespace(
    namespace_identifier: str,
    body: UpdateNamespaceRequest,
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> NamespaceModel:
    namespace = service.update_namespace(container, principal.org_id, namespace_identifier, body)
    answer = service.describe_namespace(container, namespace)
    answer.warnings = body.unapplied()
    return answer


@router.put(
    "/v1/namespaces/{namespace_identifier}",
    operation_id="update_namespace_replace",
    response_model=NamespaceModel,
    summary="Rename, and/or replace the namespace's own payload indexes (those left out are dropped)",
    responses=error_responses(400, 404, 409),
)
def update_namespace_replace(
    namespace_identifier: str,
    body: ReplaceNamespaceRequest,
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> NamespaceModel:
    namespace = service.replace_namespace(container, principal.org_id, namespace_identifier, body)
    return service.describe_namespace(container, namespace)
