"""What a service call takes: the adapters, each behind its port."""

from __future__ import annotations

from typing import Protocol

from stratus.ports.backfill import BackfillRepository, TaskQueue
from stratus.ports.blobs import BlobStore
from stratus.ports.fetch import UrlFetcher
from stratus.ports.inference import EmbedderRegistry
from stratus.ports.metadata import MetadataStore
from stratus.ports.vectors import VectorStore


class Stores(Protocol):
    """The adapters a service call needs. The container (`stratus.container`) builds each on
    first use and keeps it for the Lambda container's life, so a request only pays for what it
    touches."""

    @property
    def metadata(self) -> MetadataStore: ...

    @property
    def vectors(self) -> VectorStore: ...

    @property
    def embedders(self) -> EmbedderRegistry: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def fetcher(self) -> UrlFetcher: ...


class BackfillStores(Stores, Protocol):
    """What backfills and migrations take: the stores, their task records and their queue."""

    @property
    def backfill(self) -> BackfillRepository: ...

    @property
    def backfill_queue(self) -> TaskQueue: ...
