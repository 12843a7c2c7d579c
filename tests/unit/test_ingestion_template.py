"""template.yaml's managed-ingestion wiring: the data bucket → S3 notification → ingest queue (and
its DLQ) → extractor, and who may touch the bucket. These are the numbers and names that must
agree across resources for the pipeline to work once deployed, which `sam validate` cannot see:
it checks each resource alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stratus.settings import Settings
from stratus_local.template import load_template, resources_of_type

# The real data bucket name; every place that needs it before the bucket exists uses this !Sub.
BUCKET_NAME_SUB = "${DataBucketName}-${Stage}-${AWS::AccountId}-${AWS::Region}"
# S3 actions each function may use on the data bucket; every other function gets none.
EXPECTED_S3_ACTIONS = {
    "ExtractorFunction": {"s3:GetObject", "s3:ListBucket"},
    # Write manifests; read a confirmed upload's staged file named by a blob's upload_id.
    "CreateObjectFunction": {"s3:PutObject", "s3:GetObject"},
    "CreateObjectsBatchFunction": {"s3:PutObject", "s3:GetObject"},
    "CreateUploadFunction": {"s3:PutObject"},
    "ConfirmUploadFunction": {"s3:GetObject"},
    "DeleteObjectFunction": {"s3:DeleteObject"},
    "DeleteBucketFunction": {"s3:ListBucket", "s3:DeleteObject"},
    "DeleteNamespaceFunction": {"s3:ListBucket", "s3:DeleteObject"},
    # A model migration whose source is the stored object: the backfill reads the objects again,
    # and a write to the migrating index embeds its document's object for the shadow copy.
    "BackfillFunction": {"s3:GetObject", "s3:ListBucket"},
    "UpsertDocumentsFunction": {"s3:GetObject", "s3:ListBucket"},
}
# Object actions apply to the bucket's objects, ListBucket to the bucket itself.
OBJECTS_ARN = {"Fn::Sub": "${DataBucket.Arn}/*"}
BUCKET_ARN = {"Fn::GetAtt": ["DataBucket", "Arn"]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources


def _statements(policies: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


# ---------------------------------------------------------------------------------------------
# The bucket's name


def test_the_bucket_name_is_one_sub_everywhere(template: dict[str, Any], resources: dict[str, Any]) -> None:
    assert resources["DataBucket"]["Properties"]["BucketName"] == {"Fn::Sub": BUCKET_NAME_SUB}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["STRATUS_DATA_BUCKET"] == {"Fn::Sub": BUCKET_NAME_SUB}
    (statement,) = resources["IngestQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    source_arn = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert source_arn == {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + BUCKET_NAME_SUB}
    # No function overrides the global name with another one.
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        own = (function["Properties"].get("Environment") or {}).get("Variables", {})
        assert "STRATUS_DATA_BUCKET" not in own, f"{name} sets its own STRATUS_DATA_BUCKET"


def test_the_longest_bucket_name_fits_s3s_limit(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    prefix = re.compile(parameters["DataBucketName"]["AllowedPattern"])
    stage = re.compile(parameters["Stage"]["AllowedPattern"])
    longest_prefix = max(n for n in range(1, 70) if prefix.fullmatch("a" * n))
    longest_stage = max(n for n in range(1, 70) if stage.fullmatch("a" * n))
    longest_region = len("ap-southeast-5") + 1  # today's longest region name, and one to spare
    assert longest_prefix + 1 + longest_stage + 1 + 12 + 1 + longest_region <= 63
    assert prefix.fullmatch(parameters["DataBucketName"]["Default"])
    # Dots would break the TLS certificate of virtual-hosted presigned URLs.
    assert not prefix.fullmatch("stratus.data")


# ---------------------------------------------------------------------------------------------
# Bucket → queue → function


def test_the_bucket_notifies_the_ingest_queue_of_every_new_object(resources: dict[str, Any]) -> None:
    bucket = resources["DataBucket"]
    queue_arn = {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "QueueConfigurations": [{"Event": "s3:ObjectCreated:*", "Queue": queue_arn}]
    }
    # S3 checks that it may send when the notification is set, so the policy comes first.
    assert bucket["DependsOn"] == "IngestQueuePolicy"


def test_the_bucket_keeps_user_data_private_and_encrypted(resources: dict[str, Any]) -> None:
    bucket = resources["DataBucket"]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # SSE-S3: the ETag of a single-part PUT stays the MD5 of the body, which the API answers.
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    (cors,) = properties["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["PUT"]
    (lifecycle,) = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_only_this_bucket_may_send_to_the_ingest_queue(resources: dict[str, Any]) -> None:
    policy = resources["IngestQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "IngestQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert _actions(statement) == ["sqs:SendMessage"]
    assert statement["Resource"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_extractor_consumes_the_queue_with_partial_batch_failures(resources: dict[str, Any]) -> None:
    extractor = resources["ExtractorFunction"]["Properties"]
    (event,) = extractor["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"] == {
        "Queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]},
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 2,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "ExtractorConcurrency"}},
    }


def test_the_queue_hides_a_batch_six_times_the_extractor_timeout(resources: dict[str, Any]) -> None:
    timeout = resources["ExtractorFunction"]["Properties"]["Timeout"]
    assert resources["IngestQueue"]["Properties"]["VisibilityTimeout"] == 6 * timeout


def test_max_receives_is_defined_once_for_the_queue_and_the_extractor(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    redrive = resources["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "IngestMaxReceives"},
    }
    variables = resources["ExtractorFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["STRATUS_INGEST_MAX_RECEIVES"] == {"Ref": "IngestMaxReceives"}
    # A run without the variable (tests, tools) uses the same number.
    default = template["Parameters"]["IngestMaxReceives"]["Default"]
    assert Settings.model_fields["ingest_max_receives"].default == default


def test_queues_are_encrypted_and_the_dlq_outlives_the_queue(resources: dict[str, Any]) -> None:
    queue = resources["IngestQueue"]["Properties"]
    dlq = resources["IngestDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 4 * 24 * 3600
    # A moved message keeps its first enqueue time: the DLQ must retain it longer.
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


# ---------------------------------------------------------------------------------------------
# Who may touch the bucket


def test_s3_access_is_exactly_what_each_function_needs(template: dict[str, Any]) -> None:
    problems = []
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        granted: set[str] = set()
        for statement in _statements(function["Properties"].get("Policies", []) or []):
            for action in _actions(statement):
                if not action.startswith("s3:"):
                    continue
                granted.add(action)
                expected_resource = BUCKET_ARN if action == "s3:ListBucket" else OBJECTS_ARN
                if statement["Resource"] != expected_resource:
                    problems.append(f"{name}: {action} on {statement['Resource']}, not {expected_resource}")
        expected = EXPECTED_S3_ACTIONS.get(name, set())
        if granted != expected:
            problems.append(f"{name}: S3 actions {sorted(granted)}, expected {sorted(expected)}")
    assert not problems, "\n".join(problems)
