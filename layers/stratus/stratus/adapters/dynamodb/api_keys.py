"""API keys (`ApiKeyRepository`): one item by hash (what authentication reads) and one in the
organization's partition (what listing reads), always written and revoked together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import deserialize
from stratus.adapters.dynamodb.faults import (
    maps_dependency_faults,
)
from stratus.adapters.dynamodb.schema import API_KEY_PREFIX, API_KEY_SK, key, key_index_sk, key_pk, org_pk
from stratus.errors import AlreadyExistsError
from stratus.ports import ApiKey, Permission


def api_key_items(api_key: ApiKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """(lookup-by-hash item, org index item). Permissions are a list: string sets cannot be empty
    and lists read back the same on every emulator."""
    shared = {
        "name": api_key.name,
        "permissions": list(api_key.permissions),
        "created_at": api_key.created_at,
        "revoked": api_key.revoked,
    }
    by_hash = {
        "PK": key_pk(api_key.key_hash),
        "SK": API_KEY_SK,
        "entity": "api_key",
        "org_id": api_key.org_id,
        "key_id": api_key.key_id,
        **shared,
    }
    org_index = {
        "PK": org_pk(api_key.org_id),
        "SK": key_index_sk(api_key.key_id),
        "entity": "api_key_index",
        "key_hash": api_key.key_hash,
        **shared,
    }
    return by_hash, org_index


def _permissions(value: Any) -> list[Permission]:
    allowed: tuple[Permission, ...] = ("read", "write", "admin")
    return [permission for permission in allowed if permission in set(value or [])]


def _api_key(plain: Mapping[str, Any], key_id: str, key_hash: str, org_id: str) -> ApiKey:
    return ApiKey(
        key_id=key_id,
        key_hash=key_hash,
        org_id=org_id,
        name=str(plain.get("name", "")),
        permissions=_permissions(plain.get("permissions")),
        created_at=str(plain.get("created_at", "")),
        revoked=bool(plain.get("revoked", False)),
    )


def api_key_from_hash_item(item: Mapping[str, Any]) -> ApiKey:
    plain = deserialize(item)
    key_hash = str(plain["PK"]).removeprefix(API_KEY_PREFIX)
    return _api_key(plain, str(plain["key_id"]), key_hash, str(plain["org_id"]))


def api_key_from_index_item(org_id: str, item: Mapping[str, Any]) -> ApiKey:
    plain = deserialize(item)
    return _api_key(plain, str(plain["SK"]).removeprefix(API_KEY_PREFIX), str(plain["key_hash"]), org_id)


class DynamoDBApiKeys(DynamoDBTable):
    @maps_dependency_faults
    def put_api_key(self, key: ApiKey) -> None:
        if self._put_all_new(api_key_items(key)):
            # Only reachable on a hash or key-id collision (2^-190 / 36^-16): never expected.
            raise AlreadyExistsError(
                f"api key '{key.key_id}' already exists", {"resource": "api_key", "id": key.key_id}
            )

    @maps_dependency_faults
    def get_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._get(key_pk(key_hash), API_KEY_SK, "api_key")
        return api_key_from_hash_item(item) if item else None

    @maps_dependency_faults
    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        index_item = self._get(org_pk(org_id), key_index_sk(key_id), "api_key_index")
        if index_item is None:
            return False
        key_hash = deserialize(index_item)["key_hash"]
        revoke = {
            "TableName": self.table_name,
            "UpdateExpression": "SET revoked = :true",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":true": {"BOOL": True}},
        }
        cancelled = self._cancelled(
            [
                {"Update": {"Key": key(key_pk(key_hash), API_KEY_SK), **revoke}},
                {"Update": {"Key": key(org_pk(org_id), key_index_sk(key_id)), **revoke}},
            ]
        )
        return cancelled is None  # cancelled: deleted between the read and the write

    @maps_dependency_faults
    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        items = self._query_all(**self._org_prefix_query(org_id, API_KEY_PREFIX))
        return [api_key_from_index_item(org_id, item) for item in items]
