"""The stage catalogue (`GET /v1/retrievers/stages`): each stage's id, category, icon,
description and parameter model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stratus.models.retrievers import StageType
from stratus.services.retrieval.stage_params import (
    AttributeFilterParams,
    FeatureSearchParams,
    GroupByParams,
    LimitParams,
    MmrParams,
    Params,
    SampleParams,
    SortAttributeParams,
    SortRelevanceParams,
)


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
