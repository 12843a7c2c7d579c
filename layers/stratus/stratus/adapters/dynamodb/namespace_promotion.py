"""Promoting a namespace (standalone → managed, one-way): one transaction with its audit record
and, when the new indexes are filled from a source, its backfill task."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.backfill_items import backfill_task_item
from stratus.adapters.dynamodb.codec import deserialize
from stratus.adapters.dynamodb.faults import (
    CONDITION_FAILED,
    cancellation_codes,
    is_cancelled_transaction,
    maps_dependency_faults,
    raise_if_transient,
)
from stratus.adapters.dynamodb.namespace_items import (
    already_managed_error,
    concurrent_change_error,
    namespace_item,
    promotion_item,
)
from stratus.adapters.dynamodb.namespaces import DynamoDBNamespaces, forgets_recent_namespaces
from stratus.adapters.dynamodb.schema import namespace_sk, org_pk
from stratus.errors import NotFoundError
from stratus.models.namespaces import Namespace
from stratus.ports import PromotionRecord

if TYPE_CHECKING:
    from stratus.ports.backfill import NewBackfill


class DynamoDBNamespacePromotion(DynamoDBNamespaces):
    """`NamespaceRepository.promote_namespace` (the rest of the repository: `DynamoDBNamespaces`)."""

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
