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

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fast_json_handler(request: Request) -> Response:
            return await handler(FastJSONRequest(request.scope, request.receive))

        return fast_json_handler
