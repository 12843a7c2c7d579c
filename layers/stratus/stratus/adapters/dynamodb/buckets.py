"""Buckets (part of `ManagedContentRepository`): the record, its name guard and the S3 route the
extractor reads, created and deleted in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import deserialize, plain_record, record_item
from stratus.adapters.dynamodb.faults import (
    maps_dependency_faults,
)
from stratus.adapters.dynamodb.schema import (
    ROUTE_SK,
    bucket_name_sk,
    bucket_prefix,
    org_pk,
    route_pk,
    too_long,
)
from stratus.errors import AlreadyExistsError, NotFoundError
from stratus.ports import BucketPage, BucketRoute

if TYPE_CHECKING:
    # Imported where a record is read: a function that never reads one does not build the
    # managed-content models (cold start).
    from stratus.models.managed_content import Bucket


def route_item(bucket: Bucket) -> dict[str, Any]:
    """Maps an S3 key (`<storage_key>/<bucket_id>/...`) to its organization, namespace and bucket
    with one read."""
    return {
        "PK": route_pk(bucket.key_prefix),
        "SK": ROUTE_SK,
        "entity": "bucket_route",
        "org_id": bucket.org_id,
        "namespace_id": bucket.namespace_id,
        "bucket_id": bucket.bucket_id,
    }


def bucket_name_taken_error(bucket: Bucket) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"bucket_name '{bucket.bucket_name}' is already used by another bucket in namespace "
        f"'{bucket.namespace_id}'; choose a different bucket_name",
        {"resource": "bucket", "field": "bucket_name", "value": bucket.bucket_name},
    )


class DynamoDBBuckets(DynamoDBTable):
    @maps_dependency_faults
    def create_bucket(self, bucket: Bucket) -> None:
        pk = org_pk(bucket.org_id)
        guard = {
            "PK": pk,
            "SK": bucket_name_sk(bucket.namespace_id, bucket.bucket_name),
            "entity": "bucket_name",
            "bucket_id": bucket.bucket_id,
        }
        record = record_item(pk, bucket_prefix(bucket.namespace_id) + bucket.bucket_id, "bucket", bucket)
        clashes = self._put_all_new([record, guard, route_item(bucket)])
        if 1 in clashes:
            raise bucket_name_taken_error(bucket)
        if clashes:
            raise AlreadyExistsError(
                f"bucket '{bucket.bucket_id}' already exists", {"resource": "bucket", "id": bucket.bucket_id}
            )

    @maps_dependency_faults
    def get_bucket(self, org_id: str, namespace_id: str, bucket_id: str) -> Bucket | None:
        item = self._get(org_pk(org_id), bucket_prefix(namespace_id) + bucket_id, "bucket")
        from stratus.models.managed_content import Bucket

        return Bucket.model_validate(plain_record(item)) if item else None

    @maps_dependency_faults
    def find_bucket(self, org_id: str, namespace_id: str, identifier: str) -> Bucket | None:
        by_id = self.get_bucket(org_id, namespace_id, identifier)
        if by_id is not None or too_long(bucket_name_sk(namespace_id, identifier)):
            return by_id
        guard = self._get(org_pk(org_id), bucket_name_sk(namespace_id, identifier), "bucket_name")
        bucket_id = deserialize(guard).get("bucket_id") if guard else None
        return self.get_bucket(org_id, namespace_id, str(bucket_id)) if bucket_id else None

    @maps_dependency_faults
    def list_buckets(self, org_id: str, namespace_id: str, limit: int, cursor: str | None) -> BucketPage:
        page, next_cursor = self._paged_query(
            org_pk(org_id), bucket_prefix(namespace_id), "bucket", limit, cursor
        )
        from stratus.models.managed_content import Bucket

        return BucketPage([Bucket.model_validate(plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_buckets(self, org_id: str, namespace_id: str) -> int:
        return self._count(org_pk(org_id), bucket_prefix(namespace_id), "bucket")

    @maps_dependency_faults
    def delete_bucket(self, bucket: Bucket) -> None:
        pk = org_pk(bucket.org_id)
        items = [
            self._delete(pk, bucket_prefix(bucket.namespace_id) + bucket.bucket_id, "attribute_exists(PK)"),
            self._delete(
                pk,
                bucket_name_sk(bucket.namespace_id, bucket.bucket_name),
                # Only our own guard: never free a name another bucket holds.
                "attribute_not_exists(PK) OR bucket_id = :id",
                ExpressionAttributeValues={":id": {"S": bucket.bucket_id}},
            ),
            self._delete(route_pk(bucket.key_prefix), ROUTE_SK),
        ]
        error = self._cancelled(items)
        if error is not None:
            raise NotFoundError.of("bucket", bucket.bucket_id) from error

    @maps_dependency_faults
    def find_bucket_route(self, prefix: str) -> BucketRoute | None:
        if too_long(prefix):
            return None
        item = self._get(route_pk(prefix), ROUTE_SK, "bucket_route")
        if item is None:
            return None
        plain = deserialize(item)
        return BucketRoute(
            org_id=str(plain["org_id"]),
            namespace_id=str(plain["namespace_id"]),
            bucket_id=str(plain["bucket_id"]),
        )
