"""Tasks (part of `ManagedContentRepository`): one partition each, readable by id alone (the
caller checks the organization)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stratus.adapters.dynamodb.client import BATCH_WRITE_LIMIT, DynamoDBTable
from stratus.adapters.dynamodb.codec import plain_record, serialize
from stratus.adapters.dynamodb.faults import maps_dependency_faults
from stratus.adapters.dynamodb.objects import task_item
from stratus.adapters.dynamodb.schema import TASK_SK, task_pk, too_long

if TYPE_CHECKING:
    from stratus.models.managed_content import Task


class DynamoDBTasks(DynamoDBTable):
    @maps_dependency_faults
    def put_task(self, task: Task) -> None:
        self.client.put_item(TableName=self.table_name, Item=serialize(task_item(task)))

    @maps_dependency_faults
    def put_tasks(self, tasks: Sequence[Task]) -> None:
        requests = [{"PutRequest": {"Item": serialize(task_item(task))}} for task in tasks]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            self._batch_write(requests[start : start + BATCH_WRITE_LIMIT])

    @maps_dependency_faults
    def get_task(self, task_id: str) -> Task | None:
        if too_long(task_id):  # within a partition key's limit (2048) too
            return None
        item = self._get(task_pk(task_id), TASK_SK, "task")
        from stratus.models.managed_content import Task

        return Task.model_validate(plain_record(item)) if item else None
