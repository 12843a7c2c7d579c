"""One search's query read: which input mode it is (text, vector, content, document), where
its value sits in the request (the SDK's query models and `POST /v1/features/search` carry it in
several places), and the value checked (a vector's dimensions, an inline image's bytes)."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from stratus.errors import BadRequestError
from stratus.ports.vectors import Space
from stratus.services.retrieval.stage_params import QueryInput, SearchEntry

ACCEPTED_INPUT_MODES = ["text", "vector", "content", "document"]
URL_SCHEMES = ("https://", "http://")


def located(base: str, name: str) -> str:
    """`name` under `base` (a single search compiled at the top level has no base)."""
    return f"{base}.{name}" if base else name


def query_of(entry: SearchEntry, location: str) -> tuple[str, Any, str]:
    """(input mode, the value carrying the query, where it sits) of one search."""
    query = entry.query
    if isinstance(query, str):
        return "text", query, located(location, "query")
    if isinstance(query, QueryInput):
        return _query_input(query, located(location, "query"))
    for key, mode in (("vector", "vector"), ("text", "text"), ("url", "content")):
        value = getattr(entry, key)
        if value is not None:
            return mode, value, located(location, key)
    if entry.value is not None:
        return _inferred(entry.value), entry.value, located(location, "value")
    raise BadRequestError(
        f"{located(location, 'query')}: the search has no query; give query: "
        "{input_mode: text | vector | content | document, value: ...}",
        {"field": located(location, "query"), "accepted_input_modes": ACCEPTED_INPUT_MODES},
    )


def _query_input(query: QueryInput, where: str) -> tuple[str, Any, str]:
    mode = query.input_mode
    if mode == "multi_content":
        raise BadRequestError(
            f"{where}.input_mode: 'multi_content' is not supported by Stratus; accepted: "
            f"{', '.join(ACCEPTED_INPUT_MODES)} (one search per content, fused)",
            {"field": f"{where}.input_mode", "accepted_input_modes": ACCEPTED_INPUT_MODES},
        )
    carriers: list[tuple[str, Any, str]] = [
        (
            "document",
            query.document_ref.document_id if query.document_ref else None,
            f"{where}.document_ref.document_id",
        ),
        ("vector", query.vector, f"{where}.vector"),
        ("text", query.text, f"{where}.text"),
        ("content", query.url, f"{where}.url"),
        ("content", query.image, f"{where}.image"),
        ("content", query.content.url if query.content else None, f"{where}.content.url"),
        ("content", query.content.base64 if query.content else None, f"{where}.content.base64"),
    ]
    if mode is None:
        if query.value is not None:
            return _inferred(query.value), query.value, f"{where}.value"
        given = next((carrier for carrier in carriers if carrier[1] is not None), None)
        if given is None:
            raise BadRequestError(
                f"{where}: the query carries nothing; give input_mode and value", {"field": f"{where}.value"}
            )
        return given
    if query.value is not None:
        return mode, query.value, f"{where}.value"
    for carrier_mode, value, location in carriers:
        if value is not None and carrier_mode == mode:
            return mode, value, location
    # The SDK's FeatureSearchQuery always sends its default input_mode 'text': a query that
    # carries only another kind of input is read as that kind.
    present = [carrier for carrier in carriers if carrier[1] is not None]
    if len(present) == 1:
        return present[0]
    field_name = "document_ref" if mode == "document" else "value"
    raise BadRequestError(
        f"{where}.{field_name}: input_mode '{mode}' needs its {field_name}",
        {"field": f"{where}.{field_name}"},
    )


def _inferred(value: Any) -> str:
    if is_numbers(value) or (isinstance(value, list) and value and all(is_numbers(row) for row in value)):
        return "vector"
    if isinstance(value, str) and (value.startswith((*URL_SCHEMES, "data:"))):
        return "content"
    return "text"


def is_numbers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    )


def query_vector(value: Any, where: str, space: Space) -> list[float]:
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        if len(value) != 1:
            raise BadRequestError(
                f"{where}: multi-vector queries ({len(value)} vectors) are not supported; send one vector",
                {"field": where},
            )
        value = value[0]
    if not isinstance(value, list) or not value or not set(map(type, value)) <= {float, int}:
        raise BadRequestError(f"{where}: a vector query is a non-empty list of numbers", {"field": where})
    vector = [float(x) for x in value]
    if not math.isfinite(sum(vector)) and not all(math.isfinite(x) for x in vector):
        raise BadRequestError(
            f"{where}: NaN and infinite numbers are not allowed in a vector", {"field": where}
        )
    if len(vector) != space.dimension:
        raise BadRequestError(
            f"{where}: expected {space.dimension} dimensions for index '{space.index_name}', "
            f"got {len(vector)}",
            {"field": where, "expected_dimension": space.dimension, "dimension": len(vector)},
        )
    return vector


def image_bytes(value: str, where: str) -> bytes:
    """An image sent inline: a `data:<mime>;base64,` URI or bare base64 (checked to be JPEG,
    PNG or WebP by its first bytes)."""
    from stratus.domain.content import sniffed_image_type

    payload = value
    if value.startswith("data:"):
        header, separator, payload = value.partition(",")
        if not separator or not header.endswith(";base64"):
            raise BadRequestError(
                f"{where}: a data URI must look like data:<mime type>;base64,<data>", {"field": where}
            )
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"{where}: content is an https URL, a data: URI or base64; this is none of them", {"field": where}
        ) from None
    if sniffed_image_type(data) is None:
        raise BadRequestError(
            f"{where}: not a JPEG, PNG or WebP image (checked its first bytes)",
            {"field": where, "accepted": ["image/jpeg", "image/png", "image/webp"]},
        )
    return data
