"""The Mangum handler of one HTTP operation: what every `functions/<op>/app.py` exports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.lambda_init import collector_paused

if TYPE_CHECKING:
    from mangum import Mangum


def http_handler(operation: str) -> Mangum:
    """A FastAPI app serving only `operation`'s routes, behind Mangum. Imports happen here, with
    the garbage collector paused (stratus.lambda_init), since they are most of a cold start."""
    with collector_paused():
        from mangum import Mangum

        from stratus.api.app import create_app
        from stratus.api.operations import OPERATIONS

        # The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no
        # lifespan because the app starts nothing (clients are created lazily, cached per container).
        return Mangum(create_app(OPERATIONS[operation]), lifespan="off")
