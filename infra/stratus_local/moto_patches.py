"""Three of moto's costs made per item, as AWS's are: a DynamoDB transaction's rollback copies the
items it touches (not whole tables), a DynamoDB query reads its partition (not the whole table),
and an SQS receive checks a message's retention without recounting the queue; and one cost per
request made once (dispatch).

Transactions. moto 5 backs up every table a transaction names with `copy.deepcopy(table)` before applying it,
so each transaction costs time and memory in proportion to everything the table holds. The
Stratus table keeps every object and task record, so ingesting 1,000 files made each of the
~3,000 transactions copy a table of thousands of items: the local stack reached 13 GB and
~1 file/s (measured with `tests/perf/bench_ingestion.py`). DynamoDB's cost is per item touched;
this makes the emulator's cost per item too.

How: before moto's own implementation runs, the current version of each target item is copied
(or noted absent); moto's table backup is made a no-op for the duration of the call; if moto
raises (a failed condition, a validation error), each target item is put back as it was. This is
only safe because the local stack's emulator serves one request at a time
(`moto_server.SerializedWsgiApp`): nothing else reads or copies a table mid-transaction.

Queries. moto answers a base-table query by sorting every item of the table (`all_items()`) and
keeping those of the partition; with thousands of object and task records that was a quarter of
the emulator's time during ingestion. A base-table query now sees only its partition's items
(index queries are left as moto does them).

Receives. For every message it hands out, moto checks the retention period by computing all the
queue's attributes, which counts every message in the queue: a receive cost O(backlog²). With
1,000 files put at once it was a third of the emulator's time; the check now reads the queue's
retention period directly.

Dispatch. For every request, moto's server finds the service by listing its own package's folders
(`list_of_moto_modules`: a directory listing and ~150 `isdir` calls); the list is read once.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Transact = Callable[[Any, list[dict[str, Any]]], None]

_PATCHED = "_stratus_per_item_cost"
# Held while moto's own implementation runs, so the no-op table copy never leaks into another
# thread's deepcopy (the emulator is serialized anyway; this keeps the patch safe on its own).
_lock = threading.Lock()


@dataclass(frozen=True)
class _Before:
    """One target item as it was before the transaction (`item` None: it did not exist)."""

    table: Any
    hash_key: Any
    range_key: Any
    item: Any


def with_item_rollback(transact: Transact) -> Transact:
    """`transact` (moto's `DynamoDBBackend.transact_write_items`) with item-level rollback."""
    if getattr(transact, _PATCHED, False):
        return transact

    @functools.wraps(transact)
    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            before = _snapshot(backend, transact_items)
            try:
                with _tables_not_copied(backend):
                    transact(backend, transact_items)
            except BaseException:
                _restore(before)
                raise

    setattr(transact_write_items, _PATCHED, True)
    return transact_write_items


def with_partition_reads(query: Callable[..., Any]) -> Callable[..., Any]:
    """`query` (moto's `Table.query`) reading only the partition of a base-table query."""
    if getattr(query, _PATCHED, False):
        return query

    @functools.wraps(query)
    def partition_query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # Positional order of moto's signature: range_comparison, range_objs, limit,
        # exclusive_start_key, scan_index_forward, projection_expressions, index_name, ...
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None or not table.range_key_attr:
            return query(table, hash_key, *args, **kwargs)
        partition = table.items.get(hash_key, {})
        # An instance attribute shadows the method for this one call (the emulator is serialized).
        table.all_items = lambda: sorted(partition.values(), key=lambda item: item.range_key)
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            del table.all_items

    setattr(partition_query, _PATCHED, True)
    return partition_query


def retention_check_without_recount(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's `SQSBackend.is_message_valid_based_on_retention_period`, same answer, O(1)."""
    from moto.core.utils import unix_time

    retention_seconds = int(backend.get_queue(queue_name).message_retention_period)
    return bool(retention_seconds + message.sent_timestamp / 1000 > unix_time())


def modules_listed_once(list_modules: Callable[[], Any]) -> Callable[[], tuple[str, ...]]:
    """moto's `backends.list_of_moto_modules`, read on first use (moto's folders do not change
    while it runs)."""
    if getattr(list_modules, _PATCHED, False):
        return list_modules

    @functools.cache
    def listed() -> tuple[str, ...]:
        return tuple(list_modules())

    setattr(listed, _PATCHED, True)
    return listed


def install() -> None:
    """Patch moto's DynamoDB and SQS classes and its dispatch (idempotent; process-wide)."""
    from moto import backends
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.sqs.models import SQSBackend

    # Method swaps mypy cannot type, hence setattr.
    setattr(DynamoDBBackend, "transact_write_items", with_item_rollback(DynamoDBBackend.transact_write_items))  # noqa: B010
    setattr(Table, "query", with_partition_reads(Table.query))  # noqa: B010
    setattr(SQSBackend, "is_message_valid_based_on_retention_period", retention_check_without_recount)  # noqa: B010
    setattr(backends, "list_of_moto_modules", modules_listed_once(backends.list_of_moto_modules))  # noqa: B010


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Before]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    before = []
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
            if table is None:
                continue  # moto itself answers for a missing table or a malformed entry
            attributes = operation.get("Key") or operation.get("Item") or {}
            hash_value = attributes.get(table.hash_key_attr)
            range_value = attributes.get(table.range_key_attr) if table.range_key_attr else None
            if hash_value is None or (table.range_key_attr and range_value is None):
                continue  # moto raises a validation error before writing anything
            hash_key = DynamoType(hash_value)
            range_key = DynamoType(range_value) if range_value is not None else None
            current = table.get_item(hash_key, range_key)
            before.append(_Before(table, hash_key, range_key, copy.deepcopy(current)))
    return before


def _restore(before: list[_Before]) -> None:
    # Reverse order: if a key appears twice (moto refuses that, but only after writing the first),
    # the earliest snapshot is the one that stays.
    for saved in reversed(before):
        table = saved.table
        if saved.item is None:
            table.delete_item(saved.hash_key, saved.range_key)
        elif saved.range_key is not None:
            table.items[saved.hash_key][saved.range_key] = saved.item
        else:
            table.items[saved.hash_key] = saved.item


@contextlib.contextmanager
def _tables_not_copied(backend: Any) -> Iterator[None]:
    """moto's `copy.deepcopy(table)` returns the table itself while the transaction runs; its
    "rollback" then puts back the same (modified) object, and `_restore` undoes the items."""
    table_types = {type(table) for table in backend.tables.values()}
    saved = {kind: kind.__dict__.get("__deepcopy__") for kind in table_types}
    for kind in table_types:
        kind.__deepcopy__ = lambda self, memo: self
    try:
        yield
    finally:
        for kind, original in saved.items():
            if original is None:
                del kind.__deepcopy__
            else:
                kind.__deepcopy__ = original
