"""What every embedder shares: the catalogue service it serves, its vectors' dimension, and the
errors it raises in that service's name."""

from __future__ import annotations

from typing import Any

from stratus.adapters.retry import unavailable
from stratus.errors import BadRequestError, InferenceServiceUnavailableError


def service_unavailable(
    service: str, reason: str, details: dict[str, Any], retry_after: float | None = None
) -> InferenceServiceUnavailableError:
    """The retryable 503 of an inference service that cannot embed now, saying why."""
    return unavailable(
        InferenceServiceUnavailableError,
        f"inference service '{service}' is unavailable: {reason}",
        {"service": service, **details},
        retry_after,
    )


class CatalogueService:
    """The `name` and `dimension` of the `Embedder` port, for one catalogue service."""

    def __init__(self, name: str, dimension: int) -> None:
        self._name = name
        self._dimension = dimension

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _text_only(self) -> BadRequestError:
        return BadRequestError(
            f"inference service '{self._name}' takes text only, not images", {"service": self._name}
        )
