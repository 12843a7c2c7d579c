"""`POST /v1/buckets/{bucket_id}/uploads/{upload_id}/confirm`: the file arrived; its object."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.objects import ConfirmUploadRequest, ConfirmUploadResponse
from stratus.services import buckets, uploads

router = APIRouter(tags=OBJECTS)


@router.post(
    "/v1/buckets/{bucket_id}/uploads/{upload_id}/confirm",
    operation_id="confirm_upload",
    response_model=ConfirmUploadResponse,
    summary="Confirm an upload: verify its file and, with create_object_on_confirm, make its object "
    "(idempotent; the body is optional)",
    responses=error_responses(400, 404, 413, 503),
)
def confirm_upload(
    bucket_id: str,
    upload_id: str,
    body: ConfirmUploadRequest | None = None,
    var_async: bool | None = Query(
        default=None, alias="async", description="Accepted; confirm is synchronous"
    ),
    policy: Literal["insert", "update", "upsert"] | None = Query(default=None, description="Accepted"),
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> ConfirmUploadResponse:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    return uploads.confirm_upload(
        container, bucket, upload_id, body or ConfirmUploadRequest(), container.settings
    )
