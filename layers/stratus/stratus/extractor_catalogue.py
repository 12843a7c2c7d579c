"""The feature extractors Stratus knows (api.md, "Namespaces" and `GET
/v1/collections/features/extractors`), as data (their shapes: `stratus.extractor_specs`; a
client's `FeatureExtractorConfig` resolved against them: `stratus.extractor_resolution`).

Each extractor produces exactly one vector index, `<name>_<version>_embedding`, whose dimension
and inference service come from `stratus.inference_catalogue` (possibly chosen by a parameter),
and asks for the payload indexes its documents are filtered on. The protected system fields
(`object_id`, `bucket_id`, `collection_id`, ...) are indexed for every namespace already, so
they are not repeated here.

Pure: no I/O, no SDK. Errors are `BadRequestError`s whose `details.field` names the offending
request field (`feature_extractors[1].params.model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus import limits
from stratus.errors import BadRequestError
from stratus.extractor_specs import ExtractorSpec, ParamSpec, RequiredIndex, VectorIndexSpec
from stratus.inference_catalogue import CATALOGUE as INFERENCE_SERVICES

TEXT_FILE_EXTENSIONS = (".txt", ".md", ".json")
IMAGE_FILE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")  # what `Embedder.embed_images` decodes

# Chunking limits of `text_extractor` (api.md leaves them open; see stratus.limits).
MIN_CHUNK_SIZE = limits.MIN_CHUNK_SIZE
MAX_CHUNK_SIZE = limits.MAX_CHUNK_SIZE
SPLIT_BY_VALUES = ("none", "sentences", "paragraphs", "characters")

# ---------------------------------------------------------------------------------------------
# Shared required indexes: one definition per field, so two extractors asking for the same field
# never disagree (a namespace holds one index per field).

TEXT_INDEX = RequiredIndex(
    "text",
    "text",
    "the extracted text or chunk a document was embedded from (full-text filters)",
    {"type": "text", "tokenizer": "word", "min_token_len": 2, "max_token_len": 15, "lowercase": True},
)
CHUNK_INDEX = RequiredIndex(
    "chunk_index",
    "integer",
    "position of the chunk in its object (0-based)",
    {"type": "integer", "range": True},
)
CONTENT_TYPE_INDEX = RequiredIndex(
    "content_type", "keyword", "MIME type of the source object, e.g. image/png", {"type": "keyword"}
)
MODALITY_INDEX = RequiredIndex(
    "modality", "keyword", "'text' or 'image': what the document was embedded from", {"type": "keyword"}
)

TEXT_SERVICES = tuple(name for name, service in INFERENCE_SERVICES.items() if "text" in service.inputs)


def _check_chunking(params: Mapping[str, Any], location: str) -> None:
    # The overlap is carried into the next chunk, so it must leave room for new text.
    if params["chunk_overlap"] >= params["chunk_size"]:
        raise BadRequestError(
            f"{location}.chunk_overlap: must be smaller than chunk_size ({params['chunk_size']}), "
            f"got {params['chunk_overlap']}",
            {"field": f"{location}.chunk_overlap", "maximum": params["chunk_size"] - 1},
        )


TEXT_EXTRACTOR = ExtractorSpec(
    name="text_extractor",
    version="v1",
    description=(
        "Splits text (inline text and .txt, .md, .json files) into chunks and embeds each chunk "
        "with a text inference service; one document per chunk."
    ),
    input_types=("text", "text_file"),
    file_extensions=TEXT_FILE_EXTENSIONS,
    params=(
        ParamSpec(
            "split_by",
            "string",
            "none",
            "How text is split: none (one chunk per object), sentences, paragraphs (blank-line "
            "separated) or characters (fixed windows)",
            allowed=SPLIT_BY_VALUES,
        ),
        ParamSpec(
            "chunk_size",
            "integer",
            1000,
            "Maximum chunk length in characters (sentences/paragraphs/characters)",
            minimum=MIN_CHUNK_SIZE,
            maximum=MAX_CHUNK_SIZE,
        ),
        ParamSpec(
            "chunk_overlap",
            "integer",
            0,
            "Characters of the previous chunk repeated at the start of the next one (whole "
            "sentences/paragraphs when splitting by them); smaller than chunk_size",
            minimum=0,
            maximum=MAX_CHUNK_SIZE - 1,
        ),
        ParamSpec(
            "inference_service",
            "string",
            "openai_text_3_small",
            "Text inference service embedding the chunks; the index dimension follows it",
            allowed=TEXT_SERVICES,
        ),
    ),
    vector_index=VectorIndexSpec(service_param="inference_service"),
    required_indexes=(TEXT_INDEX, CHUNK_INDEX),
    params_check=_check_chunking,
)

# Default `siglip_base`: Mixpeek documents its image extractor's index as
# `{'image_extractor_v1_embedding': 'google_siglip_base_v1'}` (create-namespace.txt,
# vector_inference_map), so a body without params gets what a Mixpeek user expects.
IMAGE_EXTRACTOR = ExtractorSpec(
    name="image_extractor",
    version="v1",
    description="Embeds images with an image-text model, so images are found by image or by text.",
    input_types=("image",),
    file_extensions=IMAGE_FILE_EXTENSIONS,
    params=(
        ParamSpec(
            "model",
            "string",
            "siglip_base",
            "Image model: siglip_base (google_siglip_base_v1, 768) or clip_vit_b32 (clip_vit_b32, 512)",
            allowed=("siglip_base", "clip_vit_b32"),
        ),
    ),
    vector_index=VectorIndexSpec(
        service_param="model",
        service_by_value={"siglip_base": "google_siglip_base_v1", "clip_vit_b32": "clip_vit_b32"},
    ),
    required_indexes=(CONTENT_TYPE_INDEX,),
)

MULTIMODAL_EXTRACTOR = ExtractorSpec(
    name="multimodal_extractor",
    version="v1",
    description=(
        "Embeds text and images into one shared CLIP space, so a text query finds images and an "
        "image finds text. Text is embedded whole (one document per object; the model reads its "
        "first 77 tokens): use text_extractor to chunk long text."
    ),
    input_types=("text", "text_file", "image"),
    file_extensions=TEXT_FILE_EXTENSIONS + IMAGE_FILE_EXTENSIONS,
    params=(
        ParamSpec(
            "model",
            "string",
            "clip_vit_b32",
            "Shared text-image model (only clip_vit_b32 for now)",
            allowed=("clip_vit_b32",),
        ),
    ),
    vector_index=VectorIndexSpec(service_param="model"),
    required_indexes=(MODALITY_INDEX, TEXT_INDEX, CONTENT_TYPE_INDEX),
)

EXTRACTORS: dict[str, ExtractorSpec] = {
    spec.feature_extractor_id: spec for spec in (TEXT_EXTRACTOR, IMAGE_EXTRACTOR, MULTIMODAL_EXTRACTOR)
}


def available_extractors() -> list[str]:
    return list(EXTRACTORS)


def describe_catalogue() -> list[dict[str, Any]]:
    """The body of `GET /v1/collections/features/extractors`: a bare array (the SDK's type)."""
    return [spec.describe() for spec in EXTRACTORS.values()]


def describe_extractor(identifier: str) -> dict[str, Any] | None:
    """One entry, by `feature_extractor_id` (`text_extractor_v1`) or by name (its latest version)."""
    spec = EXTRACTORS.get(identifier)
    if spec is None:
        named = sorted((s for s in EXTRACTORS.values() if s.name == identifier), key=lambda s: s.version)
        spec = named[-1] if named else None
    return spec.describe() if spec is not None else None
