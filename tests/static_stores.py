"""Stores given up front, for tests and scripts that call the services directly, and the null
adapters that stand in for what such a test never touches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stratus.errors import BadRequestError, BlobStoreUnavailableError, InferenceServiceUnavailableError
from stratus.ports import (
    BlobStore,
    Embedder,
    EmbedderRegistry,
    MetadataStore,
    StoredBlob,
    UrlFetcher,
    VectorStore,
)


class NoBlobStore:
    """For callers that never touch the data bucket (tests of vector-only paths)."""

    @property
    def bucket(self) -> str:
        return ""

    def _unavailable(self) -> Exception:
        return BlobStoreUnavailableError("the data bucket is not configured here", {"dependency": "s3"})

    def put(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> str:
        raise self._unavailable()

    def get(self, key: str, max_bytes: int) -> StoredBlob | None:
        raise self._unavailable()

    def presign_put(
        self, key: str, content_type: str, expires_seconds: int, content_length: int | None = None
    ) -> str:
        raise self._unavailable()

    def delete(self, key: str) -> None:
        return None  # nothing was ever stored

    def delete_prefix(self, prefix: str) -> int:
        return 0  # nothing was ever stored


class NoEmbedders:
    """For callers that never embed (tests of vector-only paths)."""

    def get(self, service_name: str) -> Embedder:
        raise InferenceServiceUnavailableError(
            f"inference service '{service_name}' is not configured here", {"service": service_name}
        )


class NoUrlFetcher:
    """For callers that never fetch a client's URL."""

    def fetch(self, url: str, field: str) -> bytes:
        raise BadRequestError(f"{field}: URLs are not fetched here", {"field": field})


@dataclass
class StaticStores:
    """Stores given up front (tests, scripts)."""

    metadata: MetadataStore
    vectors: VectorStore
    embedders: EmbedderRegistry = field(default_factory=NoEmbedders)
    blobs: BlobStore = field(default_factory=NoBlobStore)
    fetcher: UrlFetcher = field(default_factory=NoUrlFetcher)
