"""The batch's jobs in the job ledger (Powertools Idempotency on Lambda): every job claimed
before anything is embedded, and each claimed job settled after its vectors are written. Both go
to the ledger as one batch call (one DynamoDB transaction each; see adapters/idempotency_batch.py),
and the answers stay per job: a job another invocation holds, or whose record could not be
written, fails alone."""

from __future__ import annotations

import logging

from stratus.ports.ledger import Claim, JobLedger
from stratus.services.ingestion.batch_state import Job
from stratus.services.ingestion.budget import TimeBudget

logger = logging.getLogger(__name__)


def claim(ledger: JobLedger, jobs: list[Job], budget: TimeBudget) -> None:
    """Claim every job: a job that ran before keeps its saved result (and is not embedded
    again); one another invocation holds fails, to come back later."""
    open_jobs = [job for job in jobs if not job.failed]
    if not open_jobs:
        return
    answers: list[Claim | Exception]
    try:
        answers = ledger.claim_all([_identity(job) for job in open_jobs], budget.remaining_ms())
    except Exception as failure:
        answers = [failure] * len(open_jobs)
    for job, answer in zip(open_jobs, answers, strict=True):
        if isinstance(answer, Exception):
            job.fail(answer)
        elif answer.mine:
            job.claimed = True
        else:
            job.documents = answer.done


def settle(ledger: JobLedger, jobs: list[Job]) -> None:
    """Each claimed job's result into the ledger (its claim dropped if it failed, so the next
    delivery runs it again)."""
    claimed = [job for job in jobs if job.claimed]
    if not claimed:
        return
    results = [(_identity(job), job.error or job.documents or 0) for job in claimed]
    errors: list[Exception | None]
    try:
        errors = list(ledger.settle_all(results))
    except Exception as failure:
        errors = [failure] * len(claimed)
    for job, error in zip(claimed, errors, strict=True):
        if error is None:
            continue
        if job.error is None:
            job.fail(error)
        else:
            logger.error("could not drop the idempotency record of a failed job: %s", error)


def _identity(job: Job) -> dict[str, str]:
    assert job.job is not None
    return job.job.as_dict()
