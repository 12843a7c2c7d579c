"""The shapes the extractor catalogue is written in: an extractor's parameters, the payload
indexes it needs, which inference service embeds its one vector index, and what a managed
namespace locks in for it (`ResolvedExtractor`). Pure: no I/O, no SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
