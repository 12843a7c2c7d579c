"""`GET /v1/retrievers/stages`: the stage catalogue. Public, like `GET /v1/health`: the SDK's
`RetrieverStagesApi` sends no key, and the catalogue holds no organization's data (the same
for everyone; api.md, decisions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from stratus.api.routers import RETRIEVERS
from stratus.services.retrieval.stages import describe_catalogue

router = APIRouter(tags=RETRIEVERS)

_CATALOGUE: list[dict[str, Any]] = []


@router.get(
    "/v1/retrievers/stages",
    operation_id="list_retriever_stages",
    summary="The stages a retriever may use (no auth): id, description, category, icon, parameter schema",
)
def list_retriever_stages() -> list[dict[str, Any]]:
    if not _CATALOGUE:
        _CATALOGUE.extend(describe_catalogue())
    return _CATALOGUE
