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
resolved and checked again when it runs.

The parameter models are in `stage_params`, the catalogue in `stage_catalogue`, the templates
in `templates`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from stratus.errors import BadRequestError, RequestValidationError
from stratus.models.retrievers import StageType
from stratus.services.retrieval.stage_catalogue import STAGES, StageSpec
from stratus.services.retrieval.stage_params import Params
from stratus.services.retrieval.templates import has_templates, resolve_templates

M = TypeVar("M", bound=BaseModel)

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
