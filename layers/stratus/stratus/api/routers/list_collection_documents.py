"""`POST /v1/collections/{collection_id}/documents/list` and `GET .../documents`: the documents a
collection made (the namespace's documents whose `collection_id` is the collection's)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query

from stratus.api.list_params import paging_params
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import DOCUMENTS, error_responses
from stratus.container import Container, get_container
from stratus.errors import BadRequestError
from stratus.models.collection_documents import CollectionDocumentList, ListCollectionDocumentsRequest
from stratus.services import collection_documents as service
from stratus.services import collections
from stratus.services.listing import PagingParams

router = APIRouter(tags=DOCUMENTS)


def _query_filters(filters: str | None) -> dict[str, object] | None:
    if filters is None:
        return None
    try:
        parsed = json.loads(filters)
    except ValueError:
        raise BadRequestError(
            "filters: the query parameter must be a JSON object", {"field": "filters"}
        ) from None
    if not isinstance(parsed, dict):
        raise BadRequestError("filters: the query parameter must be a JSON object", {"field": "filters"})
    return parsed


def _merged(
    body: ListCollectionDocumentsRequest | None,
    paging: PagingParams,
    return_vectors: bool | None,
    filters: str | None,
) -> ListCollectionDocumentsRequest:
    """The body wins over the query string (the SDK sends paging and some options there)."""
    request = body or ListCollectionDocumentsRequest()
    given = request.model_fields_set
    changes: dict[str, object] = {}
    if "limit" not in given and "page_size" not in given and paging.limit is not None:
        changes["limit"] = paging.limit
    if "cursor" not in given and paging.cursor is not None:
        changes["cursor"] = paging.cursor
    if "include_total" not in given and paging.include_total is not None:
        changes["include_total"] = paging.include_total
    if "return_vectors" not in given and return_vectors is not None:
        changes["return_vectors"] = return_vectors
    if "filters" not in given and filters is not None:
        changes["filters"] = _query_filters(filters)
    return request.model_copy(update=changes)


ReturnVectors = Query(default=None, description="Include each document's vectors")
Filters = Query(default=None, max_length=16384, description="The filter DSL as a JSON string")


@router.post(
    "/v1/collections/{collection_id}/documents/list",
    operation_id="list_collection_documents",
    response_model=CollectionDocumentList,
    summary="List a collection's documents (filter DSL, cursors; the body is optional)",
    responses=error_responses(400, 404),
)
def list_collection_documents(
    collection_id: str,
    body: ListCollectionDocumentsRequest | None = None,
    paging: PagingParams = Depends(paging_params),
    return_vectors: bool | None = ReturnVectors,
    filters: str | None = Filters,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CollectionDocumentList:
    collection = collections.get_collection(container.metadata, scope.namespace, collection_id)
    request = _merged(body, paging, return_vectors, filters)
    return service.list_documents(container, scope.namespace, collection, request)


@router.get(
    "/v1/collections/{collection_id}/documents",
    operation_id="list_collection_documents_get",
    response_model=CollectionDocumentList,
    summary="List a collection's documents",
    responses=error_responses(400, 404),
)
def list_collection_documents_get(
    collection_id: str,
    paging: PagingParams = Depends(paging_params),
    return_vectors: bool | None = ReturnVectors,
    filters: str | None = Filters,
    scope: NamespaceScope = Depends(namespace_scope("read")),
    container: Container = Depends(get_container),
) -> CollectionDocumentList:
    collection = collections.get_collection(container.metadata, scope.namespace, collection_id)
    request = _merged(None, paging, return_vectors, filters)
    return service.list_documents(container, scope.namespace, collection, request)
