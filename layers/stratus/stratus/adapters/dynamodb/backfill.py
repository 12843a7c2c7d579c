"""Backfill tasks (`BackfillRepository`): the task item with its plan and counters, one item per
page of ids, and the transactions that start and end a model migration together with the
namespace (docs/vector-stores.md, "Metadata store: DynamoDB")."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.backfill_items import PAGE_TTL_SECONDS, backfill_task_item, page_sk
from stratus.adapters.dynamodb.codec import deserialize, plain_record, serialize
from stratus.adapters.dynamodb.faults import (
    CONDITION_FAILED,
    cancellation_codes,
    error_code,
    maps_dependency_faults,
    unavailable_error,
)
from stratus.adapters.dynamodb.namespaces import (
    DynamoDBNamespaces,
    concurrent_change_error,
    forgets_recent_namespaces,
    namespace_item,
)
from stratus.adapters.dynamodb.schema import TASK_SK, key, task_pk, too_long
from stratus.adapters.retry import backoff_delay
from stratus.clock import iso_now
from stratus.errors import AlreadyExistsError, ConflictError
from stratus.ports.backfill import BackfillState, NewBackfill, PageCounts, PagePlan, PageState

if TYPE_CHECKING:
    from stratus.models.managed_content import TaskStatus
    from stratus.models.namespaces import Namespace

_BATCH_WRITE_LIMIT = 25
_BATCH_WRITE_ATTEMPTS = 8
_OPEN = {":pending": {"S": "PENDING"}, ":processing": {"S": "PROCESSING"}}
_IS_OPEN = "#status IN (:pending, :processing)"


def _state(item: Mapping[str, Any]) -> BackfillState:
    from stratus.models.backfill import BackfillPlan
    from stratus.models.managed_content import Task

    plain = plain_record(item)
    return BackfillState(
        task=Task.model_validate(plain),
        plan=BackfillPlan.model_validate(plain["backfill_plan"]),
        listing=plain.get("listing"),
        page_count=plain.get("page_count"),
        pages_done=int(plain.get("pages_done") or 0),
        done_pages={int(page) for page in plain.get("done_pages") or []},
        started_at=plain.get("started_at"),
    )


def _task_key(task_id: str) -> dict[str, Any]:
    return key(task_pk(task_id), TASK_SK)


class DynamoDBBackfill(DynamoDBNamespaces):
    """Namespace writes here drop the store's recent namespace copies, like every other one."""

    @maps_dependency_faults
    def create_backfill(self, backfill: NewBackfill) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(backfill_task_item(backfill)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise AlreadyExistsError(
                    f"task '{backfill.task.task_id}' already exists",
                    {"resource": "task", "id": backfill.task.task_id},
                ) from error
            raise

    @forgets_recent_namespaces
    @maps_dependency_faults
    def start_migration(
        self, namespace: Namespace, expected_version: int, backfill: NewBackfill
    ) -> Namespace:
        saved = namespace.model_copy(update={"version": expected_version + 1})
        error = self._cancelled(
            [
                self._versioned_put(saved, expected_version),
                self._put(backfill_task_item(backfill), "attribute_not_exists(PK)"),
            ]
        )
        if error is not None:
            self._raise_namespace_failure(error, saved)
        return saved

    @forgets_recent_namespaces
    @maps_dependency_faults
    def end_migration(
        self,
        namespace: Namespace,
        expected_version: int,
        task_id: str,
        status: TaskStatus,
        *,
        error: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> Namespace:
        saved = namespace.model_copy(update={"version": expected_version + 1})
        update = self._end_update(task_id, status, error, outputs)
        cancelled = self._cancelled([self._versioned_put(saved, expected_version), {"Update": update}])
        if cancelled is not None:
            codes = cancellation_codes(cancelled)
            if codes[1:2] == [CONDITION_FAILED]:
                raise ConflictError(
                    f"task '{task_id}' ended meanwhile",
                    {"resource": "task", "id": task_id},
                ) from cancelled
            self._raise_namespace_failure(cancelled, saved)
        return saved

    def _versioned_put(self, namespace: Namespace, expected_version: int) -> dict[str, Any]:
        return self._put(
            namespace_item(namespace),
            "version = :expected",
            ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _raise_namespace_failure(self, error: ClientError, namespace: Namespace) -> NoReturn:
        if cancellation_codes(error)[:1] == [CONDITION_FAILED]:
            self._raise_stale_version(error, namespace)
        raise concurrent_change_error(namespace.namespace_id) from error

    def _end_update(
        self, task_id: str, status: str, error: str | None, outputs: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            **_OPEN,
            ":status": {"S": status},
            ":now": {"S": iso_now()},
            ":error": serialize({"v": error})["v"],
        }
        names = {"#status": "status", "#error": "error", "#updated_at": "updated_at"}
        expression = "SET #status = :status, #updated_at = :now, #error = :error"
        if outputs is not None:
            expression += ", #outputs = :outputs"
            names["#outputs"] = "outputs"
            values[":outputs"] = serialize({"v": dict(outputs)})["v"]
        if status in ("COMPLETED", "COMPLETED_WITH_ERRORS"):
            expression += ", #eta = :zero"
            names["#eta"] = "eta_seconds"
            values[":zero"] = {"N": "0"}
        return {
            "TableName": self.table_name,
            "Key": _task_key(task_id),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(PK) AND {_IS_OPEN}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    @maps_dependency_faults
    def get_backfill(self, task_id: str) -> BackfillState | None:
        if too_long(task_id):
            return None
        item = self._get(task_pk(task_id), TASK_SK, "task")
        if not item or "backfill_plan" not in item:
            return None
        return _state(item)

    @maps_dependency_faults
    def mark_processing(self, task_id: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_task_key(task_id),
                UpdateExpression="SET #status = :processing, #updated_at = :now, "
                "#started_at = if_not_exists(#started_at, :now)",
                ConditionExpression=f"attribute_exists(PK) AND {_IS_OPEN}",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#updated_at": "updated_at",
                    "#started_at": "started_at",
                },
                ExpressionAttributeValues={**_OPEN, ":now": {"S": iso_now()}},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @maps_dependency_faults
    def record_listing(
        self, task_id: str, listing: str, pages: Sequence[Sequence[str]], targets: int = 1
    ) -> BackfillState:
        expires_at = int(time.time()) + PAGE_TTL_SECONDS
        items = [
            {
                "PK": task_pk(task_id),
                "SK": page_sk(listing, number),
                "entity": "backfill_page",
                "ids": list(ids),
                "expires_at": expires_at,
            }
            for number, ids in enumerate(pages)
        ]
        for start in range(0, len(items), _BATCH_WRITE_LIMIT):
            self._batch_put(items[start : start + _BATCH_WRITE_LIMIT])
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=_task_key(task_id),
                UpdateExpression="SET #listing = :listing, #page_count = :pages, #total = :total, "
                "#updated_at = :now",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#listing)",
                ExpressionAttributeNames={
                    "#listing": "listing",
                    "#page_count": "page_count",
                    "#total": "total",
                    "#updated_at": "updated_at",
                },
                ExpressionAttributeValues={
                    ":listing": {"S": listing},
                    ":pages": {"N": str(len(pages))},
                    ":total": {"N": str(sum(len(ids) for ids in pages) * targets)},
                    ":now": {"S": iso_now()},
                },
                ReturnValues="ALL_NEW",
            )
            return _state(response["Attributes"])
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        state = self.get_backfill(task_id)
        if state is None:
            raise ConflictError(f"task '{task_id}' is gone", {"resource": "task", "id": task_id})
        return state

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": serialize(item)}} for item in items]
        for attempt in range(1, _BATCH_WRITE_ATTEMPTS + 1):
            response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            time.sleep(backoff_delay(attempt, base=0.05, cap=1.0, jitter="none"))
        raise unavailable_error(RuntimeError("unprocessed page writes"))

    @maps_dependency_faults
    def get_page(self, task_id: str, listing: str, page: int) -> PageState | None:
        item = self._get(task_pk(task_id), page_sk(listing, page), "backfill_page")
        if not item:
            return None
        plain = deserialize(item)
        plan = plain.get("plan")
        return PageState(
            ids=[str(i) for i in plain.get("ids") or []],
            plan=None if plan is None else PagePlan(embed=plan["embed"], skipped=plan["skipped"]),
        )

    @maps_dependency_faults
    def plan_page(self, task_id: str, listing: str, page: int, plan: PagePlan) -> PagePlan:
        stored = {"embed": plan.embed, "skipped": plan.skipped}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key(task_pk(task_id), page_sk(listing, page)),
                UpdateExpression="SET #plan = :plan",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#plan)",
                ExpressionAttributeNames={"#plan": "plan"},
                ExpressionAttributeValues={":plan": serialize({"v": stored})["v"]},
            )
            return plan
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        existing = self.get_page(task_id, listing, page)
        if existing is None or existing.plan is None:
            raise ConflictError(
                f"page {page} of task '{task_id}' is gone", {"resource": "task", "id": task_id, "page": page}
            )
        return existing.plan

    @maps_dependency_faults
    def finish_page(
        self, task_id: str, page: int, counts: PageCounts, eta_seconds: float | None
    ) -> BackfillState | None:
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=_task_key(task_id),
                UpdateExpression="ADD #processed :processed, #skipped :skipped, #failed :failed, "
                "#pages_done :one, #done_pages :page SET #updated_at = :now, #eta = :eta",
                ConditionExpression="attribute_exists(PK) AND NOT contains(#done_pages, :number)",
                # Every name aliased: DynamoDB reserves hundreds of words (PROCESSED among them).
                ExpressionAttributeNames={
                    "#processed": "processed",
                    "#skipped": "skipped",
                    "#failed": "failed",
                    "#pages_done": "pages_done",
                    "#done_pages": "done_pages",
                    "#updated_at": "updated_at",
                    "#eta": "eta_seconds",
                },
                ExpressionAttributeValues={
                    ":processed": {"N": str(counts.processed)},
                    ":skipped": {"N": str(counts.skipped)},
                    ":failed": {"N": str(counts.failed)},
                    ":one": {"N": "1"},
                    ":page": {"NS": [str(page)]},
                    ":number": {"N": str(page)},
                    ":now": {"S": iso_now()},
                    ":eta": serialize({"v": eta_seconds})["v"],
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        return _state(response["Attributes"])

    @maps_dependency_faults
    def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        error: str | None = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> bool:
        try:
            self.client.update_item(**self._end_update(task_id, status, error, outputs))
        except ClientError as failure:
            if error_code(failure) == "ConditionalCheckFailedException":
                return False
            raise
        return True
