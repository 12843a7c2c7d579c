"""Embedding raw text for queries and upserts with the service an index is mapped to.

One call per service per request, each distinct text once. Query embeddings are cached per
container (`Container.query_cache`) for a short time (a repeated query is common; a stale vector
is impossible since a service's output for a text never changes). Only successes are cached, and
each organization has its own entries: a hit answers faster (`took_ms`), so a shared entry would
tell one organization what another searched."""

from __future__ import annotations

import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence

from stratus.ports.inference import EmbedderRegistry

CACHE_TTL_SECONDS = 300.0
CACHE_MAX_ENTRIES = 512


class EmbeddingCache:
    """LRU + TTL, float32 arrays (a 1536-d entry is 6 KB, not the 50 KB of a float list). The
    standard library's `array("f")`, not numpy: the search function must not import numpy at
    cold start for a cache that stores and returns plain floats."""

    def __init__(
        self,
        ttl_seconds: float = CACHE_TTL_SECONDS,
        max_entries: int = CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, array[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, org_id: str, service: str, text: str) -> list[float] | None:
        key = (org_id, service, text)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, vector = entry
            if self._clock() - stored_at > self._ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return [float(x) for x in vector]

    def put(self, org_id: str, service: str, text: str, vector: Sequence[float]) -> None:
        key = (org_id, service, text)
        with self._lock:
            self._entries[key] = (self._clock(), array("f", vector))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def embed_texts(
    embedders: EmbedderRegistry,
    org_id: str,
    service: str,
    texts: Sequence[str],
    cache: EmbeddingCache | None = None,
) -> dict[str, list[float]]:
    """Vectors for the distinct `texts` of organization `org_id`, asking the service only for
    those `cache` holds for that organization."""
    found: dict[str, list[float]] = {}
    missing: list[str] = []
    for text in dict.fromkeys(texts):
        cached = cache.get(org_id, service, text) if cache is not None else None
        if cached is None:
            missing.append(text)
        else:
            found[text] = cached
    if missing:
        vectors = embedders.get(service).embed_texts(missing)
        for text, vector in zip(missing, vectors, strict=True):
            found[text] = vector
            if cache is not None:
                cache.put(org_id, service, text, vector)
    return found
