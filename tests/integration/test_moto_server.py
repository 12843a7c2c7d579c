"""The local AWS emulation: moto's server in a thread, requests serialized through one lock.

Given a LocalAws on a free port, with the template's table created in it,
when clients talk to it over HTTP (as the API and the CLI do),
then DynamoDB behaves like DynamoDB - including one winner among racing conditional writes -
and an SQS long poll waits like SQS without holding up anyone else."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stratus_local.bootstrap.tables import create_tables
from stratus_local.moto_server import (
    DUMMY_CREDENTIALS,
    LONG_POLL_RECHECK_SECONDS,
    LocalAws,
    SerializedWsgiApp,
)

RACE_ROUNDS = 5
# The most any wait for another thread should take; real waits are well under a second.
PATIENCE_SECONDS = 15.0


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _dynamodb(endpoint_url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        # No retries: a lost race must surface as the error it is, not be retried away.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16),
    )


@pytest.fixture
def table(local_aws: LocalAws) -> str:
    # moto's backends are process-global: a fresh table name per test keeps tests independent.
    name = f"stratus-{uuid.uuid4().hex[:8]}"
    create_tables(_dynamodb(local_aws.endpoint_url), {"MetadataTable": name})
    return name


def test_endpoint_is_loopback_on_a_free_port(local_aws: LocalAws) -> None:
    assert local_aws.endpoint_url.startswith("http://127.0.0.1:")
    assert local_aws.port > 0


def test_tables_match_the_template(local_aws: LocalAws, table: str) -> None:
    client = _dynamodb(local_aws.endpoint_url)
    description = client.describe_table(TableName=table)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in description["KeySchema"]} == {
        "PK": "HASH",
        "SK": "RANGE",
    }
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_create_tables_is_idempotent(local_aws: LocalAws, table: str) -> None:
    again = create_tables(_dynamodb(local_aws.endpoint_url), {"MetadataTable": table})
    assert again["MetadataTable"] == table
    # Tables the caller does not name keep their local names (the extractor's idempotency table).
    assert again["IdempotencyTable"] == "stratus-idempotency"


def test_transaction_commits_all_or_nothing(local_aws: LocalAws, table: str) -> None:
    client = _dynamodb(local_aws.endpoint_url)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"PK": {"S": "org#a"}, "SK": {"S": "ns#1"}}}},
            {"Put": {"TableName": table, "Item": {"PK": {"S": "org#a"}, "SK": {"S": "name#1"}}}},
        ]
    )
    # The second transaction's condition fails, so its first Put must not land either.
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"PK": {"S": "org#a"}, "SK": {"S": "ns#2"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"PK": {"S": "org#a"}, "SK": {"S": "name#1"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    keys = client.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "org#a"}},
    )["Items"]
    assert sorted(item["SK"]["S"] for item in keys) == ["name#1", "ns#1"]


def _items(client: Any, table: str, pk: str) -> dict[str, dict[str, Any]]:
    found = client.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )["Items"]
    return {item["SK"]["S"]: item for item in found}


def test_a_cancelled_transaction_puts_back_every_item_it_touched(local_aws: LocalAws, table: str) -> None:
    """The per-item rollback (stratus_local.moto_patches): a Put of a new item, an Update and
    a Delete of existing ones all land before the failing condition, and all are undone."""
    from moto.dynamodb.models import dynamodb_backends

    client = _dynamodb(local_aws.endpoint_url)
    for sk, count in (("counter", 5), ("doomed", 1), ("guard", 0)):
        client.put_item(
            TableName=table, Item={"PK": {"S": "org#r"}, "SK": {"S": sk}, "count": {"N": str(count)}}
        )
    before = _items(client, table, "org#r")
    backend_table = dynamodb_backends["123456789012"]["us-east-1"].tables[table]

    def transaction(guard_expected: int) -> list[dict[str, Any]]:
        return [
            {"Put": {"TableName": table, "Item": {"PK": {"S": "org#r"}, "SK": {"S": "new"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"PK": {"S": "org#r"}, "SK": {"S": "counter"}},
                    "UpdateExpression": "SET #c = #c + :one",
                    "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": table, "Key": {"PK": {"S": "org#r"}, "SK": {"S": "doomed"}}}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {"PK": {"S": "org#r"}, "SK": {"S": "guard"}},
                    "ConditionExpression": "#c = :expected",
                    "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {":expected": {"N": str(guard_expected)}},
                }
            },
        ]

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=transaction(guard_expected=1))
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(client, table, "org#r") == before
    # No whole-table copy was swapped in, and the temporary no-op copy is gone again.
    assert dynamodb_backends["123456789012"]["us-east-1"].tables[table] is backend_table
    assert "__deepcopy__" not in type(backend_table).__dict__

    # Two operations on one key: moto refuses after writing the first; that write is undone too.
    twice = [
        {
            "Put": {
                "TableName": table,
                "Item": {"PK": {"S": "org#r"}, "SK": {"S": "counter"}, "count": {"N": "9"}},
            }
        },
        {"Delete": {"TableName": table, "Key": {"PK": {"S": "org#r"}, "SK": {"S": "counter"}}}},
    ]
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=twice)
    assert _items(client, table, "org#r") == before

    client.transact_write_items(TransactItems=transaction(guard_expected=0))
    after = _items(client, table, "org#r")
    assert sorted(after) == ["counter", "guard", "new"]
    assert after["counter"]["count"] == {"N": "6"}


@pytest.fixture
def eager_thread_switching() -> Iterator[None]:
    """Switch threads every microsecond instead of every 5 ms. With the default interval a
    moto request usually runs to completion before another thread gets the GIL, so an
    *unserialized* server passes these races by luck; with this one it reliably loses them
    (checked by hand: 2-3 winners out of 8), so the tests really prove the lock."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _race(n: int, attempt: Any) -> list[str]:
    """Run `attempt(i)` on n threads released at the same instant; collect each outcome."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = [""] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            outcomes[i] = "ok"
        except ClientError as error:
            outcomes[i] = error.response["Error"]["Code"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.usefixtures("eager_thread_switching")
@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_concurrent_conditional_puts_have_exactly_one_winner(
    local_aws: LocalAws, table: str, round_: int
) -> None:
    clients = [_dynamodb(local_aws.endpoint_url) for _ in range(8)]

    def put(i: int) -> None:
        clients[i].put_item(
            TableName=table,
            Item={"PK": {"S": "org#race"}, "SK": {"S": "ns#x"}, "writer": {"N": str(i)}},
            ConditionExpression="attribute_not_exists(PK)",
        )

    outcomes = _race(8, put)
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("ConditionalCheckFailedException") == 7, outcomes


@pytest.mark.usefixtures("eager_thread_switching")
@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_concurrent_versioned_transactions_have_exactly_one_winner(
    local_aws: LocalAws, table: str, round_: int
) -> None:
    """The promotion pattern: read version 1, then TransactWriteItems conditioned on it."""
    client = _dynamodb(local_aws.endpoint_url)
    key = {"PK": {"S": "org#race"}, "SK": {"S": "ns#promote"}}
    client.put_item(TableName=table, Item={**key, "version": {"N": "1"}, "mode": {"S": "standalone"}})
    clients = [_dynamodb(local_aws.endpoint_url) for _ in range(8)]

    def promote(i: int) -> None:
        clients[i].transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": key,
                        "UpdateExpression": "SET version = :next, #mode = :managed, winner = :i",
                        "ConditionExpression": "version = :seen AND #mode = :standalone",
                        "ExpressionAttributeNames": {"#mode": "mode"},
                        "ExpressionAttributeValues": {
                            ":seen": {"N": "1"},
                            ":next": {"N": "2"},
                            ":managed": {"S": "managed"},
                            ":standalone": {"S": "standalone"},
                            ":i": {"N": str(i)},
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"PK": {"S": "org#race"}, "SK": {"S": f"audit#{i}"}},
                    }
                },
            ]
        )

    outcomes = _race(8, promote)
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("TransactionCanceledException") == 7, outcomes
    # Only the winner's second write exists: the losers changed nothing.
    audits = client.query(
        TableName=table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :audit)",
        ExpressionAttributeValues={":pk": {"S": "org#race"}, ":audit": {"S": "audit#"}},
    )["Items"]
    winner = client.get_item(TableName=table, Key=key)["Item"]["winner"]["N"]
    assert [item["SK"]["S"] for item in audits] == [f"audit#{winner}"]


def test_large_request_bodies_pass_through(local_aws: LocalAws, table: str) -> None:
    """Bodies are buffered before the lock; a ~390 KB item must arrive intact."""
    client = _dynamodb(local_aws.endpoint_url)
    blob = "x" * 390_000
    client.put_item(TableName=table, Item={"PK": {"S": "big"}, "SK": {"S": "1"}, "blob": {"S": blob}})
    item = client.get_item(TableName=table, Key={"PK": {"S": "big"}, "SK": {"S": "1"}})["Item"]
    assert item["blob"]["S"] == blob


def test_stop_releases_the_port() -> None:
    aws = LocalAws().start()
    port = aws.port
    aws.stop()
    aws.stop()  # idempotent
    # The same port can be bound again at once: the listening socket was closed.
    with LocalAws(port=port) as again:
        assert again.port == port


def test_middleware_admits_one_request_at_a_time_until_its_body_is_consumed() -> None:
    """Deterministic check of the lock itself, independent of moto's timing: a fake app whose
    response body is produced lazily (as a generator) and is held until every caller has called
    the app. Without the lock the others would be inside by then (peak 6); with it they wait."""
    callers = 6
    active = 0
    peak = 0
    called = 0
    guard = threading.Lock()
    everyone_called = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        nonlocal active, peak
        start_response("200 OK", [("Content-Type", "text/plain")])
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            # Still "inside" the request while the body streams, until the others are at the door.
            assert everyone_called.wait(PATIENCE_SECONDS), "not every caller reached the app"
            yield from (b"a", b"b")
        finally:
            with guard:
                active -= 1

    app = SerializedWsgiApp(slow_app)
    bodies: list[bytes] = []

    def call() -> None:
        nonlocal called
        with guard:
            called += 1
            if called == callers:
                everyone_called.set()
        bodies.append(b"".join(app({"CONTENT_LENGTH": "0"}, lambda *args: None)))

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=PATIENCE_SECONDS)
    assert bodies == [b"ab"] * callers
    assert peak == 1


# ---------------------------------------------------------------------------------------------
# SQS long polls: waiting outside the lock


def _sqs(endpoint_url: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def queue_url(local_aws: LocalAws) -> str:
    url: str = _sqs(local_aws.endpoint_url).create_queue(QueueName=f"poll-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url


def _receive_in_background(
    endpoint_url: str, queue_url: str, wait_seconds: int, waiting: threading.Event
) -> dict[str, Any]:
    """Start a ReceiveMessage long poll on a thread and return once it waits at the server (the
    `long_poll_waiting` event); the dict gets `messages` and `seconds`."""
    outcome: dict[str, Any] = {}

    def receive() -> None:
        started = time.monotonic()
        response = _sqs(endpoint_url).receive_message(
            QueueUrl=queue_url, WaitTimeSeconds=wait_seconds, MaxNumberOfMessages=10
        )
        outcome["seconds"] = time.monotonic() - started
        outcome["messages"] = response.get("Messages", [])

    outcome["thread"] = threading.Thread(target=receive)
    outcome["thread"].start()
    assert waiting.wait(PATIENCE_SECONDS), "the long poll never started waiting"
    return outcome


def test_a_long_poll_does_not_hold_up_other_requests(
    local_aws: LocalAws, table: str, queue_url: str, long_poll_waiting: threading.Event
) -> None:
    dynamodb = _dynamodb(local_aws.endpoint_url)  # built before the clock starts
    poll = _receive_in_background(local_aws.endpoint_url, queue_url, 6, long_poll_waiting)

    # While it waits, DynamoDB answers (behind a poll holding the lock it would wait the whole
    # 6 s). No tight bound: the answer must come while the poll is still waiting, however busy
    # the machine is.
    started = time.monotonic()
    dynamodb.get_item(TableName=table, Key={"PK": {"S": "x"}, "SK": {"S": "y"}})
    assert time.monotonic() - started < 4.0
    assert poll["thread"].is_alive()

    # And the empty poll still lasts its WaitTimeSeconds, as SQS's does.
    poll["thread"].join(timeout=15)
    assert poll["messages"] == []
    assert 5.5 <= poll["seconds"] < 9


def test_dynamodb_calls_do_not_wake_a_waiting_long_poll(
    local_aws: LocalAws,
    table: str,
    queue_url: str,
    long_poll_waiting: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DynamoDB call cannot make a message receivable: waiting polls sleep through it instead
    of each running a short poll that the API's next call would queue behind."""
    short_polls: list[float] = []
    serialized = SerializedWsgiApp._serialized

    def counted(app: SerializedWsgiApp, environ: dict[str, Any], start_response: Any) -> bytes:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            short_polls.append(time.monotonic())
        return serialized(app, environ, start_response)

    monkeypatch.setattr(SerializedWsgiApp, "_serialized", counted)
    dynamodb = _dynamodb(local_aws.endpoint_url)
    poll = _receive_in_background(local_aws.endpoint_url, queue_url, 3, long_poll_waiting)
    before = len(short_polls)
    started = time.monotonic()
    for _ in range(30):
        dynamodb.get_item(TableName=table, Key={"PK": {"S": "x"}, "SK": {"S": "y"}})
    rechecks = (time.monotonic() - started) / LONG_POLL_RECHECK_SECONDS
    # Only the poll's own rechecks (one per LONG_POLL_RECHECK_SECONDS), not one per call.
    assert len(short_polls) - before <= rechecks + 2, (len(short_polls) - before, rechecks)
    _sqs(local_aws.endpoint_url).send_message(QueueUrl=queue_url, MessageBody="still wakes it")
    poll["thread"].join(timeout=15)
    assert [m["Body"] for m in poll["messages"]] == ["still wakes it"]


def test_a_long_poll_answers_as_soon_as_a_message_arrives(
    local_aws: LocalAws, queue_url: str, long_poll_waiting: threading.Event
) -> None:
    poll = _receive_in_background(local_aws.endpoint_url, queue_url, 10, long_poll_waiting)
    _sqs(local_aws.endpoint_url).send_message(QueueUrl=queue_url, MessageBody="hello")
    poll["thread"].join(timeout=15)
    assert [m["Body"] for m in poll["messages"]] == ["hello"]
    assert poll["seconds"] < 2  # not the 10 s it was ready to wait


def test_a_long_poll_in_the_query_protocol_waits_outside_the_lock_too(
    local_aws: LocalAws, table: str, queue_url: str, long_poll_waiting: threading.Event
) -> None:
    """Older SDKs speak SQS's query protocol (form bodies, XML answers)."""
    outcome: dict[str, Any] = {}

    def receive() -> None:
        form = {"Action": "ReceiveMessage", "QueueUrl": queue_url, "WaitTimeSeconds": "10"}
        request = urllib.request.Request(
            local_aws.endpoint_url + "/",
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                # moto picks the service from the signature's credential scope.
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20251122/us-east-1/sqs/aws4_request",
            },
        )
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=15) as response:
            outcome["xml"] = response.read()
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=receive)
    thread.start()
    assert long_poll_waiting.wait(PATIENCE_SECONDS), "the long poll never started waiting"
    started = time.monotonic()
    _dynamodb(local_aws.endpoint_url).get_item(TableName=table, Key={"PK": {"S": "x"}, "SK": {"S": "y"}})
    assert time.monotonic() - started < 1.0
    _sqs(local_aws.endpoint_url).send_message(QueueUrl=queue_url, MessageBody="from-query")
    thread.join(timeout=15)
    assert b"<Body>from-query</Body>" in outcome["xml"]
    assert outcome["seconds"] < 2


def test_an_invalid_wait_still_gets_sqs_s_error(local_aws: LocalAws, queue_url: str) -> None:
    with pytest.raises(ClientError) as raised:
        _sqs(local_aws.endpoint_url).receive_message(QueueUrl=queue_url, WaitTimeSeconds=21)
    assert "WaitTimeSeconds" in str(raised.value)


def test_a_base_table_query_reads_its_partition_in_key_order(local_aws: LocalAws, table: str) -> None:
    """The partition-only query (stratus_local.moto_patches) answers as DynamoDB does: key
    conditions, order both ways, pages that resume where they stopped, filters after the read."""
    client = _dynamodb(local_aws.endpoint_url)
    for pk in ("org#p1", "org#p2", "org#p3"):
        for n in range(7):
            client.put_item(
                TableName=table,
                Item={"PK": {"S": pk}, "SK": {"S": f"{'obj' if n % 2 else 'task'}#{n}"}, "n": {"N": str(n)}},
            )

    def query(**extra: Any) -> tuple[list[str], dict[str, Any]]:
        answer = client.query(
            TableName=table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": "org#p2"},
                ":prefix": {"S": "obj#"},
                **extra.pop("values", {}),
            },
            **extra,
        )
        return [item["SK"]["S"] for item in answer["Items"]], answer

    assert query()[0] == ["obj#1", "obj#3", "obj#5"]
    assert query(ScanIndexForward=False)[0] == ["obj#5", "obj#3", "obj#1"]
    first, answer = query(Limit=2)
    rest, _ = query(Limit=2, ExclusiveStartKey=answer["LastEvaluatedKey"])
    assert (first, rest) == (["obj#1", "obj#3"], ["obj#5"])
    filtered, answer = query(FilterExpression="n > :min", values={":min": {"N": "2"}})
    assert filtered == ["obj#3", "obj#5"]
    assert (answer["Count"], answer["ScannedCount"]) == (2, 3)
    whole = client.query(
        TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "org#p3"}}
    )
    assert [item["SK"]["S"] for item in whole["Items"]] == sorted(
        f"{'obj' if n % 2 else 'task'}#{n}" for n in range(7)
    )
    nothing = client.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "org#none"}},
    )
    assert nothing["Items"] == []


def test_a_receive_still_drops_messages_past_their_retention(local_aws: LocalAws) -> None:
    """The O(1) retention check (stratus_local.moto_patches) keeps SQS's rule: a message older
    than the queue's MessageRetentionPeriod is never delivered."""
    from moto.sqs.models import sqs_backends

    sqs = _sqs(local_aws.endpoint_url)
    name = f"retention-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    # The expired message goes second: moto stops a receive at the first expired message it
    # meets (SQS would skip it), so first would hide "fresh" and prove nothing about the check.
    sqs.send_message(QueueUrl=url, MessageBody="fresh")
    sqs.send_message(QueueUrl=url, MessageBody="expired")
    queue = sqs_backends["123456789012"]["us-east-1"].queues[name]
    (expired,) = [message for message in queue._messages if message.body == "expired"]
    # Sent 61 s ago, in moto's milliseconds (moto types the attribute None until a message is sent).
    expired.sent_timestamp -= 61_000  # type: ignore[operator,assignment]

    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in received] == ["fresh"]


def test_queue_attributes_read_lazily_are_motos_own(local_aws: LocalAws) -> None:
    """The lazy `Queue.attributes` (stratus_local.moto_patches) answers what moto's property does,
    for a plain queue with a redrive policy and a content-deduplicating FIFO queue, also through
    GetQueueAttributes and a FIFO send that reads ContentBasedDeduplication."""
    from moto.sqs.models import sqs_backends

    sqs = _sqs(local_aws.endpoint_url)
    suffix = uuid.uuid4().hex[:8]
    dead = sqs.create_queue(QueueName=f"dead-{suffix}")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "3"})
    plain = sqs.create_queue(QueueName=f"plain-{suffix}", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName=f"fifo-{suffix}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=plain, MessageBody="one", DelaySeconds=30)
    sqs.send_message(QueueUrl=plain, MessageBody="two")
    sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")  # deduplicated by content

    queues = sqs_backends["123456789012"]["us-east-1"].queues
    for name in (f"plain-{suffix}", f"fifo-{suffix}.fifo"):
        queue = queues[name]
        assert dict(queue.attributes) == queue.moto_attributes  # type: ignore[attr-defined]
    plain_counts = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert plain_counts["ApproximateNumberOfMessages"] == "1"
    assert plain_counts["ApproximateNumberOfMessagesDelayed"] == "1"
    assert json.loads(plain_counts["RedrivePolicy"])["maxReceiveCount"] == 3
    fifo_attributes = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert fifo_attributes["ContentBasedDeduplication"] == "true"
    assert fifo_attributes["ApproximateNumberOfMessages"] == "1"


def test_request_dispatch_lists_motos_modules_once(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's server listed and stat-ed its package directory on every request
    (stratus_local.moto_patches lists it once): requests still reach their backends with the
    directory unreadable."""
    import os

    from moto import backends

    def unreadable(path: str) -> list[str]:
        raise AssertionError(f"listed {path} again")

    monkeypatch.setattr(os, "listdir", unreadable)
    assert {"dynamodb", "s3", "sqs"} <= set(backends.list_of_moto_modules())
    sqs = _sqs(local_aws.endpoint_url)
    url = sqs.create_queue(QueueName=f"dispatch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="routed")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["routed"]
