"""An object's record and its ingestion task, as the objects API and the extractor write them."""

from __future__ import annotations

from typing import Any, Protocol

from stratus.models.managed_content import Task
from stratus.models.objects import BlobSummary, ObjectRecord, ObjectSource

TASK_TYPE = "engine_object_processing"  # the SDK's TaskType (was object_ingestion)


class InBucket(Protocol):
    """Where an object belongs: a `Bucket`, or the extractor's `BucketRoute` to one."""

    @property
    def org_id(self) -> str: ...

    @property
    def namespace_id(self) -> str: ...

    @property
    def bucket_id(self) -> str: ...


def pending_object(
    bucket: InBucket,
    object_id: str,
    key: str,
    data_bucket: str,
    source: ObjectSource,
    now: str,
    metadata: dict[str, Any] | None = None,
    blobs: list[BlobSummary] | None = None,
) -> ObjectRecord:
    """The record of an object no extractor has processed yet."""
    return ObjectRecord(
        org_id=bucket.org_id,
        namespace_id=bucket.namespace_id,
        bucket_id=bucket.bucket_id,
        object_id=object_id,
        key=key,
        s3_uri=f"s3://{data_bucket}/{key}",
        source=source,
        blobs=blobs or [],
        metadata=metadata or {},
        status="PENDING",
        created_at=now,
        updated_at=now,
    )


def task_of(record: ObjectRecord, outputs: dict[str, Any] | None = None) -> Task:
    """The task of `record`'s ingestion, with the record's status, error and times."""
    assert record.task_id is not None
    return Task(
        task_id=record.task_id,
        task_type=TASK_TYPE,
        status=record.status,
        inputs={
            "object_id": record.object_id,
            "bucket_id": record.bucket_id,
            "key": record.key,
            "etag": record.etag,
        },
        outputs=outputs or {},
        error=record.error,
        org_id=record.org_id,
        namespace_id=record.namespace_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
