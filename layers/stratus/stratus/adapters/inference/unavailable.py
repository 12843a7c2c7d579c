"""An `Embedder` that is in the catalogue but has no provider in this build.

It keeps the catalogue honest: a namespace may name `clip_vit_b32` (its dimension is known, so
the index can be created), and only an actual embedding call fails, with a retryable 503 that
says what is missing."""

from __future__ import annotations

from collections.abc import Sequence

from stratus.adapters.inference.service import CatalogueService, service_unavailable
from stratus.errors import InferenceServiceUnavailableError


class UnavailableEmbedder(CatalogueService):
    def __init__(self, name: str, dimension: int, reason: str) -> None:
        super().__init__(name, dimension)
        self._reason = reason

    @property
    def reason(self) -> str:
        return self._reason

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        raise self._unavailable()

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        raise self._unavailable()

    def _unavailable(self) -> InferenceServiceUnavailableError:
        return service_unavailable(self._name, self._reason, {"reason": self._reason})
