"""What template.yaml bounds for everyone: the HTTP API stage's throttle, the extractor's share of
the account's concurrency, and TLS for every request to the data bucket. Each number is a
template parameter, so an operator tunes it without editing the template."""

from __future__ import annotations

from typing import Any

import pytest

from stratus_local.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]


def _number_parameter(name: str) -> int:
    parameter = PARAMETERS[name]
    assert parameter["Type"] == "Number", parameter
    default = int(parameter["Default"])
    assert int(parameter.get("MinValue", 1)) <= default <= int(parameter.get("MaxValue", default))
    return default


def test_the_http_api_stage_throttles_every_route_by_parameters() -> None:
    (api,) = [r for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::HttpApi"]
    settings = api["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    rate, burst = _number_parameter("ApiThrottlingRateLimit"), _number_parameter("ApiThrottlingBurstLimit")
    # Below the account's own stage limits (10,000 rps, 5,000 burst), and a burst at least the rate.
    assert 0 < rate < 10_000 and rate <= burst <= 5_000


def test_the_extractor_has_reserved_concurrency_and_its_poller_stays_within_it() -> None:
    properties = RESOURCES["ExtractorFunction"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == {"Ref": "ExtractorConcurrency"}
    (event,) = [e for e in properties["Events"].values() if e["Type"] == "SQS"]
    # A poller allowed more than the reservation gets throttled; throttled messages count receives
    # toward the dead-letter queue, so the two are one number.
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "ExtractorConcurrency"}}
    assert _number_parameter("ExtractorConcurrency") >= 2  # SQS's smallest MaximumConcurrency


@pytest.mark.parametrize(
    "resource", [{"Fn::GetAtt": ["DataBucket", "Arn"]}, {"Fn::Sub": "${DataBucket.Arn}/*"}]
)
def test_the_data_bucket_denies_every_request_without_tls(resource: dict[str, Any]) -> None:
    policies = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    ]
    denials = [
        statement
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement["Principal"] == "*"
        and statement["Action"] in ("s3:*", ["s3:*"])
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert any(resource in denial["Resource"] for denial in denials), policies
