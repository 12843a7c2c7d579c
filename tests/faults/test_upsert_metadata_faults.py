"""A direct upsert that dies between its vector writes and its metadata write (the schema-on-write
save of the namespace record), over HTTP with moto DynamoDB and real LanceDB.

The vectors are in the store, the namespace does not know the new index yet (so nothing reads
them); the client's retry of the same request must converge: the index registered once (version
+1 once), every document once. The save is one `TransactWriteItems`; DynamoDB fails on the wire
(`DynamoFaults`), under the client's own retries:

- throttled on every SDK attempt: a 503 with Retry-After, the namespace untouched;
- committed, but the answer lost once: the SDK resends; moto does not honour the idempotency
  token, so the resend is refused by the version condition, and the service must recognise its
  own write (re-read, index present: done) rather than answer 409;
- committed, and every answer lost: a 503, although the save happened; the retry then finds the
  index registered and does not save again."""

from __future__ import annotations

from typing import Any

import boto3

from tests.faults.api import Api
from tests.faults.upsert_checks import (
    IDS,
    NS,
    assert_landed_exactly_once,
    assert_retryable_503,
    space_ids,
    standalone_with_one_document,
    upsert_batch,
)

SAVE = "TransactWriteItems"


def _sender() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def test_a_throttled_save_after_the_vector_writes_is_a_503_and_the_retry_converges(lancedb_api: Api) -> None:
    api = lancedb_api
    before = standalone_with_one_document(api)
    faults = api.faults()
    faults.throttle(SAVE, times=float("inf"), code="ProvisionedThroughputExceededException")

    response = upsert_batch(api)

    assert_retryable_503(response, "ServiceUnavailableError")
    assert faults.attempts[SAVE] > 1, "the SDK retried the throttled save before giving up"
    assert api.namespace(NS) == before
    # The vectors were written (both indexes) but nothing points at the new one yet.
    assert space_ids(api, "emb") == ({*IDS, "seed"}, 4)
    from stratus.ports import Space

    fresh = Space(before.storage_key, "fresh", 3, "cosine")
    assert api.stores.vectors.ids(fresh) == set(IDS)
    listed = api.client.post(f"/v1/namespaces/{NS}/documents/list", json={"limit": 100}).json()
    assert [doc["document_id"] for doc in listed["results"]] == [*IDS, "seed"]

    faults.clear()
    retried = upsert_batch(api)

    assert retried.status_code == 200, retried.text
    assert_landed_exactly_once(api, before)


def test_a_save_whose_answer_is_lost_once_is_recognised_as_its_own_success(lancedb_api: Api) -> None:
    api = lancedb_api
    before = standalone_with_one_document(api)
    faults = api.faults(sender=_sender())
    faults.lose_answers(SAVE, times=1)

    response = upsert_batch(api)

    assert response.status_code == 200, response.text
    assert faults.delivered == [(SAVE, 200)], "the first attempt reached DynamoDB and committed"
    assert faults.attempts[SAVE] == 2, "the SDK resent it once"
    assert_landed_exactly_once(api, before)


def test_a_save_whose_answers_are_all_lost_is_a_503_and_the_retry_does_not_save_again(
    lancedb_api: Api,
) -> None:
    api = lancedb_api
    before = standalone_with_one_document(api)
    faults = api.faults(sender=_sender())
    faults.lose_answers(SAVE, times=float("inf"))

    response = upsert_batch(api)

    assert_retryable_503(response, "ServiceUnavailableError")
    committed = [status for _, status in faults.delivered]
    assert committed[0] == 200 and all(status == 400 for status in committed[1:]), committed
    assert api.namespace(NS).version == before.version + 1, "the first attempt did commit"

    faults.clear()
    attempts = faults.attempts[SAVE]
    retried = upsert_batch(api)

    assert retried.status_code == 200, retried.text
    assert faults.attempts[SAVE] == attempts, "the index is registered: no second save"
    assert_landed_exactly_once(api, before)
