"""Create the AWS resources of `template.yaml` in an emulator (moto server, DynamoDB Local, or
moto's in-process mock), so local runs and tests use exactly the deployed shapes: the tables,
the ingest queue and its dead-letter queue, and the data bucket with its S3 → SQS notification."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from stratus_local.template import load_template, resources_of_type

logger = logging.getLogger(__name__)

# Logical resource id in template.yaml → the name the local stack gives it.
LOCAL_TABLE_NAMES = {"MetadataTable": "stratus", "IdempotencyTable": "stratus-idempotency"}
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

# service name ("dynamodb", "s3", "sqs") → a boto3 client for the emulator.
ClientFactory = Callable[[str], Any]
# Creates every resource of one type of the template (given as data, parsed once); returns
# logical id → local name.
ResourceCreator = Callable[[ClientFactory, dict[str, str], dict[str, Any]], dict[str, str]]


class LocalTemplateError(Exception):
    """The template uses something the local stack cannot reproduce; the message says what."""


# ---------------------------------------------------------------------------------------------
# Intrinsic functions


class Intrinsics:
    """Resolves the intrinsic functions of emulated properties against the emulator: `!Ref` of a
    parameter is its default, `!Ref` of a resource its local name, `!GetAtt X.Arn` the ARN the
    emulator gave X. Anything else is refused rather than guessed."""

    def __init__(self, client_for: ClientFactory, names: dict[str, str], template: dict[str, Any]) -> None:
        self._client_for = client_for
        self._names = names
        self._template = template

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Fn::GetAtt":
                return self._get_att(str(argument[0]), str(argument[1]))
            if key.startswith("Fn::"):
                raise LocalTemplateError(f"{key} is not supported in properties the local stack applies")
        if isinstance(value, dict):
            return {key: self.resolve(child) for key, child in value.items()}
        if isinstance(value, list):
            return [self.resolve(child) for child in value]
        return value

    def local_name(self, logical_id: str) -> str:
        return self._names.get(logical_id, logical_id)

    def _ref(self, name: str) -> Any:
        parameters = self._template.get("Parameters", {})
        if name in parameters:
            if "Default" not in parameters[name]:
                raise LocalTemplateError(f"parameter {name} has no Default for the local stack to use")
            return parameters[name]["Default"]
        if name in self._template.get("Resources", {}):
            return self.local_name(name)
        raise LocalTemplateError(f"!Ref {name}: neither a parameter nor a resource")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self._template.get("Resources", {}).get(logical_id, {}).get("Type")
        if attribute != "Arn":
            raise LocalTemplateError(f"!GetAtt {logical_id}.{attribute}: only Arn is supported locally")
        name = self.local_name(logical_id)
        if resource_type == "AWS::SQS::Queue":
            return queue_arn(self._client_for("sqs"), name)
        if resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if resource_type == "AWS::DynamoDB::Table":
            return str(self._client_for("dynamodb").describe_table(TableName=name)["Table"]["TableArn"])
        raise LocalTemplateError(f"!GetAtt {logical_id}.Arn: {resource_type} is not emulated")


def references(value: Any) -> Iterator[str]:
    """The logical ids a property value points at with !Ref or !GetAtt."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "Ref":
                yield str(child)
            elif key == "Fn::GetAtt":
                yield str(child[0])
            else:
                yield from references(child)
    elif isinstance(value, list):
        for child in value:
            yield from references(child)


def dependency_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """The logical ids of `resources`, each after the ones among them it refers to (a DLQ before
    the queue whose RedrivePolicy names it)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered:
            return
        if logical_id in visiting:
            raise LocalTemplateError(f"{logical_id} refers to itself through its properties")
        visiting.add(logical_id)
        for target in references(resources[logical_id].get("Properties", {})):
            if target in resources:
                visit(target)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


# ---------------------------------------------------------------------------------------------
# DynamoDB tables


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


def _create_tables(
    client_for: ClientFactory, names: dict[str, str], template: dict[str, Any]
) -> dict[str, str]:
    return create_tables(client_for("dynamodb"), names, template)


# ---------------------------------------------------------------------------------------------
# SQS queues

# AWS::SQS::Queue properties that are queue attributes of the same name.
QUEUE_ATTRIBUTE_PROPERTIES = frozenset(
    {
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "DelaySeconds",
        "FifoQueue",
        "FifoThroughputLimit",
        "KmsDataKeyReusePeriodSeconds",
        "KmsMasterKeyId",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "RedriveAllowPolicy",
        "RedrivePolicy",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    }
)
# The deployed name (the local one comes from LOCAL_NAMES) and tags change nothing locally.
QUEUE_PROPERTIES_NOT_APPLIED = frozenset({"QueueName", "Tags"})


def queue_arn(sqs_client: Any, queue_name: str) -> str:
    url = sqs_client.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _attribute_text(value: Any) -> str:
    """SQS attributes are strings; policies (RedrivePolicy) are JSON documents."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def queue_attributes(properties: dict[str, Any], intrinsics: Intrinsics) -> dict[str, str]:
    """The `create_queue` Attributes of a queue's template properties (references resolved)."""
    unknown = set(properties) - QUEUE_ATTRIBUTE_PROPERTIES - QUEUE_PROPERTIES_NOT_APPLIED
    if unknown:
        raise LocalTemplateError(f"AWS::SQS::Queue properties unknown to the local stack: {sorted(unknown)}")
    return {
        key: _attribute_text(intrinsics.resolve(value))
        for key, value in properties.items()
        if key in QUEUE_ATTRIBUTE_PROPERTIES
    }


def _queue_exists(sqs_client: Any, queue_name: str) -> bool:
    return any(
        url.rstrip("/").rsplit("/", 1)[-1] == queue_name
        for url in sqs_client.list_queues(QueueNamePrefix=queue_name).get("QueueUrls", [])
    )


def create_queues(
    client_for: ClientFactory, names: dict[str, str], template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create every queue of the template (idempotent), dead-letter queues before the queues
    whose RedrivePolicy names them. Returns logical id → queue name."""
    template = template or load_template()
    sqs = client_for("sqs")
    intrinsics = Intrinsics(client_for, names, template)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    created: dict[str, str] = {}
    for logical_id in dependency_order(queues):
        name = intrinsics.local_name(logical_id)
        created[logical_id] = name
        if _queue_exists(sqs, name):
            continue
        attributes = queue_attributes(queues[logical_id].get("Properties", {}), intrinsics)
        sqs.create_queue(QueueName=name, Attributes=attributes)
    return created


# ---------------------------------------------------------------------------------------------
# S3 buckets

# Applied locally: what changes how the emulator answers (object encryption headers, browser
# preflights of presigned PUTs, the notifications the extractor lives on).
# Not applied: moto stores public access blocks, ownership controls, lifecycle rules and tags
# but never acts on them, and the deployed name is replaced by the local one.
BUCKET_PROPERTIES_APPLIED = frozenset({"BucketEncryption", "CorsConfiguration", "NotificationConfiguration"})
BUCKET_PROPERTIES_NOT_APPLIED = frozenset(
    {"BucketName", "LifecycleConfiguration", "OwnershipControls", "PublicAccessBlockConfiguration", "Tags"}
)


def bucket_encryption(properties: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's BucketEncryption as PutBucketEncryption's configuration."""
    rules = []
    for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]:
        default = rule.get("ServerSideEncryptionByDefault", {})
        applied: dict[str, Any] = {"SSEAlgorithm": default["SSEAlgorithm"]}
        if "KMSMasterKeyID" in default:
            applied["KMSMasterKeyID"] = default["KMSMasterKeyID"]
        converted: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": applied}
        if "BucketKeyEnabled" in rule:
            converted["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
        rules.append(converted)
    return {"Rules": rules}


# CloudFormation's CorsRule keys → PutBucketCors' (mostly the same; three are not).
_CORS_KEYS = {
    "AllowedHeaders": "AllowedHeaders",
    "AllowedMethods": "AllowedMethods",
    "AllowedOrigins": "AllowedOrigins",
    "ExposedHeaders": "ExposeHeaders",
    "Id": "ID",
    "MaxAge": "MaxAgeSeconds",
}


def cors_configuration(properties: dict[str, Any]) -> dict[str, Any]:
    rules = properties["CorsConfiguration"]["CorsRules"]
    return {"CORSRules": [{_CORS_KEYS[key]: value for key, value in rule.items()} for rule in rules]}


def notification_configuration(properties: dict[str, Any], intrinsics: Intrinsics) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration as PutBucketNotificationConfiguration's, with
    each queue's ARN resolved to the emulator's queue. Only queue destinations are emulated."""
    notification = properties["NotificationConfiguration"]
    unsupported = set(notification) - {"QueueConfigurations"}
    if unsupported:
        raise LocalTemplateError(f"bucket notifications the local stack cannot send: {sorted(unsupported)}")
    configurations = []
    for entry in notification["QueueConfigurations"]:
        configuration: dict[str, Any] = {
            "QueueArn": intrinsics.resolve(entry["Queue"]),
            "Events": [entry["Event"]],
        }
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            configuration["Filter"] = {
                "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
            }
        configurations.append(configuration)
    return {"QueueConfigurations": configurations}


def _create_bucket(s3_client: Any, name: str) -> None:
    region = s3_client.meta.region_name
    if region == "us-east-1":  # the one region that refuses a LocationConstraint
        s3_client.create_bucket(Bucket=name)
    else:
        s3_client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def configure_bucket(s3_client: Any, name: str, properties: dict[str, Any], intrinsics: Intrinsics) -> None:
    unknown = set(properties) - BUCKET_PROPERTIES_APPLIED - BUCKET_PROPERTIES_NOT_APPLIED
    if unknown:
        raise LocalTemplateError(f"AWS::S3::Bucket properties unknown to the local stack: {sorted(unknown)}")
    if "BucketEncryption" in properties:
        s3_client.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration=bucket_encryption(properties)
        )
    if "CorsConfiguration" in properties:
        s3_client.put_bucket_cors(Bucket=name, CORSConfiguration=cors_configuration(properties))
    if "NotificationConfiguration" in properties:
        # Like S3, moto then sends an `s3:TestEvent` message to each queue.
        s3_client.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=notification_configuration(properties, intrinsics)
        )


def create_buckets(
    client_for: ClientFactory, names: dict[str, str], template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create and configure every bucket of the template (idempotent: an existing bucket is left
    as it is, so a second run sends no second s3:TestEvent). Returns logical id → bucket name."""
    template = template or load_template()
    s3 = client_for("s3")
    intrinsics = Intrinsics(client_for, names, template)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    created: dict[str, str] = {}
    for logical_id, resource in resources_of_type(template, "AWS::S3::Bucket").items():
        name = names.get(logical_id, logical_id.lower())  # S3 names are lowercase
        created[logical_id] = name
        if name in existing:
            continue
        _create_bucket(s3, name)
        configure_bucket(s3, name, resource.get("Properties", {}), intrinsics)
    return created


# ---------------------------------------------------------------------------------------------
# The whole template

# One creator per CloudFormation type, run in this order: later types may refer to earlier ones
# (a bucket's notification names its queue). To emulate a new resource type, write
# `create_<things>(client_for, names, template)` and add it here.
RESOURCE_CREATORS: list[tuple[str, ResourceCreator]] = [
    ("AWS::DynamoDB::Table", _create_tables),
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
            "RESOURCE_CREATORS in infra/stratus_local/bootstrap.py",
            logical_id,
            resource_type,
        )
    return created
