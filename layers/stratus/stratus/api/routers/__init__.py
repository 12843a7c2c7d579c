"""One module per resource; inside, one APIRouter per operation (a Lambda function each)."""

from __future__ import annotations

from typing import Any

from stratus.models.errors import ErrorEnvelope

_COMMON = (401, 403, 413, 422, 500, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: the envelope for the given statuses plus the common ones."""
    return {status: {"model": ErrorEnvelope} for status in sorted({*statuses, *_COMMON})}
