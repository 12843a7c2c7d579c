"""Promotion under real concurrency, against AWS's own DynamoDB Local (not moto, whose backend
takes no lock: two transactions can both pass their conditions there).

The real app runs in uvicorn on 127.0.0.1; 8 threads, each with its own HTTP client, promote the
same fresh standalone namespace at the same instant, 50 rounds over. api.md promises: exactly one
succeeds, the rest get 409, and the stored state is the winner's alone (a lost write would show
as a second `extra_i` index, a second audit record, or a version bumped twice)."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx
import pytest

ROUNDS = 50
THREADS = 8
TABLE = "stratus"
ORG = "org_a"
DIM = 384  # minilm_l6_v2's dimension
_STARTUP_SECONDS = 30.0

# Everything that could point boto3 elsewhere than the emulator (as tests/conftest.py clears).
_AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


class CommitSpy:
    """Counts the app's calls to the store's `promote_namespace` (the one TransactWriteItems) and
    how each ended: it tells losers stopped by validation apart from losers that reached the
    transaction and were refused by its condition, which is the path this test is about."""

    def __init__(self, store: Any) -> None:
        self._lock = threading.Lock()
        self.committed = 0
        self.refused = 0
        self.other: list[str] = []
        original = store.promote_namespace

        def promote_namespace(*args: Any, **kwargs: Any) -> Any:
            try:
                result = original(*args, **kwargs)
            except Exception as error:
                self._count("refused" if type(error).__name__ == "ConflictError" else repr(error))
                raise
            self._count("committed")
            return result

        store.promote_namespace = promote_namespace  # on the instance the running app uses

    def _count(self, outcome: str) -> None:
        with self._lock:
            if outcome == "committed":
                self.committed += 1
            elif outcome == "refused":
                self.refused += 1
            else:
                self.other.append(outcome)

    def reached(self) -> int:
        with self._lock:
            return self.committed + self.refused + len(self.other)


@dataclass
class LiveApi:
    base_url: str
    key: str
    key_id: str
    dynamodb: Any  # a boto3 client on DynamoDB Local, for reading raw items
    commits: CommitSpy

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Outcome:
    thread: int
    status: int
    body: dict[str, Any]
    seconds: float


@dataclass
class Tally:
    winners_per_round: list[int] = field(default_factory=list)
    winner_seconds: list[float] = field(default_factory=list)
    transactions_per_round: list[int] = field(default_factory=list)
    loser_seconds: list[float] = field(default_factory=list)
    loser_messages: dict[str, int] = field(default_factory=dict)


def _unavailable(reason: str) -> NoReturn:
    # CI must prove the property; a developer without Java still gets the rest of the suite.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the promotion concurrency test")
    pytest.skip(reason)


def _free_socket() -> socket.socket:
    # Handed to uvicorn already bound: no window in which another process takes the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    if shutil.which("java") is None:
        _unavailable("java is not on the PATH (DynamoDB Local is a Java program)")
    from stratus_local.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailableError

    emulator = DynamoDBLocal(startup_timeout=_STARTUP_SECONDS)
    try:
        emulator.start()
    except DynamoDBLocalUnavailableError as error:
        _unavailable(str(error))
    try:
        with pytest.MonkeyPatch.context() as env:
            _point_environment_at(env, emulator.endpoint_url, tmp_path_factory)
            yield from _serve_app(emulator.endpoint_url)
    finally:
        emulator.stop()


def _point_environment_at(env: pytest.MonkeyPatch, endpoint_url: str, tmp: pytest.TempPathFactory) -> None:
    for name in _AWS_ENV_TO_CLEAR:
        env.delenv(name, raising=False)
    empty = tmp.mktemp("aws") / "none"
    env.setenv("AWS_CONFIG_FILE", str(empty))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    # DynamoDB Local 2.0+ accepts only letters and digits in the access key id.
    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env.delenv("AWS_SESSION_TOKEN", raising=False)
    env.delenv("AWS_SECURITY_TOKEN", raising=False)
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env.setenv("AWS_REGION", "us-east-1")
    env.setenv("STRATUS_TABLE_NAME", TABLE)
    env.setenv("STRATUS_AWS_ENDPOINT_URL", endpoint_url)
    env.setenv("STRATUS_LANCEDB_URI", str(tmp.mktemp("lancedb")))
    # Keys are verified once per minute, so the latency measured is the promotion's own.
    env.setenv("STRATUS_AUTH_CACHE_SECONDS", "60")


def _serve_app(endpoint_url: str) -> Iterator[LiveApi]:
    import boto3
    import uvicorn

    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus.services.api_keys import create_api_key
    from stratus_local.bootstrap.tables import create_tables
    from tests.wiring import WiredApi, container_from_environment

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
    create_tables(dynamodb, {"MetadataTable": TABLE})
    store = DynamoDBMetadataStore(TABLE, endpoint_url=endpoint_url, region="us-east-1")
    key, api_key = create_api_key(store, ORG, "admin", ["read", "write", "admin"])
    wired = WiredApi(container_from_environment())
    commits = CommitSpy(wired.container.metadata)

    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(wired.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, thread)
        yield LiveApi(base_url, key, api_key.key_id, dynamodb, commits)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        wired.unwire()


def _wait_for_health(base_url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("uvicorn exited while starting")
        try:
            if httpx.get(f"{base_url}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the API did not answer /v1/health on {base_url} within {_STARTUP_SECONDS:.0f} s")


# --- one round ---------------------------------------------------------------------------------


def _promote_body(i: int) -> dict[str, Any]:
    return {
        "vector_mappings": [{"existing_index": "text_embedding", "inference_service": "minilm_l6_v2"}],
        # A different name per thread: if two promotions both landed, both names would show.
        "add_vectors": [{"name": f"extra_{i}", "dimension": DIM, "metric": "cosine"}],
    }


def _race(api: LiveApi, clients: list[httpx.Client], namespace_id: str) -> list[Outcome]:
    barrier = threading.Barrier(THREADS)
    outcomes: list[Outcome | None] = [None] * THREADS
    path = f"/v1/namespaces/{namespace_id}/promote"

    def promote(i: int) -> None:
        body = _promote_body(i)
        barrier.wait(timeout=30)
        started = time.perf_counter()
        response = clients[i].post(path, json=body, headers=api.headers())
        outcomes[i] = Outcome(i, response.status_code, response.json(), time.perf_counter() - started)

    threads = [threading.Thread(target=promote, args=(i,), name=f"promote-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    finished = [outcome for outcome in outcomes if outcome is not None]
    assert len(finished) == THREADS, f"{THREADS - len(finished)} promotion call(s) did not finish"
    return finished


def _check_round(api: LiveApi, client: httpx.Client, namespace_id: str, outcomes: list[Outcome]) -> Outcome:
    statuses = sorted(outcome.status for outcome in outcomes)
    assert statuses == [200] + [409] * (THREADS - 1), [(o.thread, o.status, o.body) for o in outcomes]
    winner = next(outcome for outcome in outcomes if outcome.status == 200)
    winner_index = f"extra_{winner.thread}"
    assert winner.body["mode"] == "managed" and winner.body["previous_mode"] == "standalone"
    assert [config["name"] for config in winner.body["vector_configs"]] == ["text_embedding", winner_index]
    for loser in outcomes:
        if loser.status == 409:
            _check_conflict_envelope(loser.body, namespace_id)

    stored = client.get(f"/v1/namespaces/{namespace_id}", headers=api.headers())
    assert stored.status_code == 200, stored.text
    namespace = stored.json()
    assert namespace["mode"] == "managed"
    assert [config["name"] for config in namespace["vector_configs"]] == ["text_embedding", winner_index]
    assert namespace["vector_inference_map"] == {"text_embedding": "minilm_l6_v2"}

    key = {"PK": {"S": f"ORG#{ORG}"}, "SK": {"S": f"NS#{namespace_id}"}}
    item = api.dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    assert item["version"] == {"N": "2"}, "the version must be bumped exactly once (created at 1)"

    audits = _promotion_records(api, namespace_id)
    assert len(audits) == 1, audits
    assert audits[0]["promoted_by"] == {"S": api.key_id}
    assert audits[0]["from_version"] == {"N": "1"}
    assert winner_index in str(audits[0]["add_vectors"])
    return winner


def _check_conflict_envelope(body: dict[str, Any], namespace_id: str) -> None:
    assert body["success"] is False and body["status"] == 409, body
    assert body["error"]["type"] == "ConflictError", body
    assert body["error"]["details"]["id"] == namespace_id, body
    assert namespace_id in body["error"]["message"], body


def _promotion_records(api: LiveApi, namespace_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": f"ORG#{ORG}"},
            ":prefix": {"S": f"PROMOTION#{namespace_id}#"},
        },
        ConsistentRead=True,
    )["Items"]
    return items


def _create_namespace(api: LiveApi, client: httpx.Client, namespace_id: str) -> None:
    index = {"name": "text_embedding", "dimension": DIM, "metric": "cosine"}
    body = {"namespace_id": namespace_id, "vector_configs": [index]}
    response = client.post("/v1/namespaces/standalone", json=body, headers=api.headers())
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "standalone"


# --- the test ----------------------------------------------------------------------------------


def test_concurrent_promotions_have_exactly_one_winner_and_no_lost_write(
    live_api: LiveApi, capsys: pytest.CaptureFixture[str], record_property: Any
) -> None:
    started = time.perf_counter()
    clients = [httpx.Client(base_url=live_api.base_url, timeout=30.0) for _ in range(THREADS)]
    tally = Tally()
    try:
        for client in clients:  # connections opened before the first race, not during it
            assert client.get("/v1/health").status_code == 200
        for round_ in range(ROUNDS):
            namespace_id = f"race-{round_:02d}"
            _create_namespace(live_api, clients[0], namespace_id)
            reached_before = live_api.commits.reached()
            outcomes = _race(live_api, clients, namespace_id)
            tally.transactions_per_round.append(live_api.commits.reached() - reached_before)
            winner = _check_round(live_api, clients[0], namespace_id, outcomes)
            _tally(tally, outcomes, winner)
    finally:
        for client in clients:
            client.close()
    line = _report(tally, live_api.commits, time.perf_counter() - started)
    record_property("promotion_race", line)
    with capsys.disabled():  # the figures belong in every run's log, not only in -s runs
        print(f"\n{line}")
    assert tally.winners_per_round == [1] * ROUNDS
    assert live_api.commits.committed == ROUNDS and live_api.commits.other == []
    # Otherwise every loser was stopped by validation and the transaction's condition (the thing
    # under test) was never raced: the run would prove nothing.
    assert max(tally.transactions_per_round) >= 2, "no round had two promotions reach the commit"


def _tally(tally: Tally, outcomes: list[Outcome], winner: Outcome) -> None:
    tally.winners_per_round.append(sum(outcome.status == 200 for outcome in outcomes))
    tally.winner_seconds.append(winner.seconds)
    for loser in outcomes:
        if loser is winner:
            continue
        tally.loser_seconds.append(loser.seconds)
        # "already managed" (seen at validation, or in the failed condition's old item) or
        # "changed concurrently" (the condition failed on the version while still standalone).
        message = loser.body["error"]["message"]
        kind = "changed concurrently" if "concurrently" in message else "already managed"
        tally.loser_messages[kind] = tally.loser_messages.get(kind, 0) + 1


def _report(tally: Tally, commits: CommitSpy, seconds: float) -> str:
    per_round = tally.transactions_per_round
    return (
        f"promotion race on DynamoDB Local: {ROUNDS} rounds x {THREADS} threads -> "
        f"{sum(tally.winners_per_round)} winners ({min(tally.winners_per_round)}-"
        f"{max(tally.winners_per_round)} per round), "
        f"{len(tally.loser_seconds)} x 409 {tally.loser_messages}; "
        f"TransactWriteItems per round {min(per_round)}-{max(per_round)} "
        f"(median {statistics.median(per_round):g}): "
        f"{commits.committed} committed, {commits.refused} refused by the condition; "
        f"winner latency p50 {statistics.median(tally.winner_seconds) * 1000:.0f} ms "
        f"(max {max(tally.winner_seconds) * 1000:.0f} ms), loser p50 "
        f"{statistics.median(tally.loser_seconds) * 1000:.0f} ms; {seconds:.1f} s"
    )
