"""Payload-index routes: add one index, and the filter-usage analytics behind
`auto_create_indexes`."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends

from stratus import clock
from stratus.api.auth import require
from stratus.api.deps import get_stores
from stratus.api.routers import error_responses
from stratus.models.payload_indexes import (
    CreatePayloadIndexRequest,
    FilterUsageResponse,
    PayloadIndexResponse,
)
from stratus.services import filter_usage
from stratus.services import payload_indexes as service
from stratus.services.api_keys import Principal
from stratus.services.namespaces import resolve_namespace
from stratus.settings import get_settings

TAGS: list[str | Enum] = ["namespaces"]
create_payload_index = APIRouter(tags=TAGS)
get_filter_usage = APIRouter(tags=TAGS)


@create_payload_index.post(
    "/v1/namespaces/{namespace_identifier}/payload-indexes",
    response_model=PayloadIndexResponse,
    summary="Add one payload index (`type` or `field_type`); built before the answer, state ready or failed",
    responses=error_responses(400, 404, 409),
)
def create_one(
    namespace_identifier: str,
    body: CreatePayloadIndexRequest,
    principal: Principal = Depends(require("write")),
) -> PayloadIndexResponse:
    namespace = service.create_payload_index(
        get_stores(), principal.org_id, namespace_identifier, body.to_config()
    )
    index = service.index_of(namespace, body.field_name)
    assert index is not None  # just saved; only a concurrent replace could change it, not remove it
    return PayloadIndexResponse(
        namespace_id=namespace.namespace_id,
        payload_index=index,
        payload_indexes=service.listed_indexes(namespace),
    )


@get_filter_usage.get(
    "/v1/namespaces/{namespace_identifier}/analytics/filter-usage",
    response_model=FilterUsageResponse,
    summary="Filtered searches per field in the auto_create_indexes window, and whether each is indexed",
    responses=error_responses(404),
)
def get_usage(
    namespace_identifier: str, principal: Principal = Depends(require("read"))
) -> FilterUsageResponse:
    stores = get_stores()
    settings = get_settings()
    namespace = resolve_namespace(stores.metadata, principal.org_id, namespace_identifier)
    return filter_usage.filter_usage_report(
        stores.metadata,
        namespace,
        clock.utc_now(),
        settings.auto_index_threshold,
        settings.auto_index_window_hours,
    )
