"""The feature extractors Stratus knows (api.md, "Namespaces" and `GET
/v1/collections/features/extractors`), as data, and the one function that turns a client's
`FeatureExtractorConfig` into what a managed namespace locks in at creation.

Each extractor produces exactly one vector index, `<name>_<version>_embedding`, whose dimension
and inference service come from `stratus.inference_catalogue` (possibly chosen by a parameter),
and asks for the payload indexes its documents are filtered on. The protected system fields
(`object_id`, `bucket_id`, `collection_id`, ...) are indexed for every namespace already, so
they are not repeated here.

Pure: no I/O, no SDK. Errors are `BadRequestError`s whose `details.field` names the offending
request field (`feature_extractors[1].params.model`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stratus import limits
from stratus.errors import BadRequestError
from stratus.inference_catalogue import CATALOGUE as INFERENCE_SERVICES
from stratus.models.namespaces import (
    FeatureExtractorConfig,
    Metric,
    PayloadIndexConfig,
    PayloadIndexType,
    VectorConfig,
)

InputType = Literal["text", "image", "text_file"]
ParamType = Literal["string", "integer", "boolean"]
ParamValue = str | int | bool

TEXT_FILE_EXTENSIONS = (".txt", ".md", ".json")
IMAGE_FILE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")  # what `Embedder.embed_images` decodes

# Chunking limits of `text_extractor` (api.md leaves them open; see stratus.limits).
MIN_CHUNK_SIZE = limits.MIN_CHUNK_SIZE
MAX_CHUNK_SIZE = limits.MAX_CHUNK_SIZE
SPLIT_BY_VALUES = ("none", "sentences", "paragraphs", "characters")


@dataclass(frozen=True)
class ParamSpec:
    """One extractor parameter. `allowed` is an enumeration; `minimum`/`maximum` bound integers."""

    name: str
    type: ParamType
    default: ParamValue
    description: str
    allowed: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def json_schema(self) -> dict[str, Any]:
        """The parameter as a JSON-schema property (the SDK's `parameter_schema`)."""
        schema: dict[str, Any] = {"type": self.type, "default": self.default, "description": self.description}
        if self.allowed is not None:
            schema["enum"] = list(self.allowed)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def describe(self) -> dict[str, Any]:
        """The JSON shape of the catalogue route."""
        described: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "description": self.description,
        }
        if self.allowed is not None:
            described["allowed_values"] = list(self.allowed)
        if self.minimum is not None:
            described["minimum"] = self.minimum
        if self.maximum is not None:
            described["maximum"] = self.maximum
        return described


@dataclass(frozen=True)
class RequiredIndex:
    """A payload index an extractor's documents need (their filters and text search use it)."""

    field_name: str
    type: PayloadIndexType
    description: str
    field_schema: Mapping[str, Any] | None = None

    def config(self) -> PayloadIndexConfig:
        schema = dict(self.field_schema) if self.field_schema is not None else None
        return PayloadIndexConfig(field_name=self.field_name, type=self.type, field_schema=schema)

    def describe(self) -> dict[str, Any]:
        described = self.config().model_dump(include={"field_name", "type", "field_schema"})
        return {**described, "description": self.description}


@dataclass(frozen=True)
class VectorIndexSpec:
    """Which inference service embeds the extractor's index: fixed (`service`), or chosen by the
    value of the parameter `service_param`, through `service_by_value` when the parameter's
    values are model nicknames (`siglip_base`) rather than service names."""

    metric: Metric = "cosine"
    service: str | None = None
    service_param: str | None = None
    service_by_value: Mapping[str, str] = field(default_factory=dict)

    def service_for(self, params: Mapping[str, Any]) -> str:
        if self.service_param is None:
            assert self.service is not None, "a vector index needs a service or a service_param"
            return self.service
        value = str(params[self.service_param])
        return self.service_by_value.get(value, value)


# A cross-parameter rule: (locked params, location of `params`) → raises BadRequestError.
ParamsCheck = Callable[[Mapping[str, Any], str], None]


@dataclass(frozen=True)
class ExtractorSpec:
    name: str
    version: str
    description: str
    input_types: tuple[InputType, ...]
    file_extensions: tuple[str, ...]
    params: tuple[ParamSpec, ...]
    vector_index: VectorIndexSpec
    required_indexes: tuple[RequiredIndex, ...]
    params_check: ParamsCheck | None = None

    @property
    def feature_extractor_id(self) -> str:
        return f"{self.name}_{self.version}"

    @property
    def index_name(self) -> str:
        return f"{self.feature_extractor_id}_embedding"

    def param(self, name: str) -> ParamSpec | None:
        return next((spec for spec in self.params if spec.name == name), None)

    def defaults(self) -> dict[str, ParamValue]:
        return {spec.name: spec.default for spec in self.params}

    def vector_config(self, params: Mapping[str, Any]) -> VectorConfig:
        service = INFERENCE_SERVICES[self.vector_index.service_for(params)]
        return VectorConfig(
            name=self.index_name, dimension=service.dimension, metric=self.vector_index.metric
        )

    def describe(self) -> dict[str, Any]:
        """One entry of `GET /v1/collections/features/extractors`. The index is described with
        the default parameters; `service_choices` says how a parameter changes it."""
        defaults = self.defaults()
        service = self.vector_index.service_for(defaults)
        vector: dict[str, Any] = {
            **self.vector_config(defaults).model_dump(),
            "inference_service": service,
        }
        if self.vector_index.service_param is not None:
            param = self.param(self.vector_index.service_param)
            assert param is not None and param.allowed is not None
            vector["chosen_by_param"] = param.name
            choices = {value: self.vector_index.service_for({param.name: value}) for value in param.allowed}
            vector["service_choices"] = {
                value: {"inference_service": name, "dimension": INFERENCE_SERVICES[name].dimension}
                for value, name in choices.items()
            }
        inputs = self.supported_input_types()
        index_description = (
            f"{self.index_name}: {vector['dimension']}-dimensional {vector['metric']} vectors of "
            f"{service}, one per document"
        )
        return {
            # The SDK's FeatureExtractorResponseModel (every field it requires)...
            "feature_extractor_name": self.name,
            "version": self.version,
            "feature_extractor_id": self.feature_extractor_id,
            "description": self.description,
            "icon": "image" if inputs == ["image"] else ("layers" if "image" in inputs else "file-text"),
            "category": "general",
            "source": "builtin",
            "input_schema": {
                "type": "object",
                "properties": {kind: {"type": "string", "description": f"a {kind} blob"} for kind in inputs},
            },
            "output_schema": {
                "type": "object",
                "properties": {
                    self.index_name: {"type": "array", "items": {"type": "number"}},
                    **{
                        index.field_name: {"type": "string"}
                        for index in self.required_indexes
                        if index.type == "text"
                    },
                },
            },
            "parameter_schema": {
                "type": "object",
                "properties": {spec.name: spec.json_schema() for spec in self.params},
            },
            "supported_input_types": inputs,
            "max_inputs": {kind: 1 for kind in inputs},
            "default_parameters": defaults,
            "required_vector_indexes": [
                {
                    "name": self.index_name,
                    "description": index_description,
                    "type": "single",
                    "index": {
                        "name": self.index_name,
                        "description": index_description,
                        "dimensions": vector["dimension"],
                        "type": "dense",
                        "distance": vector["metric"],
                        "inference_service_id": service,
                        "supported_inputs": inputs,
                    },
                }
            ],
            "required_payload_indexes": [index.describe() for index in self.required_indexes],
            # ... and Stratus's own description of the same.
            "input_types": list(self.input_types),
            "file_extensions": list(self.file_extensions),
            "parameters": [spec.describe() for spec in self.params],
            "vector_index": vector,
        }

    def supported_input_types(self) -> list[str]:
        """The input types as the SDK names them (BucketSchemaFieldType: text files are text)."""
        return list(dict.fromkeys("image" if kind == "image" else "text" for kind in self.input_types))


@dataclass(frozen=True)
class ResolvedExtractor:
    """What a managed namespace locks in for one extractor at creation."""

    spec: ExtractorSpec
    config: FeatureExtractorConfig  # name, version, id and every parameter (defaults applied)
    vector_config: VectorConfig
    inference_service: str
    required_indexes: tuple[PayloadIndexConfig, ...]


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


# ---------------------------------------------------------------------------------------------
# Resolution


def resolve_extractor(config: FeatureExtractorConfig, location: str) -> ResolvedExtractor:
    """Validate one requested extractor (`location` is where it sits in the request, e.g.
    `feature_extractors[1]`), apply its defaults and lock its parameters."""
    spec = _spec_of(config, location)
    params = _locked_params(spec, config.params, f"{location}.params")
    if spec.params_check is not None:
        spec.params_check(params, f"{location}.params")
    service = spec.vector_index.service_for(params)
    return ResolvedExtractor(
        spec=spec,
        config=FeatureExtractorConfig(
            feature_extractor_name=spec.name,
            version=spec.version,
            feature_extractor_id=spec.feature_extractor_id,
            params=params,
        ),
        vector_config=spec.vector_config(params),
        inference_service=service,
        required_indexes=tuple(index.config() for index in spec.required_indexes),
    )


def _spec_of(config: FeatureExtractorConfig, location: str) -> ExtractorSpec:
    available = available_extractors()
    versions = sorted(
        spec.version for spec in EXTRACTORS.values() if spec.name == config.feature_extractor_name
    )
    if not versions:
        names = sorted({spec.name for spec in EXTRACTORS.values()})
        raise BadRequestError(
            f"{location}.feature_extractor_name: unknown feature extractor "
            f"'{config.feature_extractor_name}'; available: {', '.join(names)}",
            {"field": f"{location}.feature_extractor_name", "available_extractors": available},
        )
    spec = EXTRACTORS.get(f"{config.feature_extractor_name}_{config.version}")
    if spec is None:
        raise BadRequestError(
            f"{location}.version: {config.feature_extractor_name} has no version '{config.version}'; "
            f"available: {', '.join(versions)}",
            {
                "field": f"{location}.version",
                "available_versions": versions,
                "available_extractors": available,
            },
        )
    if config.feature_extractor_id is not None and config.feature_extractor_id != spec.feature_extractor_id:
        raise BadRequestError(
            f"{location}.feature_extractor_id: '{config.feature_extractor_id}' does not match "
            f"feature_extractor_name and version; expected '{spec.feature_extractor_id}' (or omit it)",
            {"field": f"{location}.feature_extractor_id", "expected": spec.feature_extractor_id},
        )
    return spec


def _locked_params(spec: ExtractorSpec, given: Mapping[str, Any], location: str) -> dict[str, ParamValue]:
    accepted = [param.name for param in spec.params]
    for name in given:
        if spec.param(name) is None:
            raise BadRequestError(
                f"{location}.{name}: unknown parameter of {spec.feature_extractor_id}; "
                f"accepted: {', '.join(accepted) or 'none'}",
                {"field": f"{location}.{name}", "accepted_params": accepted},
            )
    locked = spec.defaults()
    for param in spec.params:
        if param.name in given:
            locked[param.name] = _checked_value(param, given[param.name], f"{location}.{param.name}")
    return locked


def _checked_value(param: ParamSpec, value: Any, location: str) -> ParamValue:
    checked = _typed(param, value, location)
    if param.allowed is not None and checked not in param.allowed:
        raise BadRequestError(
            f"{location}: {checked!r} is not accepted; use one of {', '.join(param.allowed)}",
            {"field": location, "allowed": list(param.allowed)},
        )
    if isinstance(checked, int) and not isinstance(checked, bool):
        _check_range(param, checked, location)
    return checked


def _typed(param: ParamSpec, value: Any, location: str) -> ParamValue:
    # bool is an int in Python: `true` must not pass for chunk_size, nor 1 for a boolean.
    if param.type == "boolean" and isinstance(value, bool):
        return value
    if param.type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if param.type == "string" and isinstance(value, str):
        return value
    raise BadRequestError(
        f"{location}: expected {param.type}, got {type(value).__name__} {value!r}",
        {"field": location, "expected_type": param.type},
    )


def _check_range(param: ParamSpec, value: int, location: str) -> None:
    too_small = param.minimum is not None and value < param.minimum
    too_large = param.maximum is not None and value > param.maximum
    if too_small or too_large:
        raise BadRequestError(
            f"{location}: {value} is out of range; must be within {param.minimum}..{param.maximum}",
            {"field": location, "minimum": param.minimum, "maximum": param.maximum},
        )
