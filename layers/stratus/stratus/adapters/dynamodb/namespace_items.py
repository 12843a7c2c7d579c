"""The items of a namespace (its record, its name guard, the promotion audit) and the conflicts
its conditional writes end in."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from stratus.adapters.dynamodb.codec import deserialize
from stratus.adapters.dynamodb.schema import KEY_ATTRIBUTES, name_guard_sk, namespace_sk, org_pk, promotion_sk
from stratus.errors import ConflictError
from stratus.models.namespaces import Namespace
from stratus.ports import PromotionRecord


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
