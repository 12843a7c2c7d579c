"""Filter usage for `auto_create_indexes`: hourly counters of the fields filtered searches read,
with the types of the values they were compared with, and the analytics read over a window.

Counting is best effort by design: it runs after the search answered and never fails it."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from stratus.filters import FilterNode, Scalar, iter_conditions
from stratus.models.namespaces import Namespace
from stratus.models.payload_indexes import FieldFilterUsage, FilterUsageResponse
from stratus.ports.metadata import FieldUsage, UsageRepository
from stratus.services.payload_indexes import PROTECTED_INDEX_TYPES, index_of

logger = logging.getLogger(__name__)

# Counter items live two windows, so a window read never misses an hour; the read still filters
# by hour because DynamoDB (and moto, never) deletes expired items only eventually.
USAGE_TTL = timedelta(hours=48)
HOUR_FORMAT = "%Y%m%d%H"

# A date, optionally with a time and an offset: what the `datetime` index type orders.
_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_key(moment: datetime) -> str:
    return hour_of(moment).strftime(HOUR_FORMAT)


def value_type(value: Scalar) -> str | None:
    """The payload index type a filter value calls for."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "datetime" if _is_iso_8601(value) else "keyword"
    return None


def _is_iso_8601(value: str) -> bool:
    if not _ISO_8601.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def usage_of(node: FilterNode | None) -> dict[str, FieldUsage]:
    """What one search adds: each filtered field once, and each value type once per field."""
    usage: dict[str, FieldUsage] = {}
    for condition in iter_conditions(node):
        field_usage = usage.setdefault(condition.dotted, FieldUsage(queries=1))
        for found in _condition_types(condition.operator, condition.value):
            field_usage.value_types[found] = 1
    return usage


def _condition_types(operator: str, value: Scalar | tuple[Scalar, ...] | None) -> set[str]:
    if operator in ("exists", "is_null"):  # their value is a flag, not a field value
        return set()
    if operator == "text":  # full-text match needs a text index, whatever the words are
        return {"text"}
    values = value if isinstance(value, tuple) else (value,)
    return {found for item in values if item is not None and (found := value_type(item)) is not None}


def record_search_usage(
    metadata: UsageRepository, org_id: str, namespace_id: str, node: FilterNode | None, now: datetime
) -> None:
    """One counter write for the whole search. Never raises: losing a count is harmless, failing
    (or slowing) a search for it is not."""
    usage = usage_of(node)
    if not usage:
        return
    try:
        hour = hour_of(now)
        expires_at = int((hour + USAGE_TTL).timestamp())
        metadata.add_filter_usage(org_id, namespace_id, hour.strftime(HOUR_FORMAT), usage, expires_at)
    except Exception:
        logger.exception("could not count filter usage of namespace %s; search unaffected", namespace_id)


def window_hours(now: datetime, hours: int) -> tuple[str, str]:
    """(first, last) hour keys of the `hours` hourly buckets ending with the current one: a
    bucket counts when it starts after `now - hours`, so searches older than the window never
    count (at most the last hour's early part falls out early)."""
    last = hour_of(now)
    return (last - timedelta(hours=hours - 1)).strftime(HOUR_FORMAT), last.strftime(HOUR_FORMAT)


def usage_in_window(
    metadata: UsageRepository, org_id: str, namespace_id: str, now: datetime, hours: int
) -> dict[str, FieldUsage]:
    first, last = window_hours(now, hours)
    totals: dict[str, FieldUsage] = {}
    for hour, counters in metadata.get_filter_usage(org_id, namespace_id, first, last).items():
        if not first <= hour <= last:  # defensive: the store's range is inclusive already
            continue
        for field_name, field_usage in counters.items():
            totals.setdefault(field_name, FieldUsage()).add(field_usage)
    return totals


def filter_usage_report(
    metadata: UsageRepository, namespace: Namespace, now: datetime, threshold: int, hours: int
) -> FilterUsageResponse:
    totals = usage_in_window(metadata, namespace.org_id, namespace.namespace_id, now, hours)
    return FilterUsageResponse(
        namespace_id=namespace.namespace_id,
        auto_create_indexes=namespace.auto_create_indexes,
        threshold=threshold,
        window_hours=hours,
        window_start=_iso(now - timedelta(hours=hours)),
        window_end=_iso(now),
        fields=[
            _field_report(namespace, name, usage, threshold)
            for name, usage in sorted(totals.items(), key=lambda item: (-item[1].queries, item[0]))
        ],
    )


def _field_report(namespace: Namespace, name: str, usage: FieldUsage, threshold: int) -> FieldFilterUsage:
    protected = name in PROTECTED_INDEX_TYPES
    index = index_of(namespace, name)
    return FieldFilterUsage(
        field_name=name,
        query_count=usage.queries,
        value_types=dict(sorted(usage.value_types.items())),
        indexed=protected or (index is not None and index.state == "ready"),
        index_type=PROTECTED_INDEX_TYPES[name] if protected else (index.type if index else None),
        index_state="ready" if protected else (index.state if index else None),
        is_protected=protected,
        above_threshold=usage.queries > threshold,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
