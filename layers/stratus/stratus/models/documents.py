"""Document models for direct upsert, get, delete and list."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, Discriminator, Field, SerializerFunctionWrapHandler, Tag, model_serializer

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.sdk_fields import NotApplied, ReportsUnapplied
from stratus.models.stored_json import payload_json

# NaN and ±inf are rejected while parsing, with the offending position named in the 422.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Vector = Annotated[list[FiniteFloat], Field(min_length=limits.MIN_DIMENSION, max_length=limits.MAX_DIMENSION)]


class TextToEmbed(StrictModel):
    """`{"text": "..."}` in place of a vector: embedded server-side by the index's mapped service."""

    text: str = Field(min_length=1, max_length=32_768)


_TEXT_TYPES = (dict, TextToEmbed)


def _vector_or_text(value: Any) -> str:
    return "text" if isinstance(value, _TEXT_TYPES) else "vector"


# A tagged union, so a bad vector reports only the vector's errors (not "or it wasn't a text").
VectorOrText = Annotated[
    Annotated[Vector, Tag("vector")] | Annotated[TextToEmbed, Tag("text")], Discriminator(_vector_or_text)
]
UNION_TAGS = ("vector", "text")


_LINEAGE = NotApplied("Stratus keeps no lineage for documents you bring; put it in the payload")


class DocumentInput(ReportsUnapplied, StrictModel):
    # The SDK's BYODocument fields Stratus does not apply (reported in `warnings`).
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "acl": NotApplied("API keys see every document of their organization"),
        "source_type": NotApplied(_LINEAGE.reason, ("direct_upsert",)),
        "root_object_id": _LINEAGE,
        "root_bucket_id": _LINEAGE,
        "source_object_id": _LINEAGE,
        "source_document_id": _LINEAGE,
        "source_collection_id": _LINEAGE,
        "lineage_path": _LINEAGE,
        "lineage_chain": _LINEAGE,
        "content_hash": NotApplied("documents are overwritten by id; their content is not hashed"),
    }

    document_id: str | None = Field(default=None, pattern=limits.DOCUMENT_ID_PATTERN)
    vectors: dict[str, VectorOrText] = Field(min_length=1, max_length=limits.MAX_VECTOR_INDEXES)
    payload: Annotated[dict[str, Any], payload_json()] = Field(
        default_factory=dict, validation_alias=AliasChoices("payload", "metadata")
    )
    acl: dict[str, Any] | None = None
    source_type: Literal["bucket", "collection", "direct_upsert", "signal"] | None = None
    root_object_id: str | None = None
    root_bucket_id: str | None = None
    source_object_id: str | None = None
    source_document_id: str | None = None
    source_collection_id: str | None = None
    lineage_path: str | None = None
    lineage_chain: list[dict[str, Any]] | None = None
    content_hash: str | None = None


class UpsertDocumentsRequest(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "options": NotApplied("every upsert is written before the answer; retries are safe by id"),
    }

    documents: list[DocumentInput] = Field(min_length=1, max_length=limits.MAX_DOCUMENTS_PER_UPSERT)
    # The collection the documents belong to (written as each payload's `collection_id`, so the
    # collection's document routes see them); it must be a collection of the namespace.
    collection_id: str | None = Field(default=None, min_length=1, max_length=1024)
    options: dict[str, Any] | None = None


class UpsertDocumentsResponse(Model):
    inserted: int
    document_ids: list[str]
    # Request fields accepted but not applied; left out of the answer when there are none.
    warnings: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _without_empty_warnings(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not data.get("warnings"):
            data.pop("warnings", None)
        return data


class DocumentModel(Model):
    document_id: str
    payload: dict[str, Any]
    vectors: dict[str, list[float]] | None = None


class DeleteDocumentResponse(Model):
    document_id: str
    deleted: bool = True


class ListDocumentsRequest(StrictModel):
    filters: dict[str, Any] | None = None
    limit: int = Field(default=limits.DEFAULT_PAGE_SIZE, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=2048)
    return_vectors: bool = False
    include_total: bool = False
