"""Objects (part of `ManagedContentRepository`): a partition per namespace, and the bucket's
`object_count` moved in the same transaction as each object item."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stratus.adapters.dynamodb.client import BATCH_WRITE_LIMIT, DynamoDBTable
from stratus.adapters.dynamodb.codec import plain_record, record_item, serialize
from stratus.adapters.dynamodb.faults import (
    CONDITION_FAILED,
    cancellation_codes,
    maps_dependency_faults,
    unavailable_error,
)
from stratus.adapters.dynamodb.schema import (
    TASK_SK,
    bucket_prefix,
    key,
    object_sk,
    objects_pk,
    org_pk,
    task_pk,
)
from stratus.adapters.retry import backoff_delay
from stratus.errors import ConflictError, NotFoundError
from stratus.ports import ObjectKey, ObjectPage, ObjectWrite

if TYPE_CHECKING:
    from stratus.models.managed_content import ObjectRecord, Task

_BATCH_WRITE_ATTEMPTS = 8
_BATCH_GET_LIMIT = 100
# Actions per TransactWriteItems (DynamoDB's limit).
_TRANSACTION_LIMIT = 100


def object_item(record: ObjectRecord) -> dict[str, Any]:
    return record_item(
        objects_pk(record.org_id, record.namespace_id),
        object_sk(record.bucket_id, record.object_id),
        "object",
        record,
    )


def task_item(task: Task) -> dict[str, Any]:
    return record_item(task_pk(task.task_id), TASK_SK, "task", task)


class DynamoDBObjects(DynamoDBTable):
    def _object_count_update(self, record: ObjectRecord, delta: int) -> dict[str, Any]:
        """The bucket's `object_count`, moved in the same transaction as the object item, so
        the count is exact without ever counting (a bucket may hold millions of objects)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": key(org_pk(record.org_id), bucket_prefix(record.namespace_id) + record.bucket_id),
                "UpdateExpression": "ADD object_count :delta",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
            }
        }

    @maps_dependency_faults
    def create_object(self, record: ObjectRecord) -> bool:
        error = self._cancelled(
            [self._put(object_item(record), "attribute_not_exists(PK)"), self._object_count_update(record, 1)]
        )
        if error is None:
            return True
        codes = cancellation_codes(error)
        if codes[1:2] == [CONDITION_FAILED]:
            raise NotFoundError.of("bucket", record.bucket_id) from error
        if codes[:1] == [CONDITION_FAILED]:
            return False
        raise error

    @maps_dependency_faults
    def save_object(self, record: ObjectRecord, task: Task) -> None:
        error = self._cancelled([self._put(object_item(record)), self._put(task_item(task))])
        if error is not None:
            raise error

    @maps_dependency_faults
    def save_objects(self, writes: Sequence[ObjectWrite]) -> None:
        for group in _transaction_groups(writes):
            items: list[dict[str, Any]] = []
            deltas: dict[tuple[str, str, str], tuple[ObjectRecord, int]] = {}
            for write in group:
                condition = "attribute_not_exists(PK)" if write.create else None
                items.append(self._put(object_item(write.record), condition))
                if write.task is not None:
                    items.append(self._put(task_item(write.task)))
                if write.create:
                    bucket = (write.record.org_id, write.record.namespace_id, write.record.bucket_id)
                    deltas[bucket] = (write.record, deltas.get(bucket, (write.record, 0))[1] + 1)
            items.extend(self._object_count_update(record, delta) for record, delta in deltas.values())
            error = self._cancelled(items)
            if error is not None:
                raise ConflictError(
                    "the objects' batched write was refused: one of them exists already, or their "
                    "bucket is gone",
                    {"reasons": cancellation_codes(error)},
                ) from error

    @maps_dependency_faults
    def put_object(self, record: ObjectRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=serialize(object_item(record)))

    @maps_dependency_faults
    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None:
        item = self._get(objects_pk(org_id, namespace_id), object_sk(bucket_id, object_id))
        from stratus.models.managed_content import ObjectRecord

        return ObjectRecord.model_validate(plain_record(item)) if item else None

    @maps_dependency_faults
    def get_objects(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, ObjectRecord]:
        from stratus.models.managed_content import ObjectRecord

        wanted = {
            (objects_pk(org, namespace), object_sk(bucket, object_id)): (org, namespace, bucket, object_id)
            for org, namespace, bucket, object_id in keys
        }
        found: dict[ObjectKey, ObjectRecord] = {}
        pending = [key(pk, sk) for pk, sk in wanted]
        for start in range(0, len(pending), _BATCH_GET_LIMIT):
            for item in self._batch_get(pending[start : start + _BATCH_GET_LIMIT]):
                record = ObjectRecord.model_validate(plain_record(item))
                found[wanted[(item["PK"]["S"], item["SK"]["S"])]] = record
        return found

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(1, _BATCH_WRITE_ATTEMPTS + 1):
            response = self.client.batch_get_item(RequestItems=request)
            items.extend(response.get("Responses", {}).get(self.table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(backoff_delay(attempt, base=0.05, cap=1.0, jitter="none"))
        raise unavailable_error(RuntimeError("unprocessed reads"))

    @maps_dependency_faults
    def list_objects(
        self, org_id: str, namespace_id: str, bucket_id: str, limit: int, cursor: str | None
    ) -> ObjectPage:
        page, next_cursor = self._paged_query(
            objects_pk(org_id, namespace_id), f"{bucket_id}#", "object", limit, cursor
        )
        from stratus.models.managed_content import ObjectRecord

        return ObjectPage([ObjectRecord.model_validate(plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        prefix = f"{bucket_id}#" if bucket_id is not None else ""
        return self._count(objects_pk(org_id, namespace_id), prefix, "object")

    @maps_dependency_faults
    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        record = self.get_object(org_id, namespace_id, bucket_id, object_id)
        if record is None:
            return
        pk, sk = objects_pk(org_id, namespace_id), object_sk(bucket_id, object_id)
        error = self._cancelled(
            [self._delete(pk, sk, "attribute_exists(PK)"), self._object_count_update(record, -1)]
        )
        codes = cancellation_codes(error) if error is not None else []
        if codes[1:2] == [CONDITION_FAILED]:  # the bucket is gone: only the object is left
            self.client.delete_item(TableName=self.table_name, Key=key(pk, sk))
        elif error is not None and codes[:1] != [CONDITION_FAILED]:  # [:1] failed: deleted meanwhile
            raise error

    @maps_dependency_faults
    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """For a bucket or namespace being deleted: its counts go with it, so they are not moved."""
        prefix = f"{bucket_id}#" if bucket_id is not None else ""
        keys = [
            {"PK": item["PK"], "SK": item["SK"]}
            for item in self._query_all(
                **self._prefix_query(objects_pk(org_id, namespace_id), prefix),
                ProjectionExpression="PK, SK",
            )
        ]
        for start in range(0, len(keys), BATCH_WRITE_LIMIT):
            self._batch_delete(keys[start : start + BATCH_WRITE_LIMIT])
        return len(keys)

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        self._batch_write([{"DeleteRequest": {"Key": item_key}} for item_key in keys])


def _transaction_groups(writes: Sequence[ObjectWrite]) -> list[list[ObjectWrite]]:
    """Consecutive groups of writes whose items (object, task, and one count update per bucket
    they create in) fit one transaction."""
    groups: list[list[ObjectWrite]] = []
    current: list[ObjectWrite] = []
    size = 0
    buckets: set[tuple[str, str, str]] = set()
    for write in writes:
        bucket = (write.record.org_id, write.record.namespace_id, write.record.bucket_id)
        cost = 1 + (write.task is not None) + (write.create and bucket not in buckets)
        if current and size + cost > _TRANSACTION_LIMIT:
            groups.append(current)
            current, size, buckets = [], 0, set()
            cost = 1 + (write.task is not None) + write.create
        current.append(write)
        size += cost
        if write.create:
            buckets.add(bucket)
    if current:
        groups.append(current)
    return groups
