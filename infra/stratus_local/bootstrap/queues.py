"""The template's SQS queues created in the emulator, dead-letter queues first, with their
attributes (redrive policies resolved to the emulator's queues)."""

from __future__ import annotations

import json
from typing import Any

from stratus_local.bootstrap.intrinsics import (
    ClientFactory,
    Intrinsics,
    LocalTemplateError,
    dependency_order,
)
from stratus_local.template import load_template, resources_of_type

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
