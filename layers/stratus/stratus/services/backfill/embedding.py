"""Inputs to vectors with one inference service, in the model's batches (texts and images apart),
each batch handed on as soon as it is embedded. An input the model refuses (a corrupt image) fails
alone: its batch is embedded again one input at a time. Outages raise."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from stratus.errors import BadRequestError
from stratus.ports.inference import Embedder
from stratus.services.backfill.sources import Input

# The batch sizes of the extractor (services/ingestion/extraction): large enough to amortise a
# remote call, small enough for any provider's request limits.
TEXT_BATCH = 64
IMAGE_BATCH = 16

Written = Callable[[dict[str, list[float]]], None]
V = TypeVar("V", str, bytes)


def embed_in_batches(embedder: Embedder, inputs: Mapping[str, Input], write: Written) -> dict[str, str]:
    """Embed every input, calling `write` with each batch's vectors (id → vector); returns the
    ids that failed, with the reason."""
    failed: dict[str, str] = {}
    texts = [(doc_id, item.text) for doc_id, item in inputs.items() if item.text is not None]
    images = [(doc_id, item.image) for doc_id, item in inputs.items() if item.image is not None]
    for start in range(0, len(texts), TEXT_BATCH):
        _embed_batch(embedder.embed_texts, texts[start : start + TEXT_BATCH], write, failed)
    for start in range(0, len(images), IMAGE_BATCH):
        _embed_batch(embedder.embed_images, images[start : start + IMAGE_BATCH], write, failed)
    return failed


def _embed_batch(
    embed: Callable[[Sequence[V]], list[list[float]]],
    batch: Sequence[tuple[str, V]],
    write: Written,
    failed: dict[str, str],
) -> None:
    try:
        vectors = embed([value for _, value in batch])
    except BadRequestError as error:
        if len(batch) == 1:
            failed[batch[0][0]] = error.message
            return
        for one in batch:  # which one? each alone
            _embed_batch(embed, [one], write, failed)
        return
    write({doc_id: vector for (doc_id, _), vector in zip(batch, vectors, strict=True)})
