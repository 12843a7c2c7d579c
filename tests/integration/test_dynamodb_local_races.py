"""Races on AWS's DynamoDB Local (moto takes no lock, so two conditional writes can both pass
there): the store itself, many threads, each with its own client.

- **Rate-limit counters:** 16 threads count against one (organization, category, minute) with a
  limit of 100, 400 tries in all: exactly 100 pass, every count from 1 to 100 is handed out once
  (no two increments read the same value), and the item holds 100. Half the threads go through
  boto3, half through the HTTP point reader, as the API and a cold Lambda do.
- **Namespace ids and names:** in each round, threads create a namespace with the id X, create one
  named X, or rename an existing one to X, at the same instant. Exactly one wins (retrying a
  transient conflict, as a client retries a 503), and the table shows X as one namespace's id or
  one namespace's name, never both.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, NoReturn

import pytest

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.errors import AlreadyExistsError, MetadataStoreUnavailableError
from stratus.models.namespaces import Namespace
from tests.integration.test_promotion_concurrency import _AWS_ENV_TO_CLEAR

TABLE = "stratus"
ORG = "org_race"
_STARTUP_SECONDS = 30.0

COUNTER_THREADS = 16
TRIES_PER_THREAD = 25
LIMIT = 100
ROUNDS = 20


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the DynamoDB Local races")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("java") is None:
        _unavailable("java is not on the PATH (DynamoDB Local is a Java program)")
    import boto3

    from stratus_local.bootstrap import create_tables
    from stratus_local.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailableError

    emulator = DynamoDBLocal(startup_timeout=_STARTUP_SECONDS)
    try:
        emulator.start()
    except DynamoDBLocalUnavailableError as error:
        _unavailable(str(error))
    try:
        with pytest.MonkeyPatch.context() as env:
            for name in _AWS_ENV_TO_CLEAR:
                env.delenv(name, raising=False)
            empty = tmp_path_factory.mktemp("aws") / "none"
            env.setenv("AWS_CONFIG_FILE", str(empty))
            env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
            env.setenv("AWS_ACCESS_KEY_ID", "testing")  # letters and digits only, for DynamoDB Local
            env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            env.delenv("AWS_SESSION_TOKEN", raising=False)
            env.delenv("AWS_SECURITY_TOKEN", raising=False)
            env.setenv("AWS_DEFAULT_REGION", "us-east-1")
            create_tables(
                boto3.client("dynamodb", endpoint_url=emulator.endpoint_url, region_name="us-east-1"),
                {"MetadataTable": TABLE},
            )
            yield emulator.endpoint_url
    finally:
        emulator.stop()


def _store(endpoint: str, http: bool = False) -> DynamoDBMetadataStore:
    return DynamoDBMetadataStore(TABLE, endpoint_url=endpoint, region="us-east-1", http_reads=http)


def _run_together(workers: list[Callable[[], Any]]) -> list[Any]:
    """Start every worker at the same instant; their results (or exceptions), in order."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = workers[i]()
        except Exception as error:  # reported by the caller
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racer did not finish"
    return results


# ---------------------------------------------------------------------------------------------
# Rate-limit counters


def test_concurrent_counts_pass_exactly_up_to_the_limit(endpoint: str) -> None:
    stores = [_store(endpoint, http=i % 2 == 1) for i in range(COUNTER_THREADS)]
    assert stores[1]._reader() is not None, "the HTTP point reader did not come up"
    window = int(time.time()) // 60 * 60

    def counter(store: DynamoDBMetadataStore) -> Callable[[], list[int | None]]:
        return lambda: [
            store.count_request(ORG, "search", window, LIMIT, window + 3660) for _ in range(TRIES_PER_THREAD)
        ]

    results = _run_together([counter(store) for store in stores])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    counts = [count for per_thread in results for count in per_thread]
    granted = sorted(count for count in counts if count is not None)
    assert granted == list(range(1, LIMIT + 1)), "a count was handed out twice or skipped"
    assert counts.count(None) == COUNTER_THREADS * TRIES_PER_THREAD - LIMIT

    import boto3

    item = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").get_item(
        TableName=TABLE,
        Key={"PK": {"S": f"RATE#{ORG}#search#{window}"}, "SK": {"S": "COUNTER"}},
        ConsistentRead=True,
    )["Item"]
    assert item["n"] == {"N": str(LIMIT)} and item["entity"] == {"S": "rate_counter"}
    # Another window and another category start from nothing.
    assert stores[0].count_request(ORG, "search", window + 60, LIMIT, window + 3720) == 1
    assert stores[1].count_request(ORG, "data", window, LIMIT, window + 3660) == 1


# ---------------------------------------------------------------------------------------------
# Namespace ids and names


def _namespace(namespace_id: str, name: str) -> Namespace:
    return Namespace(
        org_id=ORG,
        namespace_id=namespace_id,
        namespace_name=name,
        mode="standalone",
        storage_key=f"sk-{namespace_id}",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def _until_decided(attempt: Callable[[], Any]) -> str:
    """ "won" or "refused", retrying transient conflicts as a client retries a 503."""
    for _ in range(50):
        try:
            attempt()
        except AlreadyExistsError:
            return "refused"
        except MetadataStoreUnavailableError:
            time.sleep(0.01)
            continue
        return "won"
    raise AssertionError("still conflicting after 50 tries")


def _claims(store: DynamoDBMetadataStore, value: str) -> list[str]:
    """Who holds `value`: as an id (its record) and as a name (its guard)."""
    holders = []
    if store.get_namespace(ORG, value) is not None:
        holders.append(f"id of {value}")
    guard = store._get(f"ORG#{ORG}", f"NSNAME#{value}", "namespace_name")
    if guard is not None:
        holders.append(f"name of {guard['namespace_id']['S']}")
    return holders


def _race_round(endpoint: str, round_: int) -> list[str]:
    """Three creates with the id X, three with the name X, two renames to X, at once."""
    contested = f"contested-{round_}"
    setup = _store(endpoint)
    renamed = [_namespace(f"r{round_}-rename-{i}", f"r{round_}-before-{i}") for i in range(2)]
    for namespace in renamed:
        setup.create_namespace(namespace)
    stores = [_store(endpoint) for _ in range(8)]
    attempts: list[Callable[[], Any]] = []
    for i in range(3):
        attempts.append(partial(stores[i].create_namespace, _namespace(contested, f"r{round_}-named-{i}")))
    for i in range(3, 6):
        attempts.append(partial(stores[i].create_namespace, _namespace(f"r{round_}-other-{i}", contested)))
    for i, namespace in enumerate(renamed, start=6):
        changed = namespace.model_copy(update={"namespace_name": contested})
        attempts.append(partial(stores[i].save_namespace, changed, 1, namespace.namespace_name))
    results = _run_together([partial(_until_decided, attempt) for attempt in attempts])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results.count("won") == 1, f"round {round_}: {results}"
    assert len(_claims(setup, contested)) == 1, f"round {round_}: {_claims(setup, contested)}"
    return [str(result) for result in results]


def test_an_id_and_a_name_raced_for_the_same_value_have_one_winner(endpoint: str) -> None:
    outcomes = [_race_round(endpoint, round_) for round_ in range(ROUNDS)]
    # More than one kind of claim won a round: the kinds really raced each other.
    kinds = ("id", "id", "id", "name", "name", "name", "rename", "rename")
    winners = {kinds[outcome.index("won")] for outcome in outcomes}
    assert len(winners) >= 2, f"only {winners} ever won: the kinds never really raced"
