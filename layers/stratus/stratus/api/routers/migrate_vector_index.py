"""`POST /v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.backfill import MigrateIndexRequest, MigrateIndexResponse
from stratus.services.api_keys import Principal
from stratus.services.backfill import migration as service
from stratus.services.backfill.messages import BackfillConfig

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate",
    operation_id="migrate_vector_index",
    response_model=MigrateIndexResponse,
    summary="Move a vector index to another inference service without downtime (a task)",
    responses=error_responses(400, 404, 409, 503),
)
def migrate_vector_index(
    namespace_identifier: str,
    index_name: str,
    body: MigrateIndexRequest,
    principal: Principal = Depends(require("admin")),
    container: Container = Depends(get_container),
) -> MigrateIndexResponse:
    config = BackfillConfig.from_settings(container.settings)
    return service.start_migration(
        container, config, principal.org_id, namespace_identifier, index_name, body
    )
