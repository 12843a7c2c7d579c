"""DynamoDB throttling and conflicts during promotion, over HTTP (TestClient), moto DynamoDB.

Promotion is one `TransactWriteItems` (the managed namespace at version+1 conditioned on the
validated standalone version, plus the audit record). Faults are answered on the wire of the
app's DynamoDB client (`DynamoFaults`), so the client's standard-mode retries run as deployed:

- throttling the SDK retries (ThrottlingException, ProvisionedThroughputExceededException) for
  fewer attempts than it makes is absorbed: a plain 200;
- on every attempt, or a cancellation the SDK does not retry (`TransactionConflict` as a
  cancellation reason, what DynamoDB answers when another transaction holds the item), it is a
  503 `ServiceUnavailableError` with Retry-After and nothing written; the client's retry promotes;
- a commit whose answer is lost on every attempt (the adapter sees the read timeout; moto does
  not honour the idempotency token, so this is moto's version of "all answers lost", see
  test_promotion_lost_answer.py for DynamoDB's own) is a 503 although the promotion happened: the
  client's retry is answered 409 "already managed", and the state is the one promotion.

In every case: one audit record, the version bumped once."""

from __future__ import annotations

import boto3
import pytest

from tests.faults.api import Api
from tests.faults.promotion_checks import (
    PROMOTE,
    assert_already_managed,
    assert_promoted_once,
    assert_untouched,
    create_standalone,
    promote,
)
from tests.faults.upsert_checks import assert_retryable_503

SDK_RETRIED = ["ThrottlingException", "ProvisionedThroughputExceededException"]


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException"])
def test_throttling_for_fewer_attempts_than_the_sdk_makes_is_absorbed(lancedb_api: Api, code: str) -> None:
    api = lancedb_api
    before = create_standalone(api, "catalog")
    faults = api.faults()
    faults.throttle(PROMOTE, times=2, code=code)

    response = promote(api, "catalog")

    assert response.status_code == 200, response.text
    assert response.json()["previous_mode"] == "standalone" and response.json()["mode"] == "managed"
    assert faults.injected[PROMOTE] == 2 and faults.attempts[PROMOTE] == 3
    assert_promoted_once(api, before)


@pytest.mark.parametrize(
    "fault",
    [*SDK_RETRIED, "InternalServerError", "TransactionConflict"],
)
def test_throttling_beyond_the_sdk_retries_is_a_503_and_the_clients_retry_promotes_once(
    lancedb_api: Api, fault: str
) -> None:
    api = lancedb_api
    before = create_standalone(api, "catalog")
    faults = api.faults()
    if fault == "TransactionConflict":
        faults.cancel(PROMOTE, ["TransactionConflict", "None"])
    elif fault == "InternalServerError":
        faults.throttle(PROMOTE, times=float("inf"), code=fault, status=500)
    else:
        faults.throttle(PROMOTE, times=float("inf"), code=fault)

    response = promote(api, "catalog")

    body = assert_retryable_503(response, "ServiceUnavailableError")
    assert body["error"]["details"]["dependency"] == "dynamodb"
    if fault == "TransactionConflict":
        assert faults.attempts[PROMOTE] == 1, "a cancelled transaction is not retried by the SDK"
    else:
        assert faults.attempts[PROMOTE] > 1, "the SDK retried before giving up"
    assert faults.injected[PROMOTE] == faults.attempts[PROMOTE]
    assert_untouched(api, before)

    faults.clear()
    retried = promote(api, "catalog")

    assert retried.status_code == 200, retried.text
    assert retried.json()["previous_mode"] == "standalone"
    assert_promoted_once(api, before)


def test_a_commit_whose_answers_are_all_lost_is_a_503_then_409_already_managed_with_one_promotion(
    lancedb_api: Api,
) -> None:
    api = lancedb_api
    before = create_standalone(api, "catalog")
    faults = api.faults(sender=boto3.client("dynamodb", region_name="us-east-1"))
    faults.lose_answers(PROMOTE, times=float("inf"))

    response = promote(api, "catalog")

    assert_retryable_503(response, "ServiceUnavailableError")
    statuses = [status for _, status in faults.delivered]
    # The first attempt committed; moto refuses the SDK's resends by the version condition.
    assert statuses[0] == 200 and statuses[1:] == [400] * (len(statuses) - 1), statuses
    assert_promoted_once(api, before)

    faults.clear()
    retried = promote(api, "catalog")

    assert_already_managed(retried, "catalog")
    assert_promoted_once(api, before)
