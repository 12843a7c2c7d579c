"""The stages a pipeline may use, and a pipeline's stages checked and normalised.

A stage comes in one of two forms:
- nested (the SDK's `StageConfigInput`): `{stage_name, stage_type?, config: {stage_id, parameters}}`;
- flat (what the SDK's high-level `mp.search("text")` builds): `{"type": <stage id>, ...parameters}`.

Parameters take both spellings where the SDK's models and api.md differ (`sort_attribute`:
`field`/`direction` or `sort_by: [...]`; `group_by`: `group_by_field` or `field`; a search's
`feature_uri` or `vector_name`, `min_score` or `score_threshold`, its `query` object or the
`text`/`vector`/`url` of `POST /v1/search`). The string `"null"` (what the SDK's typed params
send for unset strings) is read as null. A key unknown to both is a 422 naming it.

Any string parameter may hold `{{INPUT.x}}` / `{{inputs.x}}` (a dot path into the execution's
`inputs`): checked for shape when the pipeline is saved (a template stands in for any value),
resolved and checked again when it runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from stratus.errors import BadRequestError, RequestValidationError
from stratus.models.common import StrictModel
from stratus.models.retrievers import StageType

M = TypeVar("M", bound=BaseModel)


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
    diversity_field_weights: dict[str, float] | None = None


# ---------------------------------------------------------------------------------------------
# The catalogue (`GET /v1/retrievers/stages`)


@dataclass(frozen=True)
class StageSpec:
    stage_id: str
    category: StageType
    icon: str
    description: str
    params: type[Params]

    def describe(self) -> dict[str, Any]:
        return {
            "stage_id": self.stage_id,
            "description": self.description,
            "category": self.category,
            "icon": self.icon,
            "parameter_schema": self.params.model_json_schema(by_alias=True),
        }


STAGES: dict[str, StageSpec] = {
    spec.stage_id: spec
    for spec in (
        StageSpec(
            "feature_search",
            "filter",
            "search",
            "Vector search over one or more vector indexes (feature_uri: an index name or "
            "mixpeek://<extractor>@<version>/<output>), fused with rrf, dbsf, weighted or max. "
            "Exactly one per pipeline; only attribute_filter may come before it.",
            FeatureSearchParams,
        ),
        StageSpec(
            "attribute_filter",
            "filter",
            "filter",
            "Keep documents matching the filter DSL (conditions, or field/operator/value). Before "
            "feature_search it filters inside the vector queries; after it, the candidates.",
            AttributeFilterParams,
        ),
        StageSpec(
            "sort_attribute",
            "sort",
            "arrow-up-down",
            "Sort by payload fields (field + direction, or sort_by: [{field, direction}]).",
            SortAttributeParams,
        ),
        StageSpec(
            "sort_relevance",
            "sort",
            "bar-chart",
            "Sort by the relevance score (or another score field).",
            SortRelevanceParams,
        ),
        StageSpec("limit", "reduce", "scissors", "Keep `limit` documents after `offset`.", LimitParams),
        StageSpec(
            "sample",
            "reduce",
            "shuffle",
            "A random sample of `count` documents, the same for the same `seed` (strategy random, "
            "reservoir or stratified by `stratify_by`).",
            SampleParams,
        ),
        StageSpec(
            "group_by",
            "reduce",
            "layers",
            "Group documents by a field, keeping at most max_per_group per group (output_mode "
            "first, all or flatten).",
            GroupByParams,
        ),
        StageSpec(
            "mmr",
            "sort",
            "sparkles",
            "Maximal marginal relevance: re-rank for diversity over the documents' stored vectors.",
            MmrParams,
        ),
    )
}


def describe_catalogue() -> list[dict[str, Any]]:
    return [spec.describe() for spec in STAGES.values()]


# ---------------------------------------------------------------------------------------------
# Parsing a pipeline

_NESTED_KEYS = frozenset(
    {
        "stage_name",
        "stage_type",
        "config",
        "batch_size",
        "description",
        "on_error",
        "output_alias",
        "parameters",
    }
)
_FLAT_RESERVED = frozenset({"type", "stage_name", "name", "stage_type"})
_STAGE_TYPES = ("filter", "sort", "reduce", "apply", "enrich")


@dataclass
class StageDef:
    """One stage, normalised. `parameters` are as given (templates unresolved); `params` is their
    parsed model when they hold no template (else each execution parses them once resolved)."""

    position: int
    name: str
    stage_id: str
    stage_type: StageType
    parameters: dict[str, Any]
    location: str  # where the parameters sit in the request, e.g. `stages[0].config.parameters`
    stored: dict[str, Any]  # the nested form, as saved and answered
    params: Params | None = None
    templated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_stages(raw_stages: list[dict[str, Any]], location: str = "stages") -> list[StageDef]:
    """Check every stage's shape (422 naming each problem; 400 for an unknown stage id) and
    normalise it. Parameters holding templates are checked with the templates standing in for
    any value."""
    problems: list[dict[str, str]] = []
    stages: list[StageDef] = []
    for position, raw in enumerate(raw_stages):
        here = f"{location}[{position}]"
        stage = _normalise(raw, here, position, problems)
        if stage is None:
            continue
        stages.append(stage)
        model, errors = validate_params(
            stage.stage_id, stage.parameters, stage.location, tolerate_templates=True
        )
        problems.extend(errors)
        stage.templated = has_templates(stage.parameters)
        stage.params = None if stage.templated else model
    if problems:
        raise RequestValidationError(_summary(problems), problems)
    _unique_names(stages)
    return stages


def _normalise(raw: Any, here: str, position: int, problems: list[dict[str, str]]) -> StageDef | None:
    if not isinstance(raw, Mapping):
        problems.append(_problem("dict_type", here, "a stage must be a JSON object"))
        return None
    if "config" in raw:
        return _nested(raw, here, position, problems)
    if "type" in raw:
        return _flat(raw, here, position, problems)
    problems.append(
        _problem(
            "missing",
            here,
            "a stage needs 'config': {'stage_id', 'parameters'} (with 'stage_name'), or the flat form "
            "'type': '<stage id>' with its parameters beside it",
        )
    )
    return None


def _nested(
    raw: Mapping[str, Any], here: str, position: int, problems: list[dict[str, str]]
) -> StageDef | None:
    for key in raw:
        if key not in _NESTED_KEYS:
            problems.append(_problem("extra_forbidden", f"{here}.{key}", "Extra inputs are not permitted"))
    config = raw["config"]
    if not isinstance(config, Mapping):
        problems.append(_problem("dict_type", f"{here}.config", "config must be a JSON object"))
        return None
    stage_id = config.get("stage_id")
    if not isinstance(stage_id, str) or not stage_id:
        problems.append(_problem("missing", f"{here}.config.stage_id", "Field required (the stage's id)"))
        return None
    spec = _spec(stage_id, f"{here}.config.stage_id")
    if "parameters" in config:
        parameters = config["parameters"]
        params_location = f"{here}.config.parameters"
        for key in config:
            if key not in ("stage_id", "parameters"):
                problems.append(
                    _problem("extra_forbidden", f"{here}.config.{key}", "Extra inputs are not permitted")
                )
    elif isinstance(raw.get("parameters"), Mapping):
        parameters = raw["parameters"]  # an answer's `parameters` mirror, sent back
        params_location = f"{here}.parameters"
    else:
        parameters = {key: value for key, value in config.items() if key != "stage_id"}
        params_location = f"{here}.config"
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        problems.append(_problem("dict_type", params_location, "parameters must be a JSON object"))
        return None
    name = raw.get("stage_name")
    if "stage_name" in raw and (not isinstance(name, str) or not name):
        problems.append(
            _problem("string_type", f"{here}.stage_name", "stage_name must be a non-empty string")
        )
        return None
    stage_type = _stage_type(raw.get("stage_type"), f"{here}.stage_type", spec, problems)
    extra = {key: raw[key] for key in ("batch_size", "description", "on_error", "output_alias") if key in raw}
    return _stage(position, name or stage_id, spec, stage_type, dict(parameters), params_location, extra)


def _flat(
    raw: Mapping[str, Any], here: str, position: int, problems: list[dict[str, str]]
) -> StageDef | None:
    stage_id = raw["type"]
    if not isinstance(stage_id, str) or not stage_id:
        problems.append(_problem("string_type", f"{here}.type", "type must be a stage id"))
        return None
    spec = _spec(stage_id, f"{here}.type")
    name = raw.get("stage_name") or raw.get("name") or stage_id
    if not isinstance(name, str):
        problems.append(_problem("string_type", f"{here}.stage_name", "stage_name must be a string"))
        return None
    stage_type = _stage_type(raw.get("stage_type"), f"{here}.stage_type", spec, problems)
    parameters = {key: value for key, value in raw.items() if key not in _FLAT_RESERVED}
    return _stage(position, name, spec, stage_type, parameters, here, {})


def _stage(
    position: int,
    name: str,
    spec: StageSpec,
    stage_type: StageType,
    parameters: dict[str, Any],
    location: str,
    extra: dict[str, Any],
) -> StageDef:
    stored = {
        "stage_name": name,
        "stage_type": stage_type,
        "config": {"stage_id": spec.stage_id, "parameters": parameters},
        **extra,
    }
    return StageDef(position, name, spec.stage_id, stage_type, parameters, location, stored, extra=extra)


def _spec(stage_id: str, location: str) -> StageSpec:
    spec = STAGES.get(stage_id)
    if spec is None:
        raise BadRequestError(
            f"{location}: unknown stage '{stage_id}'; Stratus runs {', '.join(STAGES)} "
            "(GET /v1/retrievers/stages describes each)",
            {"field": location, "stage_id": stage_id, "supported_stages": list(STAGES)},
        )
    return spec


def _stage_type(value: Any, location: str, spec: StageSpec, problems: list[dict[str, str]]) -> StageType:
    if value is None:
        return spec.category
    if value not in _STAGE_TYPES:
        problems.append(
            _problem("enum", location, f"Input should be {', '.join(repr(t) for t in _STAGE_TYPES)}")
        )
        return spec.category
    stage_type: StageType = value
    return stage_type


def _unique_names(stages: list[StageDef]) -> None:
    """Statistics are keyed by stage name: a repeated name gets its position appended."""
    seen: set[str] = set()
    for stage in stages:
        if stage.name in seen:
            stage.name = f"{stage.name}_{stage.position}"
        seen.add(stage.name)


def validate_params(
    stage_id: str, parameters: Mapping[str, Any], location: str, *, tolerate_templates: bool
) -> tuple[Params | None, list[dict[str, str]]]:
    """The parameters' model, or the problems (located under `location`). With
    `tolerate_templates`, a value that is a template is not a problem whatever type is expected."""
    try:
        return STAGES[stage_id].params.model_validate(dict(parameters)), []
    except ValidationError as error:
        problems = [
            _problem(str(item["type"]), _join(location, item["loc"]), str(item["msg"]))
            for item in error.errors(include_url=False)
            if not (
                tolerate_templates and item["type"] != "extra_forbidden" and has_templates(item.get("input"))
            )
        ]
        return None, problems


def _join(location: str, loc: tuple[int | str, ...]) -> str:
    parts = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return f"{location}{parts}"


def _problem(kind: str, location: str, message: str) -> dict[str, str]:
    return {"type": kind, "location": location, "message": message}


def _summary(problems: list[dict[str, str]]) -> str:
    first = problems[0]
    message = f"{first['location']}: {first['message']}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s), see details.validation_errors)"
    return message


def describe_for_errors(problems: list[dict[str, str]]) -> str:
    return _summary(problems)


# ---------------------------------------------------------------------------------------------
# Templates

_TEMPLATE = re.compile(r"\{\{\s*(?:INPUTS?|inputs?)\.([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")
_MISSING = object()


_SCALARS = (int, float, type(None))


def has_templates(value: Any) -> bool:
    # Concrete JSON types first: a vector's hundreds of floats must not each go through the ABC
    # machinery of `isinstance(x, Mapping)`.
    if isinstance(value, str):
        return "{{" in value and _TEMPLATE.search(value) is not None
    if isinstance(value, _SCALARS):
        return False
    if isinstance(value, list | tuple):
        return any(has_templates(inner) for inner in value if not isinstance(inner, _SCALARS))
    if isinstance(value, Mapping):
        return any(has_templates(inner) for inner in value.values())
    return False


class MissingInputError(BadRequestError):
    """A template names an input the execution did not give (and no default covers)."""

    def __init__(self, name: str, location: str, given: list[str]) -> None:
        super().__init__(
            f"inputs.{name}: missing input '{name}', used by {location}; given inputs: "
            f"{', '.join(given) or 'none'} (send it in 'inputs', or give it a default in input_schema)",
            {"field": f"inputs.{name}", "used_at": location, "given_inputs": given},
        )


def resolve_templates(value: Any, inputs: Mapping[str, Any], location: str) -> Any:
    """`value` with every template replaced: a string that is exactly one template takes the
    input's value whatever its type (a vector stays a list); a template inside a longer string is
    replaced by the input's text."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole is not None:
            return _input(inputs, whole.group(1), location)
        return _TEMPLATE.sub(lambda match: _text(_input(inputs, match.group(1), location)), value)
    if isinstance(value, _SCALARS) or not has_templates(value):
        return value
    if isinstance(value, list):
        return [resolve_templates(inner, inputs, f"{location}[{i}]") for i, inner in enumerate(value)]
    if isinstance(value, Mapping):
        return {key: resolve_templates(inner, inputs, f"{location}.{key}") for key, inner in value.items()}
    return value


def _input(inputs: Mapping[str, Any], path: str, location: str) -> Any:
    current: Any = inputs
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            raise MissingInputError(path, location, sorted(inputs))
        current = current[part]
    return current


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)


def parse_params_at_run(stage: StageDef, inputs: Mapping[str, Any]) -> Params:
    """The stage's parameters with `inputs` in place of its templates, checked: a value that came
    from `inputs` and does not fit is a 400 naming where it went."""
    if stage.params is not None:
        return stage.params
    resolved = resolve_templates(stage.parameters, inputs, stage.location)
    model, problems = validate_params(stage.stage_id, resolved, stage.location, tolerate_templates=False)
    if model is None:
        raise BadRequestError(
            f"{_summary(problems)} (after replacing templates with inputs)",
            {"field": problems[0]["location"], "validation_errors": problems},
        )
    return model


def parse_model(model: type[M], value: Any, location: str) -> M:
    """Validate `value` as `model`; a problem is a 400 naming its location (values from inputs)."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = [
            _problem(str(item["type"]), _join(location, item["loc"]), str(item["msg"]))
            for item in error.errors(include_url=False)
        ]
        raise BadRequestError(
            _summary(problems), {"field": problems[0]["location"], "validation_errors": problems}
        ) from None
