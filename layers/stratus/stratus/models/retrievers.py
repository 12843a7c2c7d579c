"""Retrievers (saved search pipelines), their executions and feature search: the request and
answer shapes of Mixpeek's unified query surface (api.md, "Retrievers and feature search").

Every field the official SDK's request models define is here (mixpeek 1.3.783:
`create_retriever_request.py`, `patch_retriever_request.py`, `execute_retriever_request.py`,
`adhoc_execute_request.py`, `list_retrievers_request.py`, `feature_search_request.py`); what
Stratus does not apply is reported in the answer's `warnings`. Stage parameters are checked by
`stratus.services.retrieval.stages`, where templates (`{{INPUT.x}}`) are understood."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field

from stratus import limits
from stratus.models.common import Model, StrictModel
from stratus.models.stored_json import stored_json

StageType = Literal["filter", "sort", "reduce", "apply", "enrich"]
Visibility = Literal["private", "public", "marketplace"]
InputFieldType = Literal[
    "string", "number", "integer", "float", "boolean", "object", "array", "date", "datetime",
    "text", "image", "audio", "video", "pdf", "excel", "document_reference",
]  # fmt: skip

# A retriever item holds its stages (a BYO-vector search keeps its query vectors there), input
# schema and metadata: well inside DynamoDB's 400 KB per item.
MAX_RETRIEVER_JSON_BYTES = 256 * 1024
MAX_STAGES = 20
MAX_TAGS = 50

StoredJson = Annotated[dict[str, Any], stored_json(MAX_RETRIEVER_JSON_BYTES)]
Stages = Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_STAGES)]


class InputSchemaField(Model):
    """One input of a retriever (`RetrieverInputSchemaFieldInput`): unknown keys are kept, as
    the SDK keeps them."""

    model_config = ConfigDict(extra="allow")

    type: InputFieldType
    default: Any = None
    required: bool = False
    description: str | None = None


class BudgetLimits(StrictModel):
    max_credits: float | None = Field(default=None, ge=0)
    max_time_ms: int | None = Field(default=None, ge=0)


Tags = Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=MAX_TAGS)]
CollectionIdentifiers = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=100)
]


class CreateRetrieverRequest(StrictModel):
    retriever_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    visibility: Visibility | None = None
    marketplace_listing_id: str | None = Field(default=None, max_length=256)
    requires_subscription: bool | None = None
    collection_identifiers: CollectionIdentifiers | None = Field(
        default=None, validation_alias=AliasChoices("collection_identifiers", "collection_ids")
    )
    stages: Annotated[Stages, stored_json(MAX_RETRIEVER_JSON_BYTES)]
    input_schema: dict[str, InputSchemaField] | None = None
    budget_limits: BudgetLimits | None = None
    tags: Tags | None = None
    metadata: StoredJson | None = None
    display_config: StoredJson | None = None


class PatchRetrieverRequest(StrictModel):
    """Only what is given changes; `stages` replaces the whole pipeline."""

    retriever_name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    visibility: Visibility | None = None
    marketplace_listing_id: str | None = Field(default=None, max_length=256)
    requires_subscription: bool | None = None
    tags: Tags | None = None
    metadata: StoredJson | None = None
    display_config: StoredJson | None = None
    collection_identifiers: CollectionIdentifiers | None = Field(
        default=None, validation_alias=AliasChoices("collection_identifiers", "collection_ids")
    )
    stages: Annotated[Stages, stored_json(MAX_RETRIEVER_JSON_BYTES)] | None = None
    input_schema: dict[str, InputSchemaField] | None = None


class SortOption(StrictModel):
    field: str = Field(min_length=1, max_length=128)
    direction: Literal["asc", "desc"] = "asc"


class ListRetrieversRequest(StrictModel):
    """Body of `POST /v1/retrievers/list` (optional: the SDK sends none). Paging may also come as
    query parameters."""

    search: str | None = Field(default=None, max_length=256)
    filters: dict[str, Any] | None = None
    sort: SortOption | None = None
    sorts: list[SortOption] | None = Field(default=None, max_length=1)
    case_sensitive: bool = False
    limit: int | None = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    page_size: int | None = Field(default=None, ge=limits.MIN_PAGE_SIZE, le=limits.MAX_PAGE_SIZE)
    offset: int | None = Field(default=None, ge=0, le=10_000)
    page: int | None = Field(default=None, ge=1, le=10_000)
    cursor: str | None = Field(default=None, max_length=2048)
    include_total: bool = False


class ExecutionOptions(StrictModel):
    """What every execution takes (`ExecuteRetrieverRequest`), beside the pipeline."""

    inputs: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    # oneOf offset | cursor | scroll | keyset, told apart by `method` (checked by the service).
    pagination: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=1, le=500)
    stream: bool = False
    expand: list[str] | None = None
    skip_cache: bool = False
    return_presigned_urls: bool = False
    return_vectors: bool = False
    write_token: str | None = None
    consistency: dict[str, Any] | None = None
    target_collection_id: str | None = None
    explain: bool = False
    # The high-level client's `retrievers.execute(..., settings=...)`.
    settings: dict[str, Any] | None = None


class ExecuteRetrieverRequest(ExecutionOptions):
    pass


class AdhocExecuteRequest(ExecutionOptions):
    """`POST /v1/retrievers/execute`: the pipeline comes in the body and nothing is saved."""

    stages: Stages
    collection_identifiers: CollectionIdentifiers | None = Field(
        default=None, validation_alias=AliasChoices("collection_identifiers", "collection_ids")
    )
    input_schema: dict[str, InputSchemaField] | None = None
    budget_limits: BudgetLimits | None = None


class FeatureSearchQuery(StrictModel):
    input_mode: Literal["text", "vector", "content", "document"] = "text"
    text: str | None = None
    value: Any = None
    url: str | None = None
    image: str | None = None
    vector: list[Any] | None = None
    document_ref: dict[str, Any] | None = None


class FeatureSearchRequest(StrictModel):
    # The SDK always sends its default, the text extractor's embedding.
    feature_uri: str = Field(default="mixpeek://text_extractor@v1/embedding", min_length=1, max_length=512)
    query: FeatureSearchQuery
    top_k: int = Field(default=25, ge=limits.MIN_TOP_K, le=limits.MAX_TOP_K)
    filters: dict[str, Any] | None = None
    collection_identifiers: CollectionIdentifiers | None = Field(
        default=None, validation_alias=AliasChoices("collection_identifiers", "collection_ids")
    )
    return_vectors: bool = False


# ---------------------------------------------------------------------------------------------
# The stored record and the answers


class Retriever(Model):
    """The record kept in the metadata table. `stages` are stored in the nested form
    (`{stage_name, stage_type, config: {stage_id, parameters}}`), whatever form they came in."""

    org_id: str
    namespace_id: str
    retriever_id: str
    retriever_name: str
    description: str | None = None
    collection_identifiers: list[str] = Field(default_factory=list)
    stages: list[dict[str, Any]]
    input_schema: dict[str, dict[str, Any]] | None = None
    budget_limits: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    display_config: dict[str, Any] | None = None
    visibility: Visibility = "private"
    marketplace_listing_id: str | None = None
    requires_subscription: bool = False
    version: int = 1
    created_at: str
    updated_at: str


class StageModel(Model):
    """One stage as answered: `parameters` mirrors `config.parameters` (the SDK requires both)."""

    model_config = ConfigDict(extra="allow")

    stage_name: str
    stage_type: StageType | None = None
    config: dict[str, Any]
    parameters: dict[str, Any]


class RetrieverModel(Model):
    """The answer of the retriever routes (the SDK's `RetrieverConfig` / `RetrieverModelOutput`)."""

    retriever_id: str
    retriever_name: str
    description: str | None = None
    namespace_id: str
    collection_identifiers: list[str]
    collection_ids: list[str]
    stages: list[StageModel]
    input_schema: dict[str, dict[str, Any]] | None = None
    budget_limits: dict[str, Any] | None = None
    tags: list[str]
    metadata: dict[str, Any]
    display_config: dict[str, Any] | None = None
    visibility: Visibility
    marketplace_listing_id: str | None = None
    requires_subscription: bool
    is_published: bool = False
    fusion: str | None
    version: int
    created_at: str
    updated_at: str


class PatchRetrieverResponse(Model):
    retriever: RetrieverModel


class RetrieverPagination(Model):
    page_size: int
    next_cursor: str | None = None
    total: int | None = None


class ListRetrieversResponse(Model):
    results: list[RetrieverModel]
    pagination: RetrieverPagination
    total: int | None = None


class DeleteRetrieverResponse(Model):
    success: bool = True
    message: str
    retriever_id: str


class StageStatistics(Model):
    input_count: int
    output_count: int
    duration_ms: float
    efficiency: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExecutionStatistics(Model):
    stages: dict[str, StageStatistics]
    total_time_ms: float


class ExecutionResponse(Model):
    """The answer of both executes and of feature search (`ExecuteRetrieverResponse`).
    `documents` carry `document_id`, `score`, `scores` (the best similarity per vector index),
    the payload's fields and, when asked, `vectors`."""

    retriever_id: str | None = None
    execution_id: str
    status: Literal["completed"] = "completed"
    documents: list[dict[str, Any]]
    results: list[dict[str, Any]] | None = None
    groups: list[dict[str, Any]] | None = None
    pagination: dict[str, Any]
    stage_statistics: ExecutionStatistics
    warnings: list[str]
    took_ms: float
    feature_uri: str | None = None
    vector_index: str | None = None


class StageDefinition(Model):
    """One entry of `GET /v1/retrievers/stages` (the SDK's `RetrieverStageDefinition`)."""

    stage_id: str
    description: str
    category: StageType
    icon: str
    parameter_schema: dict[str, Any]
