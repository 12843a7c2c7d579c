"""`POST /v1/namespaces/{namespace_identifier}/promote`."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.promotion import PromoteNamespaceRequest, PromoteNamespaceResponse
from stratus.services import promotion as service
from stratus.services.api_keys import Principal
from stratus.services.backfill.messages import BackfillConfig

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces/{namespace_identifier}/promote",
    operation_id="promote_namespace",
    response_model=PromoteNamespaceResponse,
    # `backfill_task_id` only when an entry named a source: otherwise exactly the seed's answer.
    response_model_exclude_none=True,
    summary="Promote a standalone namespace to managed (one-way, atomic)",
    responses=error_responses(400, 404, 409),
)
def promote_namespace(
    namespace_identifier: str,
    body: PromoteNamespaceRequest = Body(default_factory=PromoteNamespaceRequest),
    principal: Principal = Depends(require("admin")),
    container: Container = Depends(get_container),
) -> PromoteNamespaceResponse:
    return service.promote_namespace(
        container,
        principal.org_id,
        principal.key_id,
        namespace_identifier,
        body,
        BackfillConfig.from_settings(container.settings).start_delay_seconds,
    )
