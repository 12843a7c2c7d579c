"""Namespace models: the stored record, the requests and the NamespaceModel answer of api.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, Field, ValidationError, field_validator, model_validator

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.stored_json import stored_json

Metric = Literal["cosine", "dot", "euclidean"]
Mode = Literal["standalone", "managed"]
PayloadIndexType = Literal["keyword", "integer", "float", "bool", "geo", "datetime", "text", "uuid"]
FieldSchema = Annotated[dict[str, Any], stored_json(limits.MAX_FIELD_SCHEMA_BYTES)]

PROTECTED_FIELDS = ("document_id", "object_id", "bucket_id", "collection_id", "created_at", "updated_at")


class VectorConfig(StrictModel):
    name: str = Field(pattern=limits.VECTOR_INDEX_NAME_PATTERN, description="Vector index name")
    dimension: int = Field(ge=limits.MIN_DIMENSION, le=limits.MAX_DIMENSION)
    metric: Metric = "cosine"


class PayloadIndexConfig(Model):
    """`type` and `field_type` are both accepted (Mixpeek's docs use both)."""

    field_name: str = Field(min_length=1, max_length=256)
    type: PayloadIndexType = Field(validation_alias=AliasChoices("type", "field_type"))
    field_schema: FieldSchema | None = None
    is_protected: bool = False
    # Server-managed: where the index stands in the vector store, and whether the scheduled
    # auto-index job made it. Values sent by clients are ignored.
    state: Literal["pending", "ready", "failed"] = "pending"
    auto_created: bool = False
    error: str | None = None

    @field_validator("field_name")
    @classmethod
    def _no_empty_segments(cls, value: str) -> str:
        if any(part == "" for part in value.split(".")):
            raise ValueError("field_name must be a dot path without empty segments, e.g. 'metadata.title'")
        return value


class TextIndexSchema(StrictModel):
    """The `field_schema` of a `text` payload index (api.md; create-namespace.txt also sends
    `"type": "text"`). Unknown keys are refused: each option changes what every upsert indexes."""

    type: Literal["text"] | None = None
    tokenizer: Literal["word", "whitespace", "prefix", "multilingual"] = "word"
    min_token_len: int = Field(default=2, ge=1, le=limits.MAX_TEXT_TOKEN_LEN, strict=True)
    max_token_len: int = Field(default=15, ge=1, le=limits.MAX_TEXT_TOKEN_LEN, strict=True)
    lowercase: bool = Field(default=True, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> TextIndexSchema:
        if self.min_token_len > self.max_token_len:
            raise ValueError(
                f"min_token_len ({self.min_token_len}) must not exceed max_token_len ({self.max_token_len})"
            )
        return self


def check_field_schema(index_type: str, field_schema: dict[str, Any] | None) -> None:
    """A ValueError naming the option when a requested index's `field_schema` is not valid for its
    type (only `text` options are checked: they decide what every upsert indexes)."""
    if index_type != "text" or field_schema is None:
        return
    try:
        TextIndexSchema.model_validate(field_schema)
    except ValidationError as error:
        problems = [
            f"field_schema.{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            if problem["loc"]
            else f"field_schema: {problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors(include_url=False)
        ]
        raise ValueError("; ".join(problems)) from None


def _checked_index(index: PayloadIndexConfig) -> PayloadIndexConfig:
    check_field_schema(index.type, index.field_schema)
    return index


# A payload index as a request sends it: PayloadIndexConfig (the stored shape, read back as it was
# written) with its options checked.
PayloadIndexInput = Annotated[PayloadIndexConfig, AfterValidator(_checked_index)]


class FeatureExtractorConfig(Model):
    feature_extractor_name: str
    version: str = "v1"
    feature_extractor_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Namespace(Model):
    """The record kept in the metadata store. `version` guards every conditional write."""

    org_id: str
    namespace_id: str
    namespace_name: str
    mode: Mode
    status: Literal["active"] = "active"
    description: str | None = None
    feature_extractors: list[FeatureExtractorConfig] = Field(default_factory=list)
    payload_indexes: list[PayloadIndexConfig] = Field(default_factory=list)
    auto_create_indexes: bool = False
    vector_configs: list[VectorConfig] = Field(default_factory=list)
    vector_inference_map: dict[str, str] = Field(default_factory=dict)
    # Where this namespace's vectors live; never reused, so a re-created id starts empty.
    storage_key: str
    version: int = 1
    created_at: str
    updated_at: str

    def vector_config(self, name: str) -> VectorConfig | None:
        return next((config for config in self.vector_configs if config.name == name), None)

    def index_names(self) -> list[str]:
        return [config.name for config in self.vector_configs]


class NamespaceInfrastructure(Model):
    vector_store: str
    compute_tier: str = "serverless"
    max_concurrent_jobs: int = 10
    autoscaling_enabled: bool = True
    vector_store_locator: str


class NamespaceModel(Model):
    """The answer of every namespace route (api.md, NamespaceModel)."""

    namespace_id: str
    namespace_name: str
    mode: Mode
    status: str
    description: str | None
    feature_extractors: list[FeatureExtractorConfig]
    payload_indexes: list[PayloadIndexConfig]
    auto_create_indexes: bool
    vector_configs: list[VectorConfig]
    vector_inference_map: dict[str, str]
    infrastructure: NamespaceInfrastructure
    cluster_id: str | None = None
    document_count: int
    bucket_count: int = 0
    collection_count: int = 0
    object_count: int = 0
    created_at: str
    updated_at: str


class CreateStandaloneNamespaceRequest(StrictModel):
    namespace_id: str = Field(
        pattern=limits.NAMESPACE_ID_PATTERN,
        description="Caller-chosen id: lowercase letters, digits and '-', 2-63 characters",
    )
    namespace_name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_LENGTH)
    mode: Literal["standalone"] | None = None
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    vector_configs: list[VectorConfig] = Field(default_factory=list, max_length=limits.MAX_VECTOR_INDEXES)
    payload_indexes: list[PayloadIndexInput] = Field(
        default_factory=list, max_length=limits.MAX_PAYLOAD_INDEXES
    )
    auto_create_indexes: bool = False

    @model_validator(mode="after")
    def _unique_index_names(self) -> CreateStandaloneNamespaceRequest:
        names = [config.name for config in self.vector_configs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"vector_configs names must be unique; repeated: {', '.join(duplicates)}")
        return self


class UpdateNamespaceRequest(StrictModel):
    namespace_name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    auto_create_indexes: bool | None = None
    payload_indexes: list[PayloadIndexInput] | None = Field(
        default=None, max_length=limits.MAX_PAYLOAD_INDEXES
    )
