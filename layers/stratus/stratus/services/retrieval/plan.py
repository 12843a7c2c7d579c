"""Compiling a pipeline into a plan for one execution: templates resolved from `inputs`, every
`feature_uri` resolved to a vector index of the namespace, each search's query turned into a leg
(a vector, a text or an image to embed, or a stored document's vector), the filters combined,
and the stages after the search turned into steps.

The pipeline's shape: `attribute_filter` stages, then exactly one `feature_search`, then any
stages. A filter before the search filters inside the vector queries (as the execution's
`filters` and the collections do); one after it filters the candidates.

Parts: `legs` turns a search into a leg (reading its query with `queries`, its `feature_uri`
with `feature_uris`); `stage_steps` turns the stages after the search into steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stratus.errors import BadRequestError
from stratus.filters import FilterNode, parse_filter
from stratus.inference_catalogue import CATALOGUE
from stratus.models.namespaces import Namespace
from stratus.ports.stores import Stores
from stratus.services.retrieval import steps
from stratus.services.retrieval.engine import Leg, Plan, Report, Step, combined
from stratus.services.retrieval.feature_uris import MIXPEEK_URI, feature_uris, resolve_feature_uri
from stratus.services.retrieval.legs import LegBuilder
from stratus.services.retrieval.queries import located
from stratus.services.retrieval.stage_params import (
    AttributeFilterParams,
    FeatureSearchParams,
    Params,
    SearchEntry,
    warn_not_applied,
)
from stratus.services.retrieval.stage_steps import filter_node, steps_of
from stratus.services.retrieval.stages import StageDef, parse_model, parse_params_at_run
from stratus.services.retrieval.templates import MissingInputError, resolve_templates
from stratus.services.spaces import space_of

DEFAULT_FINAL_TOP_K = 25


@dataclass
class Execution:
    """What one execution brings besides the stages."""

    inputs: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] | None = None  # ANDed with the stages' own, inside the vector queries
    collection_identifiers: list[str] = field(default_factory=list)  # the retriever's (or ad hoc)
    input_schema: Mapping[str, Mapping[str, Any]] | None = None


def compile_plan(stores: Stores, namespace: Namespace, stages: list[StageDef], execution: Execution) -> Plan:
    return _Compiler(stores, namespace, execution).compile(stages)


def compile_feature_search(
    stores: Stores, namespace: Namespace, entry: SearchEntry, execution: Execution
) -> Plan:
    """One search at the top level of a request (`POST /v1/features/search`): fields are named as
    the request names them (`feature_uri`, `query.text`, `filters`)."""
    compiler = _Compiler(stores, namespace, execution)
    prefilter = parse_filter(execution.filters, "filters")
    store_filters = [prefilter] if prefilter is not None else []
    assert entry.feature_uri is not None
    index = resolve_feature_uri(namespace, entry.feature_uri, "feature_uri")
    leg, leg_filters, mode = compiler.legs.leg(entry, index, "", None)
    store_filters.extend(leg_filters)
    leg.filter = combined(store_filters)
    return Plan(
        legs=[leg],
        fusion="rrf",
        top_k=leg.top_k,
        store_filters=store_filters,
        search_stage=("feature_search", "feature_search"),
        search_metadata={
            "searches": [
                {
                    "feature_uri": entry.feature_uri,
                    "vector_index": index,
                    "input_mode": mode,
                    "top_k": leg.top_k,
                }
            ]
        },
        warnings=compiler.warnings,
    )


class _Compiler:
    def __init__(self, stores: Stores, namespace: Namespace, execution: Execution) -> None:
        self.stores = stores
        self.namespace = namespace
        self.execution = execution
        self.inputs = _inputs(execution)
        self.warnings: list[str] = []
        self.legs = LegBuilder(stores, namespace, execution.collection_identifiers, self.warnings)

    def compile(self, stages: list[StageDef]) -> Plan:
        prefilters: list[FilterNode] = []
        execution_filter = parse_filter(self.execution.filters, "filters")
        if execution_filter is not None:
            prefilters.append(execution_filter)
        folded: list[Report] = []
        plan: Plan | None = None
        after: list[Step] = []
        for stage in stages:
            here = f"stages[{stage.position}]"
            if stage.stage_id == "feature_search":
                if plan is not None:
                    raise BadRequestError(
                        f"{here}: a pipeline runs one feature_search stage (put several searches in its "
                        "'searches', fused by 'fusion'); this is the second",
                        {"field": here, "stage_id": stage.stage_id},
                    )
                params = self._feature_search_params(stage)
                plan = self._feature_search(stage, params, prefilters)
                plan.folded_stages = folded
                continue
            params = parse_params_at_run(stage, self.inputs)
            if plan is None:
                if not isinstance(params, AttributeFilterParams):
                    raise BadRequestError(
                        f"{here}: '{stage.stage_id}' works on the documents a search found; put it after "
                        "the feature_search stage (only attribute_filter may come before it)",
                        {"field": here, "stage_id": stage.stage_id},
                    )
                prefilters.append(filter_node(params, stage.location, self.warnings))
                folded.append(Report(stage.name, stage.stage_id, {"applied": "inside the vector queries"}))
                continue
            after.extend(steps_of(stage, params, plan, self.namespace, self.warnings))
        if plan is None:
            raise BadRequestError(
                "stages: a pipeline needs a feature_search stage (Stratus answers from the vector "
                "indexes; attribute_filter alone has nothing to filter)",
                {"field": "stages", "stage_ids": [stage.stage_id for stage in stages]},
            )
        plan.steps = [*plan.steps, *after]
        plan.warnings = self.warnings
        return plan

    # -- feature_search ---------------------------------------------------------------------

    def _feature_search_params(self, stage: StageDef) -> Params:
        """Like `parse_params_at_run`, except that a search marked `optional` whose inputs are
        missing is left out rather than refused."""
        if stage.params is not None:
            return stage.params
        raw = dict(stage.parameters)
        searches = raw.get("searches")
        if isinstance(searches, list):
            kept: list[Any] = []
            missing: MissingInputError | None = None
            for i, entry in enumerate(searches):
                try:
                    kept.append(resolve_templates(entry, self.inputs, f"{stage.location}.searches[{i}]"))
                except MissingInputError as error:
                    if not (isinstance(entry, Mapping) and entry.get("optional") is True):
                        raise
                    missing = missing or error
                    self.warnings.append(
                        f"{stage.location}.searches[{i}]: optional search left out: {error.details['field']} "
                        "was not given"
                    )
            if not kept and missing is not None:
                raise missing
            raw["searches"] = kept
        rest = {key: value for key, value in raw.items() if key != "searches"}
        resolved = resolve_templates(rest, self.inputs, stage.location)
        if "searches" in raw:
            resolved["searches"] = raw["searches"]
        return parse_model(FeatureSearchParams, resolved, stage.location)

    def _feature_search(self, stage: StageDef, params: Params, prefilters: list[FilterNode]) -> Plan:
        assert isinstance(params, FeatureSearchParams)
        here = stage.location
        warn_not_applied(
            self.warnings,
            params,
            here,
            {
                "cache_behavior": None,
                "cache_ttl_seconds": None,
                "hard_timeout_ms": None,
                "interactive": False,
                "degrade_retry": False,
                "learning_config": None,
                "query_preprocessing": None,
                "auto_preprocess": True,
                "facets": None,
            },
        )
        fusion = params.fusion or "rrf"
        if fusion == "learned":
            self.warnings.append(f"{here}.fusion: 'learned' is not available in Stratus; rrf was used")
            fusion = "rrf"
        stage_filter = parse_filter(params.filters, f"{here}.filters")
        stage_collections = params.collection_identifiers
        entries = self._entries(params, here)
        legs: list[Leg] = []
        store_filters = list(prefilters)
        if stage_filter is not None:
            store_filters.append(stage_filter)
        described: list[dict[str, Any]] = []
        for location, entry in entries:
            for index in self._indexes(entry, params, location):
                leg, leg_filters, mode = self.legs.leg(entry, index, location, stage_collections)
                leg.filter = combined([*store_filters, *leg_filters])
                legs.append(leg)
                described.append(
                    {
                        "feature_uri": entry.feature_uri,
                        "vector_index": index,
                        "input_mode": mode,
                        "top_k": leg.top_k,
                    }
                )
                store_filters.extend(node for node in leg_filters if node not in store_filters)
        flat_limit = None if params.searches else (params.limit or params.top_k)
        final_top_k = params.final_top_k or flat_limit or DEFAULT_FINAL_TOP_K
        plan = Plan(
            legs=legs,
            fusion=fusion,
            top_k=final_top_k,
            store_filters=store_filters,
            search_stage=(stage.name, stage.stage_id),
            search_metadata={"searches": described, "fusion": fusion, "final_top_k": final_top_k},
        )
        if params.group_by is not None:
            group = params.group_by
            plan.steps.append(
                steps.GroupStep(
                    f"{stage.name}.group_by", group.field, group.max_per_group, group.output_mode, group.limit
                )
            )
        return plan

    def _entries(self, params: FeatureSearchParams, here: str) -> list[tuple[str, SearchEntry]]:
        if params.searches:
            return [(f"{here}.searches[{i}]", entry) for i, entry in enumerate(params.searches)]
        if params.query is None:
            raise BadRequestError(
                f"{here}.searches: feature_search needs 'searches' (each with feature_uri and query), or "
                "the flat form's 'query'",
                {"field": f"{here}.searches"},
            )
        top_k = params.top_k or params.limit or params.final_top_k or DEFAULT_FINAL_TOP_K
        entry = SearchEntry.model_validate(
            {
                "feature_uri": params.feature_uri,
                "query": params.query,
                "top_k": top_k,
                "min_score": params.min_score,
            }
        )
        return [(here, entry)]

    def _indexes(self, entry: SearchEntry, params: FeatureSearchParams, location: str) -> list[str]:
        """The vector index(es) a search runs on: its feature_uri's, or (flat form without one)
        those of the namespace that embed the query's kind of input."""
        if entry.feature_uri is not None:
            return [resolve_feature_uri(self.namespace, entry.feature_uri, located(location, "feature_uri"))]
        extractor = params.feature_extractor or {}
        if isinstance(extractor.get("feature_uri"), str):
            return [
                resolve_feature_uri(
                    self.namespace,
                    extractor["feature_uri"],
                    located(location, "feature_extractor.feature_uri"),
                )
            ]
        name = extractor.get("feature_extractor_name")
        if isinstance(name, str):
            version = extractor.get("version") or "v1"
            uri = f"{MIXPEEK_URI}{name}@{version}/embedding"
            return [resolve_feature_uri(self.namespace, uri, located(location, "feature_extractor"))]
        if params.query is None and entry.query is None:
            raise BadRequestError(
                f"{located(location, 'feature_uri')}: each search needs a feature_uri (a vector index name "
                "or mixpeek://<extractor>@<version>/<output>); available: "
                f"{', '.join(feature_uris(self.namespace)) or 'none'}",
                {
                    "field": located(location, "feature_uri"),
                    "available_feature_uris": feature_uris(self.namespace),
                },
            )
        kind = str(extractor.get("type") or "text")
        wanted = "image" if kind in ("image", "video") else "text"
        indexes = [
            index
            for index, service in self.namespace.vector_inference_map.items()
            if service in CATALOGUE
            and wanted in CATALOGUE[service].inputs
            and space_of(self.namespace, index)
        ]
        if not indexes:
            raise BadRequestError(
                f"{located(location, 'feature_extractor')}: no vector index of namespace "
                f"'{self.namespace.namespace_id}' embeds {wanted} queries; give a feature_uri "
                f"({', '.join(feature_uris(self.namespace)) or 'none'}) "
                "and a vector query, or map an index to an inference service (promotion)",
                {
                    "field": located(location, "feature_extractor"),
                    "available_feature_uris": feature_uris(self.namespace),
                    "vector_inference_map": self.namespace.vector_inference_map,
                },
            )
        return indexes


def _inputs(execution: Execution) -> dict[str, Any]:
    inputs = dict(execution.inputs)
    for name, spec in (execution.input_schema or {}).items():
        if name in inputs:
            continue
        if spec.get("default") is not None:
            inputs[name] = spec["default"]
        elif spec.get("required"):
            raise BadRequestError(
                f"inputs.{name}: required by the retriever's input_schema; given inputs: "
                f"{', '.join(sorted(inputs)) or 'none'}",
                {"field": f"inputs.{name}", "given_inputs": sorted(inputs)},
            )
    return inputs
