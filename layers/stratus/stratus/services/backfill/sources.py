"""What each document is embedded from: the value at a payload path (text, or an image URL / data
URI for a service that reads images), or the stored object the extractor made the document from,
read again and cut the way the extractor cut it.

A document without a usable value is *skipped* (never failed); one whose value cannot be read
(an image that cannot be fetched or decoded) is *failed*. Outages raise (the page is retried)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stratus.errors import BadRequestError, PayloadTooLargeError
from stratus.inference_catalogue import CATALOGUE
from stratus.models.namespaces import BackfillSource
from stratus.ports.stores import Stores

# Largest stored object a backfill reads again (the extractor's own default limit).
MAX_OBJECT_BYTES = 20 * 1024 * 1024
IMAGE_URL_SCHEMES = ("https://", "http://")
DATA_URI_PREFIX = "data:"


@dataclass(frozen=True)
class Input:
    """One document's input to the model: text, or an encoded image."""

    text: str | None = None
    image: bytes | None = None


@dataclass
class Resolved:
    """Per document id: its input, or why it has none."""

    inputs: dict[str, Input] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # id → reason
    failed: dict[str, str] = field(default_factory=dict)  # id → reason


def value_at(payload: Mapping[str, Any], path: str) -> Any:
    current: Any = payload
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def looks_like_image(value: str) -> bool:
    """A value a service that reads images takes as an image: a data URI of an image type, or an
    http(s) URL (fetched, public hosts only). Anything else is text."""
    lowered = value[:16].lower()
    return lowered.startswith("data:image/") or lowered.startswith(IMAGE_URL_SCHEMES)


def reads_images(service: str) -> bool:
    return "image" in CATALOGUE[service].inputs


def reads_text(service: str) -> bool:
    return "text" in CATALOGUE[service].inputs


@dataclass(frozen=True)
class Owner:
    """The namespace the documents belong to: an object source only reads objects under its
    storage key, and collections of its own (a payload is client data: it may name anything)."""

    org_id: str
    namespace_id: str
    storage_key: str


def resolve(
    stores: Stores,
    owner: Owner,
    source: BackfillSource,
    service: str,
    payloads: Mapping[str, Mapping[str, Any]],
) -> Resolved:
    """The input of each document of `payloads` (id → payload) for `service`."""
    if source.field is not None:
        return _from_field(stores, source.field, service, payloads)
    return _from_objects(stores, owner, service, payloads)


def _from_field(
    stores: Stores, path: str, service: str, payloads: Mapping[str, Mapping[str, Any]]
) -> Resolved:
    resolved = Resolved()
    images = reads_images(service)
    for doc_id, payload in payloads.items():
        value = value_at(payload, path)
        if not isinstance(value, str) or not value.strip():
            resolved.skipped[doc_id] = f"no text or image at '{path}'"
            continue
        if not (images and looks_like_image(value)):
            resolved.inputs[doc_id] = Input(text=value)
            continue
        try:
            resolved.inputs[doc_id] = Input(image=_image(stores, value, f"payload.{path}"))
        except (BadRequestError, PayloadTooLargeError) as error:
            resolved.failed[doc_id] = error.message
    return resolved


def _image(stores: Stores, value: str, where: str) -> bytes:
    if value[:5].lower() == DATA_URI_PREFIX:
        header, _, data = value.partition(",")
        if ";base64" not in header.lower():
            raise BadRequestError(f"{where}: a data URI must be base64 (data:<type>;base64,...)", {})
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequestError(f"{where}: the data URI is not valid base64", {}) from None
    return stores.fetcher.fetch(value, where)


def _from_objects(
    stores: Stores, owner: Owner, service: str, payloads: Mapping[str, Mapping[str, Any]]
) -> Resolved:
    """Documents the extractor made: their payload names the object (`source_key`), the blob
    (`property`), the collection and the chunk. Each object is read once per page."""
    from stratus.domain.content import blobs_of
    from stratus.services.ingestion.extraction import drafts_for

    resolved = Resolved()
    by_key: dict[str, list[str]] = {}
    for doc_id, payload in payloads.items():
        key = payload.get("source_key")
        ours = isinstance(key, str) and key.startswith(f"{owner.storage_key}/")
        if not ours or not isinstance(key, str) or not isinstance(payload.get("collection_id"), str):
            resolved.skipped[doc_id] = "not made by the extractor (no source_key / collection_id)"
            continue
        by_key.setdefault(key, []).append(doc_id)
    collections: dict[str, Any] = {}
    for key, doc_ids in by_key.items():
        try:
            stored = stores.blobs.get(key, MAX_OBJECT_BYTES)
        except PayloadTooLargeError as error:
            resolved.failed.update(dict.fromkeys(doc_ids, error.message))
            continue
        if stored is None:
            resolved.skipped.update(dict.fromkeys(doc_ids, f"its object '{key}' no longer exists"))
            continue
        try:
            blobs, _ = blobs_of(stored)
        except BadRequestError as error:
            resolved.failed.update(dict.fromkeys(doc_ids, error.message))
            continue
        for doc_id in doc_ids:
            payload = payloads[doc_id]
            collection_id = str(payload["collection_id"])
            if collection_id not in collections:
                collections[collection_id] = stores.metadata.get_collection(
                    owner.org_id, owner.namespace_id, collection_id
                )
            collection = collections[collection_id]
            if collection is None:
                resolved.skipped[doc_id] = f"its collection '{collection_id}' no longer exists"
                continue
            found = _draft_input(drafts_for(collection, blobs), payload)
            if found is None:
                resolved.skipped[doc_id] = "its object no longer holds this part"
            elif found.image is not None and not reads_images(service):
                resolved.skipped[doc_id] = f"an image, and '{service}' reads text only"
            else:
                resolved.inputs[doc_id] = found
    return resolved


def _draft_input(drafts: Sequence[Any], payload: Mapping[str, Any]) -> Input | None:
    for draft in drafts:
        if draft.blob.property == payload.get("property") and draft.chunk_index == payload.get("chunk_index"):
            return Input(text=draft.text) if draft.text is not None else Input(image=draft.image)
    return None


def object_modalities(stores: Stores, org_id: str, namespace_id: str, index: str) -> set[str] | None:
    """The inputs (text, image) the collections writing into `index` read; None if none does."""
    from stratus.extractor_catalogue import EXTRACTORS

    found: set[str] = set()
    writers = 0
    cursor: str | None = None
    while True:
        page = stores.metadata.list_collections(org_id, namespace_id, 100, cursor)
        for collection in page.collections:
            if collection.vector_index != index:
                continue
            writers += 1
            spec = EXTRACTORS.get(collection.feature_extractor.feature_extractor_id)
            inputs = spec.input_types if spec is not None else ("text",)
            found |= {"image" if kind == "image" else "text" for kind in inputs}
        cursor = page.next_cursor
        if cursor is None:
            break
    return found if writers else None
