"""Document models for direct upsert, get, delete and list."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Discriminator, Field, Tag

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.stored_json import payload_json

# NaN and ±inf are rejected while parsing, with the offending position named in the 422.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Vector = Annotated[list[FiniteFloat], Field(min_length=limits.MIN_DIMENSION, max_length=limits.MAX_DIMENSION)]


class TextToEmbed(StrictModel):
    """`{"text": "..."}` in place of a vector: embedded server-side by the index's mapped service."""

    text: str = Field(min_length=1, max_length=32_768)


def _vector_or_text(value: Any) -> str:
    return "text" if isinstance(value, dict | TextToEmbed) else "vector"


# A tagged union, so a bad vector reports only the vector's errors (not "or it wasn't a text").
VectorOrText = Annotated[
    Annotated[Vector, Tag("vector")] | Annotated[TextToEmbed, Tag("text")], Discriminator(_vector_or_text)
]
UNION_TAGS = ("vector", "text")


class DocumentInput(StrictModel):
    document_id: str | None = Field(default=None, pattern=limits.DOCUMENT_ID_PATTERN)
    vectors: dict[str, VectorOrText] = Field(min_length=1, max_length=limits.MAX_VECTOR_INDEXES)
    payload: Annotated[dict[str, Any], payload_json()] = Field(
        default_factory=dict, validation_alias=AliasChoices("payload", "metadata")
    )


class UpsertDocumentsRequest(StrictModel):
    documents: list[DocumentInput] = Field(min_length=1, max_length=limits.MAX_DOCUMENTS_PER_UPSERT)


class UpsertDocumentsResponse(Model):
    inserted: int
    document_ids: list[str]


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
