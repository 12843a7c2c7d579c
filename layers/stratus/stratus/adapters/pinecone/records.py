"""Records as Pinecone holds them: ids made ASCII in an order-preserving way, vectors and metadata
checked against Pinecone's limits before anything is sent, and upserts and fetches cut into
requests within those limits."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.pinecone.metadata import record_metadata
from stratus.adapters.text_tokens import text_indexes
from stratus.errors import BadRequestError, PayloadTooLargeError
from stratus.models.namespaces import Metric
from stratus.ports import Space, VectorRecord

T = TypeVar("T")

# Pinecone's operation limits (docs.pinecone.io/reference/api/database-limits).
MAX_METADATA_BYTES = 40 * 1024
MAX_UPSERT_RECORDS = 1000
# "2 MB" per upsert request, counted in decimal megabytes: under either reading of the limit.
MAX_UPSERT_BYTES = 2_000_000
MAX_IDS_PER_REQUEST = 1000  # fetch and delete
MAX_ID_LENGTH = 512
# A fetch sends its ids in the URL: keep the query string well under common URL limits.
MAX_FETCH_QUERY_CHARS = 6000


def encode_id(record_id: str) -> str:
    """An ASCII Pinecone id whose byte order is the code-point order of `record_id`: its UTF-8
    bytes, with `~` and every byte above it written `~XX` (hex). `~` is the highest printable
    ASCII character, so an escape sorts after every byte left alone, and two escapes sort by
    their hex digits, i.e. by byte. Control characters (never in a document id) are refused."""
    if any(ord(char) < 0x20 for char in record_id):
        raise BadRequestError(
            f"document id {record_id!r} holds a control character", {"document_id": record_id}
        )
    raw = record_id.encode("utf-8", "surrogatepass")
    encoded = "".join(chr(byte) if byte < 0x7E else f"~{byte:02X}" for byte in raw)
    if not encoded or len(encoded) > MAX_ID_LENGTH:
        raise BadRequestError(
            f"document id {record_id!r} is {len(encoded)} characters once made ASCII for the "
            f"'{STORE_NAME}' vector store, which takes 1-{MAX_ID_LENGTH}; use a shorter id "
            "(each non-ASCII character takes up to 12)",
            {"document_id": record_id, "vector_store": STORE_NAME},
        )
    return encoded


def decode_id(encoded: str) -> str:
    out = bytearray()
    position = 0
    while position < len(encoded):
        char = encoded[position]
        if char == "~" and _is_hex(encoded[position + 1 : position + 3]):
            out.append(int(encoded[position + 1 : position + 3], 16))
            position += 3
        else:
            out.extend(char.encode("utf-8"))
            position += 1
    return out.decode("utf-8", "surrogatepass")


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(char in "0123456789ABCDEF" for char in text)


def wire_record(
    space: Space, record: VectorRecord, checked: bool = False, payload_json: str | None = None
) -> dict[str, Any]:
    """The record as the client sends it ({id, values, metadata}), checked against every limit
    (`checked`: its vector already was, see `checked_rows`; `payload_json`: the payload's compact
    JSON, when the caller has it)."""
    if checked:
        assert record.vector is not None
        values = list(record.vector)
    else:
        values = _vector(space, record.vector, f"vector of '{record.id}'", record.id)
    metadata = record_metadata(record.id, record.payload, text_indexes(space.payload_indexes), payload_json)
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise PayloadTooLargeError(
            f"document '{record.id}': its payload needs {size} bytes of Pinecone metadata (the payload "
            f"as JSON plus the keys its filters read); the '{STORE_NAME}' vector store holds at most "
            f"{MAX_METADATA_BYTES} bytes per document",
            {"document_id": record.id, "size": size, "limit": MAX_METADATA_BYTES, "vector_store": STORE_NAME},
        )
    return {"id": encode_id(record.id), "values": values, "metadata": metadata}


def _vector(space: Space, vector: Sequence[float] | None, what: str, document_id: str | None) -> list[float]:
    details: dict[str, Any] = {"space": space.name, "dimension": space.dimension}
    if document_id is not None:
        details["document_id"] = document_id
    if vector is None or len(vector) != space.dimension:
        raise BadRequestError(f"{what} must have {space.dimension} dimensions for '{space.name}'", details)
    values = [float(value) for value in vector]
    if not all(math.isfinite(value) for value in values):
        raise BadRequestError(f"{what} holds a number that is not finite", details)
    if not any(values):
        raise BadRequestError(
            f"{what} is all zeros; the '{STORE_NAME}' vector store needs at least one non-zero value",
            {**details, "vector_store": STORE_NAME},
        )
    return values


def checked_rows(space: Space, vectors: Any) -> list[bool]:
    """For each row of a float matrix, whether `_vector` would take it as it is (the right
    dimension, finite, not all zeros), checked for the whole matrix at once."""
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != space.dimension:
        return [False] * len(matrix)
    good = np.isfinite(matrix).all(axis=1) & matrix.any(axis=1)
    return [bool(flag) for flag in np.atleast_1d(good)]


def query_vector(space: Space, vector: Sequence[float]) -> list[float]:
    return _vector(space, vector, "the query vector", None)


def upsert_batches(namespace: str, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive batches of at most MAX_UPSERT_RECORDS records and MAX_UPSERT_BYTES of request
    body, measured with the client's own encoder (orjson) on exactly what it sends."""
    import orjson

    envelope = len(orjson.dumps({"vectors": [], "namespace": namespace}))
    sizes = [len(orjson.dumps(record)) for record in records]
    # A comma separates two records in the body.
    return _consecutive(records, sizes, MAX_UPSERT_RECORDS, MAX_UPSERT_BYTES, start=envelope, separator=1)


def fetch_chunks(encoded: list[str]) -> list[list[str]]:
    """Ids per fetch: at most MAX_IDS_PER_REQUEST, and a URL query string of bounded length."""
    sizes = [len(quote(record_id, safe="")) + len("&ids=") for record_id in encoded]
    return _consecutive(encoded, sizes, MAX_IDS_PER_REQUEST, MAX_FETCH_QUERY_CHARS)


def _consecutive(
    items: list[T], sizes: list[int], max_count: int, budget: int, start: int = 0, separator: int = 0
) -> list[list[T]]:
    """Consecutive runs of `items`, each of at most `max_count` items and `budget` in size (`start`
    for the envelope, `separator` between two items); an item over the budget goes alone."""
    runs: list[list[T]] = []
    current: list[T] = []
    size = start
    for item, item_size in zip(items, sizes, strict=True):
        cost = item_size + (separator if current else 0)
        if current and (len(current) == max_count or size + cost > budget):
            runs.append(current)
            current, size, cost = [], start, item_size
        current.append(item)
        size += cost
    if current:
        runs.append(current)
    return runs


def delete_chunks(encoded: list[str]) -> list[list[str]]:
    return [
        encoded[start : start + MAX_IDS_PER_REQUEST] for start in range(0, len(encoded), MAX_IDS_PER_REQUEST)
    ]


def visible(record: VectorRecord, include_vectors: bool) -> VectorRecord:
    return record if include_vectors else VectorRecord(record.id, record.payload)


def score(metric: Metric, raw: float) -> float:
    """Higher is better: Pinecone's score as is, except euclidean (the squared distance)."""
    if metric == "euclidean":
        return 1.0 / (1.0 + math.sqrt(max(float(raw), 0.0)))
    return float(raw)
