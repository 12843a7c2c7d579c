"""Embedding the jobs of one batch together: one call per inference service (texts and images
apart) for everything the batch's objects need from it, each distinct input once.

The embedder splits a call into requests within its own limits (OpenAI: 256 inputs and a token
budget; HTTP endpoints: 32 inputs and 6 MB; in-process models: their encode batches), so a batch of
small objects is one call and one request. Only when a batch holds more than a slice
(`TEXT_SLICE` texts, `IMAGE_SLICE` images) is it cut, so the invocation's time can be checked
between two calls (`budget.TimeBudget`): the jobs with the fewest inputs go first, and a job still
waiting when the time runs short fails alone.

Failures stay per job: a call refused for its input (a 4xx: a corrupt image, a text the model
will not take) is made again one job at a time, so only the job at fault fails; a service that is
down (a 503, or any other error) fails every job still waiting for it, without calling it again."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, cast

from stratus.errors import StratusError
from stratus.ports.inference import Embedder, EmbedderRegistry
from stratus.services.ingestion.budget import TimeBudget
from stratus.services.ingestion.extraction import Draft

# Inputs per embedding call (see the module docstring): OpenAI's default request size for texts,
# two of the image models' encode batches for images.
TEXT_SLICE = 256
IMAGE_SLICE = 32


class EmbeddingJob(Protocol):
    """What the embedding step reads and fills in on a job."""

    drafts: list[Draft]
    vectors: list[list[float] | None]

    @property
    def service(self) -> str: ...

    @property
    def failed(self) -> bool: ...

    def fail(self, error: Exception) -> None: ...


Input = str | bytes
Owners = dict[Input, list[tuple[EmbeddingJob, int]]]


def embed_jobs(embedders: EmbedderRegistry, jobs: Sequence[EmbeddingJob], budget: TimeBudget) -> None:
    """Fill in every job's `vectors` (one per draft), or fail it."""
    by_service: dict[str, list[EmbeddingJob]] = {}
    for job in jobs:
        job.vectors = [None] * len(job.drafts)
        if job.drafts and not job.failed:
            by_service.setdefault(job.service, []).append(job)
    for service, waiting in by_service.items():
        try:
            embedder = embedders.get(service)
        except Exception as error:  # a service that cannot be built: every job waiting for it
            for job in waiting:
                job.fail(error)
            continue
        for kind in ("text", "image"):
            _embed_kind(embedder, kind, waiting, budget)


def _embed_kind(embedder: Embedder, kind: str, jobs: list[EmbeddingJob], budget: TimeBudget) -> None:
    owners = _owners(kind, jobs)
    inputs = list(owners)
    size = TEXT_SLICE if kind == "text" else IMAGE_SLICE
    seconds_per_input: float | None = None
    for start in range(0, len(inputs), size):
        wanted = [value for value in inputs[start : start + size] if _alive(owners[value])]
        if not wanted:
            continue
        expected = seconds_per_input * len(wanted) if seconds_per_input is not None else 0.0
        if not budget.allows(expected):
            overrun = budget.overrun(f"embed its {kind}s")
            for value in inputs[start:]:
                for job, _ in owners[value]:
                    if not job.failed:
                        job.fail(overrun)
            return
        started = time.perf_counter()
        try:
            vectors = _call(embedder, kind, wanted)
        except StratusError as error:
            if not 400 <= error.status < 500:
                _fail_waiting(owners, inputs[start:], error)
                return
            _one_job_at_a_time(embedder, kind, owners, wanted)
            continue
        except Exception as error:  # the service is down (or a bug): nothing more is asked of it
            _fail_waiting(owners, inputs[start:], error)
            return
        seconds_per_input = (time.perf_counter() - started) / len(wanted)
        _assign(owners, wanted, vectors)


def _owners(kind: str, jobs: list[EmbeddingJob]) -> Owners:
    """Each distinct input of `kind` → the (job, draft position) pairs that need its vector, the
    jobs with the fewest such inputs first."""

    def count(job: EmbeddingJob) -> int:
        return sum(1 for draft in job.drafts if _input(draft, kind) is not None)

    owners: Owners = {}
    for job in sorted(jobs, key=count):
        for position, draft in enumerate(job.drafts):
            value = _input(draft, kind)
            if value is not None:
                owners.setdefault(value, []).append((job, position))
    return owners


def _input(draft: Draft, kind: str) -> Input | None:
    return draft.text if kind == "text" else draft.image


def _alive(pairs: list[tuple[EmbeddingJob, int]]) -> bool:
    return any(not job.failed for job, _ in pairs)


def _call(embedder: Embedder, kind: str, values: Sequence[Input]) -> list[list[float]]:
    if kind == "text":
        return embedder.embed_texts(cast(list[str], list(values)))
    return embedder.embed_images(cast(list[bytes], list(values)))


def _assign(owners: Owners, values: Sequence[Input], vectors: Sequence[list[float]]) -> None:
    for value, vector in zip(values, vectors, strict=True):
        for job, position in owners[value]:
            job.vectors[position] = vector


def _fail_waiting(owners: Owners, values: Sequence[Input], error: Exception) -> None:
    for value in values:
        for job, _ in owners[value]:
            if not job.failed:
                job.fail(error)


def _one_job_at_a_time(embedder: Embedder, kind: str, owners: Owners, values: Sequence[Input]) -> None:
    """After a refused call: each job's inputs of the slice in a call of its own, so only the jobs
    whose own input is refused fail."""
    per_job: dict[int, tuple[EmbeddingJob, list[Input]]] = {}
    for value in values:
        for job, _ in owners[value]:
            if not job.failed:
                per_job.setdefault(id(job), (job, []))[1].append(value)
    for job, own in per_job.values():
        if job.failed:
            continue
        unique = list(dict.fromkeys(own))
        try:
            vectors = _call(embedder, kind, unique)
        except Exception as error:
            job.fail(error)
            continue
        for value, vector in zip(unique, vectors, strict=True):
            for owner, position in owners[value]:
                if owner is job:
                    job.vectors[position] = vector
