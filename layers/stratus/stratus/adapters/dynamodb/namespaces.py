"""Namespaces (`NamespaceRepository`): the record, its name guard, the promotion audit, and the
optimistic version every write is conditioned on."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import decode_scan_cursor, deserialize, encode_scan_cursor
from stratus.adapters.dynamodb.faults import (
    CONDITION_FAILED,
    cancellation_codes,
    cancellation_reasons,
    is_cancelled_transaction,
    maps_dependency_faults,
    raise_if_transient,
)
from stratus.adapters.dynamodb.schema import (
    KEY_ATTRIBUTES,
    NAMESPACE_COUNTER_SK,
    NAMESPACE_PREFIX,
    key,
    name_guard_sk,
    namespace_sk,
    org_pk,
    promotion_sk,
)
from stratus.domain.identifiers import (
    id_is_a_name_error,
    name_is_an_id_error,
    name_taken_error,
    namespace_exists_error,
)
from stratus.errors import ConflictError, NotFoundError
from stratus.models.namespaces import Namespace
from stratus.ports import NamespacePage, PromotionRecord

if TYPE_CHECKING:
    from stratus.ports.backfill import NewBackfill

P = ParamSpec("P")
R = TypeVar("R")

# Namespaces a store keeps recently read copies of (`find_namespace(max_age_seconds=...)`).
MAX_RECENT_NAMESPACES = 1024


def namespace_item(namespace: Namespace) -> dict[str, Any]:
    return {
        "PK": org_pk(namespace.org_id),
        "SK": namespace_sk(namespace.namespace_id),
        "entity": "namespace",
        **namespace.model_dump(mode="json"),
    }


def namespace_from_item(item: Mapping[str, Any]) -> Namespace:
    plain = deserialize(item)
    return Namespace.model_validate({k: v for k, v in plain.items() if k not in KEY_ATTRIBUTES})


def name_guard_item(namespace: Namespace) -> dict[str, Any]:
    return {
        "PK": org_pk(namespace.org_id),
        "SK": name_guard_sk(namespace.namespace_name),
        "entity": "namespace_name",
        "namespace_id": namespace.namespace_id,
    }


def promotion_item(record: PromotionRecord) -> dict[str, Any]:
    # Append-only audit, kept after the namespace is deleted; `NS#` queries never see it.
    return {
        "PK": org_pk(record.org_id),
        "SK": promotion_sk(record.namespace_id, record.promotion_id),
        "entity": "promotion",
        **dataclasses.asdict(record),
    }


def concurrent_change_error(namespace_id: str) -> ConflictError:
    return ConflictError(
        f"namespace '{namespace_id}' was changed concurrently; retry",
        {"resource": "namespace", "id": namespace_id},
    )


def already_managed_error(namespace_id: str) -> ConflictError:
    return ConflictError(
        f"namespace '{namespace_id}' is already managed; promotion is one-way",
        {"resource": "namespace", "id": namespace_id, "mode": "managed"},
    )


class RecentNamespaces:
    """(org, id or name) → (monotonic time read, namespace), at most MAX_RECENT_NAMESPACES (the
    oldest entry goes first)."""

    def __init__(self) -> None:
        self._copies: dict[tuple[str, str], tuple[float, Namespace]] = {}

    def get(self, key: tuple[str, str], max_age_seconds: float) -> Namespace | None:
        recent = self._copies.get(key)
        if recent is not None and time.monotonic() - recent[0] <= max_age_seconds:
            return recent[1]
        return None

    def put(self, key: tuple[str, str], namespace: Namespace) -> None:
        if len(self._copies) >= MAX_RECENT_NAMESPACES:
            self._copies.pop(next(iter(self._copies)), None)
        self._copies[key] = (time.monotonic(), namespace)

    def clear(self) -> None:
        self._copies.clear()


def forgets_recent_namespaces(method: Callable[P, R]) -> Callable[P, R]:
    """For namespace writes: drop the store's recently read copies before and after the write
    (after too: a concurrent search may have re-read the old one meanwhile), even if it fails."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        assert isinstance(store, DynamoDBNamespaces)
        store._recent.clear()
        try:
            return method(*args, **kwargs)
        finally:
            store._recent.clear()

    return wrapper


class DynamoDBNamespaces(DynamoDBTable):
    @functools.cached_property
    def _recent(self) -> RecentNamespaces:
        return RecentNamespaces()

    def _free_as_id(self, org_id: str, name: str) -> dict[str, Any]:
        """A transaction item: no namespace has the id `name` (a name must not shadow an id)."""
        return {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": key(org_pk(org_id), namespace_sk(name)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _free_as_name(self, org_id: str, namespace_id: str) -> dict[str, Any]:
        """A transaction item: no namespace has the name `namespace_id` (an id resolves before a
        name, so a new id equal to a name in use would take over the lookups of that name)."""
        return {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": key(org_pk(org_id), name_guard_sk(namespace_id)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _namespace_count_update(self, org_id: str, delta: int) -> dict[str, Any]:
        """The organization's `namespace_count`, moved in the same transaction as the namespace
        item, so a list's `total_count` is exact without counting (api.md, decisions)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": key(org_pk(org_id), NAMESPACE_COUNTER_SK),
                "UpdateExpression": "SET #entity = :entity ADD namespace_count :delta",
                "ExpressionAttributeNames": {"#entity": "entity"},
                "ExpressionAttributeValues": {
                    ":entity": {"S": "namespace_counter"},
                    ":delta": {"N": str(delta)},
                },
            }
        }

    @forgets_recent_namespaces
    @maps_dependency_faults
    def create_namespace(self, namespace: Namespace) -> None:
        """The record, its name guard and the organization's namespace counter in ONE transaction,
        which also checks that the new id is no other namespace's name and the new name no other
        namespace's id (a namespace whose name is its own id is fine: the record and the guard are
        the ones being written)."""
        items = [
            self._put(namespace_item(namespace), "attribute_not_exists(PK)"),
            self._put(name_guard_item(namespace), "attribute_not_exists(PK)"),
            self._namespace_count_update(namespace.org_id, 1),
        ]
        if namespace.namespace_name != namespace.namespace_id:
            items.append(self._free_as_name(namespace.org_id, namespace.namespace_id))
            items.append(self._free_as_id(namespace.org_id, namespace.namespace_name))
        error = self._cancelled(items)
        if error is None:
            return
        clashes = {i for i, code in enumerate(cancellation_codes(error)) if code == CONDITION_FAILED}
        if 0 in clashes:
            raise namespace_exists_error(namespace.namespace_id) from error
        if 1 in clashes:
            raise name_taken_error(namespace.namespace_name) from error
        if 3 in clashes:
            raise id_is_a_name_error(namespace.namespace_id) from error
        if 4 in clashes:
            raise name_is_an_id_error(namespace.namespace_name) from error
        raise error

    @maps_dependency_faults
    def get_namespace(self, org_id: str, namespace_id: str) -> Namespace | None:
        item = self._get(org_pk(org_id), namespace_sk(namespace_id), "namespace")
        return namespace_from_item(item) if item else None

    def find_namespace(self, org_id: str, identifier: str, max_age_seconds: float = 0.0) -> Namespace | None:
        """By id, else by name (ids win: they are what a client got back at creation). With
        `max_age_seconds`, a copy read that recently by this store may answer instead (searches
        use it: one DynamoDB read less per query); any namespace write through this store drops
        every copy, so a process always reads its own writes."""
        key = (org_id, identifier)
        if max_age_seconds > 0:
            recent = self._recent.get(key, max_age_seconds)
            if recent is not None:
                return recent
        found = self._find_namespace(org_id, identifier)
        if found is not None:
            self._recent.put(key, found)
        return found

    @maps_dependency_faults
    def _find_namespace(self, org_id: str, identifier: str) -> Namespace | None:
        by_id = self.get_namespace(org_id, identifier)
        if by_id is not None:
            return by_id
        guard = self._get(org_pk(org_id), name_guard_sk(identifier), "namespace_name")
        if guard is None:
            return None
        namespace_id = deserialize(guard).get("namespace_id")
        return self.get_namespace(org_id, str(namespace_id)) if namespace_id else None

    @maps_dependency_faults
    def list_namespaces(self, org_id: str, limit: int, cursor: str | None) -> NamespacePage:
        """Namespaces ordered by id."""
        page, next_cursor = self._paged_query(org_pk(org_id), NAMESPACE_PREFIX, "namespace", limit, cursor)
        return NamespacePage(namespaces=[namespace_from_item(item) for item in page], next_cursor=next_cursor)

    @maps_dependency_faults
    def count_namespaces(self, org_id: str) -> int:
        """One read of the organization's counter (never a count over its namespaces)."""
        item = self._get(org_pk(org_id), NAMESPACE_COUNTER_SK, "namespace_counter")
        if item is None:
            return 0
        return int(deserialize(item).get("namespace_count") or 0)

    @forgets_recent_namespaces
    @maps_dependency_faults
    def save_namespace(self, namespace: Namespace, expected_version: int, previous_name: str) -> Namespace:
        saved = namespace.model_copy(update={"version": expected_version + 1})
        items = [
            self._put(
                namespace_item(saved),
                "version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        ]
        if saved.namespace_name != previous_name:
            # The old guard is deleted only if it is still ours, so a stale `previous_name` can
            # never free another namespace's name.
            items.append(
                self._delete(
                    org_pk(saved.org_id),
                    name_guard_sk(previous_name),
                    "namespace_id = :id",
                    ExpressionAttributeValues={":id": {"S": saved.namespace_id}},
                )
            )
            items.append(self._put(name_guard_item(saved), "attribute_not_exists(PK)"))
            if saved.namespace_name != saved.namespace_id:
                items.append(self._free_as_id(saved.org_id, saved.namespace_name))
        error = self._cancelled(items)
        if error is not None:
            self._raise_save_failure(error, saved)
        return saved

    def _raise_save_failure(self, error: ClientError, namespace: Namespace) -> NoReturn:
        codes = cancellation_codes(error)
        if codes and codes[0] == CONDITION_FAILED:
            self._raise_stale_version(error, namespace)
        if len(codes) > 2 and codes[2] == CONDITION_FAILED:
            raise name_taken_error(namespace.namespace_name) from error
        if len(codes) > 3 and codes[3] == CONDITION_FAILED:
            raise name_is_an_id_error(namespace.namespace_name) from error
        if len(codes) > 1 and codes[1] == CONDITION_FAILED:
            # The old guard is not ours any more: someone renamed in between.
            raise concurrent_change_error(namespace.namespace_id) from error
        raise error

    def _raise_stale_version(self, error: ClientError, namespace: Namespace) -> NoReturn:
        if self._stored_namespace(error, namespace) is not None:
            raise concurrent_change_error(namespace.namespace_id) from error
        raise NotFoundError.of("namespace", namespace.namespace_id) from error

    @forgets_recent_namespaces
    @maps_dependency_faults
    def delete_namespace(self, namespace: Namespace) -> None:
        """Delete the namespace and its name guard. Conditioned on `namespace.version`, so a
        stale copy (renamed meanwhile) cannot delete the wrong guard: `ConflictError` then, and
        `NotFoundError` if it is already gone."""
        pk = org_pk(namespace.org_id)
        items = [
            self._delete(
                pk,
                namespace_sk(namespace.namespace_id),
                "version = :version",
                ExpressionAttributeValues={":version": {"N": str(namespace.version)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            self._delete(pk, name_guard_sk(namespace.namespace_name)),
            self._namespace_count_update(namespace.org_id, -1),
        ]
        error = self._cancelled(items)
        if error is None:
            return
        if cancellation_codes(error)[:1] != [CONDITION_FAILED]:
            raise error
        self._raise_stale_version(error, namespace)

    @forgets_recent_namespaces
    @maps_dependency_faults
    def promote_namespace(
        self,
        promoted: Namespace,
        expected_version: int,
        record: PromotionRecord,
        backfill: NewBackfill | None = None,
    ) -> Namespace:
        """One transaction: the managed namespace (version bumped), conditioned on the stored one
        still being standalone at `expected_version`, plus the audit record (and the backfill
        task, when one fills the new indexes). Losers of a race get `ConflictError`; nothing is
        written unless everything is."""
        saved = promoted.model_copy(update={"version": expected_version + 1})
        items = [
            self._put(
                namespace_item(saved),
                "version = :expected AND #mode = :standalone",
                ExpressionAttributeNames={"#mode": "mode"},  # MODE is a DynamoDB reserved word
                ExpressionAttributeValues={
                    ":expected": {"N": str(expected_version)},
                    ":standalone": {"S": "standalone"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            self._put(promotion_item(record), "attribute_not_exists(PK)"),
        ]
        if backfill is not None:
            from stratus.adapters.dynamodb.backfill_items import backfill_task_item

            items.append(self._put(backfill_task_item(backfill), "attribute_not_exists(PK)"))
        try:
            self._transact(items)
        except ClientError as error:
            if not is_cancelled_transaction(error):
                raise
            self._raise_promotion_failure(error, saved)
        return saved

    def _raise_promotion_failure(self, error: ClientError, namespace: Namespace) -> NoReturn:
        codes = cancellation_codes(error)
        if "TransactionConflict" in codes:
            # Real DynamoDB cancels colliding transactions on one item with TransactionConflict.
            # If the other one promoted the namespace, this caller lost the race: 409, as api.md
            # says for every loser. Otherwise the conflict was transient: a retryable 503.
            stored = self._get(org_pk(namespace.org_id), namespace_sk(namespace.namespace_id), "namespace")
            if stored is not None and deserialize(stored).get("mode") == "managed":
                raise already_managed_error(namespace.namespace_id) from error
        raise_if_transient(error)
        if codes and codes[0] == CONDITION_FAILED:
            stored_now = self._stored_namespace(error, namespace)
            if stored_now is None:
                raise NotFoundError.of("namespace", namespace.namespace_id) from error
            if stored_now.get("mode") == "managed":
                raise already_managed_error(namespace.namespace_id) from error
            raise concurrent_change_error(namespace.namespace_id) from error
        # Only a promotion-id collision is left: retrying with a new id is all it takes.
        raise concurrent_change_error(namespace.namespace_id) from error

    def _stored_namespace(self, error: ClientError, namespace: Namespace) -> dict[str, Any] | None:
        """The namespace item as it was when the condition failed (plain values), or None."""
        reasons = cancellation_reasons(error)
        item = reasons[0].get("Item") if reasons else None
        if not item:
            item = self._get(org_pk(namespace.org_id), namespace_sk(namespace.namespace_id), "namespace")
        return deserialize(item) if item else None

    @maps_dependency_faults
    def list_auto_index_namespaces(self, limit: int, cursor: str | None) -> NamespacePage:
        """A filtered Scan: the job runs every few hours over every organization, and a sparse
        GSI for one boolean is not worth its write cost on every namespace save."""
        scan: dict[str, Any] = {
            "TableName": self.table_name,
            "ConsistentRead": True,
            "Limit": max(1, limit),
            "FilterExpression": "#entity = :namespace AND #auto = :true",
            "ExpressionAttributeNames": {"#entity": "entity", "#auto": "auto_create_indexes"},
            "ExpressionAttributeValues": {":namespace": {"S": "namespace"}, ":true": {"BOOL": True}},
        }
        if cursor:
            scan["ExclusiveStartKey"] = decode_scan_cursor(cursor)
        response = self.client.scan(**scan)
        last_key = response.get("LastEvaluatedKey")
        return NamespacePage(
            namespaces=[namespace_from_item(item) for item in response.get("Items", [])],
            next_cursor=encode_scan_cursor(last_key) if last_key else None,
        )
