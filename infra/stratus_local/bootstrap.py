"""Create the AWS resources of `template.yaml` in an emulator (moto server, DynamoDB Local, or
moto's in-process mock), so local runs and tests use exactly the deployed table shapes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stratus_local.template import load_template, resources_of_type

logger = logging.getLogger(__name__)

# Logical resource id in template.yaml → the name the local stack gives it.
LOCAL_TABLE_NAMES = {"MetadataTable": "stratus"}

# service name ("dynamodb", "s3", "sqs") → a boto3 client for the emulator.
ClientFactory = Callable[[str], Any]
# Creates every template resource of one type; returns logical id → local name.
ResourceCreator = Callable[[ClientFactory, dict[str, str]], dict[str, str]]


def table_definition(logical_id: str = "MetadataTable") -> dict[str, Any]:
    """The `create_table` arguments for one AWS::DynamoDB::Table of the template."""
    tables = resources_of_type(load_template(), "AWS::DynamoDB::Table")
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


def create_tables(dynamodb_client: Any, names: dict[str, str] | None = None) -> dict[str, str]:
    """Create every table of the template (idempotent). Returns logical id → table name."""
    names = names or LOCAL_TABLE_NAMES
    existing = set(dynamodb_client.list_tables().get("TableNames", []))
    tables = resources_of_type(load_template(), "AWS::DynamoDB::Table")
    created: dict[str, str] = {}
    for logical_id, resource in tables.items():
        table_name = names.get(logical_id, logical_id)
        created[logical_id] = table_name
        if table_name in existing:
            continue
        dynamodb_client.create_table(TableName=table_name, **table_definition(logical_id))
        dynamodb_client.get_waiter("table_exists").wait(TableName=table_name)
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb_client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    return created


def _create_tables(client_for: ClientFactory, names: dict[str, str]) -> dict[str, str]:
    return create_tables(client_for("dynamodb"), {**LOCAL_TABLE_NAMES, **names})


# One creator per CloudFormation type, run in this order: later types may refer to earlier ones
# (an S3 bucket's notification needs its SQS queue to exist). To emulate a new resource type,
# write `create_<things>(client_for, names)` next to `_create_tables` and add it here, e.g.
#   ("AWS::SQS::Queue", create_queues),     # the queue (and its DLQ, via RedrivePolicy)
#   ("AWS::S3::Bucket", create_buckets),    # the bucket + its NotificationConfiguration → queue
RESOURCE_CREATORS: list[tuple[str, ResourceCreator]] = [
    ("AWS::DynamoDB::Table", _create_tables),
]

# Types that exist only in the cloud (the API Gateway, the Lambdas and their plumbing): locally
# uvicorn serves the API and a worker plays the functions, so these are skipped without a word.
CLOUD_ONLY_TYPES = frozenset(
    {
        "AWS::Serverless::Function",
        "AWS::Serverless::HttpApi",
        "AWS::Serverless::Api",
        "AWS::Serverless::LayerVersion",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventSourceMapping",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::Scheduler::Schedule",
    }
)


def unemulated_resources(template: dict[str, Any] | None = None) -> dict[str, str]:
    """Template resources the local stack neither creates nor deliberately skips (logical id →
    type): each one is a gap between the local stack and a deployment."""
    template = template if template is not None else load_template()
    emulated = {resource_type for resource_type, _ in RESOURCE_CREATORS}
    return {
        logical_id: resource["Type"]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") not in emulated and resource.get("Type") not in CLOUD_ONLY_TYPES
    }


def create_resources(client_for: ClientFactory, names: dict[str, str] | None = None) -> dict[str, str]:
    """Create every emulated resource of the template (idempotent), in dependency order.
    Returns logical id → local name. Warns about resources nothing creates locally."""
    names = names or {}
    created: dict[str, str] = {}
    for _resource_type, create in RESOURCE_CREATORS:
        created.update(create(client_for, names))
    for logical_id, resource_type in unemulated_resources().items():
        logger.warning(
            "template resource %s (%s) is not created by the local stack; add a creator to "
            "RESOURCE_CREATORS in infra/stratus_local/bootstrap.py",
            logical_id,
            resource_type,
        )
    return created
