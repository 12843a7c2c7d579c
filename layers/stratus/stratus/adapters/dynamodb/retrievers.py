"""Retrievers (`RetrieverRepository`): the record and its name guard under their namespace, the
optimistic version every write is conditioned on, and recently read copies (a saved retriever
is executed far more often than it changes: `find_retriever(max_age_seconds=...)`)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import deserialize, plain_record, record_item
from stratus.adapters.dynamodb.faults import CONDITION_FAILED, cancellation_codes, maps_dependency_faults
from stratus.adapters.dynamodb.schema import org_pk, retriever_name_sk, retriever_prefix
from stratus.errors import AlreadyExistsError, ConflictError, NotFoundError
from stratus.ports.metadata import RetrieverPage

if TYPE_CHECKING:
    # Imported where a record is read: a function that never reads one does not build the model.
    from stratus.models.retrievers import Retriever

P = ParamSpec("P")
R = TypeVar("R")

# Retrievers a store keeps recently read copies of.
MAX_RECENT_RETRIEVERS = 1024


def retriever_name_taken_error(retriever: Retriever) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"retriever_name '{retriever.retriever_name}' is already used by another retriever in namespace "
        f"'{retriever.namespace_id}'; choose a different retriever_name",
        {"resource": "retriever", "field": "retriever_name", "value": retriever.retriever_name},
    )


def retriever_changed_error(retriever_id: str) -> ConflictError:
    return ConflictError(
        f"retriever '{retriever_id}' was changed concurrently; retry",
        {"resource": "retriever", "id": retriever_id},
    )


def _record(retriever: Retriever) -> dict[str, Any]:
    sk = retriever_prefix(retriever.namespace_id) + retriever.retriever_id
    return record_item(org_pk(retriever.org_id), sk, "retriever", retriever)


def _guard(retriever: Retriever) -> dict[str, Any]:
    return {
        "PK": org_pk(retriever.org_id),
        "SK": retriever_name_sk(retriever.namespace_id, retriever.retriever_name),
        "entity": "retriever_name",
        "retriever_id": retriever.retriever_id,
    }


def _retriever(item: dict[str, Any]) -> Retriever:
    from stratus.models.retrievers import Retriever

    return Retriever.model_validate(plain_record(item))


class RecentRetrievers:
    """(org, namespace, id or name) → (monotonic time read, retriever); the oldest goes first."""

    def __init__(self) -> None:
        self._copies: dict[tuple[str, str, str], tuple[float, Retriever]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], max_age_seconds: float) -> Retriever | None:
        recent = self._copies.get(key)
        if recent is not None and time.monotonic() - recent[0] <= max_age_seconds:
            return recent[1]  # shared, as a namespace's recent copy is: services never change it
        return None

    def put(self, key: tuple[str, str, str], retriever: Retriever) -> None:
        with self._lock:
            if len(self._copies) >= MAX_RECENT_RETRIEVERS:
                self._copies.pop(next(iter(self._copies)), None)
            self._copies[key] = (time.monotonic(), retriever)

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()


def forgets_recent_retrievers(method: Callable[P, R]) -> Callable[P, R]:
    """For retriever writes: drop the recently read copies before and after the write (after too:
    a concurrent execute may have re-read the old one meanwhile), even if it fails."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        assert isinstance(store, DynamoDBRetrievers)
        store._recent_retrievers.clear()
        try:
            return method(*args, **kwargs)
        finally:
            store._recent_retrievers.clear()

    return wrapper


class DynamoDBRetrievers(DynamoDBTable):
    @functools.cached_property
    def _recent_retrievers(self) -> RecentRetrievers:
        return RecentRetrievers()

    @forgets_recent_retrievers
    @maps_dependency_faults
    def create_retriever(self, retriever: Retriever) -> None:
        clashes = self._put_all_new([_record(retriever), _guard(retriever)])
        if 1 in clashes:
            raise retriever_name_taken_error(retriever)
        if clashes:
            raise AlreadyExistsError(
                f"retriever '{retriever.retriever_id}' already exists",
                {"resource": "retriever", "id": retriever.retriever_id},
            )

    @maps_dependency_faults
    def get_retriever(self, org_id: str, namespace_id: str, retriever_id: str) -> Retriever | None:
        item = self._get(org_pk(org_id), retriever_prefix(namespace_id) + retriever_id, "retriever")
        return _retriever(item) if item else None

    def find_retriever(
        self, org_id: str, namespace_id: str, identifier: str, max_age_seconds: float = 0.0
    ) -> Retriever | None:
        """By id, else by name (ids win: they are what a client got back at creation)."""
        key = (org_id, namespace_id, identifier)
        if max_age_seconds > 0:
            recent = self._recent_retrievers.get(key, max_age_seconds)
            if recent is not None:
                return recent
        found = self._find_retriever(org_id, namespace_id, identifier)
        if found is not None:
            self._recent_retrievers.put(key, found)
        return found

    @maps_dependency_faults
    def _find_retriever(self, org_id: str, namespace_id: str, identifier: str) -> Retriever | None:
        by_id = self.get_retriever(org_id, namespace_id, identifier)
        if by_id is not None:
            return by_id
        guard = self._get(org_pk(org_id), retriever_name_sk(namespace_id, identifier), "retriever_name")
        if guard is None:
            return None
        retriever_id = deserialize(guard).get("retriever_id")
        return self.get_retriever(org_id, namespace_id, str(retriever_id)) if retriever_id else None

    @maps_dependency_faults
    def list_retrievers(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> RetrieverPage:
        page, next_cursor = self._paged_query(
            org_pk(org_id), retriever_prefix(namespace_id), "retriever", limit, cursor
        )
        return RetrieverPage([_retriever(item) for item in page], next_cursor)

    @forgets_recent_retrievers
    @maps_dependency_faults
    def save_retriever(self, retriever: Retriever, expected_version: int, previous_name: str) -> Retriever:
        saved = retriever.model_copy(update={"version": expected_version + 1})
        pk = org_pk(saved.org_id)
        items = [
            self._put(
                _record(saved),
                "version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            )
        ]
        if saved.retriever_name != previous_name:
            # The old guard goes only if it is still ours: a stale `previous_name` can never free
            # another retriever's name.
            items.append(
                self._delete(
                    pk,
                    retriever_name_sk(saved.namespace_id, previous_name),
                    "retriever_id = :id",
                    ExpressionAttributeValues={":id": {"S": saved.retriever_id}},
                )
            )
            items.append(self._put(_guard(saved), "attribute_not_exists(PK)"))
        error = self._cancelled(items)
        if error is not None:
            self._raise_retriever_save_failure(error, saved)
        return saved

    def _raise_retriever_save_failure(self, error: ClientError, retriever: Retriever) -> NoReturn:
        codes = cancellation_codes(error)
        if codes and codes[0] == CONDITION_FAILED:
            self._raise_stale_retriever(error, retriever)
        if len(codes) > 2 and codes[2] == CONDITION_FAILED:
            raise retriever_name_taken_error(retriever) from error
        if len(codes) > 1 and codes[1] == CONDITION_FAILED:
            raise retriever_changed_error(retriever.retriever_id) from error
        raise error

    def _raise_stale_retriever(self, error: ClientError, retriever: Retriever) -> NoReturn:
        if self.get_retriever(retriever.org_id, retriever.namespace_id, retriever.retriever_id) is not None:
            raise retriever_changed_error(retriever.retriever_id) from error
        raise NotFoundError.of("retriever", retriever.retriever_id) from error

    @forgets_recent_retrievers
    @maps_dependency_faults
    def delete_retriever(self, retriever: Retriever) -> None:
        """Conditioned on `retriever.version`, so a stale copy (renamed meanwhile) cannot leave
        the new name's guard behind: `ConflictError` then, `NotFoundError` if it is gone."""
        pk = org_pk(retriever.org_id)
        items = [
            self._delete(
                pk,
                retriever_prefix(retriever.namespace_id) + retriever.retriever_id,
                "version = :version",
                ExpressionAttributeValues={":version": {"N": str(retriever.version)}},
            ),
            self._delete(
                pk,
                retriever_name_sk(retriever.namespace_id, retriever.retriever_name),
                "attribute_not_exists(PK) OR retriever_id = :id",
                ExpressionAttributeValues={":id": {"S": retriever.retriever_id}},
            ),
        ]
        error = self._cancelled(items)
        if error is None:
            return
        codes = cancellation_codes(error)
        if codes[:1] == [CONDITION_FAILED]:
            self._raise_stale_retriever(error, retriever)
        if CONDITION_FAILED in codes:
            raise retriever_changed_error(retriever.retriever_id) from error
        raise error
