"""The operation registry: operation name → the router holding only its routes.

Each name is a folder `functions/<name>/` with one Lambda function in `template.yaml`; the
drift test keeps this table, the functions, the template and the OpenAPI file in step.
Scheduled (non-HTTP) functions, like `functions/auto_create_indexes/`, are not operations.

Each operation's router is `router` in its own module, `stratus.api.routers.<name>`, and
`OPERATIONS` imports that module only when the router is first looked up: a function
(`OPERATIONS["search"]`) loads its own operation's router, models and services, not every
operation's (a cold-start cost measured in tests/perf/cold_start.py). `in`, `len` and
iterating the names import nothing; `.values()` and `.items()` import every router, as the
full app and the drift test need."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping

from fastapi import APIRouter

from stratus.domain.rate_limits import RateCategory

_ROUTERS = "stratus.api.routers"

# In the order the full app (and so openapi.json) lists them.
OPERATION_NAMES = (
    "health",
    "create_namespace",
    "create_standalone_namespace",
    "list_namespaces",
    "get_namespace",
    "update_namespace",
    "delete_namespace",
    "promote_namespace",
    "migrate_vector_index",
    "cancel_vector_index_migration",
    "create_payload_index",
    "delete_payload_index",
    "ensure_namespace_indexes",
    "get_filter_usage",
    "list_inference_services",
    "upsert_documents",
    "list_documents",
    "get_document",
    "delete_document",
    "search",
    # Retrievers, next to search: the full app matches routes in order, so the query routes come
    # early, and the static `/v1/retrievers/stages` before `/v1/retrievers/{retriever_id}` (API
    # Gateway prefers the most specific route by itself).
    "execute_retriever",
    "execute_adhoc_retriever",
    "search_features",
    "create_retriever",
    "list_retrievers",
    "list_retriever_stages",
    "get_retriever",
    "update_retriever",
    "delete_retriever",
    "list_feature_extractors",
    "create_bucket",
    "list_buckets",
    "get_bucket",
    "delete_bucket",
    "create_object",
    "create_objects_batch",
    "list_objects",
    "get_object",
    "delete_object",
    "create_upload",
    "confirm_upload",
    "create_collection",
    "list_collections",
    "get_collection",
    "delete_collection",
    "list_collection_documents",
    "get_collection_document",
    "update_collection_document",
    "delete_collection_document",
    "batch_update_collection_documents",
    "get_task",
)
# operation → "module:attribute" of its router: `routers/<operation>.py`, `router`.
ROUTER_PATHS: dict[str, str] = {name: f"{_ROUTERS}.{name}:router" for name in OPERATION_NAMES}

# Operations served without an API key (and so without a rate limit).
PUBLIC_OPERATIONS = frozenset({"health", "list_retriever_stages", "list_feature_extractors"})
# The rate-limit category each authenticated operation counts against (Mixpeek's five; docs/api.md,
# "Rate limits"): the auth dependency counts the request right after authenticating it. A test
# keeps this table and OPERATION_NAMES in step, so a new operation must choose one.
RATE_CATEGORIES: dict[str, RateCategory] = {
    "create_namespace": "metadata",
    "create_standalone_namespace": "metadata",
    "list_namespaces": "metadata",
    "get_namespace": "metadata",
    "update_namespace": "metadata",
    "delete_namespace": "metadata",
    "promote_namespace": "metadata",
    # Builds the index over every record of every vector index, synchronously: compute.
    "create_payload_index": "compute",
    # Drops one index from every vector index's store: no records are read.
    "delete_payload_index": "metadata",
    # Builds what is missing, as create_payload_index does: compute.
    "ensure_namespace_indexes": "compute",
    "get_filter_usage": "metadata",
    "list_inference_services": "metadata",
    "upsert_documents": "data",
    "list_documents": "data",
    "get_document": "data",
    "delete_document": "data",
    "search": "search",
    "create_retriever": "metadata",
    "list_retrievers": "metadata",
    "get_retriever": "metadata",
    "update_retriever": "metadata",
    "delete_retriever": "metadata",
    "execute_retriever": "search",
    "execute_adhoc_retriever": "search",
    "search_features": "search",
    "create_bucket": "metadata",
    "list_buckets": "metadata",
    "get_bucket": "metadata",
    "delete_bucket": "metadata",
    # Carries the file (up to 6 MB into S3) and starts an extraction, as an upload does.
    "create_object": "upload",
    # Up to 100 objects, each as create_object takes it.
    "create_objects_batch": "upload",
    "list_objects": "data",
    "get_object": "data",
    "create_upload": "upload",
    # Creates the object and starts its extraction, as create_object does.
    "confirm_upload": "upload",
    "delete_object": "data",
    "create_collection": "metadata",
    "list_collections": "metadata",
    "get_collection": "metadata",
    "delete_collection": "metadata",
    "list_collection_documents": "data",
    "get_collection_document": "data",
    "update_collection_document": "data",
    "delete_collection_document": "data",
    "batch_update_collection_documents": "data",
    "get_task": "metadata",
    # Starts a job that re-embeds every record of the index: compute, as building an index is.
    "migrate_vector_index": "compute",
    "cancel_vector_index_migration": "metadata",
}


def rate_category(operation: str) -> RateCategory:
    """The category of an operation's requests; `KeyError` for a public or unknown one."""
    return RATE_CATEGORIES[operation]


class LazyRouters(Mapping[str, APIRouter]):
    """A read-only mapping whose values are imported on first access (and then kept)."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)
        self._loaded: dict[str, APIRouter] = {}
        self._lock = threading.Lock()

    def __getitem__(self, operation: str) -> APIRouter:
        router = self._loaded.get(operation)
        if router is None:
            path = self._paths[operation]  # KeyError for an unknown operation, as a dict
            with self._lock:
                router = self._loaded.get(operation)
                if router is None:
                    router = self._loaded[operation] = _import_router(operation, path)
        return router

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, operation: object) -> bool:
        return operation in self._paths  # without importing anything

    def __repr__(self) -> str:
        return f"LazyRouters({sorted(self._paths)})"


def _import_router(operation: str, path: str) -> APIRouter:
    module_name, _, attribute = path.partition(":")
    router = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(router, APIRouter):
        raise TypeError(f"operation {operation!r}: {path} is a {type(router).__name__}, not an APIRouter")
    return router


OPERATIONS: Mapping[str, APIRouter] = LazyRouters(ROUTER_PATHS)
