"""The collection-scoped documents of the Mixpeek SDK (`/v1/collections/{id}/documents/...`):
requests and answers. A document is answered flat, Mixpeek's way: `document_id`,
`collection_id` and the payload's fields at the top level (`vectors` when asked)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.sdk_fields import NotApplied, ReportsUnapplied

Json = dict[str, Any]


class ListCollectionDocumentsRequest(ReportsUnapplied, StrictModel):
    """The SDK's ListDocumentsRequest (and the high-level client's `page_size`)."""

    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "sort": NotApplied("documents are listed in document_id order"),
        "search": NotApplied("use filters (the `text` operator is full-text search)"),
        "partition": NotApplied("a list is one stream of pages; follow next_cursor"),
        "group_by": NotApplied("documents are listed one by one"),
        "expand": NotApplied("documents are answered as stored"),
        "offset": NotApplied("pages follow next_cursor", (0,)),
        "return_presigned_urls": NotApplied("Stratus hands out no download URLs"),
    }

    filters: Json | None = None
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int | None = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    page_size: int | None = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    include_total: bool | None = None
    return_vectors: bool = False
    # Only these vector indexes' vectors (with return_vectors); a name or a list of names.
    return_vector_names: str | list[str] | None = None
    # Only these payload fields (document_id and collection_id always).
    select: list[str] | None = Field(default=None, max_length=256)
    sort: Json | None = None
    search: str | None = Field(default=None, max_length=256)
    partition: Json | None = None
    group_by: str | None = None
    expand: list[str] | None = None
    offset: int | None = Field(default=None, ge=0)
    return_presigned_urls: bool = False


class CollectionDocumentList(Model):
    """The SDK's ListDocumentsResponse: `pagination` required, `results` flat documents."""

    results: list[Json]
    pagination: Json
    total_documents: int | None = None
    warnings: list[str] = Field(default_factory=list)


class DocumentUpdate(StrictModel):
    document_id: str = Field(min_length=1, max_length=256)
    update_data: Json


class BatchUpdateDocumentsRequest(StrictModel):
    """Either `updates` (each document its own change) or `filters` + `update_data` (one change
    for every document of the collection the filter matches)."""

    updates: list[DocumentUpdate] | None = Field(default=None, min_length=1, max_length=1000)
    filters: Json | None = None
    update_data: Json | None = None


class DocumentUpdateResult(Model):
    document_id: str
    success: bool
    error: str | None = None


class BatchUpdateDocumentsResponse(Model):
    updated_count: int
    failed_count: int = 0
    results: list[DocumentUpdateResult] = Field(default_factory=list)
    message: str = "Batch update completed"


class DeletedDocument(Model):
    document_id: str
    collection_id: str
    success: bool = True
    message: str = "Successfully deleted"
