"""The per-container query-embedding cache: float32 storage, LRU order, TTL, and entries per
organization (a hit is faster, so a shared entry would tell one organization what another searched)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from stratus.ports import Embedder
from stratus.services.embedding import EmbeddingCache, embed_texts

ORG = "org_a"


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def test_a_cached_vector_comes_back_as_float32_values_in_a_new_list() -> None:
    cache = EmbeddingCache()
    cache.put(ORG, "svc", "cats", [0.1, -2.5, 1e-3])

    first = cache.get(ORG, "svc", "cats")

    assert first == [_float32(0.1), -2.5, _float32(1e-3)]
    assert isinstance(first, list) and all(type(x) is float for x in first)
    assert cache.get(ORG, "svc", "cats") is not first  # callers may mutate what they get
    assert cache.get(ORG, "other", "cats") is None


def test_entries_expire_after_the_ttl_and_the_least_recently_used_goes_first() -> None:
    now = [0.0]
    cache = EmbeddingCache(ttl_seconds=10.0, max_entries=2, clock=lambda: now[0])
    cache.put(ORG, "svc", "a", [1.0])
    cache.put(ORG, "svc", "b", [2.0])
    assert cache.get(ORG, "svc", "a") == [1.0]  # now "b" is the least recently used

    cache.put(ORG, "svc", "c", [3.0])

    assert cache.get(ORG, "svc", "b") is None
    assert len(cache) == 2
    now[0] = 10.5
    assert cache.get(ORG, "svc", "a") is None and cache.get(ORG, "svc", "c") is None


class CountingEmbedder:
    """An embedder (and its registry) answering [len(text), 0, ...] and counting the texts asked."""

    name = "svc"

    def __init__(self, dimension: int = 1) -> None:
        self.dimension = dimension
        self.asked: list[str] = []

    def get(self, service_name: str) -> Embedder:
        return self

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked.extend(texts)
        return [[float(len(text)), *([0.0] * (self.dimension - 1))] for text in texts]

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        raise NotImplementedError


def test_an_organization_never_hits_another_organizations_entry() -> None:
    cache, embedder = EmbeddingCache(), CountingEmbedder()

    assert embed_texts(embedder, "org_a", "svc", ["secret plan"], cache) == {"secret plan": [11.0]}
    assert embed_texts(embedder, "org_b", "svc", ["secret plan"], cache) == {"secret plan": [11.0]}
    assert embedder.asked == ["secret plan", "secret plan"]  # org B's query went to the service

    embed_texts(embedder, "org_a", "svc", ["secret plan"], cache)
    embed_texts(embedder, "org_b", "svc", ["secret plan"], cache)
    assert len(embedder.asked) == 2  # each organization's own entry serves its repeats
    assert cache.get("org_c", "svc", "secret plan") is None
