"""`JobLedger` on Powertools Idempotency's persistence layer (DynamoDB, its own table with a TTL).

Powertools' `idempotent_function` wraps ONE call: it saves an in-progress record, runs the
function, then saves its result (or deletes the record if it raised). The extractor runs a whole
batch of jobs in one body (one embedding call per inference service), so it drives the same
persistence layer through the three steps that wrapper is made of, split around that body:
`claim` is `save_inprogress` (and, when a record exists, Powertools' own reading of it: a saved
result is reused, a live in-progress record refuses, an expired one is claimed again),
`succeeded` is `save_success`, `failed` is `delete_record`. The records are those
`idempotent_function` writes: the key is the job's (object_id, etag, collection_id) hashed under
the same function name as before the batch rewrite, so records written by the per-record
extractor keep answering for a day after a deploy (docs/decisions.md, "Idempotency per job around
a batched body")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stratus.ports.ledger import Claim, JobInProgressError, Settlement

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from stratus.settings import Settings

# A saved result is reused for a day; after that an object COMPLETED at the same ETag is still
# skipped by the pipeline itself (its record says so).
IDEMPOTENCY_SECONDS = 24 * 3600
KEY_FIELDS = "[object_id, etag, collection_id]"
# The name the per-record extractor's `idempotent_function` hashed its keys under (module and
# qualified name of the function it wrapped): kept, so its records stay valid.
FUNCTION_NAME = "stratus.entrypoints.extractor.powertools_run_once.<locals>.run_step"
# As Powertools' IdempotencyHandler: a record that changes between the put and the read (deleted,
# expired) is claimed again, at most this many more times.
MAX_RETRIES = 2


def idempotency_config() -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath=KEY_FIELDS,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )


def dynamodb_ledger(settings: Settings) -> PowertoolsLedger:
    """The ledger on `settings.idempotency_table_name`."""
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    client = boto3.session.Session().client(
        "dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=client)
    return PowertoolsLedger(persistence, idempotency_config())


class PowertoolsLedger:
    """Thread-safe: the persistence layer is configured once here and keeps no per-call state."""

    def __init__(self, persistence: BasePersistenceLayer, config: IdempotencyConfig) -> None:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        persistence.configure(config=config, function_name=FUNCTION_NAME)
        self._persistence = persistence
        # Batch calls need DynamoDB and the plain records (no local cache, no payload checks).
        plain = not persistence.use_local_cache and not persistence.payload_validation_enabled
        self._batched = persistence if isinstance(persistence, DynamoDBPersistenceLayer) and plain else None

    def claim(self, job: Mapping[str, str], remaining_ms: int | None) -> Claim:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError

        data = dict(job)
        for _ in range(MAX_RETRIES + 1):
            try:
                self._persistence.save_inprogress(data=data, remaining_time_in_millis=remaining_ms)
            except IdempotencyItemAlreadyExistsError as exists:
                record = exists.old_data_record or self._stored(data)
                done = _saved_result(record, job) if record is not None else None
                if done is not None:
                    return Claim(done=done)
                continue  # gone, expired or timed out in between: claim it again
            return Claim()
        raise JobInProgressError(f"the idempotency record of job {_describe(job)} keeps changing")

    def claim_all(
        self, jobs: Sequence[Mapping[str, str]], remaining_ms: int | None
    ) -> list[Claim | Exception]:
        """Every job's claim; on DynamoDB in one transaction (`idempotency_batch`), the jobs it
        could not answer for claimed one by one."""
        from stratus.adapters.idempotency_batch import claim_all

        answers: list[Claim | Exception | None] = [None] * len(jobs)
        if self._batched is not None and len(jobs) > 1:
            answers = claim_all(self._batched, jobs, remaining_ms, _saved_result)
        return [
            answer if answer is not None else self._claim_alone(job, remaining_ms)
            for job, answer in zip(jobs, answers, strict=True)
        ]

    def settle_all(self, results: Sequence[Settlement]) -> list[Exception | None]:
        """Every claimed job's result saved (a document count) or its claim dropped (an
        exception); per job, what went wrong saving it."""
        from stratus.adapters.idempotency_batch import settle_all

        if self._batched is not None and len(results) > 1 and settle_all(self._batched, results):
            return [None] * len(results)
        return [self._settle_alone(job, result) for job, result in results]

    def _claim_alone(self, job: Mapping[str, str], remaining_ms: int | None) -> Claim | Exception:
        try:
            return self.claim(job, remaining_ms)
        except Exception as error:
            return error

    def _settle_alone(self, job: Mapping[str, str], result: int | Exception) -> Exception | None:
        try:
            if isinstance(result, Exception):
                self.failed(job, result)
            else:
                self.succeeded(job, result)
        except Exception as error:
            return error
        return None

    def succeeded(self, job: Mapping[str, str], documents: int) -> None:
        self._persistence.save_success(data=dict(job), result=documents)  # type: ignore[arg-type]

    def failed(self, job: Mapping[str, str], error: Exception) -> None:
        self._persistence.delete_record(data=dict(job), exception=error)

    def _stored(self, data: dict[str, Any]) -> DataRecord | None:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError

        try:
            return self._persistence.get_record(data=data)
        except IdempotencyItemNotFoundError:
            return None


def _saved_result(record: DataRecord, job: Mapping[str, str]) -> int | None:
    """The job's saved document count; None when the record no longer holds (expired, or an
    in-progress claim that timed out). Raises `JobInProgressError` for a live claim."""
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

    if record.status == STATUS_CONSTANTS["EXPIRED"]:
        return None
    if record.status == STATUS_CONSTANTS["INPROGRESS"]:
        expiry = record.in_progress_expiry_timestamp
        if expiry is not None and expiry < int(dt.datetime.now().timestamp() * 1000):
            return None
        raise JobInProgressError(f"job {_describe(job)} is being processed by another invocation")
    saved = record.response_json_as_dict()
    return int(saved) if isinstance(saved, int | float | str) else 0


def _describe(job: Mapping[str, str]) -> str:
    return f"({job.get('object_id')}, {job.get('etag')}, {job.get('collection_id')})"
