"""`DynamoDBPointReader`: the same items as boto3 from a real moto server, botocore's retries and
error shapes from a scripted loopback server, and the environment rules that pick it."""

from __future__ import annotations

import json
import threading
import uuid
import zlib
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from stratus.adapters.dynamodb.point_reads import DynamoDBPointReader, plain_value, regional_endpoint
from stratus.adapters.dynamodb.sigv4 import Credentials
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.errors import MetadataStoreUnavailableError
from stratus.services.api_keys import create_api_key
from stratus_local.bootstrap.tables import create_tables
from tests.integration.test_dynamodb_metadata import make_namespace

ORG = "org_reads"
KEY = {"PK": {"S": "APIKEY#x"}, "SK": {"S": "APIKEY"}}


# -- the same answers as boto3, from a real moto server over HTTP ------------------------------


@pytest.fixture
def table(aws_env: None, endpoint_url: str) -> str:
    name = f"stratus-reads-{uuid.uuid4().hex[:8]}"
    create_tables(boto3.client("dynamodb", endpoint_url=endpoint_url), {"MetadataTable": name})
    return name


def test_a_store_reads_keys_and_namespaces_over_http_without_a_boto3_client(
    endpoint_url: str, table: str
) -> None:
    writer = DynamoDBMetadataStore(table, endpoint_url=endpoint_url)
    _plaintext, key = create_api_key(writer, ORG, "reader", ["read"])
    namespace = make_namespace("ns_reads", name="reads", org_id=ORG)
    writer.create_namespace(namespace)

    reader = DynamoDBMetadataStore(table, endpoint_url=endpoint_url, http_reads=True)

    assert reader.get_api_key(key.key_hash) == writer.get_api_key(key.key_hash)
    assert reader.get_namespace(ORG, "ns_reads") == writer.get_namespace(ORG, "ns_reads")
    assert reader.find_namespace(ORG, "reads") == writer.find_namespace(ORG, "reads")
    assert reader.get_namespace(ORG, "ns_missing") is None
    assert reader._client is None, "point reads must not build a boto3 client"


def test_queries_over_http_answer_as_boto3_and_never_build_a_client(endpoint_url: str, table: str) -> None:
    """Every query the store makes (pages with cursors, counts, whole partitions) gives the same
    answer through the HTTP reader as through boto3."""
    from stratus.models.managed_content import Bucket
    from stratus.ports import FieldUsage

    writer = DynamoDBMetadataStore(table, endpoint_url=endpoint_url)
    for index in range(3):
        namespace = make_namespace(f"ns_q{index}", name=f"q{index}", org_id=ORG)
        writer.create_namespace(namespace)
        create_api_key(writer, ORG, f"key {index}", ["read"])
    for index in range(5):
        writer.create_bucket(
            Bucket(
                org_id=ORG,
                namespace_id="ns_q0",
                bucket_id=f"bkt_{index}",
                bucket_name=f"bucket {index}",
                s3_uri=f"s3://data/ns_q0/bkt_{index}/",
                created_at="2026-12-03T00:00:00Z",
            )
        )
    for hour in ("2026120301", "2026120302"):
        writer.add_filter_usage(ORG, "ns_q0", hour, {"category": FieldUsage(3, {"keyword": 3})}, 2**31)

    reader = DynamoDBMetadataStore(table, endpoint_url=endpoint_url, http_reads=True)

    def pages(store: DynamoDBMetadataStore, list_page: Any) -> list[Any]:
        found, cursor = [], None
        while True:
            page = list_page(store, cursor)
            found.append(page)
            cursor = page.next_cursor
            if cursor is None:
                return found

    namespace_pages = pages(reader, lambda store, cursor: store.list_namespaces(ORG, 2, cursor))
    assert namespace_pages == pages(writer, lambda store, cursor: store.list_namespaces(ORG, 2, cursor))
    assert [len(page.namespaces) for page in namespace_pages] == [2, 1]
    bucket_pages = pages(reader, lambda store, cursor: store.list_buckets(ORG, "ns_q0", 2, cursor))
    assert bucket_pages == pages(writer, lambda store, cursor: store.list_buckets(ORG, "ns_q0", 2, cursor))
    assert [len(page.buckets) for page in bucket_pages] == [2, 2, 1]
    assert reader.count_buckets(ORG, "ns_q0") == writer.count_buckets(ORG, "ns_q0") == 5
    assert reader.count_buckets(ORG, "ns_q1") == 0
    assert reader.count_objects(ORG, "ns_q0") == writer.count_objects(ORG, "ns_q0") == 0
    assert sorted(k.name for k in reader.list_api_keys(ORG)) == ["key 0", "key 1", "key 2"]
    assert reader.list_api_keys(ORG) == writer.list_api_keys(ORG)
    usage = reader.get_filter_usage(ORG, "ns_q0", "2026120300", "2026120323")
    assert usage == writer.get_filter_usage(ORG, "ns_q0", "2026120300", "2026120323")
    assert sorted(usage) == ["2026120301", "2026120302"]
    assert reader._client is None, "queries must not build a boto3 client"


def test_raw_items_match_boto3_for_every_attribute_type(endpoint_url: str, table: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    item = TypeSerializer().serialize(
        {
            "PK": "APIKEY#x",
            "SK": "APIKEY",
            "s": "ünïcode ✓",
            "n": Decimal("-12.5e-3"),
            "big": Decimal("123456789012345678901234567890"),
            "b": b"\x00\xffbytes",
            "bool": False,
            "null": None,
            "m": {"inner": [1, "two", {"three": Decimal("3")}]},
            "ss": {"a", "b"},
            "ns": {Decimal("1"), Decimal("2.5")},
            "bs": {b"x", b"y"},
        }
    )["M"]
    client.put_item(TableName=table, Item=item)
    reader = DynamoDBPointReader(endpoint_url, "us-east-1", Credentials("testing", "testing"))

    raw = reader.get_item(table, KEY, consistent_read=True)
    via_boto3 = client.get_item(TableName=table, Key=KEY, ConsistentRead=True)["Item"]

    assert raw is not None
    deserializer = TypeDeserializer()
    expected = {name: deserializer.deserialize(value) for name, value in via_boto3.items()}
    expected["b"] = expected["b"].value
    expected["bs"] = {member.value for member in expected["bs"]}
    assert {name: plain_value(value) for name, value in raw.items()} == expected


def test_a_missing_table_is_the_same_client_error_as_boto3(endpoint_url: str, table: str) -> None:
    reader = DynamoDBPointReader(endpoint_url, "us-east-1", Credentials("testing", "testing"))
    with pytest.raises(ClientError) as ours:
        reader.get_item("no-such-table", KEY, consistent_read=True)
    with pytest.raises(ClientError) as theirs:
        boto3.client("dynamodb", endpoint_url=endpoint_url).get_item(TableName="no-such-table", Key=KEY)
    assert ours.value.response["Error"]["Code"] == theirs.value.response["Error"]["Code"]
    assert ours.value.response["Error"]["Code"] == "ResourceNotFoundException"


_scalars = st.one_of(
    st.text(max_size=5).map(lambda text: {"S": text}),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda number: {"N": str(number)}),
    st.booleans().map(lambda flag: {"BOOL": flag}),
    st.just({"NULL": True}),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda members: {"L": members}),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(lambda members: {"M": members}),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(_values)
def test_plain_value_matches_boto3s_deserializer(value: dict[str, Any]) -> None:
    assert plain_value(value) == TypeDeserializer().deserialize(cast(Any, value))


# -- botocore's retries and errors, from a scripted server -------------------------------------


class ScriptedDynamoDB:
    """Answers the scripted (status, body, extra headers) in turn, then `{}`; records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes, dict[str, str]]] = []
        self.requests: list[dict[str, str]] = []
        # Close each connection after answering without saying so, as a server that drops idle
        # keep-alive connections does while a Lambda container is frozen.
        self.drop_connections = False
        self._lock = threading.Lock()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with scripted._lock:
                    scripted.requests.append(dict(self.headers.items()))
                    status, body, headers = scripted.script.pop(0) if scripted.script else (200, b"{}", {})
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = scripted.drop_connections

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _error(code: str, status: int = 400) -> tuple[int, bytes, dict[str, str]]:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "scripted"}).encode()
    return status, body, {}


@pytest.fixture
def scripted() -> Iterator[ScriptedDynamoDB]:
    server = ScriptedDynamoDB()
    yield server
    server.close()


def _reader(url: str, sleeps: list[float], max_attempts: int = 3) -> DynamoDBPointReader:
    return DynamoDBPointReader(
        url,
        "us-east-1",
        Credentials("AKID", "secret", "token"),
        max_attempts=max_attempts,
        sleep=sleeps.append,
    )


def test_throttling_and_5xx_are_retried_then_answered(scripted: ScriptedDynamoDB) -> None:
    item = {"PK": {"S": "APIKEY#x"}, "SK": {"S": "APIKEY"}}
    scripted.script = [_error("ProvisionedThroughputExceededException"), _error("InternalServerError", 500)]
    scripted.script.append((200, json.dumps({"Item": item}).encode(), {}))
    sleeps: list[float] = []

    assert _reader(scripted.url, sleeps).get_item("t", KEY, consistent_read=True) == item
    assert len(scripted.requests) == 3 and len(sleeps) == 2
    assert all(0 <= delay <= 2 for delay in sleeps)
    dates = {request["X-Amz-Date"] for request in scripted.requests}
    assert all(request["X-Amz-Security-Token"] == "token" for request in scripted.requests)
    assert all(
        request["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
        for request in scripted.requests
    )
    assert dates  # every attempt is signed (the date may repeat within a second)


def test_keep_alive_connections_are_reused_and_dropped_ones_replaced(scripted: ScriptedDynamoDB) -> None:
    sleeps: list[float] = []
    reader = _reader(scripted.url, sleeps)
    reader.get_item("t", KEY, consistent_read=True)
    reader.get_item("t", KEY, consistent_read=True)
    assert len(reader._idle) == 1, "one connection, kept alive between reads"

    scripted.drop_connections = True
    reader.get_item("t", KEY, consistent_read=True)  # answered, then the server drops it
    assert reader.get_item("t", KEY, consistent_read=True) is None  # on a new connection

    assert len(scripted.requests) == 4
    assert sleeps == [], "a dropped idle connection is replaced without spending a retry"


def test_validation_errors_are_not_retried(scripted: ScriptedDynamoDB) -> None:
    scripted.script = [_error("ValidationException")]
    with pytest.raises(ClientError) as raised:
        _reader(scripted.url, []).get_item("t", KEY, consistent_read=True)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(scripted.requests) == 1


def test_a_damaged_body_is_retried(scripted: ScriptedDynamoDB) -> None:
    good = json.dumps({"Item": {"PK": {"S": "p"}}}).encode()
    scripted.script = [(200, good, {"x-amz-crc32": str(zlib.crc32(good) ^ 1)})]
    scripted.script.append((200, good, {"x-amz-crc32": str(zlib.crc32(good))}))
    assert _reader(scripted.url, []).get_item("t", KEY, consistent_read=True) == {"PK": {"S": "p"}}
    assert len(scripted.requests) == 2


def test_a_store_turns_persistent_throttling_into_a_retryable_503(
    aws_env: None, scripted: ScriptedDynamoDB
) -> None:
    store = DynamoDBMetadataStore("t", endpoint_url=scripted.url, http_reads=True)
    reader = store._reader()
    assert reader is not None
    reader._sleep = lambda _seconds: None
    scripted.script = [_error("ThrottlingException")] * 5
    with pytest.raises(MetadataStoreUnavailableError):
        store.get_namespace(ORG, "ns")
    assert len(scripted.requests) == reader.max_attempts


def test_a_store_turns_a_dead_endpoint_into_a_retryable_503(
    aws_env: None, scripted: ScriptedDynamoDB
) -> None:
    url = scripted.url
    scripted.close()  # nothing listens on the port any more
    store = DynamoDBMetadataStore("t", endpoint_url=url, http_reads=True)
    reader = store._reader()
    assert reader is not None
    reader._sleep = lambda _seconds: None
    with pytest.raises(MetadataStoreUnavailableError):
        store.get_api_key("hash")
    with pytest.raises(EndpointConnectionError):
        reader.get_item("t", KEY, consistent_read=True)


# -- which configurations it covers ------------------------------------------------------------

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}


@pytest.mark.parametrize(
    ("environ", "region", "endpoint"),
    [
        (CREDENTIALS, "us-east-1", "https://dynamodb.us-east-1.amazonaws.com/"),
        (CREDENTIALS, "ap-southeast-2", "https://dynamodb.ap-southeast-2.amazonaws.com/"),
        (CREDENTIALS, "cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn/"),
        (
            {**CREDENTIALS, "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"},
            "us-east-1",
            "http://127.0.0.1:8000/",
        ),
        ({**CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, "us-east-1", "http://127.0.0.1:5000/"),
        (
            {**CREDENTIALS, "AWS_ENDPOINT_URL": "http://x:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
            "us-east-1",
            "https://dynamodb.us-east-1.amazonaws.com/",
        ),
        ({"AWS_ACCESS_KEY_ID": "AKID"}, "us-east-1", None),
        ({}, "us-east-1", None),
        ({**CREDENTIALS, "HTTPS_PROXY": "http://proxy:3128"}, "us-east-1", None),
        ({**CREDENTIALS, "AWS_USE_FIPS_ENDPOINT": "true"}, "us-east-1", None),
        ({**CREDENTIALS, "AWS_USE_DUALSTACK_ENDPOINT": "true"}, "us-east-1", None),
        ({**CREDENTIALS, "AWS_MAX_ATTEMPTS": "many"}, "us-east-1", None),
        (CREDENTIALS, "us-gov-west-1", None),
        (CREDENTIALS, "us-iso-east-1", None),
    ],
)
def test_from_environment_covers_plain_configurations_only(
    environ: dict[str, str], region: str, endpoint: str | None
) -> None:
    reader = DynamoDBPointReader.from_environment(region, environ=environ)
    assert (reader.endpoint_url if reader else None) == endpoint


def test_from_environment_takes_the_session_token_and_attempts() -> None:
    environ = {**CREDENTIALS, "AWS_SESSION_TOKEN": "tok", "AWS_MAX_ATTEMPTS": "5"}
    reader = DynamoDBPointReader.from_environment("us-east-1", "http://127.0.0.1:9", environ=environ)
    assert reader is not None
    assert reader.max_attempts == 5 and reader._credentials.session_token == "tok"


def test_regional_endpoint_refuses_unknown_partitions() -> None:
    assert regional_endpoint("eu-central-1") == "https://dynamodb.eu-central-1.amazonaws.com"
    assert regional_endpoint("us-isob-east-1") is None
    assert regional_endpoint("") is None


def test_a_store_without_environment_credentials_reads_through_boto3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, endpoint_url: str, table: str
) -> None:
    # Credentials from a profile file, as on a developer's machine: only boto3 reads those.
    profile = tmp_path / "credentials"
    profile.write_text("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = DynamoDBMetadataStore(table, endpoint_url=endpoint_url, http_reads=True)

    assert store.get_namespace(ORG, "ns_missing") is None
    assert store._reader() is None and store._client is not None
