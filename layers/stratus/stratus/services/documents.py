"""Document rules: direct upsert with schema-on-write, and delete (get and list: document_reads).

A document is an id, a payload and one vector per vector index; each (namespace, index) space
holds the document's vector with a copy of its payload, so every index can filter on its own."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from stratus import ids, limits
from stratus.clock import iso_now
from stratus.errors import BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError
from stratus.models.documents import (
    UpsertDocumentsRequest,
    UpsertDocumentsResponse,
)
from stratus.models.namespaces import Namespace, VectorConfig
from stratus.ports.stores import Stores
from stratus.ports.vectors import VectorColumns
from stratus.services.backfill.mirror import mirror_delete, shadow_payloads
from stratus.services.document_reads import fetch_document
from stratus.services.embedding import embed_texts
from stratus.services.spaces import all_spaces, space_for
from stratus.services.upsert_batch import DocumentEntry, Rows, UpsertBatch

SAVE_ATTEMPTS = 5


def upsert_documents(
    stores: Stores,
    namespace: Namespace,
    request: UpsertDocumentsRequest,
    decoded: Mapping[str, Rows] | None = None,
) -> UpsertDocumentsResponse:
    """Write the request's documents. The checks run in the order they always did, one document
    at a time, so the first problem found is the one reported; the vectors then go to each index
    as one matrix (`VectorColumns`). `decoded`: the vectors the API took out of the body
    (`UpsertBatch.of`)."""
    if request.collection_id is not None:
        _into_collection(stores, namespace, request)
    batch = UpsertBatch.of(request, decoded)
    _embed_texts_in_place(stores, namespace, batch)
    new_configs = _new_vector_configs(namespace, batch.documents)
    document_ids = _document_ids(batch.documents)
    payload_json = _check_documents(namespace, new_configs, batch.documents)
    configs = {config.name: config for config in [*namespace.vector_configs, *new_configs]}
    spaces = {name: space_for(namespace, config) for name, config in configs.items()}
    # Vectors first, metadata last: a vector-store failure leaves DynamoDB untouched (and a retry
    # of the same request is idempotent, since records are overwritten by id).
    for name in _written_indexes(batch.documents):
        # Cheap when the space exists; creates indexes added by schema-on-write or promotion.
        stores.vectors.ensure_space(spaces[name])
    new_names = {config.name for config in new_configs}
    columns_of = {
        name: VectorColumns(
            [document_ids[p] for p in rows.positions],
            [batch.documents[p].payload for p in rows.positions],
            rows.matrix(),
            [payload_json[p] for p in rows.positions],
        )
        for name, rows in batch.indexes.items()
        if name in spaces and rows.positions
    }
    # An index being migrated gets the write in its shadow copy too: embedded by the new model
    # before anything is written, written after the live index (services/backfill/mirror).
    shadow_writes = {
        name: shadow_payloads(stores, namespace, name, dict(zip(columns.ids, columns.payloads, strict=True)))
        for name, columns in columns_of.items()
    }
    for name, space in spaces.items():
        columns = columns_of.get(name)
        if columns is not None:
            stores.vectors.upsert_columns(space, columns)
            shadow_write = shadow_writes[name]
            if shadow_write is not None:
                shadow_write.apply(stores)
        absent = [
            doc_id
            for doc_id, doc in zip(document_ids, batch.documents, strict=True)
            if name not in doc.vectors
        ]
        if absent and name not in new_names:
            # An existing id is overwritten whole: drop its vector from indexes it no longer has.
            stores.vectors.delete(space, absent)
            mirror_delete(stores, namespace, name, absent)
    if new_configs:
        _register_vector_configs(stores, namespace, new_configs)
    return UpsertDocumentsResponse(
        inserted=len(document_ids), document_ids=document_ids, warnings=request.unapplied()
    )


def _into_collection(stores: Stores, namespace: Namespace, request: UpsertDocumentsRequest) -> None:
    """The SDK's `collection_id`: each payload's `collection_id` (by id or name)."""
    from stratus.services.collections import get_collection

    assert request.collection_id is not None
    try:
        collection = get_collection(stores.metadata, namespace, request.collection_id)
    except NotFoundError:
        raise BadRequestError(
            f"collection_id: no collection '{request.collection_id}' in namespace '{namespace.namespace_id}'",
            {"field": "collection_id"},
        ) from None
    for document in request.documents:
        document.payload["collection_id"] = collection.collection_id


def _written_indexes(documents: list[DocumentEntry]) -> list[str]:
    return list(dict.fromkeys(name for doc in documents for name in doc.vectors))


def _dimension(doc: DocumentEntry, name: str) -> int:
    value = doc.vectors[name]
    assert isinstance(value, int), "texts are embedded before anything is written"
    return value


def _embed_texts_in_place(stores: Stores, namespace: Namespace, batch: UpsertBatch) -> None:
    """Replace `{"text": ...}` entries by vectors from the index's mapped service (one call per
    service, each distinct text once). Unmapped indexes cannot take text."""
    wanted: dict[str, list[tuple[int, str, str]]] = {}
    for position, doc in enumerate(batch.documents):
        for name, value in doc.vectors.items():
            if not isinstance(value, str):
                continue
            service = namespace.vector_inference_map.get(name)
            if service is None:
                location = f"documents[{position}].vectors.{name}"
                raise BadRequestError(
                    f"{location}: index '{name}' has no inference service, so it needs a vector, not text"
                    + ("; promote the namespace to map one" if namespace.mode == "standalone" else ""),
                    {"field": location, "vector_inference_map": namespace.vector_inference_map},
                )
            wanted.setdefault(service, []).append((position, name, value))
    for service, items in wanted.items():
        vectors = embed_texts(stores.embedders, namespace.org_id, service, [text for _, _, text in items])
        for position, name, text in items:
            batch.set_vector(position, name, vectors[text])


def _document_ids(documents: list[DocumentEntry]) -> list[str]:
    assigned = [doc.document_id or ids.new_id("doc_") for doc in documents]
    first_seen: dict[str, int] = {}
    for position, doc_id in enumerate(assigned):
        if doc_id in first_seen:
            raise BadRequestError(
                f"documents[{position}].document_id: '{doc_id}' repeats documents[{first_seen[doc_id]}]; "
                "send each document once per request",
                {"field": f"documents[{position}].document_id"},
            )
        first_seen[doc_id] = position
    return assigned


def _new_vector_configs(namespace: Namespace, documents: list[DocumentEntry]) -> list[VectorConfig]:
    """Schema-on-write: in a standalone namespace an unseen vector name becomes an index
    (dimension from the first document that uses it, cosine). Managed namespaces are fixed."""
    new: dict[str, VectorConfig] = {}
    known = set(namespace.index_names())
    if known.issuperset(_written_indexes(documents)):
        return []  # the usual batch: every index exists
    for position, doc in enumerate(documents):
        for name in doc.vectors:
            dimension = _dimension(doc, name)
            if name in known or name in new:
                continue
            location = f"documents[{position}].vectors.{name}"
            if namespace.mode != "standalone":
                raise BadRequestError(
                    f"{location}: no vector index '{name}' in managed namespace "
                    f"'{namespace.namespace_id}'; available: {', '.join(namespace.index_names()) or 'none'}",
                    {"field": location, "available_indexes": namespace.index_names()},
                )
            if len(namespace.vector_configs) + len(new) >= limits.MAX_VECTOR_INDEXES:
                raise BadRequestError(
                    f"{location}: a namespace holds at most {limits.MAX_VECTOR_INDEXES} vector indexes",
                    {"field": location},
                )
            try:
                new[name] = VectorConfig(name=name, dimension=dimension, metric="cosine")
            except ValueError as exc:
                raise BadRequestError(
                    f"{location}: '{name}' is not a valid vector index name (letters, digits, '_' and '-', "
                    "starting with a letter, at most 64 characters)",
                    {"field": location},
                ) from exc
    return list(new.values())


def _check_documents(
    namespace: Namespace, new_configs: list[VectorConfig], documents: list[DocumentEntry]
) -> list[str | None]:
    """Each document's dimensions and payload size; returns each payload as compact JSON, encoded
    once here for the vector store too (None for a payload with a number that is not finite:
    the store then refuses it with its own message, as it always did)."""
    dimensions = {c.name: c.dimension for c in [*namespace.vector_configs, *new_configs]}
    payload_json: list[str | None] = []
    for position, doc in enumerate(documents):
        for name in doc.vectors:
            dimension = _dimension(doc, name)
            if dimension != dimensions[name]:
                location = f"documents[{position}].vectors.{name}"
                raise BadRequestError(
                    f"{location}: expected {dimensions[name]} dimensions for index '{name}', got {dimension}",
                    {"field": location, "expected_dimension": dimensions[name], "dimension": dimension},
                )
        text, finite = _payload_text(doc.payload)
        size = len(text) if text.isascii() else len(text.encode())
        if size > limits.MAX_PAYLOAD_BYTES:
            location = f"documents[{position}].payload"
            raise PayloadTooLargeError(
                f"{location}: {size} bytes; a payload holds at most {limits.MAX_PAYLOAD_BYTES} bytes of JSON",
                {"field": location, "size": size, "limit": limits.MAX_PAYLOAD_BYTES},
            )
        payload_json.append(text if finite else None)
    return payload_json


def _payload_text(payload: dict[str, Any]) -> tuple[str, bool]:
    """The payload as compact JSON, and whether its numbers are all finite."""
    try:
        return _compact_finite(payload), True
    except ValueError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")), False


def _compact_encoder() -> Callable[[Any], str]:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)`, the same
    text from the same C encoder, made once rather than per call (an upsert encodes 1,000
    payloads: 1.9 ms one `dumps` each, 0.7 ms so). No circular check: payloads are decoded JSON."""
    from json import encoder

    c_make_encoder = getattr(encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # no C accelerator: json.dumps itself
        return functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
    # allow_nan), as `JSONEncoder.iterencode` makes it for these options.
    default = encoder.JSONEncoder().default
    encode = c_make_encoder(None, default, encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


_compact_finite = _compact_encoder()


def _register_vector_configs(stores: Stores, namespace: Namespace, new_configs: list[VectorConfig]) -> None:
    """Add new indexes with optimistic concurrency: on a lost race re-read and merge, so two
    concurrent first writes of different new indexes both land."""
    current = namespace
    for _ in range(SAVE_ATTEMPTS):
        missing = [config for config in new_configs if current.vector_config(config.name) is None]
        for config in new_configs:
            existing = current.vector_config(config.name)
            if existing is not None and existing.dimension != config.dimension:
                raise ConflictError(
                    f"vector index '{config.name}' was just created with dimension {existing.dimension}",
                    {"field": f"vectors.{config.name}", "dimension": existing.dimension},
                )
        if not missing:
            return
        updated = current.model_copy(
            update={"vector_configs": [*current.vector_configs, *missing], "updated_at": iso_now()}
        )
        try:
            stores.metadata.save_namespace(updated, current.version, current.namespace_name)
            return
        except ConflictError:
            reread = stores.metadata.get_namespace(current.org_id, current.namespace_id)
            if reread is None:
                raise NotFoundError.of("namespace", current.namespace_id) from None
            current = reread
    raise ConflictError(
        f"namespace '{namespace.namespace_id}' is changing concurrently; retry the upsert",
        {"resource": "namespace", "id": namespace.namespace_id},
    )


def delete_document(stores: Stores, namespace: Namespace, document_id: str) -> None:
    if fetch_document(stores, namespace, document_id, return_vectors=False) is None:
        raise NotFoundError.of("document", document_id)
    for space in all_spaces(namespace):  # a migrating index's shadow copy after its index
        stores.vectors.delete(space, [document_id])
