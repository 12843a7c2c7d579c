"""Running a plan: embed what must be embedded, run the vector queries, fuse them, run the steps
over the fused candidates, explain unindexed filters and count filter usage.

Every query route runs here, so filters, fusion, warnings, the filter-usage counts of
`auto_create_indexes` and the limits behave the same on all of them."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from stratus import clock, limits
from stratus.errors import BadRequestError
from stratus.filters import And, FilterNode, filtered_fields, operators_used
from stratus.models.namespaces import Namespace
from stratus.ports.metadata import NamespaceRepository
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space
from stratus.services.embedding import EmbeddingCache, embed_texts
from stratus.services.filter_usage import record_search_usage
from stratus.services.fusion import Fused, RankedList, fuse
from stratus.services.payload_indexes import index_of, ready_fields
from stratus.services.spaces import resolve_namespace

# How the caller runs work after the answer (FastAPI's `BackgroundTasks.add_task`).
Defer = Callable[..., None]
T = TypeVar("T")


@dataclass
class Leg:
    """One vector query. Its input is a `vector`, or what becomes one before it runs: `text` or
    an image (`image_url`, fetched; `image`, decoded bytes) embedded by `service`, or the stored
    vector of `document_id` in the same index. `input_field` names the input in errors."""

    space: Space
    top_k: int
    input_field: str
    weight: float = 1.0
    min_score: float | None = None
    filter: FilterNode | None = None
    vector: list[float] | None = None
    text: str | None = None
    image_url: str | None = None
    image: bytes | None = None
    document_id: str | None = None
    service: str | None = None
    hits: int = 0  # records it returned (after min_score)


@dataclass
class StageReport:
    """What one stage did: documents in and out, its time, and anything worth telling."""

    name: str
    stage_id: str
    input_count: int
    output_count: int
    duration_ms: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepContext:
    """What a step may use besides the candidates, and where it reports."""

    stores: Stores
    namespace: Namespace
    searched: list[Space]
    warnings: list[str] = field(default_factory=list)
    groups: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # of the step running now


class Step(Protocol):
    """A stage that runs over the fused candidates (sort, filter, sample, group, diversify...)."""

    name: str
    stage_id: str

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]: ...


@dataclass
class Report:
    """A stage that ran as part of the vector queries (an attribute_filter before the search)."""

    name: str
    stage_id: str
    metadata: dict[str, Any]


@dataclass
class Plan:
    """What to run. `store_filters` lists every filter the vector store evaluates (each leg's
    filter is built from them): unindexed fields are explained and usage is counted from these."""

    legs: list[Leg]
    fusion: str
    top_k: int
    store_filters: list[FilterNode] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    search_stage: tuple[str, str] = ("search", "feature_search")  # (name, stage id)
    folded_stages: list[Report] = field(default_factory=list)  # ran inside the vector queries
    search_metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # found while compiling


@dataclass
class Outcome:
    candidates: list[Fused]  # best first, after every step
    stages: list[StageReport]
    warnings: list[str]
    groups: list[dict[str, Any]] | None


def run(
    stores: Stores,
    org_id: str,
    namespace: Namespace,
    plan: Plan,
    *,
    query_cache: EmbeddingCache | None = None,
    defer: Defer | None = None,
) -> Outcome:
    check_operators_supported(stores, plan.store_filters)
    started = time.perf_counter()
    embed(stores, org_id, plan.legs, query_cache)
    ranked = run_legs(stores, plan.legs)
    candidates = fuse(ranked, plan.fusion, plan.top_k)
    reports = [
        StageReport(folded.name, folded.stage_id, 0, 0, 0.0, folded.metadata) for folded in plan.folded_stages
    ]
    name, stage_id = plan.search_stage
    reports.append(
        StageReport(
            name,
            stage_id,
            sum(leg.hits for leg in plan.legs),
            len(candidates),
            _elapsed_ms(started),
            plan.search_metadata,
        )
    )
    ctx = StepContext(stores, namespace, _searched_spaces(plan.legs))
    for step in plan.steps:
        ctx.metadata = {}
        step_started = time.perf_counter()
        before = len(candidates)
        candidates = step.apply(ctx, candidates)
        reports.append(
            StageReport(
                step.name, step.stage_id, before, len(candidates), _elapsed_ms(step_started), ctx.metadata
            )
        )
    usage = combined(plan.store_filters)
    if namespace.auto_create_indexes and usage is not None:
        # Counted after the answer, with the time of the request; never fails the search.
        run_later = defer or _run_now
        run_later(
            record_search_usage, stores.metadata, org_id, namespace.namespace_id, usage, clock.utc_now()
        )
    warnings = [*plan.warnings, *unindexed_field_warnings(namespace, plan.store_filters), *ctx.warnings]
    return Outcome(candidates, reports, warnings, ctx.groups)


def with_fresh_namespace(
    metadata: NamespaceRepository,
    org_id: str,
    namespace: Namespace,
    namespace_max_age: float,
    attempt: Callable[[Namespace], T],
) -> T:
    """Run `attempt` on a possibly cached copy of the namespace. The copy may predate a promotion
    or a new index (made by another container): a request it refuses is checked once more
    against the stored namespace before the refusal stands."""
    try:
        return attempt(namespace)
    except BadRequestError:
        if namespace_max_age <= 0:
            raise
        fresh = resolve_namespace(metadata, org_id, namespace.namespace_id)
        if fresh.version == namespace.version:
            raise
        return attempt(fresh)


def combined(nodes: list[FilterNode]) -> FilterNode | None:
    """One filter: every node ANDed (None when there is none)."""
    distinct: list[FilterNode] = []
    for node in nodes:
        if node not in distinct:
            distinct.append(node)
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else And(tuple(distinct))


def embed(stores: Stores, org_id: str, legs: list[Leg], query_cache: EmbeddingCache | None) -> None:
    """One embedding call per service, each distinct text once (and cached for a while); images
    are fetched (https, public hosts only) or decoded, and embedded each time; a document's
    stored vector is read from the index the leg searches. Cached texts are the organization's own:
    a hit's speed must not tell one organization what another searched."""
    by_service: dict[str, list[Leg]] = {}
    for leg in legs:
        if leg.vector is not None:
            continue
        if leg.document_id is not None:
            leg.vector = _stored_vector(stores, leg)
        elif leg.service is not None and leg.image_url is not None:
            image = stores.fetcher.fetch(leg.image_url, leg.input_field)
            leg.vector = stores.embedders.get(leg.service).embed_images([image])[0]
        elif leg.service is not None and leg.image is not None:
            leg.vector = stores.embedders.get(leg.service).embed_images([leg.image])[0]
        elif leg.service is not None:
            by_service.setdefault(leg.service, []).append(leg)
    for service, group in by_service.items():
        texts = [leg.text or "" for leg in group]
        vectors = embed_texts(stores.embedders, org_id, service, texts, query_cache)
        for leg in group:
            leg.vector = vectors[leg.text or ""]


def _stored_vector(stores: Stores, leg: Leg) -> list[float]:
    assert leg.document_id is not None
    found = stores.vectors.fetch(leg.space, [leg.document_id], include_vectors=True).get(leg.document_id)
    if found is None or found.vector is None:
        raise BadRequestError(
            f"{leg.input_field}: document '{leg.document_id}' has no vector in index "
            f"'{leg.space.index_name}'; "
            "give the id of a document stored in the index this search uses",
            {"field": leg.input_field, "document_id": leg.document_id, "vector_index": leg.space.index_name},
        )
    return found.vector


def run_legs(stores: Stores, legs: list[Leg]) -> list[RankedList]:
    def one(leg: Leg) -> RankedList:
        records = stores.vectors.query(leg.space, leg.vector or [], leg.top_k, leg.filter, False)
        if leg.min_score is not None:
            records = [record for record in records if record.score >= leg.min_score]
        leg.hits = len(records)
        return RankedList(leg.space.index_name, leg.weight, records)

    if len(legs) == 1:
        return [one(legs[0])]
    # The stores release the GIL while searching, so several queries overlap.
    with ThreadPoolExecutor(max_workers=len(legs)) as pool:
        return list(pool.map(one, legs))


def _searched_spaces(legs: list[Leg]) -> list[Space]:
    spaces: dict[str, Space] = {}
    for leg in legs:
        spaces.setdefault(leg.space.index_name, leg.space)
    return list(spaces.values())


def fetch_vectors(stores: Stores, spaces: list[Space], ids: list[str]) -> dict[str, dict[str, list[float]]]:
    """The vectors of the given documents in every given index (one read per index)."""
    found: dict[str, dict[str, list[float]]] = {doc_id: {} for doc_id in ids}
    if not ids:
        return found
    for space in spaces:
        for doc_id, record in stores.vectors.fetch(space, ids, include_vectors=True).items():
            if record.vector is not None:
                found[doc_id][space.index_name] = record.vector
    return found


def searched_spaces(plan: Plan) -> list[Space]:
    return _searched_spaces(plan.legs)


def check_operators_supported(stores: Stores, nodes: list[FilterNode]) -> None:
    capabilities = stores.vectors.capabilities
    used: set[str] = set()
    for node in nodes:
        used |= operators_used(node)
    unsupported = sorted(used - capabilities.operators)
    if unsupported:
        raise BadRequestError(
            f"filters: operator(s) {', '.join(unsupported)} cannot be evaluated exactly by the "
            f"'{capabilities.name}' vector store",
            {"field": "filters", "operators": unsupported, "vector_store": capabilities.name},
        )


def _run_now(function: Callable[..., None], *args: Any) -> None:
    function(*args)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def unindexed_field_warnings(namespace: Namespace, nodes: list[FilterNode]) -> list[str]:
    # Only a `ready` index counts: a pending or failed one does not serve the filter yet. One
    # warning per field, at most MAX_FILTER_WARNINGS: the last says how many more were left out.
    ready = ready_fields(namespace)
    names: list[str] = []
    for node in nodes:
        names.extend(name for name in filtered_fields(node) if name not in names)
    # Shown as text: a field name may hold a lone surrogate (a filter may name any key), which
    # the answer's UTF-8 cannot carry; it is spelled as its escape instead.
    fields = [name.encode("utf-8", "backslashreplace").decode("utf-8") for name in names if name not in ready]
    if len(fields) <= limits.MAX_FILTER_WARNINGS:
        return [_warning(namespace, name) for name in fields]
    shown = limits.MAX_FILTER_WARNINGS - 1
    return [
        *(_warning(namespace, name) for name in fields[:shown]),
        f"{len(fields) - shown} more filtered fields have no ready payload index either, so this "
        "filter scanned every document; see GET "
        f"/v1/namespaces/{namespace.namespace_id}/analytics/filter-usage",
    ]


def _warning(namespace: Namespace, field_name: str) -> str:
    index = index_of(namespace, field_name)
    if index is not None:
        reason = f": {index.error}" if index.error else ""
        return (
            f"field '{field_name}' has a payload index in state '{index.state}'{reason}, so this filter "
            "scanned every document; re-create it with "
            f"POST /v1/namespaces/{namespace.namespace_id}/payload-indexes"
        )
    return (
        f"field '{field_name}' has no payload index, so this filter scanned every document; create one with "
        f"POST /v1/namespaces/{namespace.namespace_id}/payload-indexes "
        f'{{"field_name": "{field_name}", "type": "keyword"}} (or set auto_create_indexes: true)'
    )
