"""Fast JSON request bodies for the routes whose bodies run to megabytes (document upserts).

FastAPI parses a JSON body with `json.loads` on the event loop. An upsert of 1,000 vectors of 384
floats is ~5-8 MB of JSON, and `json.loads` spends ~150 ms of it turning digits into floats while
every other request on that worker waits. `pydantic_core.from_json` (Rust, already installed with
pydantic) parses the same body ~6x faster, and bodies past `OFFLOAD_BYTES` are parsed on a worker
thread, so the event loop stays free for searches (the local server's workers, not Lambda, where a
container serves one request at a time).

The answer is the one `json.loads` gives: `from_json` returns the same values for every document
both accept (checked in tests/unit/test_json_body.py), and whatever it refuses goes to
`json.loads` instead, so what `json.loads` accepts (lone surrogate escapes, UTF-16/32 bodies) is
still accepted, and what it refuses raises its own `JSONDecodeError`, the error FastAPI turns
into a 400 naming the position.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from pydantic_core import from_json
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

# Below this a thread hop (~50-100 µs) costs more than the parse it moves off the loop.
OFFLOAD_BYTES = 64 * 1024


def loads(body: bytes) -> Any:
    try:
        return from_json(body)
    except ValueError:
        return json.loads(body)


class FastJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = await run_in_threadpool(loads, body) if len(body) >= OFFLOAD_BYTES else loads(body)
        return self._json


class FastJSONRoute(APIRoute):
    """An APIRoute whose handler sees a `FastJSONRequest` (FastAPI's documented way to customise
    the request: a route class wrapping `get_route_handler`)."""

    request_class: type[Request] = FastJSONRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        request_class = self.request_class

        async def fast_json_handler(request: Request) -> Response:
            return await handler(request_class(request.scope, request.receive))

        return fast_json_handler


# Where `UpsertJSONRequest` leaves the vectors it took out of the body (`request.state`).
UPSERT_VECTORS_STATE = "stratus_upsert_vectors"
# Where the upsert route's one-thread path (stratus.api.upsert_route) leaves the body it decoded
# when it hands the request to FastAPI after all: `(skeleton, vectors)`, not decoded twice.
UPSERT_DECODED_STATE = "stratus_upsert_decoded"


def decode_upsert(body: bytes) -> tuple[Any, Any]:
    """(what FastAPI validates, the vectors by index or None): `upsert_body.decode`'s split when
    it can make one, else the whole body parsed as `loads` does."""
    from stratus.api.upsert_body import decode

    decoded = decode(body)
    if decoded is None:
        return loads(body), None
    return decoded.skeleton, decoded.vectors


class UpsertJSONRequest(Request):
    """The upsert route's request: FastAPI validates the body without its vectors (each one a
    placeholder), which travel as numpy rows in `request.state` (see `stratus.api.upsert_body`).
    A body the fast split cannot take exactly is parsed whole, as `FastJSONRequest` does."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            decoded = getattr(self.state, UPSERT_DECODED_STATE, None)
            if decoded is not None:
                self._json, vectors = decoded
            else:
                body = await self.body()
                if len(body) >= OFFLOAD_BYTES:
                    self._json, vectors = await run_in_threadpool(decode_upsert, body)
                else:
                    self._json, vectors = decode_upsert(body)
            setattr(self.state, UPSERT_VECTORS_STATE, vectors)
        return self._json


class UpsertJSONRoute(FastJSONRoute):
    request_class = UpsertJSONRequest
