"""Namespace models: the stored record, the requests and the NamespaceModel answer of api.md."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AliasChoices, Field, ValidationError, field_validator, model_validator

from stratus import limits
from stratus.domain.identifiers import check_name
from stratus.models.common import Model, StrictModel
from stratus.models.sdk_fields import NotApplied, ReportsUnapplied
from stratus.models.stored_json import stored_json

Metric = Literal["cosine", "dot", "euclidean"]
Mode = Literal["standalone", "managed"]
PayloadIndexType = Literal["keyword", "integer", "float", "bool", "geo", "datetime", "text", "uuid"]
FieldSchema = Annotated[dict[str, Any], stored_json(limits.MAX_FIELD_SCHEMA_BYTES)]

PROTECTED_FIELDS = ("document_id", "object_id", "bucket_id", "collection_id", "created_at", "updated_at")

# The `field_schema` options of each payload index type (create-namespace.txt; the SDK's
# *IndexParams models). The typed SDK fills a field_schema with the first of its variants that
# validates, so a keyword index may arrive with text options (`min_token_len`...): options of
# another type are dropped, unknown keys are kept as sent.
FIELD_SCHEMA_OPTIONS: dict[str, frozenset[str]] = {
    "text": frozenset({"type", "tokenizer", "min_token_len", "max_token_len", "lowercase"}),
    "keyword": frozenset({"type", "is_tenant"}),
    "uuid": frozenset({"type", "is_tenant"}),
    "integer": frozenset({"type", "lookup", "range"}),
    "float": frozenset({"type"}),
    "bool": frozenset({"type"}),
    "geo": frozenset({"type"}),
    "datetime": frozenset({"type"}),
}
KNOWN_FIELD_SCHEMA_OPTIONS = frozenset().union(*FIELD_SCHEMA_OPTIONS.values()) - {"type"}


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

    @model_validator(mode="after")
    def _own_options_only(self) -> PayloadIndexConfig:
        if self.field_schema:
            self.field_schema = own_field_schema(self.type, self.field_schema)
        return self


def own_field_schema(index_type: str, field_schema: dict[str, Any]) -> dict[str, Any] | None:
    """`field_schema` without the options of other index types (and with the index's own type)."""
    foreign = KNOWN_FIELD_SCHEMA_OPTIONS - FIELD_SCHEMA_OPTIONS[index_type]
    kept = {key: value for key, value in field_schema.items() if key not in foreign}
    if "type" in kept and kept["type"] != index_type and index_type != "text":
        # The SDK's first variant (TextIndexParams) says "text" for any index it filled; a text
        # index's own options are checked strictly (`check_field_schema`), its type included.
        kept["type"] = index_type
    return kept or None


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


class BackfillSource(StrictModel):
    """What a document's vector is embedded from (api.md, "Backfill and model migration"): a
    payload path holding text or an image URL / data URI (`{"field": "text"}`), or the stored
    object the extractor made the document from (`{"object": true}`)."""

    field: str | None = Field(default=None, min_length=1, max_length=256, description="Payload dot path")
    object: bool | None = Field(default=None, description="Re-read the object the extractor made it from")

    @field_validator("field")
    @classmethod
    def _dot_path(cls, value: str | None) -> str | None:
        if value is not None and any(part == "" for part in value.split(".")):
            raise ValueError("field must be a dot path without empty segments, e.g. 'metadata.caption'")
        return value

    @property
    def reads_objects(self) -> bool:
        return self.field is None and self.object is True

    @property
    def names_something(self) -> bool:
        return self.field is not None or self.object is True


class IndexMigration(Model):
    """Kept on the namespace while a model migration of one of its indexes runs: writes to the
    index also go to the shadow copy (`generation`), which the task fills and then swaps in."""

    task_id: str
    inference_service: str
    dimension: int = Field(ge=limits.MIN_DIMENSION, le=limits.MAX_DIMENSION)
    metric: Metric
    generation: str
    source: BackfillSource
    started_at: str


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
    # Server-managed, never in answers: the physical copy ("generation") of an index that a model
    # migration swapped in (absent: the original), and the migrations running now, by index.
    index_generations: dict[str, str] = Field(default_factory=dict)
    migrations: dict[str, IndexMigration] = Field(default_factory=dict)
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
    # Request fields accepted but not applied (api.md: the SDK's fields are never a 422).
    warnings: list[str] = Field(default_factory=list)


class CreateStandaloneNamespaceRequest(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "storage": NotApplied("vectors live in the deployment's vector store (infrastructure.vector_store)"),
        "config": NotApplied("a standalone namespace is configured by its fields"),
    }

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
    storage: dict[str, Any] | None = None
    config: dict[str, Any] | None = None

    @field_validator("namespace_name")
    @classmethod
    def _name_without_separator(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "namespace_name")

    @model_validator(mode="after")
    def _unique_index_names(self) -> CreateStandaloneNamespaceRequest:
        names = [config.name for config in self.vector_configs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"vector_configs names must be unique; repeated: {', '.join(duplicates)}")
        return self


Json = dict[str, Any]


class UpdateNamespaceRequest(ReportsUnapplied, StrictModel):
    """`PATCH`: the fields given change; `payload_indexes` are merged by `field_name`. The other
    fields of the SDK's PatchNamespaceRequest are accepted and reported in `warnings`."""

    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = {
        "feature_extractors": NotApplied(
            "feature extractors and their params are locked at creation (they decide the vector "
            "indexes' dimensions); create another namespace to change them"
        ),
        "adaptive_indexing": NotApplied("use auto_create_indexes: Stratus indexes heavily filtered fields"),
        "repair_vectors": NotApplied("vectors are written whole; there is nothing to repair"),
        "infrastructure": NotApplied("Stratus is serverless: there is no cluster to size"),
        "trusted_issuers": NotApplied("Stratus authenticates API keys only"),
        "spend_budget": NotApplied("Stratus has no spend budgets"),
        "pinned": NotApplied("Stratus does not pin namespaces"),
        "tiering": NotApplied("Stratus keeps every vector in one tier"),
        "expires_at": NotApplied("namespaces do not expire; delete one with DELETE /v1/namespaces/{id}"),
        "ttl_seconds": NotApplied("namespaces do not expire; delete one with DELETE /v1/namespaces/{id}"),
        "cost_cap_override": NotApplied("Stratus has no cost caps"),
    }

    namespace_name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    auto_create_indexes: bool | None = None
    payload_indexes: list[PayloadIndexInput] | None = Field(
        default=None, max_length=limits.MAX_PAYLOAD_INDEXES
    )
    feature_extractors: list[Json] | None = None
    adaptive_indexing: bool | None = None
    repair_vectors: bool | None = None
    infrastructure: Json | None = None
    trusted_issuers: list[Json] | None = Field(default=None, max_length=5)
    spend_budget: Json | None = None
    pinned: Json | None = None
    tiering: Json | None = None
    expires_at: str | None = Field(default=None, max_length=64)
    ttl_seconds: int | None = Field(default=None, ge=60)
    cost_cap_override: Json | None = None

    @field_validator("namespace_name")
    @classmethod
    def _name_without_separator(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "namespace_name")


class ReplaceNamespaceRequest(StrictModel):
    """`PUT` (the SDK's UpdateNamespaceRequest): `payload_indexes`, when given, is the namespace's
    whole list of its own indexes: those left out are dropped from the vector store. Indexes its
    feature extractors require and the protected system fields always stay."""

    namespace_name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_LENGTH)
    payload_indexes: list[PayloadIndexInput] | None = Field(
        default=None, max_length=limits.MAX_PAYLOAD_INDEXES
    )

    @field_validator("namespace_name")
    @classmethod
    def _name_without_separator(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "namespace_name")
