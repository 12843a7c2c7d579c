"""The parameters of each stage a pipeline may use, as models (what `stages` checks a stage's
`parameters` against). Both spellings are accepted where the SDK's models and api.md differ
(aliases); the string `"null"` (what the SDK's typed params send for unset strings) is read as
null. Parameters marked "accepted, not applied" are taken without effect; `warn_not_applied`
reports the ones set to something that would matter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, ConfigDict, Field

from stratus.models.common import StrictModel


def _null_string(value: Any) -> Any:
    return None if value == "null" else value


NullableText = Annotated[str | None, BeforeValidator(_null_string)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Identifiers = Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=100)]


class Params(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------------------------------------
# feature_search


class ContentInput(Params):
    url: str | None = None
    base64: str | None = None


class DocumentRef(Params):
    document_id: str | None = None
    collection_id: str | None = None


class QueryInput(Params):
    """One search's query: `input_mode` + its carrier (`value`, or `text` / `vector` / `url` /
    `image` / `content` / `document_ref`, as the SDK's query models and `POST /v1/features/search`
    name them)."""

    input_mode: Literal["text", "vector", "content", "document", "multi_content"] | None = None
    value: Any = None
    text: str | None = None
    vector: Any = None
    url: str | None = None
    image: str | None = None
    content: ContentInput | None = None
    document_ref: DocumentRef | None = None
    values: list[Any] | None = None
    embedding_task: NullableText = None


class SearchEntry(Params):
    feature_uri: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        validation_alias=AliasChoices("feature_uri", "vector_name"),
    )
    query: QueryInput | str | None = None
    # POST /v1/search's spelling of the query (the SDK's high-level client passes it through).
    text: str | None = None
    vector: Any = None
    url: str | None = None
    value: Any = None
    top_k: int = Field(default=100, ge=1, le=5000)
    min_score: float | None = Field(
        default=None, allow_inf_nan=False, validation_alias=AliasChoices("min_score", "score_threshold")
    )
    weight: Weight = 1.0
    filters: dict[str, Any] | None = None
    collection_identifiers: Identifiers | None = Field(
        default=None, validation_alias=AliasChoices("collection_identifiers", "collection_ids")
    )
    optional: bool = False
    # Accepted, not applied (reported in `warnings` when set to something that would matter).
    lexical: bool = False
    on_empty: Literal["error", "skip", "random"] | None = None
    query_preprocessing: dict[str, Any] | None = None


class FeatureSearchGroupBy(Params):
    field: str = Field(min_length=1, max_length=256)
    max_per_group: int = Field(default=1, ge=1, le=100)
    limit: int = Field(default=25, ge=1, le=500)
    output_mode: Literal["first", "all", "flatten"] = "all"


class FeatureSearchParams(Params):
    searches: list[SearchEntry] | None = Field(default=None, min_length=1, max_length=10)
    final_top_k: int | None = Field(default=None, ge=1, le=5000)
    fusion: Literal["rrf", "dbsf", "weighted", "max", "learned"] | None = None
    collection_identifiers: Identifiers | None = Field(
        default=None, validation_alias=AliasChoices("collection_identifiers", "collection_ids")
    )
    group_by: FeatureSearchGroupBy | None = None
    # The flat (quickstart) form: one search given by its parts.
    query: QueryInput | str | None = None
    feature_uri: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        validation_alias=AliasChoices("feature_uri", "vector_name"),
    )
    feature_extractor: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=1, le=5000)
    top_k: int | None = Field(default=None, ge=1, le=5000)
    filters: dict[str, Any] | None = None
    min_score: float | None = Field(default=None, allow_inf_nan=False)
    # Accepted, not applied.
    cache_behavior: Literal["auto", "disabled", "aggressive"] | None = None
    cache_ttl_seconds: int | None = Field(default=None, ge=0)
    hard_timeout_ms: int | None = Field(default=None, ge=1)
    interactive: bool = False
    degrade_retry: bool = False
    learning_config: dict[str, Any] | None = None
    query_preprocessing: dict[str, Any] | None = None
    auto_preprocess: bool = True
    facets: list[dict[str, Any]] | None = None


# ---------------------------------------------------------------------------------------------
# The other stages


class AttributeFilterParams(Params):
    conditions: dict[str, Any] | None = None
    field: str | None = Field(default=None, min_length=1, max_length=256)
    operator: str | None = None
    value: Any = None
    case_insensitive: bool = False
    # Accepted, not applied.
    natural_language: NullableText = None
    field_hints: list[str] | None = None
    batch_size: int | None = Field(default=None, ge=1, le=1000)


class SortKey(Params):
    field: str = Field(min_length=1, max_length=256)
    direction: Literal["asc", "desc"] = "desc"


class SortAttributeParams(Params):
    sort_by: list[SortKey] | None = Field(default=None, min_length=1, max_length=8)
    field: str | None = Field(default=None, min_length=1, max_length=256)
    direction: Literal["asc", "desc"] | None = None
    nulls_last: bool = True


class SortRelevanceParams(Params):
    score_field: str = Field(default="score", min_length=1, max_length=256)
    direction: Literal["asc", "desc"] | None = None
    missing_score: Literal["bottom", "top", "preserve"] = "bottom"
    feature_address: NullableText = None


class LimitParams(Params):
    limit: int = Field(ge=1, le=5000)
    offset: int = Field(default=0, ge=0, le=5000)


class SampleParams(Params):
    count: int = Field(default=10, ge=1, le=1000)
    strategy: Literal["random", "stratified", "reservoir"] = "random"
    stratify_by: NullableText = None
    min_per_stratum: int = Field(default=1, ge=0)
    seed: int | None = None
    preserve_top_k: int = Field(default=0, ge=0)


class GroupByParams(Params):
    group_by_field: str | None = Field(
        default=None, min_length=1, max_length=256, validation_alias=AliasChoices("group_by_field", "field")
    )
    max_per_group: int = Field(default=10, ge=1, le=1000)
    output_mode: Literal["first", "all", "flatten"] = "all"


class MmrParams(Params):
    lambda_: float = Field(default=0.7, ge=0, le=1, alias="lambda")
    top_k: int = Field(default=25, ge=1, le=500)
    diversity_feature_uri: NullableText = None
    score_field: str = Field(default="score", min_length=1, max_length=256)
    mmr_score_field: str = Field(default="scores.mmr", min_length=1, max_length=256)
    similarity_metric: Literal["cosine", "dot", "euclidean"] = "cosine"
    # Accepted, not applied.
    diversity_features: list[dict[str, Any]] | None = None
    diversity_fields: list[str] | None = None


def warn_not_applied(warnings: list[str], params: Params, here: str, defaults: Mapping[str, Any]) -> None:
    """Parameters Stratus accepts without applying them: a warning when one is set to
    something other than its default (the SDK's typed params send their defaults)."""
    for name, default in defaults.items():
        if name in params.model_fields_set:
            value = getattr(params, name)
            if value is not None and value != default:
                warnings.append(f"{here}.{name}: accepted but not applied by Stratus")
