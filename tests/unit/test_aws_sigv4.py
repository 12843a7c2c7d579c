"""Our SigV4 signer against botocore's, header for header, on the requests the point reader sends."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from stratus.adapters.dynamodb.sigv4 import Credentials, signed_headers

NOW = dt.datetime(2026, 12, 3, 19, 4, 5, tzinfo=dt.UTC)
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"}


def _botocore_headers(
    url: str, body: bytes, credentials: Credentials, region: str, service: str
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(JSON_HEADERS))
    signer = SigV4Auth(
        BotocoreCredentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        ),
        service,
        region,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


@pytest.mark.parametrize(
    ("url", "session_token", "region"),
    [
        ("https://dynamodb.us-east-1.amazonaws.com/", "FwoGZXIvYXdzEJr//////////token+/=", "us-east-1"),
        ("https://dynamodb.eu-west-3.amazonaws.com/", None, "eu-west-3"),
        ("https://dynamodb.cn-north-1.amazonaws.com.cn/", "t", "cn-north-1"),
        ("http://127.0.0.1:8000/", None, "us-east-1"),
        ("https://dynamodb.us-east-1.amazonaws.com:443/", None, "us-east-1"),
        ("http://localhost:80/", "  spaced   token  ", "us-west-2"),
    ],
)
def test_signature_matches_botocore(url: str, session_token: str | None, region: str) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token)
    body = b'{"TableName":"stratus","Key":{"PK":{"S":"APIKEY#ab"},"SK":{"S":"APIKEY"}},"ConsistentRead":true}'

    ours = signed_headers(
        url=url,
        body=body,
        headers=dict(JSON_HEADERS),
        credentials=credentials,
        region=region,
        service="dynamodb",
        now=NOW,
    )
    theirs = _botocore_headers(url, body, credentials, region, "dynamodb")

    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"] == "20261203T190405Z"
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_the_signature_covers_the_body() -> None:
    credentials = Credentials("AKID", "secret")
    sign = {
        "url": "https://dynamodb.us-east-1.amazonaws.com/",
        "headers": dict(JSON_HEADERS),
        "credentials": credentials,
        "region": "us-east-1",
        "service": "dynamodb",
        "now": NOW,
    }
    first = signed_headers(body=b'{"a":1}', **sign)  # type: ignore[arg-type]
    second = signed_headers(body=b'{"a":2}', **sign)  # type: ignore[arg-type]
    assert first["Authorization"] != second["Authorization"]


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI-secret", "session-token")
    assert "secret" not in repr(credentials) and "session-token" not in repr(credentials)
