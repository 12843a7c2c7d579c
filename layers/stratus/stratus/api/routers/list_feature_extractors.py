"""`GET /v1/collections/features/extractors[/{feature_extractor_id}]`: the feature-extractor
catalogue. Public, like health: the SDK's FeatureExtractorsApi sends neither a key nor
X-Namespace, and the catalogue is the same for everyone (no organization's data in it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from stratus.api.routers import COLLECTIONS, error_responses
from stratus.errors import NotFoundError
from stratus.extractor_catalogue import describe_catalogue, describe_extractor

router = APIRouter(tags=COLLECTIONS)


@router.get(
    "/v1/collections/features/extractors",
    operation_id="list_feature_extractors",
    summary="The feature-extractor catalogue (no auth): a JSON array, one entry per extractor",
    responses=error_responses(),
)
def list_feature_extractors() -> list[dict[str, Any]]:
    return describe_catalogue()


@router.get(
    "/v1/collections/features/extractors/{feature_extractor_id}",
    operation_id="list_feature_extractors_one",
    summary="One extractor of the catalogue (no auth), by id (text_extractor_v1) or name",
    responses=error_responses(404),
)
def list_feature_extractors_one(feature_extractor_id: str) -> dict[str, Any]:
    described = describe_extractor(feature_extractor_id)
    if described is None:
        raise NotFoundError.of("feature_extractor", feature_extractor_id)
    return described
