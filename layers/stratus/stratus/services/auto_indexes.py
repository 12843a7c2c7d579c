"""The scheduled `auto_create_indexes` job: every namespace that opted in gets a payload index for
each field filtered more than `threshold` times in the last `window_hours`, typed from the values
seen, through the same lifecycle as a requested index (pending → built → ready/failed).

Idempotent and safe to overlap: a field that has any index is skipped, and the pending index is
written with the namespace's optimistic version, so of two overlapping runs the second re-reads,
sees the index and creates nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from stratus import limits
from stratus.models.namespaces import Namespace, PayloadIndexConfig, PayloadIndexType
from stratus.ports.metadata import FieldUsage, NamespaceRepository
from stratus.ports.stores import Stores
from stratus.services.filter_usage import usage_in_window
from stratus.services.payload_indexes import (
    PROTECTED_INDEX_TYPES,
    add_payload_indexes,
    index_of,
    own_index_count,
)

logger = logging.getLogger(__name__)

SCAN_PAGE_SIZE = 100

# Mixed value types that still have one index able to serve every filter seen.
_COMMON_TYPES: dict[frozenset[str], PayloadIndexType] = {
    frozenset({"integer", "float"}): "float",  # every integer is a float value
    frozenset({"datetime", "keyword"}): "keyword",  # ISO-8601 strings are strings
}
_SINGLE_TYPES: dict[str, PayloadIndexType] = {
    "keyword": "keyword",
    "integer": "integer",
    "float": "float",
    "bool": "bool",
    "datetime": "datetime",
    "text": "text",
}


@dataclass
class AutoIndexReport:
    namespaces_checked: int = 0
    created: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_index_type(value_types: Mapping[str, int]) -> PayloadIndexType | None:
    """The index type for the values seen: their type, the most specific type common to all of
    them, or None when there is none (e.g. bool and keyword) or nothing was seen."""
    seen = frozenset(name for name, count in value_types.items() if count > 0)
    if len(seen) == 1:
        return _SINGLE_TYPES.get(next(iter(seen)))
    return _COMMON_TYPES.get(seen)


def run_auto_indexes(stores: Stores, now: datetime, threshold: int, window_hours: int) -> AutoIndexReport:
    report = AutoIndexReport()
    for namespace in opted_in_namespaces(stores.metadata):
        report.namespaces_checked += 1
        try:
            _index_namespace(stores, namespace, now, threshold, window_hours, report)
        except Exception as error:
            logger.exception("auto_create_indexes failed for namespace %s", namespace.namespace_id)
            report.errors.append(
                {
                    "org_id": namespace.org_id,
                    "namespace_id": namespace.namespace_id,
                    "error": _describe(error),
                }
            )
    logger.info(
        "auto_create_indexes: %d namespaces, %d indexes created, %d fields skipped, %d errors",
        report.namespaces_checked,
        len(report.created),
        len(report.skipped),
        len(report.errors),
    )
    return report


def _describe(error: Exception) -> str:
    # The type as well as the text: many exceptions (timeouts, broken barriers, assertions)
    # have no text at all, and an empty error in the report tells the operator nothing.
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def opted_in_namespaces(metadata: NamespaceRepository) -> Iterator[Namespace]:
    cursor: str | None = None
    while True:
        page = metadata.list_auto_index_namespaces(SCAN_PAGE_SIZE, cursor)
        yield from page.namespaces
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _index_namespace(
    stores: Stores,
    namespace: Namespace,
    now: datetime,
    threshold: int,
    window_hours: int,
    report: AutoIndexReport,
) -> None:
    usage = usage_in_window(stores.metadata, namespace.org_id, namespace.namespace_id, now, window_hours)
    wanted: list[PayloadIndexConfig] = []
    for field_name, field_usage in sorted(usage.items()):
        if field_usage.queries <= threshold or index_of(namespace, field_name) is not None:
            continue
        index = _index_for(namespace, field_name, field_usage, report)
        if index is not None:
            wanted.append(index)
    wanted = _within_the_cap(namespace, usage, wanted, report)
    if not wanted:
        return
    built, created = add_payload_indexes(stores, namespace, wanted, auto_created=True, only_if_absent=True)
    for field_name in created:
        index = index_of(built, field_name)
        report.created.append(
            {
                "org_id": namespace.org_id,
                "namespace_id": namespace.namespace_id,
                "field_name": field_name,
                "type": index.type if index else "?",
                "state": index.state if index else "?",
            }
        )
        logger.info(
            "auto-created %s index on %r in namespace %s (%s)",
            index.type if index else "?",
            field_name,
            namespace.namespace_id,
            index.state if index else "?",
        )


def _within_the_cap(
    namespace: Namespace,
    usage: Mapping[str, FieldUsage],
    wanted: list[PayloadIndexConfig],
    report: AutoIndexReport,
) -> list[PayloadIndexConfig]:
    """As many of `wanted` as the namespace's cap leaves room for, the most filtered first; the
    rest are skipped with the reason (an index a user asked for is never displaced)."""
    room = max(0, limits.MAX_PAYLOAD_INDEXES - own_index_count(namespace.payload_indexes))
    ranked = sorted(wanted, key=lambda index: (-usage[index.field_name].queries, index.field_name))
    for index in ranked[room:]:
        reason = f"the namespace already has the maximum of {limits.MAX_PAYLOAD_INDEXES} payload indexes"
        logger.info(
            "auto_create_indexes skips %r in namespace %s: %s",
            index.field_name,
            namespace.namespace_id,
            reason,
        )
        report.skipped.append(
            {"org_id": namespace.org_id, "namespace_id": namespace.namespace_id,
             "field_name": index.field_name, "reason": reason}
        )  # fmt: skip
    return ranked[:room]


def _index_for(
    namespace: Namespace, field_name: str, usage: FieldUsage, report: AutoIndexReport
) -> PayloadIndexConfig | None:
    reason: str | None = None
    index_type = choose_index_type(usage.value_types)
    if field_name in PROTECTED_INDEX_TYPES:
        reason = "protected system field (always indexed)"
    elif index_type is None:
        reason = f"no single index type fits the values seen {sorted(usage.value_types)}"
    if reason is None and index_type is not None:
        try:
            return PayloadIndexConfig(field_name=field_name, type=index_type)
        except ValidationError:
            reason = "not a valid payload index field name"
    logger.info(
        "auto_create_indexes skips %r in namespace %s: %s", field_name, namespace.namespace_id, reason
    )
    report.skipped.append(
        {"org_id": namespace.org_id, "namespace_id": namespace.namespace_id, "field_name": field_name,
         "reason": str(reason)}
    )  # fmt: skip
    return None
