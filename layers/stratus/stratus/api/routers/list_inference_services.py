"""`GET /v1/inference/services`: the read-only catalogue of inference services."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.auth import require
from stratus.api.routers import error_responses
from stratus.inference_catalogue import CATALOGUE
from stratus.models.common import Model
from stratus.services.api_keys import Principal


class InferenceServiceModel(Model):
    name: str
    dimension: int
    inputs: list[str]
    supported_metrics: list[str]
    provider: str
    model: str
    description: str


class InferenceServiceList(Model):
    results: list[InferenceServiceModel]


router = APIRouter(tags=["inference"])


@router.get(
    "/v1/inference/services",
    operation_id="list_inference_services",
    response_model=InferenceServiceList,
    summary="The inference services and what each produces",
    responses=error_responses(),
)
def list_inference_services(_: Principal = Depends(require("read"))) -> InferenceServiceList:
    return InferenceServiceList(
        results=[
            InferenceServiceModel(
                name=s.name,
                dimension=s.dimension,
                inputs=list(s.inputs),
                supported_metrics=list(s.metrics),
                provider=s.provider,
                model=s.model,
                description=s.description,
            )
            for s in CATALOGUE.values()
        ]
    )
