"""Compiling a pipeline into a plan for one execution: templates resolved from `inputs`, every
`feature_uri` resolved to a vector index of the namespace, each search's query turned into a leg
(a vector, a text or an image to embed, or a stored document's vector), the filters combined,
and the stages after the search turned into steps.

The pipeline's shape: `attribute_filter` stages, then exactly one `feature_search`, then any
stages. A filter before the search filters inside the vector queries (as the execution's
`filters` and the collections do); one after it filters the candidates."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stratus.errors import BadRequestError
from stratus.filters import FilterNode, parse_filter
from stratus.inference_catalogue import CATALOGUE
from stratus.models.namespaces import Namespace
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space
from stratus.services.retrieval import steps
from stratus.services.retrieval.engine import Leg, Plan, Report, Step, combined
from stratus.services.retrieval.stages import (
    AttributeFilterParams,
    FeatureSearchParams,
    GroupByParams,
    LimitParams,
    MissingInputError,
    MmrParams,
    Params,
    QueryInput,
    SampleParams,
    SearchEntry,
    SortAttributeParams,
    SortRelevanceParams,
    StageDef,
    parse_model,
    parse_params_at_run,
    resolve_templates,
)
from stratus.services.spaces import space_of

# A vector query's top_k in Stratus (api.md limits); the SDK allows more, which is lowered.
MAX_LEG_TOP_K = 1000
DEFAULT_FINAL_TOP_K = 25
MIXPEEK_URI = "mixpeek://"
ACCEPTED_INPUT_MODES = ["text", "vector", "content", "document"]
_URL_SCHEMES = ("https://", "http://")


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
    leg, leg_filters, mode = compiler._leg(entry, index, "", None)
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
        self._collections: dict[str, str] | None = None  # name and id → id

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
                prefilters.append(self._filter_node(params, stage.location))
                folded.append(Report(stage.name, stage.stage_id, {"applied": "inside the vector queries"}))
                continue
            after.extend(self._steps(stage, params, plan))
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
        self._not_applied(
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
                leg, leg_filters, mode = self._leg(entry, index, location, stage_collections)
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
            return [resolve_feature_uri(self.namespace, entry.feature_uri, _loc(location, "feature_uri"))]
        extractor = params.feature_extractor or {}
        if isinstance(extractor.get("feature_uri"), str):
            return [
                resolve_feature_uri(
                    self.namespace, extractor["feature_uri"], _loc(location, "feature_extractor.feature_uri")
                )
            ]
        name = extractor.get("feature_extractor_name")
        if isinstance(name, str):
            version = extractor.get("version") or "v1"
            uri = f"{MIXPEEK_URI}{name}@{version}/embedding"
            return [resolve_feature_uri(self.namespace, uri, _loc(location, "feature_extractor"))]
        if params.query is None and entry.query is None:
            raise BadRequestError(
                f"{_loc(location, 'feature_uri')}: each search needs a feature_uri (a vector index name or "
                "mixpeek://<extractor>@<version>/<output>); available: "
                f"{', '.join(feature_uris(self.namespace)) or 'none'}",
                {
                    "field": _loc(location, "feature_uri"),
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
                f"{_loc(location, 'feature_extractor')}: no vector index of namespace "
                f"'{self.namespace.namespace_id}' embeds {wanted} queries; give a feature_uri "
                f"({', '.join(feature_uris(self.namespace)) or 'none'}) "
                "and a vector query, or map an index to an inference service (promotion)",
                {
                    "field": _loc(location, "feature_extractor"),
                    "available_feature_uris": feature_uris(self.namespace),
                    "vector_inference_map": self.namespace.vector_inference_map,
                },
            )
        return indexes

    def _leg(
        self, entry: SearchEntry, index: str, location: str, stage_collections: list[str] | None
    ) -> tuple[Leg, list[FilterNode], str]:
        space = space_of(self.namespace, index)
        assert space is not None
        top_k = entry.top_k
        if top_k > MAX_LEG_TOP_K:
            self.warnings.append(
                f"{_loc(location, 'top_k')}: {top_k} is above Stratus's {MAX_LEG_TOP_K} per vector query; "
                f"{MAX_LEG_TOP_K} was used"
            )
            top_k = MAX_LEG_TOP_K
        self._not_applied(entry, location, {"lexical": False, "on_empty": None, "query_preprocessing": None})
        leg = Leg(space, top_k, location, weight=entry.weight, min_score=entry.min_score)
        mode = self._query_into(leg, entry, location)
        if isinstance(entry.query, QueryInput):
            query_at = _loc(location, "query")
            self._not_applied(entry.query, query_at, {"embedding_task": "none"})
            if entry.query.document_ref is not None:
                self._not_applied(
                    entry.query.document_ref, f"{query_at}.document_ref", {"collection_id": None}
                )
        filters: list[FilterNode] = []
        entry_filter = parse_filter(entry.filters, _loc(location, "filters"))
        if entry_filter is not None:
            filters.append(entry_filter)
        identifiers = (
            entry.collection_identifiers or stage_collections or self.execution.collection_identifiers
        )
        where = (
            _loc(location, "collection_identifiers")
            if entry.collection_identifiers
            else "collection_identifiers"
        )
        collection_filter = self._collection_filter(identifiers, where)
        if collection_filter is not None:
            filters.append(collection_filter)
        return leg, filters, mode

    def _query_into(self, leg: Leg, entry: SearchEntry, location: str) -> str:
        mode, value, where = _query_of(entry, location)
        if mode == "vector" or (mode == "content" and _is_numbers(value)):
            leg.vector = _vector(value, where, leg.space)
            return "vector"
        if mode == "document":
            if not isinstance(value, str) or not value:
                raise BadRequestError(
                    f"{where}: give the id of a stored document (document_ref.document_id)", {"field": where}
                )
            leg.document_id = value
            leg.input_field = where
            return mode
        if mode == "text":
            if not isinstance(value, str) or not value.strip():
                raise BadRequestError(f"{where}: a text query needs non-empty text", {"field": where})
            if len(value) > 8192:
                raise BadRequestError(f"{where}: a text query is at most 8192 characters", {"field": where})
            leg.service = self._service(leg.space, where, "text")
            leg.text = value
            leg.input_field = where
            return mode
        # content: an image by URL, data URI or base64
        if not isinstance(value, str) or not value:
            raise BadRequestError(
                f"{where}: content is an https URL, a data: URI or base64 (or a list of floats)",
                {"field": where},
            )
        leg.service = self._service(leg.space, where, "image")
        leg.input_field = where
        if value.startswith(_URL_SCHEMES):
            leg.image_url = value
        else:
            leg.image = _image_bytes(value, where)
        return mode

    def _service(self, space: Space, where: str, kind: str) -> str:
        namespace = self.namespace
        what = "text" if kind == "text" else "content"
        if namespace.mode == "standalone":
            raise BadRequestError(
                f"{where}: namespace '{namespace.namespace_id}' is standalone, so it cannot embed a {what} "
                "query; send input_mode 'vector' (or 'document'), or promote the namespace to managed with a "
                "vector_mappings entry for this index",
                {"field": where, "mode": "standalone", "accepted_input_modes": ["vector", "document"]},
            )
        service_name = namespace.vector_inference_map.get(space.index_name)
        if service_name is None:
            raise BadRequestError(
                f"{where}: index '{space.index_name}' has no inference service in vector_inference_map, so a "
                f"{what} query cannot be embedded; send input_mode 'vector' or 'document'",
                {
                    "field": where,
                    "vector_inference_map": namespace.vector_inference_map,
                    "accepted_input_modes": ["vector", "document"],
                },
            )
        service = CATALOGUE[service_name]
        if kind not in service.inputs:
            accepted = ["vector", "document", *(["text"] if "text" in service.inputs else [])]
            raise BadRequestError(
                f"{where}: index '{space.index_name}' is embedded by '{service_name}', which takes "
                f"{' and '.join(service.inputs)} only; send input_mode "
                f"{', '.join(repr(a) for a in accepted)}",
                {
                    "field": where,
                    "service": service_name,
                    "inputs": list(service.inputs),
                    "accepted_input_modes": accepted,
                },
            )
        return service_name

    def _collection_filter(self, identifiers: list[str], where: str) -> FilterNode | None:
        if not identifiers:
            return None
        known = self._known_collections() if any(not i.startswith("col_") for i in identifiers) else {}
        ids: list[str] = []
        for position, identifier in enumerate(identifiers):
            if identifier.startswith("col_"):
                ids.append(identifier)
                continue
            found = known.get(identifier)
            if found is None:
                available = sorted({name for name in known if not name.startswith("col_")})
                raise BadRequestError(
                    f"{where}[{position}]: no collection '{identifier}' in namespace "
                    f"'{self.namespace.namespace_id}'; available: {', '.join(available) or 'none'}",
                    {"field": f"{where}[{position}]", "available_collections": available},
                )
            ids.append(found)
        return parse_filter({"field": "collection_id", "operator": "in", "value": sorted(set(ids))}, where)

    def _known_collections(self) -> dict[str, str]:
        if self._collections is None:
            found: dict[str, str] = {}
            cursor: str | None = None
            namespace = self.namespace
            while True:
                page = self.stores.metadata.list_collections(
                    namespace.org_id, namespace.namespace_id, 100, cursor
                )
                for collection in page.collections:
                    found[collection.collection_name] = collection.collection_id
                    found[collection.collection_id] = collection.collection_id
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            self._collections = found
        return self._collections

    # -- the other stages ---------------------------------------------------------------------

    def _filter_node(self, params: AttributeFilterParams, here: str) -> FilterNode:
        self._not_applied(params, here, {"natural_language": None, "field_hints": None, "batch_size": 100})
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

    def _steps(self, stage: StageDef, params: Params, plan: Plan) -> list[Step]:
        here, name = stage.location, stage.name
        if isinstance(params, AttributeFilterParams):
            return [steps.FilterStep(name, self._filter_node(params, here))]
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
            self._not_applied(params, here, {"feature_address": None})
            return [
                steps.RelevanceStep(
                    name, params.score_field, params.direction or "desc", params.missing_score
                )
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
        self._not_applied(
            params,
            here,
            {"diversity_features": None, "diversity_fields": None, "diversity_field_weights": None},
        )
        if params.diversity_feature_uri is not None:
            index = resolve_feature_uri(
                self.namespace, params.diversity_feature_uri, f"{here}.diversity_feature_uri"
            )
        else:
            index = plan.legs[0].space.index_name
        space = space_of(self.namespace, index)
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

    def _not_applied(self, params: Params, here: str, defaults: Mapping[str, Any]) -> None:
        """Parameters Stratus accepts without applying them: a warning when one is set to
        something other than its default (the SDK's typed params send their defaults)."""
        for name, default in defaults.items():
            if name in params.model_fields_set:
                value = getattr(params, name)
                if value is not None and value != default:
                    self.warnings.append(f"{here}.{name}: accepted but not applied by Stratus")


# ---------------------------------------------------------------------------------------------
# Helpers


def _loc(base: str, name: str) -> str:
    """`name` under `base` (a single search compiled at the top level has no base)."""
    return f"{base}.{name}" if base else name


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


def feature_uris(namespace: Namespace) -> list[str]:
    """What `feature_uri` may name in this namespace: its extractors' outputs and its indexes."""
    uris = [
        f"{MIXPEEK_URI}{extractor.feature_extractor_name}@{extractor.version}/embedding"
        for extractor in namespace.feature_extractors
    ]
    return [*uris, *namespace.index_names()]


def resolve_feature_uri(namespace: Namespace, uri: str, where: str) -> str:
    """The vector index `uri` names: an index name, or `mixpeek://<extractor>@<version>/<output>`
    of one of the namespace's feature extractors (its index `<extractor>_<version>_<output>`)."""
    if uri.startswith(MIXPEEK_URI):
        extractor, _, rest = uri.removeprefix(MIXPEEK_URI).partition("@")
        version, _, output = rest.partition("/")
        version = version if version.startswith("v") else f"v{version}"
        index = f"{extractor}_{version}_{output or 'embedding'}"
        if space_of(namespace, index) is not None:
            return index
    elif space_of(namespace, uri) is not None:
        return uri
    available = feature_uris(namespace)
    raise BadRequestError(
        f"{where}: '{uri}' names no vector index of namespace '{namespace.namespace_id}'; accepted: "
        f"{', '.join(available) or 'none (the namespace has no vector index yet)'}",
        {"field": where, "feature_uri": uri, "available_feature_uris": available},
    )


def _query_of(entry: SearchEntry, location: str) -> tuple[str, Any, str]:
    """(input mode, the value carrying the query, where it sits) of one search."""
    query = entry.query
    if isinstance(query, str):
        return "text", query, _loc(location, "query")
    if isinstance(query, QueryInput):
        return _query_input(query, _loc(location, "query"))
    for key, mode in (("vector", "vector"), ("text", "text"), ("url", "content")):
        value = getattr(entry, key)
        if value is not None:
            return mode, value, _loc(location, key)
    if entry.value is not None:
        return _inferred(entry.value), entry.value, _loc(location, "value")
    raise BadRequestError(
        f"{_loc(location, 'query')}: the search has no query; give query: "
        "{input_mode: text | vector | content | document, value: ...}",
        {"field": _loc(location, "query"), "accepted_input_modes": ACCEPTED_INPUT_MODES},
    )


def _query_input(query: QueryInput, where: str) -> tuple[str, Any, str]:
    mode = query.input_mode
    if mode == "multi_content":
        raise BadRequestError(
            f"{where}.input_mode: 'multi_content' is not supported by Stratus; accepted: "
            f"{', '.join(ACCEPTED_INPUT_MODES)} (one search per content, fused)",
            {"field": f"{where}.input_mode", "accepted_input_modes": ACCEPTED_INPUT_MODES},
        )
    carriers: list[tuple[str, Any, str]] = [
        (
            "document",
            query.document_ref.document_id if query.document_ref else None,
            f"{where}.document_ref.document_id",
        ),
        ("vector", query.vector, f"{where}.vector"),
        ("text", query.text, f"{where}.text"),
        ("content", query.url, f"{where}.url"),
        ("content", query.image, f"{where}.image"),
        ("content", query.content.url if query.content else None, f"{where}.content.url"),
        ("content", query.content.base64 if query.content else None, f"{where}.content.base64"),
    ]
    if mode is None:
        if query.value is not None:
            return _inferred(query.value), query.value, f"{where}.value"
        given = next((carrier for carrier in carriers if carrier[1] is not None), None)
        if given is None:
            raise BadRequestError(
                f"{where}: the query carries nothing; give input_mode and value", {"field": f"{where}.value"}
            )
        return given
    if query.value is not None:
        return mode, query.value, f"{where}.value"
    for carrier_mode, value, location in carriers:
        if value is not None and carrier_mode == mode:
            return mode, value, location
    # The SDK's FeatureSearchQuery always sends its default input_mode 'text': a query that
    # carries only another kind of input is read as that kind.
    present = [carrier for carrier in carriers if carrier[1] is not None]
    if len(present) == 1:
        return present[0]
    field_name = "document_ref" if mode == "document" else "value"
    raise BadRequestError(
        f"{where}.{field_name}: input_mode '{mode}' needs its {field_name}",
        {"field": f"{where}.{field_name}"},
    )


def _inferred(value: Any) -> str:
    if _is_numbers(value) or (isinstance(value, list) and value and all(_is_numbers(row) for row in value)):
        return "vector"
    if isinstance(value, str) and (value.startswith((*_URL_SCHEMES, "data:"))):
        return "content"
    return "text"


def _is_numbers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    )


def _vector(value: Any, where: str, space: Space) -> list[float]:
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        if len(value) != 1:
            raise BadRequestError(
                f"{where}: multi-vector queries ({len(value)} vectors) are not supported; send one vector",
                {"field": where},
            )
        value = value[0]
    if not isinstance(value, list) or not value or not set(map(type, value)) <= {float, int}:
        raise BadRequestError(f"{where}: a vector query is a non-empty list of numbers", {"field": where})
    vector = [float(x) for x in value]
    if not math.isfinite(sum(vector)) and not all(math.isfinite(x) for x in vector):
        raise BadRequestError(
            f"{where}: NaN and infinite numbers are not allowed in a vector", {"field": where}
        )
    if len(vector) != space.dimension:
        raise BadRequestError(
            f"{where}: expected {space.dimension} dimensions for index '{space.index_name}', "
            f"got {len(vector)}",
            {"field": where, "expected_dimension": space.dimension, "dimension": len(vector)},
        )
    return vector


def _image_bytes(value: str, where: str) -> bytes:
    """An image sent inline: a `data:<mime>;base64,` URI or bare base64 (checked to be JPEG,
    PNG or WebP by its first bytes)."""
    from stratus.domain.content import sniffed_image_type

    payload = value
    if value.startswith("data:"):
        header, separator, payload = value.partition(",")
        if not separator or not header.endswith(";base64"):
            raise BadRequestError(
                f"{where}: a data URI must look like data:<mime type>;base64,<data>", {"field": where}
            )
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"{where}: content is an https URL, a data: URI or base64; this is none of them", {"field": where}
        ) from None
    if sniffed_image_type(data) is None:
        raise BadRequestError(
            f"{where}: not a JPEG, PNG or WebP image (checked its first bytes)",
            {"field": where, "accepted": ["image/jpeg", "image/png", "image/webp"]},
        )
    return data
