"""`POST /v1/search`: check the queries against the namespace, turn them into a plan, and run it on
the retrieval engine (services/retrieval/engine.py), which every query route shares."""

from __future__ import annotations

import time

from stratus.errors import BadRequestError
from stratus.filters import parse_filter
from stratus.inference_catalogue import CATALOGUE
from stratus.models.namespaces import Namespace
from stratus.models.search import SearchQuery, SearchRequest, SearchResponse, SearchResult
from stratus.ports.stores import Stores
from stratus.services.embedding import EmbeddingCache
from stratus.services.retrieval import engine
from stratus.services.retrieval.engine import Defer, Leg, Plan, with_fresh_namespace
from stratus.services.spaces import resolve_namespace, space_of

__all__ = ["Defer", "search"]


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
    namespace = resolve_namespace(
        stores.metadata, org_id, request.namespace_id, namespace_max_age, "namespace_id"
    )
    return with_fresh_namespace(
        stores.metadata,
        org_id,
        namespace,
        namespace_max_age,
        lambda current: _search(stores, org_id, current, request, query_cache, defer, started),
    )


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
    filters = [node] if node is not None else []
    engine.check_operators_supported(stores, filters)
    legs = [_leg(namespace, query, position) for position, query in enumerate(request.queries)]
    for leg in legs:
        leg.filter = node
    plan = Plan(legs=legs, fusion=request.fusion, top_k=request.top_k, store_filters=filters)
    outcome = engine.run(stores, org_id, namespace, plan, query_cache=query_cache, defer=defer)
    fused = outcome.candidates
    vectors = (
        engine.fetch_vectors(stores, engine.searched_spaces(plan), [item.id for item in fused])
        if request.return_vectors
        else {}
    )
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
    return SearchResponse(
        results=results,
        warnings=outcome.warnings,
        took_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _leg(namespace: Namespace, query: SearchQuery, position: int) -> Leg:
    location = f"queries[{position}]"
    space = space_of(namespace, query.vector_name)
    if space is None:
        raise BadRequestError(
            f"{location}.vector_name: no vector index '{query.vector_name}' in namespace "
            f"'{namespace.namespace_id}'; available: {', '.join(namespace.index_names()) or 'none'}",
            {"field": f"{location}.vector_name", "available_indexes": namespace.index_names()},
        )
    leg = Leg(space, query.top_k, location, weight=query.weight, min_score=query.score_threshold)
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
        leg.vector = query.vector
        return leg
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
    leg.service = service_name
    leg.text = query.text
    leg.image_url = query.url
    leg.input_field = f"{location}.url" if kind == "url" else location
    return leg
