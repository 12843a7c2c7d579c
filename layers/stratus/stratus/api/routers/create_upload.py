"""`POST /v1/buckets/{bucket_id}/uploads`: a presigned URL for one HTTP PUT of a file."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.objects import CreateUploadRequest, UploadModel
from stratus.services import buckets, uploads

router = APIRouter(tags=OBJECTS)


@router.post(
    "/v1/buckets/{bucket_id}/uploads",
    operation_id="create_upload",
    response_model=UploadModel,
    summary="Get a presigned URL: one HTTP PUT of the file to it stores and processes the file",
    responses=error_responses(400, 404, 413, 503),
)
def create_upload(
    bucket_id: str,
    body: CreateUploadRequest,
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> UploadModel:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    upload = uploads.create_upload(container, scope.namespace, bucket, body, container.settings)
    return UploadModel.model_validate(upload.model_dump(exclude={"org_id", "namespace_id"}))
