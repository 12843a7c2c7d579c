"""`GET /v1/collections/features/extractors`: the feature-extractor catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import COLLECTIONS, error_responses
from stratus.extractor_catalogue import describe_catalogue

router = APIRouter(tags=COLLECTIONS)


@router.get(
    "/v1/collections/features/extractors",
    operation_id="list_feature_extractors",
    summary="The feature-extractor catalogue: parameters, the vector index each produces, required indexes",
    responses=error_responses(400, 404),
)
def list_feature_extractors(scope: NamespaceScope = Depends(namespace_scope("read"))) -> dict[str, Any]:
    # The catalogue is the same for every namespace; the header is still required (api.md: the
    # managed-content routes take their namespace from it) so clients send one header set.
    return {"results": describe_catalogue()}
