"""Filter usage (`UsageRepository`): hourly counters per namespace, for `auto_create_indexes`.

One item per namespace and hour (`PK USAGE#{org}#{namespace}`, `SK yyyymmddhh`): a partition of its
own, so the search function's UpdateItem grant is held to the `USAGE#` key space (template.yaml).
One counter attribute per field (`q_<b64 field>`) and per (field, value type)
(`t_<type>_<b64 field>`): field names are client data, so they are base64url-encoded into
attribute names that are always valid and never collide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import decode_name, deserialize, encode_name
from stratus.adapters.dynamodb.faults import maps_dependency_faults
from stratus.adapters.dynamodb.schema import is_entity, key, usage_pk
from stratus.ports import FieldUsage

_QUERIES_ATTRIBUTE = "q_"
_TYPE_ATTRIBUTE = "t_"


def usage_attributes(usage: Mapping[str, FieldUsage]) -> dict[str, int]:
    attributes: dict[str, int] = {}
    for field_name, field_usage in usage.items():
        encoded = encode_name(field_name)
        if field_usage.queries:
            attributes[f"{_QUERIES_ATTRIBUTE}{encoded}"] = field_usage.queries
        for value_type, count in field_usage.value_types.items():
            if count and value_type.isalpha():  # the separator below must stay unambiguous
                attributes[f"{_TYPE_ATTRIBUTE}{value_type}_{encoded}"] = count
    return attributes


def usage_from_attributes(plain: Mapping[str, Any]) -> dict[str, FieldUsage]:
    usage: dict[str, FieldUsage] = {}
    for attribute, value in plain.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if attribute.startswith(_QUERIES_ATTRIBUTE):
            field_name = decode_name(attribute.removeprefix(_QUERIES_ATTRIBUTE))
            if field_name is not None:
                usage.setdefault(field_name, FieldUsage()).queries += value
        elif attribute.startswith(_TYPE_ATTRIBUTE):
            value_type, _, encoded = attribute.removeprefix(_TYPE_ATTRIBUTE).partition("_")
            field_name = decode_name(encoded)
            if field_name is not None and value_type:
                types = usage.setdefault(field_name, FieldUsage()).value_types
                types[value_type] = types.get(value_type, 0) + value
    return usage


class DynamoDBFilterUsage(DynamoDBTable):
    @maps_dependency_faults
    def add_filter_usage(
        self,
        org_id: str,
        namespace_id: str,
        hour: str,
        usage: Mapping[str, FieldUsage],
        expires_at: int,
    ) -> None:
        """One UpdateItem with ADD: atomic under any concurrency, and the item is created on the
        first search of the hour. Field names are client data, so they never appear in the
        expression: each becomes an encoded attribute name behind a placeholder."""
        names: dict[str, str] = {
            "#entity": "entity",
            "#ns": "namespace_id",
            "#hour": "hour",
            "#exp": "expires_at",
        }
        values: dict[str, Any] = {
            ":entity": {"S": "filter_usage"},
            ":ns": {"S": namespace_id},
            ":hour": {"S": hour},
            ":exp": {"N": str(expires_at)},
        }
        additions: list[str] = []
        for attribute, count in usage_attributes(usage).items():
            position = len(additions)
            names[f"#a{position}"] = attribute
            values[f":a{position}"] = {"N": str(count)}
            additions.append(f"#a{position} :a{position}")
        if not additions:
            return
        self.client.update_item(
            TableName=self.table_name,
            Key=key(usage_pk(org_id, namespace_id), hour),
            UpdateExpression="SET #entity = :entity, #ns = :ns, #hour = :hour, #exp = :exp ADD "
            + ", ".join(additions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    @maps_dependency_faults
    def get_filter_usage(
        self, org_id: str, namespace_id: str, first_hour: str, last_hour: str
    ) -> dict[str, dict[str, FieldUsage]]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": {"S": usage_pk(org_id, namespace_id)},
                ":first": {"S": first_hour},
                ":last": {"S": last_hour},
            },
        )
        found: dict[str, dict[str, FieldUsage]] = {}
        for item in items:
            if not is_entity(item, "filter_usage"):
                continue
            plain = deserialize(item)
            found[str(plain.get("hour", ""))] = usage_from_attributes(plain)
        return found
