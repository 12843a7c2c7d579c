"""Namespace routes."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.auth import require
from stratus.api.deps import get_stores
from stratus.api.routers import error_responses
from stratus.models.common import ListRequest, ListResponse
from stratus.models.managed import CreateNamespaceRequest
from stratus.models.namespaces import CreateStandaloneNamespaceRequest, NamespaceModel, UpdateNamespaceRequest
from stratus.services import managed_namespaces
from stratus.services import namespaces as service
from stratus.services.api_keys import Principal

TAGS: list[str | Enum] = ["namespaces"]
create_namespace = APIRouter(tags=TAGS)
create_standalone_namespace = APIRouter(tags=TAGS)
list_namespaces = APIRouter(tags=TAGS)
get_namespace = APIRouter(tags=TAGS)
update_namespace = APIRouter(tags=TAGS)
delete_namespace = APIRouter(tags=TAGS)


@create_namespace.post(
    "/v1/namespaces",
    response_model=NamespaceModel,
    summary="Create a managed namespace (feature extractors define its vector indexes)",
    responses=error_responses(400, 409),
)
def create_managed(
    body: CreateNamespaceRequest, principal: Principal = Depends(require("write"))
) -> NamespaceModel:
    stores = get_stores()
    namespace = managed_namespaces.create_managed_namespace(stores, principal.org_id, body)
    return service.describe_namespace(stores, namespace)


@create_standalone_namespace.post(
    "/v1/namespaces/standalone",
    response_model=NamespaceModel,
    summary="Create a standalone namespace (you bring the vectors)",
    responses=error_responses(400, 409),
)
def create_standalone(
    body: CreateStandaloneNamespaceRequest, principal: Principal = Depends(require("write"))
) -> NamespaceModel:
    stores = get_stores()
    namespace = service.create_standalone_namespace(stores, principal.org_id, body)
    return service.describe_namespace(stores, namespace)


@list_namespaces.get(
    "/v1/namespaces",
    response_model=ListResponse[NamespaceModel],
    summary="List namespaces",
    responses=error_responses(400),
)
def list_get(
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    principal: Principal = Depends(require("read")),
) -> ListResponse[NamespaceModel]:
    request = ListRequest(limit=limit, cursor=cursor, include_total=include_total)
    return service.list_namespaces(get_stores(), principal.org_id, request)


@list_namespaces.post(
    "/v1/namespaces/list",
    response_model=ListResponse[NamespaceModel],
    summary="List namespaces with filters, search and sort",
    responses=error_responses(400),
)
def list_post(
    body: ListRequest, principal: Principal = Depends(require("read"))
) -> ListResponse[NamespaceModel]:
    return service.list_namespaces(get_stores(), principal.org_id, body)


@get_namespace.get(
    "/v1/namespaces/{namespace_identifier}",
    response_model=NamespaceModel,
    summary="Get a namespace by id or name",
    responses=error_responses(404),
)
def get_one(namespace_identifier: str, principal: Principal = Depends(require("read"))) -> NamespaceModel:
    stores = get_stores()
    namespace = service.resolve_namespace(stores.metadata, principal.org_id, namespace_identifier)
    return service.describe_namespace(stores, namespace)


@update_namespace.patch(
    "/v1/namespaces/{namespace_identifier}",
    response_model=NamespaceModel,
    summary="Update name, description, auto_create_indexes or payload_indexes (merged by field_name)",
    responses=error_responses(400, 404, 409),
)
def patch_one(
    namespace_identifier: str, body: UpdateNamespaceRequest, principal: Principal = Depends(require("write"))
) -> NamespaceModel:
    stores = get_stores()
    namespace = service.update_namespace(stores, principal.org_id, namespace_identifier, body)
    return service.describe_namespace(stores, namespace)


@delete_namespace.delete(
    "/v1/namespaces/{namespace_identifier}",
    summary="Delete a namespace and everything in it",
    responses=error_responses(404),
)
def delete_one(
    namespace_identifier: str, principal: Principal = Depends(require("admin"))
) -> dict[str, object]:
    namespace = service.delete_namespace(get_stores(), principal.org_id, namespace_identifier)
    return {"namespace_id": namespace.namespace_id, "deleted": True}
