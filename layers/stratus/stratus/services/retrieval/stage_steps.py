"""The stages after a pipeline's search compiled into the steps that run over the fused
candidates (filter, sorts, limit, sample, group_by, mmr), and an `attribute_filter`'s filter
(also used before the search, inside the vector queries)."""

from __future__ import annotations

from stratus.errors import BadRequestError
from stratus.filters import FilterNode, parse_filter
from stratus.models.namespaces import Namespace
from stratus.services.retrieval import steps
from stratus.services.retrieval.engine import Plan, Step
from stratus.services.retrieval.feature_uris import resolve_feature_uri
from stratus.services.retrieval.stage_params import (
    AttributeFilterParams,
    GroupByParams,
    LimitParams,
    MmrParams,
    Params,
    SampleParams,
    SortAttributeParams,
    SortRelevanceParams,
    warn_not_applied,
)
from stratus.services.retrieval.stages import StageDef
from stratus.services.spaces import space_of


def filter_node(params: AttributeFilterParams, here: str, warnings: list[str]) -> FilterNode:
    warn_not_applied(
        warnings, params, here, {"natural_language": None, "field_hints": None, "batch_size": 100}
    )
    if params.conditions is not None:
        node = parse_filter(params.conditions, f"{here}.conditions")
    elif params.field is not None and params.operator is not None:
        condition = {"field": params.field, "operator": params.operator, "value": params.value}
        node = parse_filter(condition, here)
    else:
        node = None
    if node is None:
        raise BadRequestError(
            f"{here}: attribute_filter needs 'conditions' (the filter DSL), or 'field', 'operator' "
            "and 'value'",
            {"field": f"{here}.conditions"},
        )
    return node


def steps_of(
    stage: StageDef, params: Params, plan: Plan, namespace: Namespace, warnings: list[str]
) -> list[Step]:
    here, name = stage.location, stage.name
    if isinstance(params, AttributeFilterParams):
        return [steps.FilterStep(name, filter_node(params, here, warnings))]
    if isinstance(params, SortAttributeParams):
        if params.sort_by:
            keys = [(key.field, key.direction) for key in params.sort_by]
        elif params.field is not None:
            keys = [(params.field, params.direction or "desc")]
        else:
            raise BadRequestError(
                f"{here}: sort_attribute needs 'field' (and 'direction'), or "
                "'sort_by': [{field, direction}]",
                {"field": f"{here}.field"},
            )
        return [steps.SortStep(name, keys, params.nulls_last)]
    if isinstance(params, SortRelevanceParams):
        warn_not_applied(warnings, params, here, {"feature_address": None})
        return [
            steps.RelevanceStep(name, params.score_field, params.direction or "desc", params.missing_score)
        ]
    if isinstance(params, LimitParams):
        return [steps.LimitStep(name, params.limit, params.offset)]
    if isinstance(params, SampleParams):
        if params.strategy == "stratified" and not params.stratify_by:
            raise BadRequestError(
                f"{here}.stratify_by: the stratified strategy needs the field to stratify by",
                {"field": f"{here}.stratify_by"},
            )
        return [
            steps.SampleStep(
                name,
                params.count,
                params.seed,
                params.strategy,
                params.stratify_by,
                params.min_per_stratum,
                params.preserve_top_k,
            )
        ]
    if isinstance(params, GroupByParams):
        return [
            steps.GroupStep(
                name, params.group_by_field or "object_id", params.max_per_group, params.output_mode
            )
        ]
    assert isinstance(params, MmrParams)
    warn_not_applied(
        warnings,
        params,
        here,
        {"diversity_features": None, "diversity_fields": None, "diversity_field_weights": None},
    )
    if params.diversity_feature_uri is not None:
        index = resolve_feature_uri(namespace, params.diversity_feature_uri, f"{here}.diversity_feature_uri")
    else:
        index = plan.legs[0].space.index_name
    space = space_of(namespace, index)
    assert space is not None
    return [
        steps.MmrStep(
            name,
            space,
            params.lambda_,
            params.top_k,
            params.score_field,
            params.mmr_score_field,
            params.similarity_metric,
        )
    ]
