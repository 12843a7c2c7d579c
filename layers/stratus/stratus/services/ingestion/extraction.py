"""One collection's feature extractor applied to one object's blobs: drafts (a chunk of text or an
image), embedded with the collection's inference service, as vector records for its index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stratus import limits
from stratus.chunking import TooManyChunksError, chunk_text
from stratus.domain.content import Blob
from stratus.domain.object_keys import document_id_for
from stratus.errors import BadRequestError
from stratus.filters import value_at
from stratus.models.managed_content import SYSTEM_PAYLOAD_FIELDS, Collection
from stratus.models.objects import ObjectRecord
from stratus.ports.inference import Embedder
from stratus.ports.vectors import VectorRecord

# Texts per embedding call: large enough to amortise a remote call, small enough that one
# OpenAI request stays far below its input limits.
TEXT_BATCH = 64
IMAGE_BATCH = 16
IMAGE_READERS = ("image_extractor", "multimodal_extractor")


@dataclass(frozen=True)
class Draft:
    """What one document is embedded from."""

    blob: Blob
    chunk_index: int
    text: str | None = None
    image: bytes | None = None

    @property
    def modality(self) -> str:
        return "text" if self.text is not None else "image"


def drafts_for(collection: Collection, blobs: Sequence[Blob]) -> list[Draft]:
    """The documents the collection's extractor makes from `blobs`. Inputs an extractor does not
    read (images for text_extractor, text for image_extractor) are skipped, not errors."""
    extractor = collection.feature_extractor
    params = extractor.parameters
    drafts: list[Draft] = []
    for blob in blobs:
        if blob.type == "text" and blob.text is not None and blob.text.strip():
            if extractor.feature_extractor_name == "text_extractor":
                try:
                    chunks = chunk_text(
                        blob.text,
                        str(params["split_by"]),
                        int(params["chunk_size"]),
                        int(params["chunk_overlap"]),
                        max_chunks=max(0, limits.MAX_CHUNKS_PER_OBJECT - len(drafts)),
                    )
                except TooManyChunksError:  # counted over all the object's texts, so say so
                    raise TooManyChunksError(limits.MAX_CHUNKS_PER_OBJECT) from None
                drafts.extend(Draft(blob, index, text=chunk) for index, chunk in enumerate(chunks))
            elif extractor.feature_extractor_name == "multimodal_extractor":
                drafts.append(Draft(blob, 0, text=blob.text))
        elif (
            blob.type == "image"
            and blob.data is not None
            and extractor.feature_extractor_name in IMAGE_READERS
        ):
            drafts.append(Draft(blob, 0, image=blob.data))
    return drafts


def embed_drafts(embedder: Embedder, drafts: Sequence[Draft]) -> list[list[float]]:
    """One vector per draft, in order; texts and images batched separately."""
    vectors: dict[int, list[float]] = {}
    texts = [(position, draft.text) for position, draft in enumerate(drafts) if draft.text is not None]
    images = [(position, draft.image) for position, draft in enumerate(drafts) if draft.image is not None]
    for start in range(0, len(texts), TEXT_BATCH):
        batch = texts[start : start + TEXT_BATCH]
        for (position, _), vector in zip(batch, embedder.embed_texts([t for _, t in batch]), strict=True):
            vectors[position] = vector
    for start in range(0, len(images), IMAGE_BATCH):
        image_batch = images[start : start + IMAGE_BATCH]
        embedded = embedder.embed_images([i for _, i in image_batch])
        for (position, _), vector in zip(image_batch, embedded, strict=True):
            vectors[position] = vector
    return [vectors[position] for position in range(len(drafts))]


def records_for(
    record: ObjectRecord,
    collection: Collection,
    metadata: dict[str, Any],
    drafts: Sequence[Draft],
    vectors: Sequence[list[float]],
    now: str,
) -> list[VectorRecord]:
    passed = source_fields(collection, record.bucket_id, metadata) if drafts else {}
    return [
        VectorRecord(
            id=document_id_for(
                record.object_id, collection.collection_id, draft.blob.property, draft.chunk_index
            ),
            payload={**passed, **_payload(record, collection, metadata, draft, now)},
            vector=vector,
        )
        for draft, vector in zip(drafts, vectors, strict=True)
    ]


def source_fields(collection: Collection, bucket_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The object's fields a collection copies to the top of each document's payload (Mixpeek's
    field passthrough): all of its metadata with `include_all_source_fields`, then each
    `field_passthrough` entry and the source bucket's `source.field_map` entries (`source_path`
    read in the metadata, `metadata.` prefix optional; `default` when absent; `required` and
    absent fails the object). System fields are never overwritten (the payload's own win)."""
    extractor = collection.feature_extractor
    fields: dict[str, Any] = {}
    if extractor.include_all_source_fields:
        fields.update({key: value for key, value in metadata.items() if key not in SYSTEM_PAYLOAD_FIELDS})
    passthroughs = [*extractor.field_passthrough, *collection.source.field_map.get(bucket_id, [])]
    for entry in passthroughs:
        path = entry.source_path.removeprefix("metadata.").split(".")
        found = value_at(metadata, tuple(path))
        if found is None:
            if entry.required and entry.default is None:
                raise BadRequestError(
                    f"collection '{collection.collection_id}' requires the source field "
                    f"'{entry.source_path}', which this object's metadata does not have",
                    {"collection_id": collection.collection_id, "source_path": entry.source_path},
                )
            found = entry.default
        if found is not None:
            fields[entry.target] = found
    return fields


def _payload(
    record: ObjectRecord, collection: Collection, metadata: dict[str, Any], draft: Draft, now: str
) -> dict[str, Any]:
    """System fields at the top (the protected, always-indexed ones among them), the object's own
    metadata under `metadata`, where a client key can never shadow a system field."""
    payload: dict[str, Any] = {
        "object_id": record.object_id,
        "bucket_id": record.bucket_id,
        "collection_id": collection.collection_id,
        "feature_extractor_id": collection.feature_extractor.feature_extractor_id,
        "source_key": record.key,
        "property": draft.blob.property,
        "chunk_index": draft.chunk_index,
        "modality": draft.modality,
        "content_type": draft.blob.content_type,
        "created_at": record.created_at,
        "updated_at": now,
        "metadata": metadata,
    }
    if draft.blob.filename:
        payload["filename"] = draft.blob.filename
    if draft.text is not None:
        text, truncated = _bounded_text(draft.text)
        payload["text"] = text
        if truncated:
            payload["text_truncated"] = True
    return payload


def _bounded_text(text: str) -> tuple[str, bool]:
    encoded = text.encode("utf-8")
    if len(encoded) <= limits.MAX_PAYLOAD_TEXT_BYTES:
        return text, False
    return encoded[: limits.MAX_PAYLOAD_TEXT_BYTES].decode("utf-8", errors="ignore"), True
