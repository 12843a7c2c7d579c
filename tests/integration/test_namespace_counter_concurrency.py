"""The organization's namespace counter (`total_count` of every namespace list) under real
concurrency, against AWS's DynamoDB Local (moto's backend takes no lock, so only a real
transaction engine can show a lost update).

8 threads create and delete namespaces at once, including creates that lose (a taken id or
name) and deletes of namespaces already gone: the counter moves in the same TransactWriteItems as
each namespace item, so after every round it equals the namespaces that exist."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_promotion_concurrency import _point_environment_at, _unavailable

THREADS = 8
ROUNDS = 3
PER_THREAD = 12
TABLE = "stratus"
ORG = "org_counter"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import shutil

    if shutil.which("java") is None:
        _unavailable("java is not on the PATH (DynamoDB Local is a Java program)")
    from stratus_local.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailableError

    emulator = DynamoDBLocal(startup_timeout=30.0)
    try:
        emulator.start()
    except DynamoDBLocalUnavailableError as error:
        _unavailable(str(error))
    try:
        with pytest.MonkeyPatch.context() as env:
            _point_environment_at(env, emulator.endpoint_url, tmp_path_factory)
            import boto3

            from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
            from stratus_local.bootstrap import create_tables

            dynamodb = boto3.client("dynamodb", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
            create_tables(dynamodb, {"MetadataTable": TABLE})
            yield DynamoDBMetadataStore(TABLE, endpoint_url=emulator.endpoint_url, region="us-east-1")
    finally:
        emulator.stop()


def _namespace(namespace_id: str, name: str) -> Any:
    from stratus.models.namespaces import Namespace

    return Namespace(
        org_id=ORG,
        namespace_id=namespace_id,
        namespace_name=name,
        mode="standalone",
        storage_key=f"sk-{namespace_id}",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def _existing(store: Any) -> int:
    total, cursor = 0, None
    while True:
        page = store.list_namespaces(ORG, 100, cursor)
        total += len(page.namespaces)
        cursor = page.next_cursor
        if cursor is None:
            return total


def test_the_counter_stays_exact_under_concurrent_creates_and_deletes(store: Any) -> None:
    from stratus.errors import AlreadyExistsError, ConflictError, NotFoundError

    outcomes: dict[str, int] = {"created": 0, "deleted": 0, "lost": 0}
    lock = threading.Lock()

    def work(thread: int, round_number: int, start: threading.Barrier) -> None:
        rng = random.Random(thread * 1000 + round_number)
        start.wait()
        for step in range(PER_THREAD):
            # Ids shared between threads: some creates lose to another thread's, some deletes find
            # the namespace gone or changed.
            number = rng.randrange(PER_THREAD * 2)
            namespace_id = f"ns-{round_number}-{number}"
            try:
                if step % 3 == 2:
                    existing = store.get_namespace(ORG, namespace_id)
                    if existing is None:
                        continue
                    store.delete_namespace(existing)
                    kind = "deleted"
                else:
                    store.create_namespace(_namespace(namespace_id, f"name {namespace_id}"))
                    kind = "created"
            except (AlreadyExistsError, ConflictError, NotFoundError):
                kind = "lost"
            with lock:
                outcomes[kind] += 1

    for round_number in range(ROUNDS):
        start = threading.Barrier(THREADS)
        threads = [threading.Thread(target=work, args=(i, round_number, start)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert store.count_namespaces(ORG) == _existing(store), f"round {round_number}: {outcomes}"

    assert outcomes["created"] > 0 and outcomes["deleted"] > 0 and outcomes["lost"] > 0, outcomes
    assert store.count_namespaces(ORG) == outcomes["created"] - outcomes["deleted"]
