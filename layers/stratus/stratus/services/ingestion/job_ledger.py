"""The batch's jobs in the job ledger (Powertools Idempotency on Lambda): every job claimed
before anything is embedded, and each claimed job settled after its vectors are written. Claims
and settlements are per job (the ledger has no batch call), so they go out on the pool's
threads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from stratus.ports.ledger import JobLedger
from stratus.services.ingestion.batch_state import Job
from stratus.services.ingestion.budget import TimeBudget

logger = logging.getLogger(__name__)

T = TypeVar("T")


def claim(ledger: JobLedger, jobs: list[Job], budget: TimeBudget, pool: ThreadPoolExecutor) -> None:
    """Claim every job: a job that ran before keeps its saved result (and is not embedded
    again); one another invocation holds fails, to come back later."""

    def claim_one(job: Job) -> None:
        assert job.job is not None
        try:
            claimed = ledger.claim(job.job.as_dict(), budget.remaining_ms())
        except Exception as error:
            job.fail(error)
            return
        if claimed.mine:
            job.claimed = True
        else:
            job.documents = claimed.done

    each(pool, claim_one, [job for job in jobs if not job.failed])


def settle(ledger: JobLedger, jobs: list[Job], pool: ThreadPoolExecutor) -> None:
    """Each claimed job's result into the ledger (its claim dropped if it failed, so the next
    delivery runs it again)."""

    def settle_one(job: Job) -> None:
        assert job.job is not None
        try:
            if job.error is not None:
                ledger.failed(job.job.as_dict(), job.error)
            else:
                ledger.succeeded(job.job.as_dict(), job.documents or 0)
        except Exception as error:
            if job.error is None:
                job.fail(error)
            else:
                logger.exception("could not drop the idempotency record of a failed job")

    each(pool, settle_one, [job for job in jobs if job.claimed])


def each(pool: ThreadPoolExecutor, action: Callable[[T], None], values: Sequence[T]) -> None:
    """`action` on every value, on the pool's threads when there are several."""
    if len(values) <= 1:
        for value in values:
            action(value)
        return
    for future in [pool.submit(action, value) for value in values]:
        future.result()
