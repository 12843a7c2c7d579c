"""`DELETE /v1/namespaces/{namespace_identifier}/payload-indexes/{field_name}`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.payload_indexes import DeletePayloadIndexResponse
from stratus.services import payload_indexes as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.delete(
    "/v1/namespaces/{namespace_identifier}/payload-indexes/{field_name}",
    operation_id="delete_payload_index",
    response_model=DeletePayloadIndexResponse,
    summary="Drop one of the namespace's own payload indexes from the vector store and the namespace",
    responses=error_responses(400, 404, 409),
)
def delete_payload_index(
    namespace_identifier: str,
    field_name: str = Path(min_length=1, max_length=256, description="The indexed field's dot path"),
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> DeletePayloadIndexResponse:
    namespace = service.delete_payload_index(container, principal.org_id, namespace_identifier, field_name)
    return DeletePayloadIndexResponse(
        namespace_id=namespace.namespace_id,
        field_name=field_name,
        deleted=True,
        payload_indexes=service.listed_indexes(namespace),
    )
