"""A client's `FeatureExtractorConfig` checked against the catalogue and turned into what a
managed namespace locks in at creation (its parameters, defaults applied). Errors are
`BadRequestError`s whose `details.field` names the offending request field
(`feature_extractors[1].params.model`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.errors import BadRequestError
from stratus.extractor_catalogue import EXTRACTORS, available_extractors
from stratus.extractor_specs import ExtractorSpec, ParamSpec, ParamValue, ResolvedExtractor
from stratus.models.namespaces import FeatureExtractorConfig


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
