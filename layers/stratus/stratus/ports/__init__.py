"""The narrow protocols the services call; adapters in `stratus.adapters` implement them, and the
services never import an SDK. New code imports the module it needs (`stratus.ports.vectors`...);
this package re-exports every name."""

from stratus.ports.blobs import BlobStore, StoredBlob
from stratus.ports.fetch import UrlFetcher
from stratus.ports.inference import Embedder, EmbedderRegistry
from stratus.ports.metadata import (
    ApiKey,
    ApiKeyRepository,
    BucketPage,
    BucketRoute,
    CollectionPage,
    FieldUsage,
    ManagedContentRepository,
    MetadataStore,
    NamespacePage,
    NamespaceRepository,
    ObjectKey,
    ObjectPage,
    ObjectWrite,
    Permission,
    PromotionRecord,
    RateLimitRepository,
    RetrieverPage,
    RetrieverRepository,
    UsageRepository,
)
from stratus.ports.stores import Stores
from stratus.ports.vectors import (
    RecordPage,
    ScoredRecord,
    Space,
    StoreCapabilities,
    VectorColumns,
    VectorRecord,
    VectorStore,
)

__all__ = [
    "ApiKey",
    "ApiKeyRepository",
    "BlobStore",
    "BucketPage",
    "BucketRoute",
    "CollectionPage",
    "Embedder",
    "EmbedderRegistry",
    "FieldUsage",
    "ManagedContentRepository",
    "MetadataStore",
    "NamespacePage",
    "NamespaceRepository",
    "ObjectKey",
    "ObjectPage",
    "ObjectWrite",
    "Permission",
    "PromotionRecord",
    "RateLimitRepository",
    "RecordPage",
    "RetrieverPage",
    "RetrieverRepository",
    "ScoredRecord",
    "Space",
    "StoreCapabilities",
    "StoredBlob",
    "Stores",
    "UrlFetcher",
    "UsageRepository",
    "VectorColumns",
    "VectorRecord",
    "VectorStore",
]
