"""`GET /v1/health`: the only route without auth."""

from __future__ import annotations

from fastapi import APIRouter

from stratus import __version__
from stratus.models.common import Model


class Health(Model):
    status: str
    version: str


router = APIRouter(tags=["health"])


@router.get("/v1/health", operation_id="health", response_model=Health, summary="Liveness check (no auth)")
def health() -> Health:
    return Health(status="ok", version=__version__)
