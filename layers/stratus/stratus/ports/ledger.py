"""The job ledger port: which ingestion jobs already ran, so a redelivered message or a retry
after a crash does not embed again. A job is one version (ETag) of one object through one
collection; the extractor claims every job of a batch, runs the claimed ones together (one
embedding call per inference service), then records each job's result or forgets its claim."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Claim:
    """The answer to a claim: `done` holds the job's saved result (its document count) when the
    job ran before; otherwise the job is this invocation's to run, and its result must be
    reported with `succeeded` or `failed`."""

    done: int | None = None

    @property
    def mine(self) -> bool:
        return self.done is None


class JobInProgressError(Exception):
    """Another invocation holds the job's claim and has not given it up nor timed out: the
    message should come back later (a retryable failure)."""


# A job (its identifying fields) and its result: a document count, or the error it failed with.
Settlement = tuple[Mapping[str, str], int | Exception]


class JobLedger(Protocol):
    def claim(self, job: Mapping[str, str], remaining_ms: int | None) -> Claim:
        """Claim `job` (its identifying fields) for at most `remaining_ms` (the invocation's
        remaining time: a claim of an invocation that dies expires with it). `JobInProgressError`
        when another live invocation holds it."""
        ...

    def claim_all(
        self, jobs: Sequence[Mapping[str, str]], remaining_ms: int | None
    ) -> list[Claim | Exception]:
        """`claim` for every job (a batch's), in order: its Claim, or the exception its claim
        raised (`JobInProgressError`, a dependency fault)."""
        ...

    def settle_all(self, results: Sequence[Settlement]) -> list[Exception | None]:
        """`succeeded` (a document count) or `failed` (an exception) for every claimed job, in
        order: None, or the exception saving that job's result raised."""
        ...

    def succeeded(self, job: Mapping[str, str], documents: int) -> None:
        """Record the result of a claimed job: later claims answer `Claim(done=documents)`."""
        ...

    def failed(self, job: Mapping[str, str], error: Exception) -> None:
        """Give up the claim of a job that failed: the next delivery runs it again."""
        ...


class NoLedger:
    """Every claim is granted and nothing is recorded (local tools, tests): the pipeline's own
    checks (an object COMPLETED at the same ETag is skipped) still hold."""

    def claim(self, job: Mapping[str, str], remaining_ms: int | None) -> Claim:
        return Claim()

    def claim_all(
        self, jobs: Sequence[Mapping[str, str]], remaining_ms: int | None
    ) -> list[Claim | Exception]:
        return [Claim() for _ in jobs]

    def settle_all(self, results: Sequence[Settlement]) -> list[Exception | None]:
        return [None for _ in results]

    def succeeded(self, job: Mapping[str, str], documents: int) -> None:
        return None

    def failed(self, job: Mapping[str, str], error: Exception) -> None:
        return None
