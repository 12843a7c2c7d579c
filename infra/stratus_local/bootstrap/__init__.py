"""Create the AWS resources of `template.yaml` in an emulator (moto server, DynamoDB Local, or
moto's in-process mock), so local runs and tests use exactly the deployed shapes: the tables,
the ingest queue and its dead-letter queue, and the data bucket with its S3 → SQS notification.

One module per resource type (`tables`, `queues`, `buckets`), the template's intrinsic functions
resolved in `intrinsics`; this module runs them over the whole template."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stratus_local.bootstrap.buckets import create_buckets
from stratus_local.bootstrap.intrinsics import ClientFactory
from stratus_local.bootstrap.queues import create_queues
from stratus_local.bootstrap.tables import LOCAL_TABLE_NAMES, create_table_resources
from stratus_local.template import load_template

logger = logging.getLogger(__name__)

# Logical resource id in template.yaml → the name the local stack gives it.
LOCAL_NAMES = {
    **LOCAL_TABLE_NAMES,
    "DataBucket": "stratus-data",
    "IngestQueue": "stratus-ingest",
    "IngestDeadLetterQueue": "stratus-ingest-dlq",
    "BackfillQueue": "stratus-backfill",
    "BackfillDeadLetterQueue": "stratus-backfill-dlq",
}
# moto's default account: what `AWS::AccountId` is in the emulator.
LOCAL_ACCOUNT_ID = "123456789012"

# Creates every resource of one type of the template (given as data, parsed once); returns
# logical id → local name.
ResourceCreator = Callable[[ClientFactory, dict[str, str], dict[str, Any]], dict[str, str]]

# One creator per CloudFormation type, run in this order: later types may refer to earlier ones
# (a bucket's notification names its queue). To emulate a new resource type, write
# `create_<things>(client_for, names, template)` in a module of this package and add it here.
RESOURCE_CREATORS: list[tuple[str, ResourceCreator]] = [
    ("AWS::DynamoDB::Table", create_table_resources),
    ("AWS::SQS::Queue", create_queues),
    ("AWS::S3::Bucket", create_buckets),
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
        "AWS::IAM::ManagedPolicy",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::Scheduler::Schedule",
    }
)
# Access policies on resources. moto enforces none of them (S3 hands notifications to SQS
# in-process), and the ingest queue's policy names the *deployed* bucket, not `stratus-data`, so
# applying it would only store a statement that is false locally. tests/unit checks them.
UNENFORCED_POLICY_TYPES = frozenset({"AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"})


def unemulated_resources(template: dict[str, Any] | None = None) -> dict[str, str]:
    """Template resources the local stack neither creates nor deliberately skips (logical id →
    type): each one is a gap between the local stack and a deployment."""
    template = template if template is not None else load_template()
    handled = {resource_type for resource_type, _ in RESOURCE_CREATORS} | CLOUD_ONLY_TYPES
    handled |= UNENFORCED_POLICY_TYPES
    return {
        logical_id: resource["Type"]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") not in handled
    }


def create_resources(client_for: ClientFactory, names: dict[str, str] | None = None) -> dict[str, str]:
    """Create every emulated resource of the template (idempotent), in dependency order; `names`
    overrides LOCAL_NAMES. Returns logical id → local name. Warns about resources nothing
    creates locally."""
    names = {**LOCAL_NAMES, **(names or {})}
    template = load_template()
    created: dict[str, str] = {}
    for _resource_type, create in RESOURCE_CREATORS:
        created.update(create(client_for, names, template))
    for logical_id, resource_type in unemulated_resources(template).items():
        logger.warning(
            "template resource %s (%s) is not created by the local stack; add a creator to "
            "RESOURCE_CREATORS in infra/stratus_local/bootstrap/__init__.py",
            logical_id,
            resource_type,
        )
    return created
