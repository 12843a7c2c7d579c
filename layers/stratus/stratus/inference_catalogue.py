"""The inference services Stratus knows (api.md, "Inference services"): name → what it produces.

This is the catalogue only; the container (`stratus.container`) builds the provider for a name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Input = Literal["text", "image"]
Provider = Literal["openai", "local", "local_image"]


@dataclass(frozen=True)
class InferenceService:
    name: str
    dimension: int
    inputs: tuple[Input, ...]
    metrics: tuple[str, ...]
    provider: Provider
    model: str
    description: str


CATALOGUE: dict[str, InferenceService] = {
    service.name: service
    for service in (
        InferenceService(
            "openai_text_3_small",
            1536,
            ("text",),
            ("cosine", "dot", "euclidean"),
            "openai",
            "text-embedding-3-small",
            "OpenAI text-embedding-3-small (or any OpenAI-compatible server)",
        ),
        InferenceService(
            "openai_text_3_large",
            3072,
            ("text",),
            ("cosine", "dot", "euclidean"),
            "openai",
            "text-embedding-3-large",
            "OpenAI text-embedding-3-large (or any OpenAI-compatible server)",
        ),
        InferenceService(
            "minilm_l6_v2",
            384,
            ("text",),
            ("cosine", "dot", "euclidean"),
            "local",
            "sentence-transformers/all-MiniLM-L6-v2",
            "all-MiniLM-L6-v2 in-process on CPU; the local default",
        ),
        InferenceService(
            "clip_vit_b32",
            512,
            ("text", "image"),
            ("cosine", "dot"),
            "local_image",
            "openai/clip-vit-base-patch32",
            "CLIP ViT-B/32 text and image encoders",
        ),
        InferenceService(
            "google_siglip_base_v1",
            768,
            ("text", "image"),
            ("cosine", "dot"),
            "local_image",
            "google/siglip-base-patch16-224",
            "SigLIP base text and image encoders",
        ),
    )
}
