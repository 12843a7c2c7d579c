"""The upsert route: the usual upsert served in one worker thread, everything else by FastAPI.

FastAPI serves a sync route in up to five thread hops (the body's decode, `get_container`, the
auth dependency, the endpoint, the answer's validation), each one a wake-up of a thread on a busy
machine, and its two DynamoDB round trips (the rate-limit count, then the namespace read) one
after the other (docs/performance.md, "Search and upsert").

So a request whose body decodes the fast way (stratus.api.upsert_body) and whose caller
authenticates is served here, in one hop: decoded, authenticated, counted while its namespace is
read on a second thread (both round trips in flight at once: on Lambda that hides one; on the
local stack moto answers both in this process, one at a time), validated, then written, with the
garbage collector paused meanwhile (`collector_deferred`). Every rule and message is the one
FastAPI's path applies, in the same order:

- a body that is not JSON, or not plain enough to decode the fast way, and a caller without a
  valid key of the right permission: FastAPI serves the request, as if this did not exist (the
  decoded body is handed over, not decoded again);
- the count's 429 comes before the body's validation errors (FastAPI solves the dependencies
  first), and a request whose body then fails validation is handed to FastAPI already counted
  (as FastAPI would have), so it is reported exactly as FastAPI reports it and counted once;
- the namespace's errors (400, 404, 503) come after validation, as the endpoint's would, and the
  service's too; the answer is serialized by FastAPI's own `serialize_response`, with the count's
  `X-RateLimit-*` headers after the others.

tests/integration/test_upsert_route.py sends the same requests both ways (this path switched off
by `ONE_THREAD = False`) and compares statuses, headers, bodies and the rows stored.
"""

from __future__ import annotations

import contextvars
import email.message
import gc
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import serialize_response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from stratus.api.auth import authorize, bearer_credentials, count_request
from stratus.api.body_limit import replay_body
from stratus.api.json_body import UPSERT_DECODED_STATE, UpsertJSONRoute
from stratus.container import Container, get_container
from stratus.errors import StratusError
from stratus.models.documents import UpsertDocumentsRequest, UpsertDocumentsResponse
from stratus.ports.metadata import Permission

# The permission the route requires (its FastAPI dependency is `require(PERMISSION)`).
PERMISSION: Permission = "write"
# False: every request takes FastAPI's path (tests compare the two).
ONE_THREAD = True
# Threads for the namespace reads sent beside the count (per process, made on first use).
METADATA_THREADS = 4

_T = TypeVar("_T")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class UpsertRoute(UpsertJSONRoute):
    """The upsert route's class (see the module). What FastAPI builds from the route's
    declaration (OpenAPI, dependencies, the endpoint) is unchanged and serves every request this
    path hands over."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        usual = super().get_route_handler()
        route = self

        async def upsert_handler(request: Request) -> Response:
            if not ONE_THREAD:
                return await usual(request)
            body = await request.body()
            served = await run_in_threadpool(_serve_without_collections, route, request, body)
            if served is None:
                return await usual(Request(request.scope, replay_body(body, request.receive)))
            answer, headers = served
            content = await serialize_response(
                field=route.response_field,
                response_content=answer,
                include=route.response_model_include,
                exclude=route.response_model_exclude,
                by_alias=route.response_model_by_alias,
                exclude_unset=route.response_model_exclude_unset,
                exclude_defaults=route.response_model_exclude_defaults,
                exclude_none=route.response_model_exclude_none,
                is_coroutine=True,
                dump_json=isinstance(route.response_class, DefaultPlaceholder),
            )
            response = Response(content=content, media_type="application/json")
            if route.status_code is not None:
                response.status_code = route.status_code
            response.headers.raw.extend(headers.raw)
            return response

        return upsert_handler


def _serve_without_collections(
    route: UpsertRoute, request: Request, body: bytes
) -> tuple[UpsertDocumentsResponse, MutableHeaders] | None:
    """`_serve` with the cyclic garbage collector paused (`collector_deferred`)."""
    with collector_deferred():
        return _serve(route, request, body)


def _serve(
    route: UpsertRoute, request: Request, body: bytes
) -> tuple[UpsertDocumentsResponse, MutableHeaders] | None:
    """The upsert, in this worker thread; None: FastAPI serves the request (see the module)."""
    from stratus.api.upsert_body import decode
    from stratus.services import documents as service
    from stratus.services.spaces import resolve_namespace

    if route.body_field is None or not _is_json(request.headers.get("content-type")):
        return None
    decoded = decode(body)
    if decoded is None:
        return None
    setattr(request.state, UPSERT_DECODED_STATE, (decoded.skeleton, decoded.vectors))
    container = _container(request)
    try:
        principal = authorize(container, bearer_credentials(request), PERMISSION)
    except StratusError:
        return None  # FastAPI's dependency refuses it the same way
    # The dependency's `response` (made as FastAPI makes it: no headers of its own), where
    # `count_request` puts the X-RateLimit-* headers.
    counted_headers = Response()
    del counted_headers.headers["content-length"]
    # The namespace read goes out on a metadata thread while this one counts the request (its
    # wait for the count's answer lets the other thread send): both round trips in flight at once.
    identifier = str(request.path_params["namespace_identifier"])
    namespace = _submit(resolve_namespace, container.metadata, principal.org_id, identifier)
    # A 429 here comes before the body's errors, as the dependency raises it before FastAPI
    # validates the body.
    count_request(request, counted_headers, container, principal.org_id)
    validated, errors = route.body_field.validate(decoded.skeleton, {}, loc=("body",))
    if errors or not isinstance(validated, UpsertDocumentsRequest):
        return None  # counted already; FastAPI reports the errors, and does not count again
    answer = service.upsert_documents(container, namespace.result(), validated, decoded.vectors)
    return answer, counted_headers.headers


_collector_lock = threading.Lock()
_collector_paused = False  # by a `collector_deferred` block, which will resume it


@contextmanager
def collector_deferred() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused, if it runs and nothing else paused
    it; the block that paused it resumes it, so a pause lasts one upsert at most, whatever runs
    beside it.

    An upsert allocates ~10,000 containers (a batch's dicts, models and entries), all freed by
    reference counting when it ends. Run meanwhile, the collector scanned them ~18 times per
    batch and moved the live ones to the old generation, which then filled up and was scanned
    whole every fourth batch: ~5.5 ms of collections per batch on the local stack (gc.callbacks),
    ~1.7 ms paused, and 6 ms off the p50 of a 1,000 x 384 upsert."""
    global _collector_paused
    with _collector_lock:
        mine = not _collector_paused and gc.isenabled()
        if mine:
            _collector_paused = True
            gc.disable()
    try:
        yield
    finally:
        if mine:
            with _collector_lock:
                _collector_paused = False
                gc.enable()


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads the body as JSON (its own test of the header, `strict_content_type`:
    a body without a content type is not JSON)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _container(request: Request) -> Container:
    """The container FastAPI would inject (`Depends(get_container)`, overrides included)."""
    overrides: dict[Any, Any] = getattr(request.app, "dependency_overrides", None) or {}
    provider: Callable[[], Container] = overrides.get(get_container, get_container)
    return provider()


def _submit(function: Callable[..., _T], *args: Any) -> Future[_T]:
    """`function(*args)` on a metadata thread, in this thread's context (logging, tracing)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(METADATA_THREADS, thread_name_prefix="stratus-upsert-metadata")
    return _pool.submit(contextvars.copy_context().run, function, *args)
