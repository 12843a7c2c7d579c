"""Objects (part of `ManagedContentRepository`): a partition per namespace, and the bucket's
`object_count` moved in the same transaction as each object item."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from stratus.adapters.dynamodb.client import DynamoDBTable
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
from stratus.errors import NotFoundError
from stratus.ports import ObjectPage

if TYPE_CHECKING:
    from stratus.models.managed_content import ObjectRecord, Task

_BATCH_WRITE_LIMIT = 25
_BATCH_WRITE_ATTEMPTS = 8


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
    def put_object(self, record: ObjectRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=serialize(object_item(record)))

    @maps_dependency_faults
    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None:
        item = self._get(objects_pk(org_id, namespace_id), object_sk(bucket_id, object_id), "object")
        from stratus.models.managed_content import ObjectRecord

        return ObjectRecord.model_validate(plain_record(item)) if item else None

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
        for start in range(0, len(keys), _BATCH_WRITE_LIMIT):
            self._batch_delete(keys[start : start + _BATCH_WRITE_LIMIT])
        return len(keys)

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        pending: list[dict[str, Any]] = [{"DeleteRequest": {"Key": item_key}} for item_key in keys]
        for attempt in range(1, _BATCH_WRITE_ATTEMPTS + 1):
            response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            time.sleep(backoff_delay(attempt, base=0.05, cap=1.0, jitter="none"))
        raise unavailable_error(RuntimeError("unprocessed deletes"))
