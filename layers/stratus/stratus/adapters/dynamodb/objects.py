"""Objects (part of `ManagedContentRepository`): a partition per namespace, and the bucket's
`object_count` moved in the same transaction as each object item."""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

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
    from stratus.models.managed_content import Task
    from stratus.models.objects import ObjectRecord, UploadRecord

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


def content_hash_sk(bucket_id: str, content_hash: str) -> str:
    """The item saying which object of a bucket holds a content hash (`skip_duplicates`): under
    the bucket's `{bucket_id}#` prefix, so a bucket's delete takes it along."""
    return f"{bucket_id}#HASH#{content_hash}"


def upload_sk(bucket_id: str, upload_id: str) -> str:
    return f"{bucket_id}#UPLOAD#{upload_id}"


def content_hash_item(record: ObjectRecord) -> dict[str, Any]:
    assert record.content_hash is not None
    return {
        "PK": objects_pk(record.org_id, record.namespace_id),
        "SK": content_hash_sk(record.bucket_id, record.content_hash),
        "entity": "object_hash",
        "object_id": record.object_id,
    }


class DynamoDBObjects(DynamoDBTable):
    def _bucket_totals_update(self, record: ObjectRecord, count: int, size: int) -> dict[str, Any]:
        """The bucket's `object_count` and `total_size_bytes`, moved in the same transaction as
        the object item, so both are exact without ever counting (a bucket may hold millions)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": key(org_pk(record.org_id), bucket_prefix(record.namespace_id) + record.bucket_id),
                "UpdateExpression": "ADD object_count :count, total_size_bytes :size",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":count": {"N": str(count)}, ":size": {"N": str(size)}},
            }
        }

    def _claim_hash(self, record: ObjectRecord) -> dict[str, Any]:
        return self._put(content_hash_item(record), "attribute_not_exists(PK) OR object_id = :id",
                         ExpressionAttributeValues={":id": {"S": record.object_id}})  # fmt: skip

    def _create_items(self, record: ObjectRecord, claim: bool) -> list[dict[str, Any]]:
        items = [
            self._put(object_item(record), "attribute_not_exists(PK)"),
            self._bucket_totals_update(record, 1, record.size_bytes),
        ]
        if claim and record.content_hash is not None:
            items.append(self._claim_hash(record))
        return items

    @maps_dependency_faults
    def create_object(self, record: ObjectRecord) -> bool:
        """The record, its bucket's totals and, when free, its content hash, in one transaction.
        A hash another object holds is left to it (the object is created all the same)."""
        claim = record.content_hash is not None
        while True:
            error = self._cancelled(self._create_items(record, claim))
            if error is None:
                return True
            codes = cancellation_codes(error)
            if codes[1:2] == [CONDITION_FAILED]:
                raise NotFoundError.of("bucket", record.bucket_id) from error
            if codes[:1] == [CONDITION_FAILED]:
                return False
            if claim and codes[2:3] == [CONDITION_FAILED]:
                claim = False  # held by another object of the bucket
                continue
            raise error

    @maps_dependency_faults
    def create_unique_object(self, record: ObjectRecord) -> str | None:
        """Create `record` unless its bucket holds an object with its content hash: None when
        created, else the id of the object holding it (nothing written). A stale hash item (its
        object deleted, or holding other content now) is released and the claim retried."""
        assert record.content_hash is not None
        for _ in range(3):
            error = self._cancelled(self._create_items(record, claim=True))
            if error is None:
                return None
            codes = cancellation_codes(error)
            if codes[1:2] == [CONDITION_FAILED]:
                raise NotFoundError.of("bucket", record.bucket_id) from error
            if codes[:1] == [CONDITION_FAILED]:
                return record.object_id
            if codes[2:3] != [CONDITION_FAILED]:
                raise error
            holder = self.object_holding(
                record.org_id, record.namespace_id, record.bucket_id, record.content_hash
            )
            if holder is not None:
                return holder
        raise unavailable_error(RuntimeError("content hash claim kept racing"))

    @maps_dependency_faults
    def object_holding(self, org_id: str, namespace_id: str, bucket_id: str, content_hash: str) -> str | None:
        pk, sk = objects_pk(org_id, namespace_id), content_hash_sk(bucket_id, content_hash)
        item = self._get(pk, sk, "object_hash")
        if item is None:
            return None
        holder = str(plain_record(item)["object_id"])
        current = self.get_object(org_id, namespace_id, bucket_id, holder)
        held = current.content_hash if current is not None else None
        if held is not None and hmac.compare_digest(held, content_hash):
            return holder
        # Stale: the holder was deleted or now holds other content. Release it (only if it
        # still names that holder) so the content can be claimed again.
        with contextlib.suppress(ClientError):
            self.client.delete_item(
                TableName=self.table_name,
                Key=key(pk, sk),
                ConditionExpression="object_id = :id",
                ExpressionAttributeValues={":id": {"S": holder}},
            )
        return None

    @maps_dependency_faults
    def save_object(self, record: ObjectRecord, task: Task, size_delta: int = 0) -> None:
        items = [self._put(object_item(record)), self._put(task_item(task))]
        if size_delta:
            items.append(self._bucket_totals_update(record, 0, size_delta))
        error = self._cancelled(items)
        if error is not None and size_delta and cancellation_codes(error)[2:3] == [CONDITION_FAILED]:
            error = self._cancelled(items[:2])  # the bucket is gone: no totals to move
        if error is not None:
            raise error

    @maps_dependency_faults
    def save_objects(self, writes: Sequence[ObjectWrite]) -> None:
        for group in _transaction_groups(writes):
            self._save_group(group)

    def _save_group(self, group: list[ObjectWrite]) -> None:
        """One transaction: each object (conditional when created) and its task, each bucket's
        totals moved once, and each new object's content hash claimed when it is free (a hash
        another object holds is left to it, as `create_object` does)."""
        writes: list[dict[str, Any]] = []
        claims: list[dict[str, Any]] = []
        hashes: set[tuple[str, str, str, str | None]] = set()
        totals: dict[tuple[str, str, str], tuple[ObjectRecord, int, int]] = {}
        for write in group:
            record = write.record
            writes.append(
                self._put(object_item(record), "attribute_not_exists(PK)" if write.create else None)
            )
            if write.task is not None:
                writes.append(self._put(task_item(write.task)))
            count, size = (1, record.size_bytes) if write.create else (0, write.size_delta)
            hashed = (record.org_id, record.namespace_id, record.bucket_id, record.content_hash)
            if write.create and record.content_hash is not None and hashed not in hashes:
                # One claim per content: a second object with it leaves it to the first (an item
                # may appear once in a transaction).
                hashes.add(hashed)
                claims.append(self._claim_hash(record))
            if count or size:
                bucket = (record.org_id, record.namespace_id, record.bucket_id)
                _, counted, sized = totals.get(bucket, (record, 0, 0))
                totals[bucket] = (record, counted + count, sized + size)
        writes.extend(
            self._bucket_totals_update(record, count, size) for record, count, size in totals.values()
        )
        while True:
            error = self._cancelled([*writes, *claims])
            if error is None:
                return
            codes = cancellation_codes(error)
            held = {i for i, code in enumerate(codes[len(writes) :]) if code == CONDITION_FAILED}
            if not held or any(code == CONDITION_FAILED for code in codes[: len(writes)]):
                raise ConflictError(
                    "the objects' batched write was refused: one of them exists already, or their "
                    "bucket is gone",
                    {"reasons": codes},
                ) from error
            claims = [claim for i, claim in enumerate(claims) if i not in held]

    @maps_dependency_faults
    def put_object(self, record: ObjectRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=serialize(object_item(record)))

    @maps_dependency_faults
    def put_upload(self, upload: UploadRecord) -> None:
        item = record_item(
            objects_pk(upload.org_id, upload.namespace_id), upload_sk(upload.bucket_id, upload.upload_id),
            "upload", upload,
        )  # fmt: skip
        self.client.put_item(TableName=self.table_name, Item=serialize(item))

    @maps_dependency_faults
    def get_upload(
        self, org_id: str, namespace_id: str, bucket_id: str, upload_id: str
    ) -> UploadRecord | None:
        item = self._get(objects_pk(org_id, namespace_id), upload_sk(bucket_id, upload_id), "upload")
        from stratus.models.objects import UploadRecord

        return UploadRecord.model_validate(plain_record(item)) if item else None

    @maps_dependency_faults
    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None:
        item = self._get(objects_pk(org_id, namespace_id), object_sk(bucket_id, object_id), "object")
        from stratus.models.objects import ObjectRecord

        return ObjectRecord.model_validate(plain_record(item)) if item else None

    @maps_dependency_faults
    def get_objects(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, ObjectRecord]:
        from stratus.models.objects import ObjectRecord

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
        from stratus.models.objects import ObjectRecord

        return ObjectPage([ObjectRecord.model_validate(plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        prefix = f"{bucket_id}#" if bucket_id is not None else ""
        return self._count(objects_pk(org_id, namespace_id), prefix, "object")

    @maps_dependency_faults
    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        """The record, its share of the bucket's totals and its content-hash item (when it is
        the object's), in one transaction."""
        record = self.get_object(org_id, namespace_id, bucket_id, object_id)
        if record is None:
            return
        pk, sk = objects_pk(org_id, namespace_id), object_sk(bucket_id, object_id)
        items = [
            self._delete(pk, sk, "attribute_exists(PK)"),
            self._bucket_totals_update(record, -1, -record.size_bytes),
        ]
        if record.content_hash is not None:
            items.append(
                self._delete(
                    pk,
                    content_hash_sk(bucket_id, record.content_hash),
                    "attribute_not_exists(PK) OR object_id = :id",
                    ExpressionAttributeValues={":id": {"S": object_id}},
                )
            )
        error = self._cancelled(items)
        codes = cancellation_codes(error) if error is not None else []
        if codes[2:3] == [CONDITION_FAILED]:  # another object holds the hash: leave it to it
            error = self._cancelled(items[:2])
            codes = cancellation_codes(error) if error is not None else []
        if codes[1:2] == [CONDITION_FAILED]:  # the bucket is gone: only the object is left
            self.client.delete_item(TableName=self.table_name, Key=key(pk, sk))
        elif error is not None and codes[:1] != [CONDITION_FAILED]:  # [:1] failed: deleted meanwhile
            raise error

    @maps_dependency_faults
    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """For a bucket or namespace being deleted: its counts go with it, so they are not moved."""
        prefix = f"{bucket_id}#" if bucket_id is not None else ""
        items = list(
            self._query_all(
                **self._prefix_query(objects_pk(org_id, namespace_id), prefix),
                ProjectionExpression="PK, SK, #entity",
                ExpressionAttributeNames={"#entity": "entity"},
            )
        )
        keys = [{"PK": item["PK"], "SK": item["SK"]} for item in items]
        for start in range(0, len(keys), BATCH_WRITE_LIMIT):
            self._batch_delete(keys[start : start + BATCH_WRITE_LIMIT])
        # Their uploads and content-hash claims go too; the objects are what is counted.
        return sum(1 for item in items if item.get("entity", {}).get("S") == "object")

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        self._batch_write([{"DeleteRequest": {"Key": item_key}} for item_key in keys])


def _transaction_groups(writes: Sequence[ObjectWrite]) -> list[list[ObjectWrite]]:
    """Consecutive groups of writes whose items (object, task, content-hash claim, and one totals
    update per bucket they move) fit one transaction."""
    groups: list[list[ObjectWrite]] = []
    current: list[ObjectWrite] = []
    size = 0
    buckets: set[tuple[str, str, str]] = set()
    for write in writes:
        bucket = (write.record.org_id, write.record.namespace_id, write.record.bucket_id)
        moves = write.create or write.size_delta != 0
        own = 1 + (write.task is not None) + (write.create and write.record.content_hash is not None)
        cost = own + (moves and bucket not in buckets)
        if current and size + cost > _TRANSACTION_LIMIT:
            groups.append(current)
            current, size, buckets = [], 0, set()
            cost = own + moves
        current.append(write)
        size += cost
        if moves:
            buckets.add(bucket)
    if current:
        groups.append(current)
    return groups
