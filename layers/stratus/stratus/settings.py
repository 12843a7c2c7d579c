"""Configuration: one pydantic model read from the environment (prefix `STRATUS_`).

Lambda and the local stack run the same code; only these values differ.

`Settings.from_environment()` reads it as pydantic-settings did (which this replaced: importing
pydantic-settings cost ~7 % of a Lambda cold start, tests/perf/cold_start.py, for a job of a
dozen lines): a field comes from `STRATUS_<FIELD NAME>`, or from the names of its
`validation_alias` when it has one, in any letter case; every value is a string validated by
the model (so `true`/`1`, numbers and bounds work as they did). Every field is a scalar, so
nothing is parsed as JSON.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Literal

from pydantic import AliasChoices, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from stratus.domain import rate_limits as rate_rules
from stratus.models.common import Model

ENV_PREFIX = "STRATUS_"


def _env_names(field_name: str, field: FieldInfo) -> Iterator[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        yield from (choice for choice in alias.choices if isinstance(choice, str))
    elif isinstance(alias, str):
        yield alias
    else:
        yield f"{ENV_PREFIX}{field_name}"


class Settings(Model):
    # validate_by_name: `from_environment` passes values under the field names.
    model_config = ConfigDict(extra="ignore", validate_by_name=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        by_upper_name = {name.upper(): value for name, value in env.items()}
        values: dict[str, str] = {}
        for field_name, field in cls.model_fields.items():
            found = (by_upper_name.get(name.upper()) for name in _env_names(field_name, field))
            value = next((value for value in found if value is not None), None)
            if value is not None:
                values[field_name] = value
        return cls.model_validate(values)

    # The deployment stage (template.yaml's `Stage`): a key of every log line and a dimension of
    # every metric (stratus.observability), so one account's stages stay apart.
    stage: str = Field(default="local", min_length=1, max_length=64)
    # X-Ray subsegments around every store and inference call, on Lambda only (the function needs
    # `Tracing: Active`). The X-Ray SDK then loads on the first request, about 10 ms of CPU: on
    # for the extractor and the scheduled job, opt-in for the HTTP functions (template.yaml's
    # ApiTracing; docs/decisions.md, "Tracing").
    tracing: bool = False

    table_name: str = "stratus"
    # Powertools Idempotency records of the extractor (key `id`, TTL `expiration`).
    idempotency_table_name: str = "stratus-idempotency"
    data_bucket: str = "stratus-data"
    # Set for the local stack / tests (moto server, DynamoDB Local); unset on Lambda.
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    # DynamoDB point reads (API key, namespace) as one signed POST instead of through boto3: the
    # first request of a container skips boto3's import and client (stratus.adapters.dynamodb.
    # point_reads). Off only for tests on moto's in-process mock, which patches boto3.
    dynamodb_http_reads: bool = True

    # LanceDB is embedded (local runs, tests); Pinecone is the deployed store.
    vector_store: Literal["lancedb", "pinecone"] = "lancedb"
    # LanceDB URI: a directory locally, `s3://bucket/prefix` when deployed with LanceDB.
    lancedb_uri: str = ".stratus/lancedb"

    # Pinecone: the key from env (`STRATUS_PINECONE_API_KEY`, else `PINECONE_API_KEY`) or from
    # Secrets Manager by ARN when deployed. One serverless index per (dimension, metric) pool,
    # named `<prefix>-<dimension>-<metric>`; the control-plane host is overridden only in tests.
    pinecone_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("STRATUS_PINECONE_API_KEY", "PINECONE_API_KEY")
    )
    pinecone_api_key_secret_arn: str | None = None
    pinecone_control_plane_host: str | None = None
    pinecone_index_prefix: str = Field(default="stratus", pattern=r"^[a-z0-9][a-z0-9-]{0,27}$")
    pinecone_cloud: str = "aws"
    pinecone_region: str = "us-east-1"
    pinecone_timeout_seconds: float = 10.0
    pinecone_max_attempts: int = 4
    pinecone_max_concurrency: int = 4

    # OpenAI (or any OpenAI-compatible server): the key from env (`STRATUS_OPENAI_API_KEY`, else
    # the standard `OPENAI_API_KEY`) or from Secrets Manager by ARN when deployed.
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("STRATUS_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_api_key_secret_arn: str | None = None
    openai_base_url: str | None = None
    openai_timeout_seconds: float = 10.0
    openai_max_attempts: int = 4

    # Image-text model weights (Hugging Face snapshot files): a directory or s3://bucket/prefix.
    # Unset: clip_vit_b32 / google_siglip_base_v1 answer 503 naming the setting.
    clip_weights_uri: str | None = None
    siglip_weights_uri: str | None = None
    # Alternative to in-process weights (e.g. on a zip Lambda, where torch does not fit): any HTTP
    # service answering embeddings (see stratus.adapters.inference.http). Wins over the weights.
    clip_endpoint_url: str | None = None
    siglip_endpoint_url: str | None = None
    # Threads torch may use for in-process models. 1 by default: on 2 cores (and on Lambda's
    # fraction of a vCPU) more threads fight the API for CPU; measured 18 ms vs 475 ms per query.
    torch_threads: int = Field(default=1, ge=1, le=64)

    # Seconds a verified API key is trusted without re-reading DynamoDB (per container); an
    # organization's own rate limits are cached as long.
    auth_cache_seconds: float = 5.0
    # Requests per organization per minute by category (`category=N,...`; 0: unlimited), unless
    # the organization has its own (`stratus limits set`). Unlisted categories keep the defaults.
    rate_limits: str = rate_rules.format_limits(rate_rules.DEFAULT_LIMITS)
    # Seconds a search may use a namespace read by its container that recently (one DynamoDB
    # read less per query). A query that fails validation against such a copy is re-checked
    # against a fresh read; writes in the same container are seen at once.
    namespace_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    # Local docs (/docs, /openapi.json) are served everywhere; kept switchable for deployments.
    enable_docs: bool = True

    # auto_create_indexes: a field filtered MORE than `threshold` times in the last
    # `window_hours` gets a payload index from the scheduled job.
    auto_index_threshold: int = Field(default=100, ge=0)
    auto_index_window_hours: int = Field(default=24, ge=1, le=48)

    # Managed ingestion. `ingest_max_receives` must equal the queue's RedrivePolicy
    # maxReceiveCount (template.yaml): on the last receive a failing object is marked FAILED
    # for good before the message moves to the dead-letter queue.
    ingest_max_receives: int = Field(default=3, ge=1, le=1000)
    # Local stack only: concurrent pollers of the ingest queue, as Lambda's concurrent invocations
    # of the extractor (unset: the machine's cores).
    ingest_workers: int | None = Field(default=None, ge=1, le=64)
    presigned_url_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    # Largest object the extractor reads (bigger ones end FAILED with the reason).
    max_object_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    # Blob URLs (`data: "https://..."`) are fetched only over https from public addresses;
    # tests and local demos may allow http and loopback.
    allow_private_urls: bool = False
    url_fetch_timeout_seconds: float = 10.0

    # Backfills and model migrations (services/backfill): the queue their pages travel through
    # (template.yaml BackfillQueue; unset: starting one answers 503 naming this setting).
    backfill_queue_url: str | None = None

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits_parse(cls, value: str) -> str:
        rate_rules.parse_limits(value)  # ValueError names the bad pair
        return value

    def default_rate_limits(self) -> dict[rate_rules.RateCategory, int]:
        """Each category's limit for organizations without their own."""
        return {**rate_rules.DEFAULT_LIMITS, **rate_rules.parse_limits(self.rate_limits)}
