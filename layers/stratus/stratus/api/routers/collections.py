"""Collection routes and the feature-extractor catalogue; the namespace comes from `X-Namespace`."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends, Query

from stratus import limits
from stratus.api.deps import get_stores
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import error_responses
from stratus.extractor_catalogue import describe_catalogue
from stratus.models.common import ListResponse
from stratus.models.managed_content import CollectionModel, CreateCollectionRequest
from stratus.services import collections as service

TAGS: list[str | Enum] = ["collections"]
list_feature_extractors = APIRouter(tags=TAGS)
create_collection = APIRouter(tags=TAGS)
list_collections = APIRouter(tags=TAGS)
get_collection = APIRouter(tags=TAGS)
delete_collection = APIRouter(tags=TAGS)


@list_feature_extractors.get(
    "/v1/collections/features/extractors",
    summary="The feature-extractor catalogue: parameters, the vector index each produces, required indexes",
    responses=error_responses(400, 404),
)
def list_extractors(scope: NamespaceScope = Depends(namespace_scope("read"))) -> dict[str, Any]:
    # The catalogue is the same for every namespace; the header is still required (api.md: the
    # managed-content routes take their namespace from it) so clients send one header set.
    return {"results": describe_catalogue()}


@create_collection.post(
    "/v1/collections",
    response_model=CollectionModel,
    summary="Create a collection: bucket source → feature extractor → a vector index of the namespace",
    responses=error_responses(400, 404),
)
def create_one(
    body: CreateCollectionRequest, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> CollectionModel:
    collection = service.create_collection(get_stores().metadata, scope.namespace, body)
    return service.describe_collection(collection)


@list_collections.get(
    "/v1/collections",
    response_model=ListResponse[CollectionModel],
    summary="List the collections of the X-Namespace namespace",
    responses=error_responses(400, 404),
)
def list_get(
    limit: int = Query(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE),
    cursor: str | None = Query(default=None, max_length=2048),
    include_total: bool = False,
    scope: NamespaceScope = Depends(namespace_scope("read")),
) -> ListResponse[CollectionModel]:
    return service.list_collections(get_stores().metadata, scope.namespace, limit, cursor, include_total)


@get_collection.get(
    "/v1/collections/{collection_id}",
    response_model=CollectionModel,
    summary="Get a collection",
    responses=error_responses(400, 404),
)
def get_one(collection_id: str, scope: NamespaceScope = Depends(namespace_scope("read"))) -> CollectionModel:
    return service.describe_collection(
        service.get_collection(get_stores().metadata, scope.namespace, collection_id)
    )


@delete_collection.delete(
    "/v1/collections/{collection_id}",
    summary="Delete a collection (documents already written stay in the namespace)",
    responses=error_responses(400, 404),
)
def delete_one(
    collection_id: str, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> dict[str, object]:
    collection = service.delete_collection(get_stores().metadata, scope.namespace, collection_id)
    return {"collection_id": collection.collection_id, "deleted": True}
