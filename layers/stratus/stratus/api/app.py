"""Build FastAPI apps: one per Lambda function (only its operation's router) or the whole API
for the local server. Same code path on Lambda and on a laptop; one OpenAPI spec."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from stratus import __version__
from stratus.api.body_limit import BodySizeLimit
from stratus.api.errors import install_error_handlers
from stratus.container import get_container
from stratus.settings import Settings

DESCRIPTION = (
    "Serverless, Mixpeek-compatible namespace and vector-search API. "
    "Every route but `GET /v1/health` needs `Authorization: Bearer <api key>`."
)


def create_app(*routers: APIRouter, settings: Settings | None = None) -> FastAPI:
    """`settings` default to the process container's (tests pass those of their own)."""
    docs = (settings or get_container().settings).enable_docs
    app = FastAPI(
        title="Stratus",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    return app


def create_full_app(settings: Settings | None = None) -> FastAPI:
    """Every operation: what `make dev` serves through uvicorn."""
    from stratus.api.operations import OPERATIONS

    return create_app(*OPERATIONS.values(), settings=settings)
