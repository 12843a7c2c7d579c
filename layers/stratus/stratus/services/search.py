"""`POST /v1/search`: validate queries against the namespace, run them, fuse, explain."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stratus import clock, limits
from stratus.errors import BadRequestError
from stratus.filters import FilterNode, filtered_fields, operators_used, parse_filter
from stratus.inference_catalogue import CATALOGUE
from stratus.models.namespaces import Namespace
from stratus.models.search import SearchQuery, SearchRequest, SearchResponse, SearchResult
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space
from stratus.services.embedding import EmbeddingCache, embed_texts
from stratus.services.filter_usage import record_search_usage
from stratus.services.fusion import RankedList, fuse
from stratus.services.payload_indexes import index_of, ready_fields
from stratus.services.spaces import resolve_namespace, space_of

# How the caller runs work after the answer (FastAPI's `BackgroundTasks.add_task`).
Defer = Callable[..., None]


def search(
    stores: Stores,
    org_id: str,
    request: SearchRequest,
    *,
    query_cache: EmbeddingCache | None = None,
    namespace_max_age: float = 0.0,
    defer: Defer | None = None,
) -> SearchResponse:
    """`query_cache` keeps the embeddings of query texts; `namespace_max_age` (seconds) lets a
    recent read of the namespace answer (settings `namespace_cache_seconds`)."""
    started = time.perf_counter()
    namespace = resolve_namespace(stores.metadata, org_id, request.namespace_id, namespace_max_age)
    try:
        return _search(stores, org_id, namespace, request, query_cache, defer, started)
    except BadRequestError:
        # The copy may predate a promotion or a new index (made by another container): check the
        # request against the stored namespace before refusing it.
        fresh = resolve_namespace(stores.metadata, org_id, request.namespace_id)
        if namespace_max_age <= 0 or fresh.version == namespace.version:
            raise
        return _search(stores, org_id, fresh, request, query_cache, defer, started)


def _search(
    stores: Stores,
    org_id: str,
    namespace: Namespace,
    request: SearchRequest,
    query_cache: EmbeddingCache | None,
    defer: Defer | None,
    started: float,
) -> SearchResponse:
    node = parse_filter(request.filters, "filters")
    _check_operators_supported(stores, node)
    plans = [_plan(namespace, query, position) for position, query in enumerate(request.queries)]
    _embed(stores, org_id, plans, query_cache)
    ranked = _run(stores, plans, node)
    fused = fuse(ranked, request.fusion, request.top_k)
    vectors = _fetch_vectors(stores, plans, [item.id for item in fused]) if request.return_vectors else {}
    results = [
        SearchResult(
            document_id=item.id,
            score=item.score,
            payload=item.record.payload,
            scores=item.scores,
            vectors=vectors.get(item.id, {}) if request.return_vectors else None,
        )
        for item in fused
    ]
    if namespace.auto_create_indexes and node is not None:
        # Counted after the answer, with the time of the request; never fails the search.
        run_later = defer or _run_now
        run_later(record_search_usage, stores.metadata, org_id, namespace.namespace_id, node, clock.utc_now())
    return SearchResponse(
        results=results,
        warnings=_unindexed_field_warnings(namespace, node),
        took_ms=round((time.perf_counter() - started) * 1000, 3),
    )


class _Plan:
    def __init__(self, query: SearchQuery, space: Space, service: str | None, location: str = "") -> None:
        self.query = query
        self.space = space
        self.service = service  # set when the query's text or image (url) must be embedded
        self.location = location
        self.vector: list[float] = query.vector or []


def _plan(namespace: Namespace, query: SearchQuery, position: int) -> _Plan:
    location = f"queries[{position}]"
    space = space_of(namespace, query.vector_name)
    if space is None:
        raise BadRequestError(
            f"{location}.vector_name: no vector index '{query.vector_name}' in namespace "
            f"'{namespace.namespace_id}'; available: {', '.join(namespace.index_names()) or 'none'}",
            {"field": f"{location}.vector_name", "available_indexes": namespace.index_names()},
        )
    if query.vector is not None:
        if len(query.vector) != space.dimension:
            raise BadRequestError(
                f"{location}.vector: expected {space.dimension} dimensions for index '{space.index_name}', "
                f"got {len(query.vector)}",
                {
                    "field": f"{location}.vector",
                    "expected_dimension": space.dimension,
                    "dimension": len(query.vector),
                },
            )
        return _Plan(query, space, None)
    kind = "text" if query.text is not None else "url"
    if namespace.mode == "standalone":
        raise BadRequestError(
            f"{location}.{kind}: namespace '{namespace.namespace_id}' is standalone, so it cannot embed "
            f"raw {kind}; send a precomputed 'vector', or promote the namespace to managed with a "
            "vector_mappings entry for this index",
            {"field": f"{location}.{kind}", "mode": "standalone"},
        )
    service_name = namespace.vector_inference_map.get(query.vector_name)
    if service_name is None:
        raise BadRequestError(
            f"{location}.{kind}: index '{query.vector_name}' has no inference service in "
            "vector_inference_map; send a precomputed 'vector'",
            {"field": f"{location}.{kind}", "vector_inference_map": namespace.vector_inference_map},
        )
    service = CATALOGUE[service_name]
    if kind == "url" and "image" not in service.inputs:
        raise BadRequestError(
            f"{location}.url: index '{query.vector_name}' is embedded by '{service_name}', which takes "
            "text only; send 'text' (or a 'vector')",
            {"field": f"{location}.url", "service": service_name, "inputs": list(service.inputs)},
        )
    return _Plan(query, space, service_name, location)


def _embed(stores: Stores, org_id: str, plans: list[_Plan], query_cache: EmbeddingCache | None) -> None:
    """One embedding call per service, each distinct text once (and cached for a while); images
    by URL are fetched (https, public hosts only) and embedded each time."""
    by_service: dict[str, list[_Plan]] = {}
    for plan in plans:
        if plan.service is not None and plan.query.url is not None:
            image = stores.fetcher.fetch(plan.query.url, f"{plan.location}.url")
            plan.vector = stores.embedders.get(plan.service).embed_images([image])[0]
        elif plan.service is not None:
            by_service.setdefault(plan.service, []).append(plan)
    for service, group in by_service.items():
        texts = [p.query.text or "" for p in group]
        vectors = embed_texts(stores.embedders, org_id, service, texts, query_cache)
        for plan in group:
            plan.vector = vectors[plan.query.text or ""]


def _run(stores: Stores, plans: list[_Plan], node: FilterNode | None) -> list[RankedList]:
    def one(plan: _Plan) -> RankedList:
        records = stores.vectors.query(plan.space, plan.vector, plan.query.top_k, node, False)
        if plan.query.score_threshold is not None:
            records = [record for record in records if record.score >= plan.query.score_threshold]
        return RankedList(plan.space.index_name, plan.query.weight, records)

    if len(plans) == 1:
        return [one(plans[0])]
    # The stores release the GIL while searching, so several queries overlap.
    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        return list(pool.map(one, plans))


def _fetch_vectors(stores: Stores, plans: list[_Plan], ids: list[str]) -> dict[str, dict[str, list[float]]]:
    """The vectors of the returned documents in every index the request searched."""
    found: dict[str, dict[str, list[float]]] = {doc_id: {} for doc_id in ids}
    spaces = {plan.space.index_name: plan.space for plan in plans}
    for name, space in spaces.items():
        for doc_id, record in stores.vectors.fetch(space, ids, include_vectors=True).items():
            if record.vector is not None:
                found[doc_id][name] = record.vector
    return found


def _check_operators_supported(stores: Stores, node: FilterNode | None) -> None:
    capabilities = stores.vectors.capabilities
    unsupported = sorted(operators_used(node) - capabilities.operators)
    if unsupported:
        raise BadRequestError(
            f"filters: operator(s) {', '.join(unsupported)} cannot be evaluated exactly by the "
            f"'{capabilities.name}' vector store",
            {"field": "filters", "operators": unsupported, "vector_store": capabilities.name},
        )


def _run_now(function: Callable[..., None], *args: Any) -> None:
    function(*args)


def _unindexed_field_warnings(namespace: Namespace, node: FilterNode | None) -> list[str]:
    # Only a `ready` index counts: a pending or failed one does not serve the filter yet. One
    # warning per field, at most MAX_FILTER_WARNINGS: the last says how many more were left out.
    ready = ready_fields(namespace)
    # Shown as text: a field name may hold a lone surrogate (a filter may name any key), which
    # the answer's UTF-8 cannot carry; it is spelled as its escape instead.
    fields = [
        field.encode("utf-8", "backslashreplace").decode("utf-8")
        for field in filtered_fields(node)
        if field not in ready
    ]
    if len(fields) <= limits.MAX_FILTER_WARNINGS:
        return [_warning(namespace, field) for field in fields]
    shown = limits.MAX_FILTER_WARNINGS - 1
    return [
        *(_warning(namespace, field) for field in fields[:shown]),
        f"{len(fields) - shown} more filtered fields have no ready payload index either, so this "
        "filter scanned every document; see GET "
        f"/v1/namespaces/{namespace.namespace_id}/analytics/filter-usage",
    ]


def _warning(namespace: Namespace, field: str) -> str:
    index = index_of(namespace, field)
    if index is not None:
        reason = f": {index.error}" if index.error else ""
        return (
            f"field '{field}' has a payload index in state '{index.state}'{reason}, so this filter scanned "
            f"every document; re-create it with POST /v1/namespaces/{namespace.namespace_id}/payload-indexes"
        )
    return (
        f"field '{field}' has no payload index, so this filter scanned every document; create one with "
        f"POST /v1/namespaces/{namespace.namespace_id}/payload-indexes "
        f'{{"field_name": "{field}", "type": "keyword"}} (or set auto_create_indexes: true)'
    )
