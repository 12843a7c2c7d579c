"""The per-container query-embedding cache: float32 storage, LRU order, TTL."""

from __future__ import annotations

import struct

from stratus.services.embedding import EmbeddingCache


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def test_a_cached_vector_comes_back_as_float32_values_in_a_new_list() -> None:
    cache = EmbeddingCache()
    cache.put("svc", "cats", [0.1, -2.5, 1e-3])

    first = cache.get("svc", "cats")

    assert first == [_float32(0.1), -2.5, _float32(1e-3)]
    assert isinstance(first, list) and all(type(x) is float for x in first)
    assert cache.get("svc", "cats") is not first  # callers may mutate what they get
    assert cache.get("other", "cats") is None


def test_entries_expire_after_the_ttl_and_the_least_recently_used_goes_first() -> None:
    now = [0.0]
    cache = EmbeddingCache(ttl_seconds=10.0, max_entries=2, clock=lambda: now[0])
    cache.put("svc", "a", [1.0])
    cache.put("svc", "b", [2.0])
    assert cache.get("svc", "a") == [1.0]  # now "b" is the least recently used

    cache.put("svc", "c", [3.0])

    assert cache.get("svc", "b") is None
    assert len(cache) == 2
    now[0] = 10.5
    assert cache.get("svc", "a") is None and cache.get("svc", "c") is None
