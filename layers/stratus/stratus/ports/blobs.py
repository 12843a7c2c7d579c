"""The blob port: the data S3 bucket, where objects and uploads are stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredBlob:
    key: str
    data: bytes
    content_type: str
    etag: str  # without quotes
    metadata: dict[str, str]  # user metadata (x-amz-meta-*), lowercase names


class BlobStore(Protocol):
    """The data bucket. Raises `BlobStoreUnavailableError` (retryable 503) when S3 is down."""

    @property
    def bucket(self) -> str: ...

    def put(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> str:
        """Store `data` at `key`; returns the ETag (without quotes)."""
        ...

    def get(self, key: str, max_bytes: int) -> StoredBlob | None:
        """The object at `key`, None if absent; `PayloadTooLargeError` if it exceeds `max_bytes`."""
        ...

    def presign_put(
        self, key: str, content_type: str, expires_seconds: int, content_length: int | None = None
    ) -> str:
        """A URL that accepts one HTTP PUT of the object (with that Content-Type, and exactly
        `content_length` bytes when it is given)."""
        ...

    def delete(self, key: str) -> None:
        """Delete the object at `key`; no error if it is absent."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; returns how many."""
        ...
