"""A collection's documents: the namespace's documents whose payload `collection_id` is the
collection's (ingestion writes it on every document it makes). Listed with the filter DSL and
cursors, read, patched (payload only: the vectors stay), deleted, and patched in batches."""

from __future__ import annotations

import json
from typing import Any

from stratus import limits
from stratus.clock import iso_now
from stratus.errors import BadRequestError, NotFoundError, PayloadTooLargeError, StratusError
from stratus.models.collection_documents import (
    BatchUpdateDocumentsRequest,
    BatchUpdateDocumentsResponse,
    CollectionDocumentList,
    DocumentUpdateResult,
    ListCollectionDocumentsRequest,
)
from stratus.models.documents import DocumentModel, ListDocumentsRequest
from stratus.models.managed_content import Collection
from stratus.models.namespaces import PROTECTED_FIELDS, Namespace
from stratus.ports.stores import Stores
from stratus.ports.vectors import VectorRecord
from stratus.services import document_reads, documents
from stratus.services.spaces import all_spaces

# Payload keys a PATCH may not change: what ties a document to its object and collection.
FIXED_FIELDS = frozenset({*PROTECTED_FIELDS, "feature_extractor_id", "source_key"})
# Documents a filter-based batch update changes at most per request.
MAX_BATCH_DOCUMENTS = 10_000


def in_collection(collection: Collection, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The DSL of "in this collection" (ANDed with the caller's filters)."""
    mine = {
        "field": "collection_id",
        "operator": "eq",
        "value": collection.collection_id,
        "case_sensitive": True,
    }
    return {"AND": [mine, filters]} if filters else {"AND": [mine]}


def flat(collection: Collection, document: DocumentModel, select: list[str] | None = None) -> dict[str, Any]:
    """Mixpeek's document shape: ids, then the payload's fields at the top level."""
    answer: dict[str, Any] = {"document_id": document.document_id, "collection_id": collection.collection_id}
    for key, value in document.payload.items():
        if key not in answer and (select is None or key in select):
            answer[key] = value
    if document.vectors is not None:
        answer["vectors"] = document.vectors
    return answer


def list_documents(
    stores: Stores, namespace: Namespace, collection: Collection, request: ListCollectionDocumentsRequest
) -> CollectionDocumentList:
    warnings = request.unapplied()
    page = document_reads.list_documents(
        stores,
        namespace,
        ListDocumentsRequest(
            filters=in_collection(collection, request.filters),
            limit=request.limit or request.page_size or limits.DEFAULT_PAGE_SIZE,
            cursor=request.cursor,
            return_vectors=request.return_vectors,
        ),
    )
    names = _vector_names(request.return_vector_names)
    results = []
    for document in page.results:
        if names is not None and document.vectors is not None:
            document.vectors = {name: vector for name, vector in document.vectors.items() if name in names}
        results.append(flat(collection, document, request.select))
    total = _count(stores, namespace, collection, request.filters) if request.include_total else None
    pagination = page.pagination.model_dump()
    pagination["total"] = total
    return CollectionDocumentList(
        results=results, pagination=pagination, total_documents=total, warnings=warnings
    )


def _vector_names(value: str | list[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _count(
    stores: Stores, namespace: Namespace, collection: Collection, filters: dict[str, Any] | None
) -> int:
    """Every matching id, a page at a time (a filtered count has no shortcut in the stores)."""
    total, cursor = 0, None
    while True:
        page = document_reads.list_documents(
            stores,
            namespace,
            ListDocumentsRequest(
                filters=in_collection(collection, filters), limit=limits.MAX_PAGE_SIZE, cursor=cursor
            ),
        )
        total += len(page.results)
        cursor = page.pagination.next_cursor
        if cursor is None:
            return total


def get_document(
    stores: Stores,
    namespace: Namespace,
    collection: Collection,
    document_id: str,
    return_vectors: bool = False,
) -> DocumentModel:
    """The document, if it is one of the collection's; another collection's is not found."""
    document = document_reads.get_document(stores, namespace, document_id, return_vectors)
    if document.payload.get("collection_id") != collection.collection_id:
        raise NotFoundError(
            f"document '{document_id}' not found in collection '{collection.collection_id}'",
            {"resource": "document", "id": document_id, "collection_id": collection.collection_id},
        )
    return document


def update_document(
    stores: Stores,
    namespace: Namespace,
    collection: Collection,
    document_id: str,
    changes: dict[str, Any],
    location: str = "body",
) -> DocumentModel:
    """Set the given payload fields (top-level keys; `metadata` replaced whole if given) in
    every vector index holding the document; its vectors stay as they are."""
    _check_changes(changes, location)
    current = get_document(stores, namespace, collection, document_id)
    payload = {**current.payload, **changes, "updated_at": iso_now()}
    size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    if size > limits.MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"{location}: the document's payload would be {size} bytes; at most {limits.MAX_PAYLOAD_BYTES}",
            {"field": location, "size": size, "limit": limits.MAX_PAYLOAD_BYTES},
        )
    # A migrating index's shadow copy too (after its index), each record keeping its own vector.
    for space in all_spaces(namespace):
        record = stores.vectors.fetch(space, [document_id], include_vectors=True).get(document_id)
        if record is not None:
            stores.vectors.upsert(
                space, [VectorRecord(id=document_id, payload=payload, vector=record.vector)]
            )
    return DocumentModel(document_id=document_id, payload=payload)


def _check_changes(changes: Any, location: str) -> None:
    if not isinstance(changes, dict) or not changes:
        raise BadRequestError(
            f'{location}: give the payload fields to set, e.g. {{"metadata": {{...}}}}', {"field": location}
        )
    fixed = sorted(FIXED_FIELDS & set(changes))
    if fixed:
        raise BadRequestError(
            f"{location}: {', '.join(fixed)} tie the document to its object and collection; "
            "they cannot be changed",
            {"field": location, "fixed_fields": fixed},
        )


def delete_document(stores: Stores, namespace: Namespace, collection: Collection, document_id: str) -> None:
    get_document(stores, namespace, collection, document_id)
    documents.delete_document(stores, namespace, document_id)


def batch_update(
    stores: Stores, namespace: Namespace, collection: Collection, request: BatchUpdateDocumentsRequest
) -> BatchUpdateDocumentsResponse:
    if request.updates and (request.filters is not None or request.update_data is not None):
        raise BadRequestError(
            "give either updates, or filters with update_data, not both", {"field": "updates"}
        )
    if request.updates:
        plan = [(update.document_id, update.update_data) for update in request.updates]
    elif request.update_data is not None:
        _check_changes(request.update_data, "update_data")
        plan = [
            (document_id, request.update_data)
            for document_id in _matching_ids(stores, namespace, collection, request.filters)
        ]
    else:
        raise BadRequestError(
            "give updates: [{document_id, update_data}], or filters with update_data", {"field": "updates"}
        )
    results: list[DocumentUpdateResult] = []
    for position, (document_id, changes) in enumerate(plan):
        location = f"updates[{position}].update_data" if request.updates else "update_data"
        try:
            update_document(stores, namespace, collection, document_id, changes, location)
        except StratusError as error:
            if error.status >= 500:
                raise  # an outage: the caller retries the batch (each update is idempotent)
            results.append(DocumentUpdateResult(document_id=document_id, success=False, error=error.message))
        else:
            results.append(DocumentUpdateResult(document_id=document_id, success=True))
    failed = sum(1 for result in results if not result.success)
    return BatchUpdateDocumentsResponse(
        updated_count=len(results) - failed,
        failed_count=failed,
        results=results,
        message=f"updated {len(results) - failed} of {len(results)} documents",
    )


def _matching_ids(
    stores: Stores, namespace: Namespace, collection: Collection, filters: dict[str, Any] | None
) -> list[str]:
    found: list[str] = []
    cursor: str | None = None
    while True:
        page = document_reads.list_documents(
            stores,
            namespace,
            ListDocumentsRequest(
                filters=in_collection(collection, filters), limit=limits.MAX_PAGE_SIZE, cursor=cursor
            ),
        )
        found.extend(document.document_id for document in page.results)
        cursor = page.pagination.next_cursor
        if cursor is None:
            return found
        if len(found) >= MAX_BATCH_DOCUMENTS:
            raise BadRequestError(
                f"filters match more than {MAX_BATCH_DOCUMENTS} documents; narrow them and send "
                "several batches",
                {"field": "filters", "limit": MAX_BATCH_DOCUMENTS},
            )
