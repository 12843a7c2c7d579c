"""The per-container dependencies: stores built lazily from settings on first use and cached,
never at import time (tests import modules before their mocks start)."""

from __future__ import annotations

import threading

from stratus.ports import MetadataStore, Stores, VectorStore
from stratus.settings import Settings, get_settings

_lock = threading.Lock()
_stores: Stores | None = None


def get_stores() -> Stores:
    global _stores
    if _stores is None:
        with _lock:
            if _stores is None:
                settings = get_settings()
                _stores = Stores(metadata=_metadata_store(settings), vectors=_vector_store(settings))
    return _stores


def reset_container() -> None:
    """Forget cached settings and stores (tests change the environment between cases)."""
    global _stores
    with _lock:
        _stores = None
    get_settings.cache_clear()
    from stratus.api import auth

    auth.reset_auth_cache()


def _metadata_store(settings: Settings) -> MetadataStore:
    from stratus.adapters.dynamodb_metadata import DynamoDBMetadataStore

    return DynamoDBMetadataStore(settings.table_name, endpoint_url=settings.aws_endpoint_url, region=settings.aws_region)


def _vector_store(settings: Settings) -> VectorStore:
    # Imported here so a function that never touches vectors never pays for the SDK.
    if settings.vector_store == "lancedb":
        from stratus.adapters.lancedb_store import LanceDBVectorStore

        return LanceDBVectorStore(settings.lancedb_uri)
    raise NotImplementedError(f"vector store {settings.vector_store!r} is not available in this build")
