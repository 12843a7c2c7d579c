"""`POST /v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate/cancel`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.managed_content import TaskModel
from stratus.services.api_keys import Principal
from stratus.services.backfill import migration as service
from stratus.services.backfill.messages import BackfillConfig

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate/cancel",
    operation_id="cancel_vector_index_migration",
    response_model=TaskModel,
    summary="Cancel an index's running model migration (the index keeps its service and vectors)",
    responses=error_responses(404, 409, 503),
)
def cancel_vector_index_migration(
    namespace_identifier: str,
    index_name: str,
    principal: Principal = Depends(require("admin")),
    container: Container = Depends(get_container),
) -> TaskModel:
    config = BackfillConfig.from_settings(container.settings)
    return service.cancel_migration(container, config, principal.org_id, namespace_identifier, index_name)
