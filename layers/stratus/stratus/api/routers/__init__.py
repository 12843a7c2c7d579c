"""One module per operation, named after it (`functions/<op>/` serves `routers/<op>.py`), each
holding one APIRouter, `router`, with only that operation's routes: a Lambda function imports
its own operation's models and services, and FastAPI builds only its routes (see
`stratus.api.operations`). What the modules of one resource share lives here."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import Path

from stratus import limits
from stratus.models.errors import ErrorEnvelope

_COMMON = (401, 403, 413, 422, 429, 500, 503)

# OpenAPI tags, one per resource.
NAMESPACES: list[str | Enum] = ["namespaces"]
DOCUMENTS: list[str | Enum] = ["documents"]
BUCKETS: list[str | Enum] = ["buckets"]
OBJECTS: list[str | Enum] = ["objects"]
COLLECTIONS: list[str | Enum] = ["collections"]
RETRIEVERS: list[str | Enum] = ["retrievers"]

# The `document_id` path parameter of the single-document routes.
DocumentId = Path(pattern=limits.DOCUMENT_ID_PATTERN)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: the envelope for the given statuses plus the common ones."""
    return {status: {"model": ErrorEnvelope} for status in sorted({*statuses, *_COMMON})}
