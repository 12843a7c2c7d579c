"""Reading documents: one by id (its payload and each index's vector) and pages in id order
merged from every index's own listing."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from stratus.errors import BadRequestError, NotFoundError
from stratus.filters import parse_filter
from stratus.models.common import ListResponse, Pagination
from stratus.models.documents import DocumentModel, ListDocumentsRequest
from stratus.models.namespaces import Namespace
from stratus.ports.stores import Stores
from stratus.ports.vectors import RecordPage, Space
from stratus.services.namespaces import count_documents
from stratus.services.pagination import decode_cursor, encode_cursor
from stratus.services.spaces import spaces_of


def get_document(
    stores: Stores, namespace: Namespace, document_id: str, return_vectors: bool
) -> DocumentModel:
    found = fetch_document(stores, namespace, document_id, return_vectors)
    if found is None:
        raise NotFoundError.of("document", document_id)
    return found


def fetch_document(
    stores: Stores, namespace: Namespace, document_id: str, return_vectors: bool
) -> DocumentModel | None:
    payload: dict[str, object] | None = None
    vectors: dict[str, list[float]] = {}
    for space in spaces_of(namespace):
        record = stores.vectors.fetch(space, [document_id], return_vectors).get(document_id)
        if record is None:
            continue
        payload = record.payload
        if return_vectors and record.vector is not None:
            vectors[space.index_name] = record.vector
    if payload is None:
        return None
    return DocumentModel(
        document_id=document_id, payload=payload, vectors=vectors if return_vectors else None
    )


def list_documents(
    stores: Stores, namespace: Namespace, request: ListDocumentsRequest
) -> ListResponse[DocumentModel]:
    """Documents in id order. Each index lists its own ids in order; merging the streams and
    keeping the first `limit` distinct ids gives exactly the next page, whatever the layout."""
    node = parse_filter(request.filters, "filters")
    after = _after_id(request.cursor)
    spaces = spaces_of(namespace)
    pages = {
        space.index_name: stores.vectors.list(space, node, request.limit, after, request.return_vectors)
        for space in spaces
    }
    merged = heapq.merge(*([(r.id, name, r) for r in page.records] for name, page in pages.items()))
    documents: dict[str, DocumentModel] = {}
    for doc_id, index_name, record in merged:
        document = documents.get(doc_id)
        if document is None:
            if len(documents) == request.limit:
                break
            document = documents[doc_id] = DocumentModel(
                document_id=doc_id, payload=record.payload, vectors={} if request.return_vectors else None
            )
        if request.return_vectors and document.vectors is not None and record.vector is not None:
            document.vectors[index_name] = record.vector
    results = list(documents.values())
    # Whether more follows is the stores' answer, never the page's length: a page may come back
    # short (a record listed by id and gone, or not yet visible, when fetched) and must not end
    # the listing there.
    resume_after = _resume_after(pages.values(), results[-1].document_id if results else None)
    if request.return_vectors:
        _complete_vectors(stores, spaces, results)
    total = None
    if request.include_total:
        total = count_documents(stores.vectors, namespace) if node is None else None
    return ListResponse[DocumentModel](
        results=results,
        pagination=Pagination(
            page_size=len(results),
            next_cursor=encode_cursor(resume_after) if resume_after is not None else None,
            total=total,
        ),
    )


def _resume_after(pages: Iterable[RecordPage], last_id: str | None) -> str | None:
    """The id the next page starts after, or None when every index is done: the page's last
    document when some index holds more after it, else (an empty page, every record listed gone
    when fetched) the smallest of the indexes' own cursors."""
    pages = list(pages)
    if last_id is not None:
        more = any(
            page.next_cursor is not None or any(record.id > last_id for record in page.records)
            for page in pages
        )
        return last_id if more else None
    cursors = [page.next_cursor for page in pages if page.next_cursor is not None]
    return min(cursors) if cursors else None


def _complete_vectors(stores: Stores, spaces: list[Space], results: list[DocumentModel]) -> None:
    """A page from one index may stop before ids another index returned; fetch what is missing."""
    for space in spaces:
        wanted = [
            doc.document_id
            for doc in results
            if doc.vectors is not None and space.index_name not in doc.vectors
        ]
        if not wanted:
            continue
        fetched = stores.vectors.fetch(space, wanted, include_vectors=True)
        for doc in results:
            record = fetched.get(doc.document_id)
            if record is not None and record.vector is not None and doc.vectors is not None:
                doc.vectors[space.index_name] = record.vector


def _after_id(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    value = decode_cursor(cursor)
    if not isinstance(value, str):
        raise BadRequestError("cursor is not a cursor this API returned", {"field": "cursor"})
    return value
