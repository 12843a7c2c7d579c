"""The table's key schema: every item's `PK`/`SK` is built here (the layout is in
docs/vector-stores.md, "Metadata store: DynamoDB")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEY_ATTRIBUTES = frozenset({"PK", "SK", "entity"})
NAMESPACE_PREFIX = "NS#"
NAME_GUARD_PREFIX = "NSNAME#"
API_KEY_PREFIX = "APIKEY#"
API_KEY_SK = "APIKEY"
PROMOTION_PREFIX = "PROMOTION#"
TASK_PREFIX = "TASK#"
TASK_SK = "TASK"
ROUTE_PREFIX = "S3PREFIX#"
ROUTE_SK = "ROUTE"
OBJECTS_PREFIX = "OBJECTS#"
# Counters live in partitions of their own, whose keys start with these prefixes: the functions
# that only read the table may UpdateItem them and nothing else (template.yaml conditions the
# grant on `dynamodb:LeadingKeys`; tests/security/test_iam_policies.py checks it against these).
USAGE_PREFIX = "USAGE#"
RATE_PREFIX = "RATE#"
RATE_COUNTER_SK = "COUNTER"
RATE_LIMITS_SK = "RATELIMITS"
# An organization's namespace counter (`namespace_count`), moved in the same transaction as each
# namespace item: `total_count` of a namespace list without counting.
NAMESPACE_COUNTER_SK = "COUNTER#namespaces"
# DynamoDB rejects sort keys over 1024 bytes with a ValidationException; an identifier that long
# (e.g. from a URL path) cannot name anything we stored, so it is simply not found.
MAX_SORT_KEY_BYTES = 1024


def key(pk: str, sk: str) -> dict[str, Any]:
    """A primary key in DynamoDB's JSON."""
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def is_entity(item: Mapping[str, Any], entity: str) -> bool:
    """Whether an item in DynamoDB's JSON is of type `entity` (its `entity` attribute)."""
    value = item.get("entity")
    return isinstance(value, Mapping) and value.get("S") == entity


def too_long(key_part: str) -> bool:
    return len(key_part.encode("utf-8")) > MAX_SORT_KEY_BYTES


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def namespace_sk(namespace_id: str) -> str:
    return f"{NAMESPACE_PREFIX}{namespace_id}"


def name_guard_sk(namespace_name: str) -> str:
    return f"{NAME_GUARD_PREFIX}{namespace_name}"


def promotion_sk(namespace_id: str, promotion_id: str) -> str:
    return f"{PROMOTION_PREFIX}{namespace_id}#{promotion_id}"


def key_pk(key_hash: str) -> str:
    return f"{API_KEY_PREFIX}{key_hash}"


def key_index_sk(key_id: str) -> str:
    return f"{API_KEY_PREFIX}{key_id}"


def bucket_prefix(namespace_id: str) -> str:
    """Buckets and collections sort under their namespace's `NS#` prefix, so every namespace
    query filters on `entity = namespace`."""
    return f"{NAMESPACE_PREFIX}{namespace_id}#BKT#"


def bucket_name_sk(namespace_id: str, bucket_name: str) -> str:
    return f"{NAMESPACE_PREFIX}{namespace_id}#BKTNAME#{bucket_name}"


def collection_prefix(namespace_id: str) -> str:
    return f"{NAMESPACE_PREFIX}{namespace_id}#COL#"


def route_pk(key_prefix: str) -> str:
    return f"{ROUTE_PREFIX}{key_prefix}"


def objects_pk(org_id: str, namespace_id: str) -> str:
    """Objects get a partition per namespace: listing an organization's namespaces or buckets
    must never page through millions of objects."""
    return f"{OBJECTS_PREFIX}{org_id}#{namespace_id}"


def object_sk(bucket_id: str, object_id: str) -> str:
    return f"{bucket_id}#{object_id}"


def task_pk(task_id: str) -> str:
    return f"{TASK_PREFIX}{task_id}"


def usage_pk(org_id: str, namespace_id: str) -> str:
    """Filter-usage counters: a partition per namespace, one item per hour (`yyyymmddhh`)."""
    return f"{USAGE_PREFIX}{org_id}#{namespace_id}"


def rate_counter_pk(org_id: str, category: str, window_start: int | str) -> str:
    """A rate-limit counter: a partition per (organization, category, minute), so no counter
    is ever a hot partition for longer than its minute. The category and the window hold no
    `#`, so the key splits back unambiguously from the right whatever the organization id."""
    return f"{RATE_PREFIX}{org_id}#{category}#{window_start}"


def retriever_prefix(namespace_id: str) -> str:
    """Retrievers sort under their namespace's `NS#` prefix, as buckets and collections do."""
    return f"{NAMESPACE_PREFIX}{namespace_id}#RET#"


def retriever_name_sk(namespace_id: str, retriever_name: str) -> str:
    return f"{NAMESPACE_PREFIX}{namespace_id}#RETNAME#{retriever_name}"
