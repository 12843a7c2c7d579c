"""The per-container dependencies: stores and inference providers built lazily from settings on
first use and cached, never at import time (tests import modules before their mocks start, and
a cold start should only pay for what its request touches)."""

from __future__ import annotations

import threading
from typing import Literal

from stratus.errors import VectorStoreUnavailableError
from stratus.inference_catalogue import CATALOGUE, InferenceService
from stratus.ports import BlobStore, Embedder, EmbedderRegistry, MetadataStore, Stores, VectorStore
from stratus.settings import Settings, get_settings

_lock = threading.Lock()
_stores: ContainerStores | None = None


class ContainerStores:
    """Each adapter is built on first access and kept for the container's life."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._metadata: MetadataStore | None = None
        self._vectors: VectorStore | None = None
        self._embedders: EmbedderRegistry | None = None
        self._blobs: BlobStore | None = None

    @property
    def metadata(self) -> MetadataStore:
        if self._metadata is None:
            with self._lock:
                if self._metadata is None:
                    self._metadata = _metadata_store(self._settings)
        return self._metadata

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = _vector_store(self._settings)
        return self._vectors

    @property
    def embedders(self) -> EmbedderRegistry:
        if self._embedders is None:
            with self._lock:
                if self._embedders is None:
                    self._embedders = CatalogueEmbedders(self._settings)
        return self._embedders

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            with self._lock:
                if self._blobs is None:
                    from stratus.adapters.s3_blob_store import S3BlobStore

                    self._blobs = S3BlobStore(
                        self._settings.data_bucket,
                        endpoint_url=self._settings.aws_endpoint_url,
                        region=self._settings.aws_region,
                    )
        return self._blobs


def get_stores() -> Stores:
    global _stores
    if _stores is None:
        with _lock:
            if _stores is None:
                _stores = ContainerStores(get_settings())
    return _stores


def reset_container() -> None:
    """Forget cached settings, stores and caches (tests change the environment between cases)."""
    global _stores
    with _lock:
        _stores = None
    get_settings.cache_clear()
    from stratus.api import auth
    from stratus.services.embedding import query_cache

    auth.reset_auth_cache()
    query_cache.clear()


def _metadata_store(settings: Settings) -> MetadataStore:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

    return DynamoDBMetadataStore(
        settings.table_name,
        endpoint_url=settings.aws_endpoint_url,
        region=settings.aws_region,
        http_reads=settings.dynamodb_http_reads,
    )


def _vector_store(settings: Settings) -> VectorStore:
    # Imported here so a function that never touches vectors never pays for an SDK.
    if settings.vector_store == "pinecone":
        return _pinecone_store(settings)
    try:
        from stratus.adapters.lancedb.store import LanceDBVectorStore
    except ImportError as error:  # the Lambda layer carries Pinecone, not LanceDB
        raise VectorStoreUnavailableError(
            "vector store 'lancedb' is not installed here; install the 'lancedb' extra or set "
            "STRATUS_VECTOR_STORE=pinecone",
            {"vector_store": "lancedb"},
        ) from error
    return LanceDBVectorStore(settings.lancedb_uri)


def _pinecone_store(settings: Settings) -> VectorStore:
    from stratus.adapters.pinecone.store import PineconeVectorStore
    from stratus.adapters.secrets import api_key_from

    return PineconeVectorStore(
        api_key_provider=api_key_from(
            settings.pinecone_api_key,
            settings.pinecone_api_key_secret_arn,
            service="pinecone",
            env_name="STRATUS_PINECONE_API_KEY",
            secret_setting_name="STRATUS_PINECONE_API_KEY_SECRET_ARN",
        ),
        index_prefix=settings.pinecone_index_prefix,
        cloud=settings.pinecone_cloud,
        region=settings.pinecone_region,
        control_plane_host=settings.pinecone_control_plane_host,
        max_concurrency=settings.pinecone_max_concurrency,
        max_attempts=settings.pinecone_max_attempts,
        timeout_seconds=settings.pinecone_timeout_seconds,
    )


class CatalogueEmbedders:
    """Builds each catalogue service's provider on first use, once per container."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._built: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, service_name: str) -> Embedder:
        embedder = self._built.get(service_name)
        if embedder is None:
            with self._lock:
                embedder = self._built.get(service_name)
                if embedder is None:
                    embedder = self._built[service_name] = self._build(service_name)
        return embedder

    def _build(self, service_name: str) -> Embedder:
        service = CATALOGUE[service_name]
        if service.provider == "openai":
            from stratus.adapters.inference.openai import OpenAIEmbedder
            from stratus.adapters.secrets import api_key_from

            return OpenAIEmbedder(
                service_name=service.name,
                model=service.model,
                dimension=service.dimension,
                api_key_provider=api_key_from(
                    self._settings.openai_api_key,
                    self._settings.openai_api_key_secret_arn,
                    service=service.name,
                ),
                base_url=self._settings.openai_base_url,
                max_attempts=self._settings.openai_max_attempts,
                timeout_seconds=self._settings.openai_timeout_seconds,
            )
        if service.name == "minilm_l6_v2":
            from stratus.adapters.inference.minilm import MiniLMEmbedder

            _limit_torch_threads(self._settings.torch_threads)
            return MiniLMEmbedder()
        return self._image_text(service)

    def _image_text(self, service: InferenceService) -> Embedder:
        # inference.http is stdlib-only; inference.image_text imports torch only when it loads.
        from stratus.adapters.inference.http import ENDPOINT_SETTINGS, HttpEmbedder
        from stratus.adapters.inference.image_text import WEIGHTS_SETTINGS, HuggingFaceImageTextEmbedder
        from stratus.adapters.inference.unavailable import UnavailableEmbedder

        family: Literal["clip", "siglip"] = "clip" if service.name == "clip_vit_b32" else "siglip"
        settings = self._settings
        endpoint = settings.clip_endpoint_url if family == "clip" else settings.siglip_endpoint_url
        if endpoint and endpoint.strip():
            # The endpoint wins over weights: a zip Lambda may inherit a weights setting it cannot
            # use (no torch there), while an endpoint is only ever set on purpose.
            return HttpEmbedder(service.name, service.dimension, endpoint, setting=ENDPOINT_SETTINGS[family])
        uri = settings.clip_weights_uri if family == "clip" else settings.siglip_weights_uri
        if not uri:
            return UnavailableEmbedder(
                service.name,
                service.dimension,
                f"no weights configured: set {WEIGHTS_SETTINGS[family]} to a directory or s3://bucket/prefix "
                f"holding the Hugging Face files of {service.model}, or {ENDPOINT_SETTINGS[family]} to "
                "an embeddings endpoint",
            )
        _limit_torch_threads(self._settings.torch_threads)
        return HuggingFaceImageTextEmbedder(service.name, family, service.dimension, uri)


def _limit_torch_threads(threads: int) -> None:
    """Applied before a model loads (torch is imported lazily, and only here)."""
    try:
        import torch
    except ImportError:  # the embedder reports the missing package itself
        return
    torch.set_num_threads(threads)
