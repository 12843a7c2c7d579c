"""A DynamoDB write that commits but whose answer is lost, against AWS's DynamoDB Local (real
transaction semantics, which moto lacks: botocore puts an idempotency token, `ClientRequestToken`,
on every `TransactWriteItems`, the SDK resends it unchanged on retry, and DynamoDB answers a
resend of a committed transaction with success instead of running it again).

The lost answer is made on the wire of the app's client (`DynamoFaults.lose_answers`): the request
really reaches DynamoDB Local and commits, then the SDK sees a read timeout and retries.

- promotion, one answer lost: the SDK's resend is recognised by DynamoDB, so the client gets a
  plain 200 and the state is one promotion (one audit record, version +1);
- promotion, every answer lost: a 503 with Retry-After although the promotion committed; the
  client's retry (a new request, a new token) is answered 409 "already managed" (the namespace is
  read as managed before any write), and the state is still the one promotion;
- a schema-on-write save, one answer lost: a plain 200, the index registered once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any, NoReturn

import boto3
import pytest

from tests.faults.api import TABLE, Api, serve
from tests.faults.promotion_checks import (
    PROMOTE,
    assert_already_managed,
    assert_promoted_once,
    create_standalone,
    promote,
)
from tests.faults.upsert_checks import (
    assert_landed_exactly_once,
    assert_retryable_503,
    standalone_with_one_document,
    upsert_batch,
)

_STARTUP_SECONDS = 60.0
_AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


def _unavailable(reason: str) -> NoReturn:
    # As test_promotion_concurrency.py: CI must run it; a laptop without Java skips it.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the DynamoDB Local fault tests")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def local_endpoint() -> Iterator[str]:
    if shutil.which("java") is None:
        _unavailable("java is not on the PATH (DynamoDB Local is a Java program)")
    from stratus_local.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailableError

    emulator = DynamoDBLocal(startup_timeout=_STARTUP_SECONDS)
    try:
        emulator.start()
    except DynamoDBLocalUnavailableError as error:
        _unavailable(str(error))
    try:
        yield emulator.endpoint_url
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def module_api(local_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus_local.bootstrap.tables import create_tables

    with pytest.MonkeyPatch.context() as env:
        for name in _AWS_ENV_TO_CLEAR:
            env.delenv(name, raising=False)
        empty = tmp_path_factory.mktemp("aws") / "none"
        env.setenv("AWS_CONFIG_FILE", str(empty))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        env.setenv("AWS_ACCESS_KEY_ID", "testing")  # DynamoDB Local takes letters and digits only
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("STRATUS_AWS_ENDPOINT_URL", local_endpoint)
        env.setenv("STRATUS_VECTOR_STORE", "lancedb")
        env.setenv("STRATUS_LANCEDB_URI", str(tmp_path_factory.mktemp("lancedb")))
        create_tables(_client(local_endpoint), {"MetadataTable": TABLE})
        metadata = DynamoDBMetadataStore(TABLE, endpoint_url=local_endpoint, region="us-east-1")
        yield from serve(env, metadata)


@pytest.fixture
def api(module_api: Api) -> Iterator[Api]:
    yield module_api
    module_api.detach_faults()


def _client(endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


def _sender(api: Api) -> Any:
    return _client(api.stores.metadata.endpoint_url)


def test_one_lost_answer_is_absorbed_by_the_sdks_resend_of_the_same_token(api: Api) -> None:
    before = create_standalone(api, "lost-once")
    faults = api.faults(sender=_sender(api))
    faults.lose_answers(PROMOTE, times=1)

    response = promote(api, "lost-once")

    assert response.status_code == 200, response.text
    assert response.json()["previous_mode"] == "standalone" and response.json()["mode"] == "managed"
    assert faults.delivered == [(PROMOTE, 200)], "the first attempt reached DynamoDB and committed"
    assert faults.attempts[PROMOTE] == 2, "the SDK resent it once, and DynamoDB recognised it"
    assert_promoted_once(api, before)


def test_every_answer_lost_is_a_503_then_409_already_managed_with_one_promotion(api: Api) -> None:
    before = create_standalone(api, "lost-always")
    faults = api.faults(sender=_sender(api))
    faults.lose_answers(PROMOTE, times=float("inf"))

    response = promote(api, "lost-always")

    assert_retryable_503(response, "ServiceUnavailableError")
    statuses = [status for _, status in faults.delivered]
    assert len(statuses) > 1 and set(statuses) == {200}, "every resend was answered as the commit"
    assert_promoted_once(api, before)

    faults.clear()
    retried = promote(api, "lost-always")

    assert_already_managed(retried, "lost-always")
    assert_promoted_once(api, before)


def test_a_schema_on_write_save_whose_answer_is_lost_once_lands_once(api: Api) -> None:
    before = standalone_with_one_document(api)
    faults = api.faults(sender=_sender(api))
    faults.lose_answers("TransactWriteItems", times=1)

    response = upsert_batch(api)

    assert response.status_code == 200, response.text
    assert faults.delivered == [("TransactWriteItems", 200)]
    assert_landed_exactly_once(api, before)


def test_the_emulator_is_the_one_answering(api: Api) -> None:
    """Guards the fixture: the app's metadata store talks to DynamoDB Local, not to moto."""
    assert api.stores.metadata.endpoint_url.startswith("http://127.0.0.1:")
    assert TABLE in _sender(api).list_tables()["TableNames"]
