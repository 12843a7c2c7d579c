"""DynamoDB reads (`GetItem`, `Query`) and the rate-limit counter's `UpdateItem` as signed HTTPS
POSTs, without boto3: an authenticated request's first read (and its rate-limit count, on every
request) need not pay boto3's import and client (why, and how it stays faithful to the boto3 client
it stands in for: docs/vector-stores.md, "Point reads without boto3")."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from stratus.adapters.dynamodb.sigv4 import Credentials, signed_headers
from stratus.adapters.retry import backoff_delay

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
# As the boto3 client's config (`client.default_client_config`).
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_ATTEMPTS = 3
MAX_BACKOFF_SECONDS = 20.0

# botocore's standard retry mode retries these error codes (besides 5xx and transport errors).
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_STANDARD_REGION = re.compile(r"^[a-z]{2}-[a-z]+-\d+$")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_TRUE = frozenset({"true", "1", "yes"})


class _ChecksumMismatchError(Exception):
    """The body did not match `x-amz-crc32` (a damaged response); retried like botocore does."""


def regional_endpoint(region: str) -> str | None:
    """DynamoDB's endpoint in `region`, or None outside the aws and aws-cn partitions."""
    if not _STANDARD_REGION.match(region):
        return None
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://dynamodb.{region}.{suffix}"


def _is_true(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").lower() in _TRUE


def _ca_bundle(environ: Mapping[str, str]) -> str | None:
    """The CA file botocore would use: AWS_CA_BUNDLE, else certifi's, else botocore's own."""
    if environ.get("AWS_CA_BUNDLE"):
        return environ["AWS_CA_BUNDLE"]
    try:
        import certifi

        return str(certifi.where())
    except ImportError:
        import botocore

        bundled = os.path.join(os.path.dirname(botocore.__file__), "cacert.pem")
        return bundled if os.path.exists(bundled) else None


class DynamoDBPointReader:
    """Thread-safe; one per metadata store."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Credentials,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        ca_certs: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/") + "/"
        self.region = region
        self._credentials = credentials
        self.max_attempts = max(1, max_attempts)
        self._sleep = sleep
        self._clock = clock
        # The transport is the standard library's (already loaded by then): urllib3's import
        # alone cost a fifth of what this module saves. Idle keep-alive connections wait in a
        # list; each request takes one (or opens one), so threads never share a connection.
        parts = urlsplit(self.endpoint_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"  # the path signed (from endpoint_url) is the one sent
        self._ssl_context = ssl.create_default_context(cafile=ca_certs) if self._https else None
        self._idle: list[http.client.HTTPConnection] = []
        self._idle_lock = threading.Lock()

    @classmethod
    def from_environment(
        cls, region: str, endpoint_url: str | None = None, environ: Mapping[str, str] | None = None
    ) -> DynamoDBPointReader | None:
        """A reader configured as a default boto3 client would be, or None where this module
        does not cover the configuration (see the module docstring)."""
        env = os.environ if environ is None else environ
        access_key, secret_key = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if not access_key or not secret_key:
            return None
        if any(env.get(name) for name in _PROXY_VARIABLES):
            return None
        if any(_is_true(env, name) for name in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")):
            return None
        if endpoint_url is None and not _is_true(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
            endpoint_url = env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL")
        endpoint = endpoint_url or regional_endpoint(region)
        if endpoint is None:
            return None
        try:
            max_attempts = int(env.get("AWS_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS)
        except ValueError:
            return None
        credentials = Credentials(access_key, secret_key, env.get("AWS_SESSION_TOKEN") or None)
        ca_certs = _ca_bundle(env) if endpoint.startswith("https://") else None
        return cls(endpoint, region, credentials, max_attempts=max_attempts, ca_certs=ca_certs)

    def get_item(
        self, table_name: str, key: Mapping[str, Any], *, consistent_read: bool
    ) -> dict[str, Any] | None:
        """The item in DynamoDB's JSON (`{"PK": {"S": ...}, ...}`), or None if there is none."""
        request = {"TableName": table_name, "Key": key, "ConsistentRead": consistent_read}
        answer = self._call("GetItem", request)
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def query(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One page of a `Query`: the answer as DynamoDB sends it (`Items` in DynamoDB's JSON,
        `Count`, `LastEvaluatedKey`), the request as boto3's low-level `query` takes it."""
        return self._call("Query", request)

    def update_item(self, request: Mapping[str, Any], max_attempts: int | None = None) -> dict[str, Any]:
        """One `UpdateItem`, the request as boto3's low-level `update_item` takes it; a failed
        condition is the `ConditionalCheckFailedException` ClientError boto3 raises. At most
        `max_attempts` tries (default: the reader's), since an `ADD` retried after a lost answer
        may count twice."""
        return self._call("UpdateItem", request, max_attempts)

    def _call(
        self, operation: str, request: Mapping[str, Any], max_attempts: int | None = None
    ) -> dict[str, Any]:
        body = json.dumps(request, separators=(",", ":")).encode("utf-8")
        attempts = self.max_attempts if max_attempts is None else max(1, min(max_attempts, self.max_attempts))
        for attempt in range(1, attempts + 1):
            try:
                return self._send_once(operation, body)
            except (ClientError, EndpointConnectionError, ReadTimeoutError, _ChecksumMismatchError) as error:
                if attempt == attempts or not _is_retryable(error):
                    if isinstance(error, _ChecksumMismatchError):
                        raise EndpointConnectionError(endpoint_url=self.endpoint_url, error=error) from error
                    raise
                # botocore's standard mode: full jitter over an exponential cap.
                self._sleep(backoff_delay(attempt, base=1.0, cap=MAX_BACKOFF_SECONDS, jitter="full"))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, operation: str, body: bytes) -> dict[str, Any]:
        headers = signed_headers(
            url=self.endpoint_url,
            body=body,
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation},
            credentials=self._credentials,
            region=self.region,
            service="dynamodb",
            now=self._clock(),
        )
        status, response_headers, data = self._exchange(body, headers)
        expected_crc = response_headers.get("x-amz-crc32")
        if expected_crc is not None and int(expected_crc) != zlib.crc32(data) & 0xFFFFFFFF:
            raise _ChecksumMismatchError(operation)
        answer = _json_object(data)
        if status >= 300:
            raise _client_error(operation, status, answer, response_headers.get("x-amzn-requestid", ""))
        return answer

    def _exchange(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, Message, bytes]:
        """One POST on an idle keep-alive connection (or a new one). A reused connection the
        server has closed meanwhile (Lambda freezes containers between invocations) is replaced
        at once, as urllib3 would, without spending a retry. Socket errors become botocore's."""
        with self._idle_lock:
            connection = self._idle.pop() if self._idle else None
        try:
            if connection is not None:
                try:
                    return self._round_trip(connection, body, headers)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    connection.close()
            connection = self._open()
            return self._round_trip(connection, body, headers)
        except TimeoutError as error:
            _close(connection)
            raise ReadTimeoutError(endpoint_url=self.endpoint_url, error=error) from error
        except (OSError, http.client.HTTPException) as error:
            _close(connection)
            raise EndpointConnectionError(endpoint_url=self.endpoint_url, error=error) from error

    def _round_trip(
        self, connection: http.client.HTTPConnection, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, Message, bytes]:
        connection.request("POST", self._path, body=body, headers=dict(headers))
        response = connection.getresponse()
        data = response.read()
        if response.will_close:
            connection.close()
        else:
            with self._idle_lock:
                self._idle.append(connection)
        return response.status, response.headers, data

    def _open(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=CONNECT_TIMEOUT_SECONDS, context=self._ssl_context
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT_SECONDS)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(READ_TIMEOUT_SECONDS)
        return connection


def _close(connection: http.client.HTTPConnection | None) -> None:
    if connection is not None:
        connection.close()


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data) if data else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _client_error(operation: str, status: int, answer: Mapping[str, Any], request_id: str) -> ClientError:
    """The exception botocore raises for the same answer (the code is `__type` after the '#')."""
    code = str(answer.get("__type", "")).rpartition("#")[2] or str(status)
    message = str(answer.get("message") or answer.get("Message") or "")
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return status >= 500 or error.response.get("Error", {}).get("Code") in _RETRYABLE_CODES
    return True  # transport failures and damaged bodies


def plain_value(value: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as Python, as boto3's `TypeDeserializer` gives it (numbers as
    Decimal, sets as sets) except binary, which is plain bytes here."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return Decimal(inner)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: plain_value(member) for name, member in inner.items()}
    if kind == "L":
        return [plain_value(member) for member in inner]
    if kind == "SS":
        return set(inner)
    if kind == "NS":
        return {Decimal(member) for member in inner}
    if kind == "B":
        return _binary(inner)
    if kind == "BS":
        return {_binary(member) for member in inner}
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _binary(value: str | bytes) -> bytes:
    # boto3 hands over bytes it already decoded; the raw JSON has base64.
    return value if isinstance(value, bytes) else base64.b64decode(value)
