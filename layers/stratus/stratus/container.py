"""The composition root: one `Container` per process (a Lambda container, a worker of the local
server) builds the adapters and caches from settings. Each part is built on first use and kept,
never at import time: tests import modules before their mocks start, and a cold start should only
pay for what its request touches (tests/perf/cold_start.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from stratus.errors import VectorStoreUnavailableError
from stratus.settings import Settings

if TYPE_CHECKING:
    # Annotations only: `create_app` reads the container's settings, and a function that needs
    # no store (health) should not load the ports and the models they name.
    from stratus.inference_catalogue import InferenceService
    from stratus.ports import BlobStore, Embedder, EmbedderRegistry, MetadataStore, UrlFetcher, VectorStore
    from stratus.ports.backfill import BackfillRepository, TaskQueue
    from stratus.services.api_keys import AuthCache
    from stratus.services.embedding import EmbeddingCache
    from stratus.services.rate_limits import RateLimiter

T = TypeVar("T")


class Container:
    """The stores, inference providers, URL fetcher and caches of one process, from `settings`.
    It is a `stratus.ports.Stores`: services take it as their stores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._parts: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _part(self, name: str, build: Callable[[], T]) -> T:
        part: T | None = self._parts.get(name)
        if part is None:
            with self._lock:
                part = self._parts.get(name)
                if part is None:
                    part = self._parts[name] = build()
        return part

    def _adapter(self, name: str, build: Callable[[], T]) -> T:
        """A part that talks to a store or service: traced when tracing is on (`_traced`)."""
        return self._part(name, lambda: _traced(build(), name, self.settings))

    @property
    def metadata(self) -> MetadataStore:
        return self._adapter("metadata", lambda: _metadata_store(self.settings))

    @property
    def vectors(self) -> VectorStore:
        return self._adapter("vectors", lambda: _vector_store(self.settings))

    @property
    def embedders(self) -> EmbedderRegistry:
        return self._part("embedders", lambda: CatalogueEmbedders(self.settings))

    @property
    def blobs(self) -> BlobStore:
        return self._adapter("blobs", lambda: _blob_store(self.settings))

    @property
    def fetcher(self) -> UrlFetcher:
        return self._adapter("fetcher", lambda: SettingsUrlFetcher(self.settings))

    @property
    def backfill(self) -> BackfillRepository:
        """Backfill task records: the metadata store's table (the same store object when it is
        the DynamoDB one, so its namespace writes are seen by this process's reads at once)."""
        return self._part("backfill", lambda: _backfill_repository(self))

    @property
    def backfill_queue(self) -> TaskQueue:
        return self._part("backfill_queue", lambda: _backfill_queue(self.settings))

    @property
    def auth_cache(self) -> AuthCache:
        """Verified API keys, trusted for `auth_cache_seconds`."""
        from stratus.services.api_keys import AuthCache

        return self._part("auth_cache", lambda: AuthCache(self.settings.auth_cache_seconds))

    @property
    def rate_limiter(self) -> RateLimiter:
        """Counts each authenticated request against its organization's limits; those limits
        are cached as long as verified keys are."""
        from stratus.services.rate_limits import RateLimiter

        return self._part(
            "rate_limiter",
            lambda: RateLimiter(
                self.metadata, self.settings.default_rate_limits(), self.settings.auth_cache_seconds
            ),
        )

    @property
    def query_cache(self) -> EmbeddingCache:
        """Embeddings of recent search texts."""
        from stratus.services.embedding import EmbeddingCache

        return self._part("query_cache", EmbeddingCache)


_lock = threading.Lock()
_container: Container | None = None


def get_container() -> Container:
    """The process's container, built on first use from the environment's settings. Routers take
    it with `Depends(get_container)`; tests override that dependency."""
    global _container
    container = _container
    if container is None:
        with _lock:
            if _container is None:
                _container = Container(Settings.from_environment())
            container = _container
    return container


def reset_container() -> None:
    """Drop the process's container, and with it its adapters and caches: the next
    `get_container()` reads the environment again (tests and the local stack change it)."""
    global _container
    with _lock:
        _container = None


# ---------------------------------------------------------------------------------------------
# Builders. Each imports its adapter when called: a function that never touches vectors never
# pays for an SDK.


def _traced(adapter: T, component: str, settings: Settings) -> T:
    """With STRATUS_TRACING on (and on Lambda), every call of the adapter's port is an X-Ray
    subsegment (stratus.observability.traced); otherwise the adapter itself, nothing imported."""
    if not settings.tracing:
        return adapter
    from stratus.observability import traced

    return traced(adapter, component, settings)


def _metadata_store(settings: Settings) -> MetadataStore:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

    return DynamoDBMetadataStore(
        settings.table_name,
        endpoint_url=settings.aws_endpoint_url,
        region=settings.aws_region,
        http_reads=settings.dynamodb_http_reads,
    )


def _backfill_repository(container: Container) -> BackfillRepository:
    from stratus.adapters.dynamodb.backfill import DynamoDBBackfill

    store = container.metadata
    if isinstance(store, DynamoDBBackfill):
        return store
    settings = container.settings
    return DynamoDBBackfill(
        settings.table_name,
        endpoint_url=settings.aws_endpoint_url,
        region=settings.aws_region,
        http_reads=settings.dynamodb_http_reads,
    )


def _backfill_queue(settings: Settings) -> TaskQueue:
    from stratus.adapters.sqs_queue import SqsTaskQueue, UnconfiguredTaskQueue

    if not settings.backfill_queue_url:
        return UnconfiguredTaskQueue()
    return SqsTaskQueue(
        settings.backfill_queue_url, endpoint_url=settings.aws_endpoint_url, region=settings.aws_region
    )


def _vector_store(settings: Settings) -> VectorStore:
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


def _blob_store(settings: Settings) -> BlobStore:
    from stratus.adapters.s3_blob_store import S3BlobStore

    return S3BlobStore(
        settings.data_bucket, endpoint_url=settings.aws_endpoint_url, region=settings.aws_region
    )


class SettingsUrlFetcher:
    """`stratus.url_fetch` with the settings' schemes, private-address rule and timeout. The
    module (ssl, http.client) is imported on the first fetch, not at init."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def fetch(self, url: str, field: str) -> bytes:
        from stratus.url_fetch import fetch_url

        return fetch_url(url, field, self._settings)


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
                    embedder = _traced(self._build(service_name), "embedder", self._settings)
                    self._built[service_name] = embedder
        return embedder

    def _build(self, service_name: str) -> Embedder:
        from stratus.inference_catalogue import CATALOGUE

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
