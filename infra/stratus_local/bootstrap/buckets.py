"""The template's S3 buckets created and configured in the emulator: encryption, CORS and the
notifications to the ingest queue."""

from __future__ import annotations

from typing import Any

from stratus_local.bootstrap.intrinsics import ClientFactory, Intrinsics, LocalTemplateError
from stratus_local.template import load_template, resources_of_type

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
