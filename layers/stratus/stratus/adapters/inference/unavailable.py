"""An `Embedder` that is in the catalogue but has no provider in this build.

It keeps the catalogue honest: a namespace may name `clip_vit_b32` (its dimension is known, so
the index can be created), and only an actual embedding call fails, with a retryable 503 that
says what is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stratus.adapters.retry import unavailable
from stratus.errors import InferenceServiceUnavailableError


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


class UnavailableEmbedder:
    def __init__(self, name: str, dimension: int, reason: str) -> None:
        self._name = name
        self._dimension = dimension
        self._reason = reason

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def reason(self) -> str:
        return self._reason

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        raise self._unavailable()

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        raise self._unavailable()

    def _unavailable(self) -> InferenceServiceUnavailableError:
        return service_unavailable(self._name, self._reason, {"reason": self._reason})
