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
    "create_payload_index",
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
    "create_upload",
    "create_collection",
    "list_collections",
    "get_collection",
    "delete_collection",
    "get_task",
)
# operation → "module:attribute" of its router: `routers/<operation>.py`, `router`.
ROUTER_PATHS: dict[str, str] = {name: f"{_ROUTERS}.{name}:router" for name in OPERATION_NAMES}


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
