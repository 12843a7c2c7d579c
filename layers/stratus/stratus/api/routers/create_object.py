"""`POST /v1/buckets/{bucket_id}/objects`: store an object for the extractors; the namespace
comes from the `X-Namespace` header."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from stratus.api.namespace_header import NamespaceScope, namespace_scope
from stratus.api.routers import OBJECTS, error_responses
from stratus.container import Container, get_container
from stratus.models.objects import CreateObjectRequest, ObjectCreated
from stratus.models.sdk_fields import not_applied_warning
from stratus.services import buckets, objects

router = APIRouter(tags=OBJECTS)


@router.post(
    "/v1/buckets/{bucket_id}/objects",
    operation_id="create_object",
    response_model=ObjectCreated,
    summary="Store an object (its blobs: inline text, base64 or an https URL) for the extractors",
    responses=error_responses(400, 404, 413, 503),
)
def create_object(
    bucket_id: str,
    body: CreateObjectRequest,
    policy: Literal["insert", "update", "upsert"] | None = Query(
        default=None, description="Accepted; every object is a new one (its key is made up)"
    ),
    auto_process: bool | None = Query(
        default=None, description="Accepted; objects are processed as they arrive"
    ),
    scope: NamespaceScope = Depends(namespace_scope("write")),
    container: Container = Depends(get_container),
) -> ObjectCreated:
    bucket = buckets.get_bucket(container.metadata, scope.namespace, bucket_id)
    record, replayed = objects.create_object(container, bucket, body, container.settings)
    warnings = body.unapplied()
    if policy not in (None, "insert"):
        warnings.append(
            not_applied_warning("policy", "each object gets a new key: there is nothing to update")
        )
    if auto_process is False:
        warnings.append(not_applied_warning("auto_process", "objects are processed as they arrive"))
    return ObjectCreated(
        **objects.describe_object(record).model_dump(),
        replayed=replayed,
        replayed_by="skip_duplicates" if replayed else None,
        warnings=warnings,
    )
