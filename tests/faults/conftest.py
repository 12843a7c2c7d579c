"""Fixtures of the fault tests (issue 7 §4): the API in-process (TestClient) over moto DynamoDB
with real LanceDB or the real Pinecone client against the loopback server, DynamoDB faults on the
wire, and the ingestion rig of tests/integration wired to the loopback OpenAI server.

Faults are kept cheap: botocore's backoff is shortened (same shape, 1/100 of the delays), client
timeouts are sub-second and no model is loaded (embeddings come from the loopback OpenAI server),
so the whole directory runs in about a minute on two cores (DynamoDB Local's start included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.api import (
    OPENAI_MAX_ATTEMPTS,
    OPENAI_TIMEOUT_SECONDS,
    PINECONE_MAX_ATTEMPTS,
    PINECONE_TIMEOUT_SECONDS,
    Api,
    serve,
)
from tests.integration.ingestion_rig import Pipeline, pipeline
from tests.loopback_openai import LoopbackOpenAI
from tests.loopback_pinecone import LoopbackPinecone

__all__ = ["pipeline"]  # the rig's fixture, used by the ingestion fault tests


@pytest.fixture(autouse=True)
def fast_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard-mode backoff (up to 1, 2, 4 s for throttling) at 1/100 of its delays:
    the retries still happen, in the same number and order, only faster."""
    from botocore.retries.standard import ExponentialBackoff

    original = ExponentialBackoff.delay_amount

    def delay_amount(self: ExponentialBackoff, context: Any) -> float:
        return float(original(self, context)) / 100

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", delay_amount)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overrides the rig's fixture: no fault test embeds images, so no model is built (the rig
    only passes the path on to a setting that is never read here)."""
    return tmp_path_factory.mktemp("no-clip-model")


@pytest.fixture
def lancedb_api(moto_dynamodb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API over moto DynamoDB and a real LanceDB directory."""
    monkeypatch.setenv("STRATUS_VECTOR_STORE", "lancedb")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    yield from serve(monkeypatch, moto_dynamodb)


@pytest.fixture
def pinecone_server() -> Iterator[LoopbackPinecone]:
    from tests.loopback_pinecone import reset_client_retry_state

    reset_client_retry_state()
    with LoopbackPinecone() as server:
        yield server


@pytest.fixture
def pinecone_api(
    moto_dynamodb: Any, pinecone_server: LoopbackPinecone, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    """The API over moto DynamoDB and the real `pinecone` client against the loopback server,
    with 2 attempts per call and a 1 s timeout."""
    monkeypatch.setenv("STRATUS_VECTOR_STORE", "pinecone")
    monkeypatch.setenv("STRATUS_PINECONE_API_KEY", pinecone_server.api_key)
    monkeypatch.setenv("STRATUS_PINECONE_CONTROL_PLANE_HOST", pinecone_server.url)
    monkeypatch.setenv("STRATUS_PINECONE_MAX_ATTEMPTS", str(PINECONE_MAX_ATTEMPTS))
    monkeypatch.setenv("STRATUS_PINECONE_TIMEOUT_SECONDS", str(PINECONE_TIMEOUT_SECONDS))
    for api in serve(monkeypatch, moto_dynamodb):
        try:
            yield api
        finally:
            api.stores.vectors.close()


@pytest.fixture
def openai_server() -> Iterator[LoopbackOpenAI]:
    with LoopbackOpenAI() as server:
        yield server


@pytest.fixture
def ingestion(pipeline: Pipeline, openai_server: LoopbackOpenAI, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The rig (moto S3 → SQS with a real redrive policy → the extractor entry point, LanceDB),
    with `openai_text_3_small` served by the loopback server: 2 attempts of 0.5 s per batch."""
    monkeypatch.setenv("STRATUS_OPENAI_API_KEY", openai_server.api_key)
    monkeypatch.setenv("STRATUS_OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("STRATUS_OPENAI_MAX_ATTEMPTS", str(OPENAI_MAX_ATTEMPTS))
    monkeypatch.setenv("STRATUS_OPENAI_TIMEOUT_SECONDS", str(OPENAI_TIMEOUT_SECONDS))
    pipeline.rewire()  # settings are read again, with the variables above
    return pipeline
