"""The template's DynamoDB tables created in the emulator (with their TTL)."""

from __future__ import annotations

from typing import Any

from stratus_local.bootstrap.intrinsics import ClientFactory
from stratus_local.template import load_template, resources_of_type

# Logical resource id in template.yaml → the name the local stack gives it.
LOCAL_TABLE_NAMES = {"MetadataTable": "stratus", "IdempotencyTable": "stratus-idempotency"}


def table_definition(
    logical_id: str = "MetadataTable", template: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `create_table` arguments for one AWS::DynamoDB::Table of the template."""
    tables = resources_of_type(template or load_template(), "AWS::DynamoDB::Table")
    properties = tables[logical_id]["Properties"]
    definition: dict[str, Any] = {
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in properties:
            definition[key] = properties[key]
    return definition


def create_tables(
    dynamodb_client: Any, names: dict[str, str] | None = None, template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create every table of the template (idempotent). Returns logical id → table name; tables
    `names` does not mention get their LOCAL_TABLE_NAMES name."""
    names = {**LOCAL_TABLE_NAMES, **(names or {})}
    template = template or load_template()
    existing = set(dynamodb_client.list_tables().get("TableNames", []))
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    created: dict[str, str] = {}
    for logical_id, resource in tables.items():
        table_name = names.get(logical_id, logical_id)
        created[logical_id] = table_name
        if table_name in existing:
            continue
        dynamodb_client.create_table(TableName=table_name, **table_definition(logical_id, template))
        dynamodb_client.get_waiter("table_exists").wait(TableName=table_name)
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb_client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    return created


def create_table_resources(
    client_for: ClientFactory, names: dict[str, str], template: dict[str, Any]
) -> dict[str, str]:
    return create_tables(client_for("dynamodb"), names, template)
