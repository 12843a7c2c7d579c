"""`DELETE /v1/namespaces/{namespace_identifier}`: delete a namespace and everything in it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.delete(
    "/v1/namespaces/{namespace_identifier}",
    operation_id="delete_namespace",
    summary="Delete a namespace and everything in it",
    responses=error_responses(400, 404),
)
def delete_namespace(
    namespace_identifier: str,
    principal: Principal = Depends(require("admin")),
    container: Container = Depends(get_container),
) -> dict[str, object]:
    namespace = service.delete_namespace(container, principal.org_id, namespace_identifier)
    return {"namespace_id": namespace.namespace_id, "deleted": True}
