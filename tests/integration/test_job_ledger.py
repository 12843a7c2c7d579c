"""The extractor's job ledger on Powertools Idempotency's DynamoDB persistence layer (the template's
idempotency table in moto): claimed once, answered from the saved result after, refused while
another live invocation holds it, claimed again when that invocation died or the job failed, and
reading the records the per-record extractor wrote with `idempotent_function` before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from stratus.adapters.idempotency import PowertoolsLedger, idempotency_config
from stratus.ports.ledger import Claim, JobInProgressError
from stratus.services.ingestion.budget import MAX_RESERVE_MS, TimeBudget

TABLE = "stratus-idempotency"
JOB = {
    "org_id": "org_a",
    "namespace_id": "ns_1",
    "bucket_id": "bkt_1",
    "object_id": "obj_1",
    "etag": "e1",
    "collection_id": "col_1",
}


@pytest.fixture
def persistence(aws_env: None) -> Iterator[Any]:
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from moto import mock_aws

    from stratus_local.bootstrap.tables import create_tables

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, {"MetadataTable": "stratus", "IdempotencyTable": TABLE})
        yield lambda: DynamoDBPersistenceLayer(table_name=TABLE, boto3_client=client)


def _ledger(persistence: Any) -> PowertoolsLedger:
    return PowertoolsLedger(persistence(), idempotency_config())


def test_a_job_is_claimed_once_then_answered_from_its_saved_result(persistence: Any) -> None:
    ledger, other = _ledger(persistence), _ledger(persistence)  # two containers

    assert ledger.claim(JOB, remaining_ms=60_000).mine
    with pytest.raises(JobInProgressError):
        other.claim(JOB, remaining_ms=60_000)
    ledger.succeeded(JOB, 3)

    claim = other.claim(JOB, remaining_ms=60_000)
    assert not claim.mine and claim.done == 3
    # Another ETag or collection is another job.
    assert other.claim({**JOB, "etag": "e2"}, remaining_ms=60_000).mine
    assert other.claim({**JOB, "collection_id": "col_2"}, remaining_ms=60_000).mine


def test_a_failed_job_or_a_dead_invocations_claim_is_claimed_again(persistence: Any) -> None:
    ledger = _ledger(persistence)
    assert ledger.claim(JOB, remaining_ms=60_000).mine
    ledger.failed(JOB, RuntimeError("embedding service down"))
    assert ledger.claim(JOB, remaining_ms=100).mine  # the claim expires with its invocation

    time.sleep(0.3)

    assert _ledger(persistence).claim(JOB, remaining_ms=60_000).mine


def test_records_of_the_per_record_extractor_still_answer(persistence: Any) -> None:
    """Before the batch rewrite each job ran inside Powertools' `idempotent_function`; its saved
    results (a day's worth, at a deploy) are read as saved results, not run again."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    def run_step(job: dict[str, str], work: Any) -> int:
        return int(work())

    # The wrapper as the per-record extractor built it (git history: stratus/entrypoints/
    # extractor.py), whose module and qualified name made the name its keys were hashed under.
    run_step.__module__ = "stratus.entrypoints.extractor"
    run_step.__qualname__ = "powertools_run_once.<locals>.run_step"
    step = idempotent_function(
        run_step, data_keyword_argument="job", persistence_store=persistence(), config=idempotency_config()
    )
    assert step(job=JOB, work=lambda: 4) == 4

    claim = _ledger(persistence).claim(JOB, remaining_ms=60_000)

    assert not claim.mine and claim.done == 4


# ---------------------------------------------------------------------------------------------
# The time budget's arithmetic (the end-to-end behaviour: tests/integration/test_batched_extractor.py)


class _Clock:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_the_budget_keeps_a_reserve_and_gives_reading_half_of_the_rest() -> None:
    clock = _Clock(120_000)
    budget = TimeBudget.of(clock)
    assert budget.usable_seconds() == (120_000 - MAX_RESERVE_MS) / 1000  # 10 s kept of 120
    assert budget.prepare_seconds_left() == pytest.approx(55.0)
    clock.remaining_ms = 60_000
    assert budget.prepare_seconds_left() == pytest.approx(-5.0)  # reading had its half
    assert budget.allows(49.0) and not budget.allows(50.0)
    short = TimeBudget.of(_Clock(3_000))
    assert short.usable_seconds() == pytest.approx(2.7)  # 10 % kept when that is less than 10 s
    assert TimeBudget.of(None).allows(1e9) and TimeBudget.of(None).remaining_ms() is None
    error = budget.overrun("embed its texts")
    assert error.status == 413 and "needs more time to embed its texts" in error.message


# ---------------------------------------------------------------------------------------------
# A batch's claims and settlements in one transaction each (adapters/idempotency_batch.py)


def _job(n: int) -> dict[str, str]:
    return {**JOB, "object_id": f"obj_{n}"}


def _count_calls(persistence_layer: Any) -> dict[str, int]:
    calls: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        calls[model.name] = calls.get(model.name, 0) + 1

    persistence_layer.client.meta.events.register("before-call.dynamodb", count)
    return calls


def _stored(persistence_layer: Any, job: dict[str, str]) -> dict[str, Any] | None:
    key = persistence_layer._get_key(persistence_layer._get_hashed_idempotency_key(data=job))
    item: dict[str, Any] | None = persistence_layer.client.get_item(TableName=TABLE, Key=key).get("Item")
    return item


def test_batch_claims_and_settlements_write_the_records_single_ones_write(persistence: Any) -> None:
    layer = persistence()
    ledger = PowertoolsLedger(layer, idempotency_config())
    calls = _count_calls(layer)

    assert ledger.claim(_job(0), remaining_ms=60_000).mine
    claims = ledger.claim_all([_job(1), _job(2)], remaining_ms=60_000)
    assert [c.mine for c in claims if not isinstance(c, Exception)] == [True, True]
    single, batched = _stored(layer, _job(0)), _stored(layer, _job(1))
    assert single is not None and batched is not None
    assert {k: v for k, v in batched.items() if k != "id"}.keys() == {k for k in single if k != "id"}
    assert batched["status"] == single["status"] == {"S": "INPROGRESS"}
    assert (
        abs(int(batched["in_progress_expiration"]["N"]) - int(single["in_progress_expiration"]["N"])) < 5_000
    )

    ledger.succeeded(_job(0), 3)
    assert ledger.settle_all([(_job(1), 3), (_job(2), RuntimeError("model down"))]) == [None, None]
    single, batched = _stored(layer, _job(0)), _stored(layer, _job(1))
    assert single is not None and batched is not None
    # Same attributes and values but the key and the two clocks (an Update keeps the claim's).
    clocks = ("id", "expiration", "in_progress_expiration")
    assert batched.keys() == single.keys()
    assert {k: v for k, v in batched.items() if k not in clocks} == {
        k: v for k, v in single.items() if k not in clocks
    }
    assert _stored(layer, _job(2)) is None  # a failed job's claim is dropped
    # One request per batch step, and the saved results answer single claims as before.
    assert calls.get("TransactWriteItems") == 2 and calls.get("PutItem") == 1
    assert _ledger(persistence).claim(_job(1), remaining_ms=60_000).done == 3
    assert _ledger(persistence).claim(_job(2), remaining_ms=60_000).mine


def test_a_batch_claim_answers_each_job_as_a_single_claim_would(persistence: Any) -> None:
    layer = persistence()
    ledger, other = PowertoolsLedger(layer, idempotency_config()), _ledger(persistence)
    assert other.claim(_job(0), remaining_ms=60_000).mine
    other.succeeded(_job(0), 4)  # ran before
    assert other.claim(_job(1), remaining_ms=60_000).mine  # held by a live invocation
    assert other.claim(_job(3), remaining_ms=100).mine  # held by an invocation that died
    time.sleep(0.3)
    calls = _count_calls(layer)

    answers = ledger.claim_all([_job(0), _job(1), _job(2), _job(3)], remaining_ms=60_000)

    done, held, new, expired = answers
    assert isinstance(done, Claim) and done.done == 4
    assert isinstance(held, JobInProgressError)
    assert isinstance(new, Claim) and new.mine and isinstance(expired, Claim) and expired.mine
    # The cancelled transaction answered jobs 0 and 1 from their records; 2 and 3 went again.
    assert calls == {"TransactWriteItems": 2}
    with pytest.raises(JobInProgressError):
        other.claim(_job(2), remaining_ms=60_000)


def test_a_batch_the_transaction_refuses_is_claimed_and_settled_one_job_at_a_time(persistence: Any) -> None:
    """A job twice in one batch: DynamoDB refuses a transaction naming an item twice; the single
    path answers as it always did (the second claim meets the first's live record)."""
    ledger = _ledger(persistence)

    first, second = ledger.claim_all([_job(5), _job(5)], remaining_ms=60_000)

    assert isinstance(first, Claim) and first.mine
    assert isinstance(second, JobInProgressError)
    assert ledger.settle_all([(_job(5), 2), (_job(5), 2)]) == [None, None]
    assert _ledger(persistence).claim(_job(5), remaining_ms=60_000).done == 2
