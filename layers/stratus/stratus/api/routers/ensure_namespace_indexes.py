"""`POST /v1/namespaces/{namespace_identifier}/ensure-indexes`: build what is missing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stratus.api.auth import require
from stratus.api.routers import NAMESPACES, error_responses
from stratus.container import Container, get_container
from stratus.models.payload_indexes import EnsureIndexesResponse, FailedIndex
from stratus.services import payload_indexes as service
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

router = APIRouter(tags=NAMESPACES)


@router.post(
    "/v1/namespaces/{namespace_identifier}/ensure-indexes",
    operation_id="ensure_namespace_indexes",
    response_model=EnsureIndexesResponse,
    summary="Create every vector space and payload index the namespace declares but the store lacks "
    "(idempotent; force_rebuild rebuilds the ready ones too)",
    responses=error_responses(400, 404, 409),
)
def ensure_namespace_indexes(
    namespace_identifier: str,
    force_rebuild: bool = Query(default=False, description="Rebuild indexes that are already ready"),
    principal: Principal = Depends(require("write")),
    container: Container = Depends(get_container),
) -> EnsureIndexesResponse:
    namespace = resolve_namespace(container.metadata, principal.org_id, namespace_identifier)
    namespace, report = service.ensure_indexes(container, namespace, force_rebuild)
    return EnsureIndexesResponse(
        namespace_id=namespace.namespace_id,
        vector_indexes=report.vector_indexes,
        ensured=report.ensured,
        created=report.created,
        rebuilt=report.rebuilt,
        skipped=report.skipped,
        failed=[FailedIndex(field_name=field, error=error) for field, error in report.failed.items()],
        payload_indexes=service.listed_indexes(namespace),
    )
