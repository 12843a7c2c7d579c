"""`POST /v1/namespaces/{namespace_identifier}/payload-indexes`: add one payload index."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.payload_indexes import CreatePayloadIndexRequest, PayloadIndexResponse
from stratus.services import payload_indexes as service
from stratus.services.api_keys import Principal

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces/{namespace_identifier}/payload-indexes",
    operation_id="create_payload_index",
    response_model=PayloadIndexResponse,
    summary="Add one payload index (`type` or `field_type`); built before the answer, state ready or failed",
    responses=error_responses(400, 404, 409),
)
def create_payload_index(
    namespace_identifier: str,
    body: CreatePayloadIndexRequest,
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> PayloadIndexResponse:
    namespace = service.create_payload_index(
        container, principal.org_id, namespace_identifier, body.to_config()
    )
    index = service.index_of(namespace, body.field_name)
    assert index is not None  # just saved; only a concurrent replace could change it, not remove it
    return PayloadIndexResponse(
        namespace_id=namespace.namespace_id,
        payload_index=index,
        payload_indexes=service.listed_indexes(namespace),
    )
