"""`POST /v1/buckets/{bucket_id}/uploads`: a presigned URL for one HTTP PUT of a file."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from stratus.api.deps import get_stores
from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.models.managed_content import CreateUploadRequest, UploadModel
from stratus.services import buckets, objects
from stratus.settings import get_settings

router = APIRouter(tags=OBJECTS)


@router.post(
    "/v1/buckets/{bucket_id}/uploads",
    operation_id="create_upload",
    response_model=UploadModel,
    summary="Get a presigned URL: one HTTP PUT of the file to it stores and processes the file",
    responses=error_responses(400, 404, 503),
)
def create_upload(
    bucket_id: str, body: CreateUploadRequest, scope: NamespaceScope = Depends(namespace_scope("write"))
) -> UploadModel:
    stores = get_stores()
    bucket = buckets.get_bucket(stores.metadata, scope.namespace, bucket_id)
    upload, _record = objects.create_upload(stores, bucket, body, get_settings())
    return upload
