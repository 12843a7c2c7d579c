"""The inference port: the embedding services of the catalogue (`stratus.inference_catalogue`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Embedder(Protocol):
    """One inference service. Raises `InferenceServiceUnavailableError` (retryable 503) when the
    provider is down or missing, `BadRequestError` for input it cannot embed."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, each of `dimension` floats."""
        ...

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        """One vector per encoded image (JPEG/PNG/WebP bytes), in order; text-only services
        raise `BadRequestError`."""
        ...


class EmbedderRegistry(Protocol):
    def get(self, service_name: str) -> Embedder:
        """The provider of a catalogue service (built lazily, cached per container)."""
        ...
