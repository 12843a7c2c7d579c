"""Free-form JSON kept in the metadata store (`stratus.models.stored_json`): a bucket's
`bucket_schema`, an object's `metadata`, a payload index's `field_schema`, a collection's
`input_mappings`.

Found by the API fuzz suite (tests/fuzz): numbers DynamoDB cannot hold (1e-200, 1e300, 40-digit
integers) were a 500 at write time; a map with an empty key was written but broke every later
read of the item, so one bad bucket turned `GET /v1/buckets` into a 500 for its namespace; and a
float of 1e38 or more in a `field_schema` was written but read back as an int of over 38 digits,
so the namespace (and `GET /v1/namespaces`) answered 500. They are now 422s naming the value,
and whatever the check accepts round-trips through DynamoDB (moto) unchanged, twice.
"""

from __future__ import annotations

import decimal
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratus import limits
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.models.managed_content import Bucket
from stratus.models.stored_json import MAX_DEPTH, storage_problem
from tests.integration.test_managed_namespace_api import SEED_BODY
from tests.wiring import WiredApi


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"a": 1e-200}, "at 'a': 1e-200 cannot be stored"),
        ({"a": 1.7976931348623157e308}, "cannot be stored"),
        ({"a": [1, {"b": 10**40}]}, f"at 'a[1].b': {10**40} cannot be stored"),
        ({"a": 123456789012345678901234567890123456789}, "38 digits"),
        ({"a": float("nan")}, "cannot be stored"),
        ({"a": 1e38}, "below 1e38"),
        ({"": 1}, "the value: an empty key"),
        ({"a": [{"": 1}]}, "at 'a[0]': an empty key"),
        (_nested(MAX_DEPTH + 1), f"more than {MAX_DEPTH} objects or arrays deep"),
        # boto3 cannot encode a lone surrogate: a 500 at write time.
        ({"a": ["x", "b\ud800"]}, "at 'a[1]': a lone surrogate"),
        ({"a": {"\udc00": 1}}, "at 'a': a key holds a lone surrogate"),
    ],
)
def test_what_dynamodb_cannot_hold_is_named(value: dict[str, Any], words: str) -> None:
    problem = storage_problem(value)
    assert problem is not None and words in problem, problem


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": 0, "b": 0.0, "c": -1.5e-130, "d": 9.99e37, "e": 12345678901234567890123456789012345678},
        {"a": [None, True, "", "x", {"b": []}]},
        # JSON's escaped pair decodes to one character, which is Unicode.
        json.loads('{"pair": "\\ud83d\\ude00", "\U0001f600": "itself"}'),
        _nested(MAX_DEPTH),
    ],
)
def test_what_dynamodb_holds_passes(value: dict[str, Any]) -> None:
    assert storage_problem(value) is None


# ---------------------------------------------------------------------------------------------
# Whatever passes the check round-trips through the metadata store.

_keys = st.text(max_size=8)
_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-130, -1e-130, 1e-131, 9.99e37, 1e38, 9.9e125, 5e-324, 10**38 - 1, 10**38]),
)
_json = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8) | _numbers,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


_ids = itertools.count()


def _comparable(value: Any) -> Any:
    """Numbers as exact decimals of what was sent (the store writes a float's shortest repr and
    may hand an integral one back as an int)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return decimal.Decimal(str(value))
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, dict):
        return {key: _comparable(inner) for key, inner in value.items()}
    return [_comparable(inner) for inner in value]


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(schema=st.dictionaries(_keys, _json, max_size=4))
def test_accepted_values_round_trip_through_the_store(
    moto_dynamodb: DynamoDBMetadataStore, schema: dict[str, Any]
) -> None:
    if storage_problem(schema) is not None:
        return
    stored = _round_trip(moto_dynamodb, schema)
    assert _comparable(stored) == _comparable(schema)
    # What comes back passes the check too, and survives the item's next write (an update).
    assert storage_problem(stored) is None
    assert _comparable(_round_trip(moto_dynamodb, stored)) == _comparable(schema)
    assert moto_dynamodb.list_buckets("org", "ns", 1000, None).buckets


def _round_trip(store: DynamoDBMetadataStore, schema: dict[str, Any]) -> dict[str, Any]:
    number = next(_ids)
    bucket = Bucket(
        org_id="org",
        namespace_id="ns",
        bucket_id=f"bkt_{number}",
        bucket_name=f"b{number}",
        bucket_schema=schema,
        s3_uri=f"s3://data/ns/bkt_{number}/",
        created_at="2026-01-01T00:00:00.000Z",
    )
    store.create_bucket(bucket)
    stored = store.get_bucket("org", "ns", bucket.bucket_id)
    assert stored is not None and stored.bucket_schema is not None
    return stored.bucket_schema


# ---------------------------------------------------------------------------------------------
# Over the API


@pytest.fixture
def client(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[TestClient]:
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", "test-data")
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="test-data")
    key = create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0]
    with wired_api().client() as test_client:
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(response: Any, location: str, words: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "ValidationError"
    assert [entry["location"] for entry in error["details"]["validation_errors"]] == [location]
    assert words in error["message"], error["message"]


@pytest.fixture
def managed(client: TestClient) -> dict[str, str]:
    """The seed's managed namespace and a bucket in it: the X-Namespace header and the bucket id."""
    namespace = _ok(client.post("/v1/namespaces", json=SEED_BODY))["namespace_id"]
    bucket = _ok(client.post("/v1/buckets", json={"bucket_name": "b"}, headers={"X-Namespace": namespace}))
    return {"X-Namespace": namespace, "bucket_id": bucket["bucket_id"]}


BAD_VALUES = [
    ({"n": 1e-200}, "cannot be stored"),
    ({"n": 10**40}, "cannot be stored"),
    # Stored, it would come back as a 126-digit int: the namespace (or bucket) unreadable.
    ({"n": 9.9e125}, "below 1e38"),
    ({"": "x"}, "empty key"),
    ({"a": {"": "x"}}, "empty key"),
]


@pytest.mark.parametrize(("value", "words"), BAD_VALUES)
def test_bucket_schema_dynamodb_cannot_hold_is_422_and_the_list_still_answers(
    client: TestClient, managed: dict[str, str], value: dict[str, Any], words: str
) -> None:
    headers = {"X-Namespace": managed["X-Namespace"]}
    _refused(
        client.post("/v1/buckets", json={"bucket_name": "x", "bucket_schema": value}, headers=headers),
        "bucket_schema",
        words,
    )
    assert [b["bucket_name"] for b in _ok(client.get("/v1/buckets", headers=headers))["results"]] == ["b"]


def test_bucket_schema_at_the_limits_is_kept(client: TestClient, managed: dict[str, str]) -> None:
    headers = {"X-Namespace": managed["X-Namespace"]}
    schema = {
        "tiny": 1.5e-130,
        "wide": 12345678901234567890123456789012345678,
        "deep": _nested(MAX_DEPTH - 1),
    }
    created = _ok(
        client.post("/v1/buckets", json={"bucket_name": "x", "bucket_schema": schema}, headers=headers)
    )
    assert _ok(client.get(f"/v1/buckets/{created['bucket_id']}", headers=headers))["bucket_schema"] == schema
    too_big = {"text": "x" * limits.MAX_BUCKET_SCHEMA_BYTES}
    _refused(
        client.post("/v1/buckets", json={"bucket_name": "y", "bucket_schema": too_big}, headers=headers),
        "bucket_schema",
        f"at most {limits.MAX_BUCKET_SCHEMA_BYTES} bytes",
    )
    too_deep = {"deep": _nested(MAX_DEPTH)}
    _refused(
        client.post("/v1/buckets", json={"bucket_name": "z", "bucket_schema": too_deep}, headers=headers),
        "bucket_schema",
        "deep",
    )


@pytest.mark.parametrize(("value", "words"), BAD_VALUES)
def test_object_and_upload_metadata_dynamodb_cannot_hold_is_422(
    client: TestClient, managed: dict[str, str], value: dict[str, Any], words: str
) -> None:
    headers = {"X-Namespace": managed["X-Namespace"]}
    bucket = managed["bucket_id"]
    blobs = [{"property": "text", "type": "text", "data": "hello"}]
    _refused(
        client.post(
            f"/v1/buckets/{bucket}/objects", json={"metadata": value, "blobs": blobs}, headers=headers
        ),
        "metadata",
        words,
    )
    upload = {"filename": "a.txt", "content_type": "text/plain", "metadata": value}
    _refused(client.post(f"/v1/buckets/{bucket}/uploads", json=upload, headers=headers), "metadata", words)
    assert _ok(client.get(f"/v1/buckets/{bucket}/objects", headers=headers))["results"] == []


def test_collection_input_mappings_dynamodb_cannot_hold_is_422(
    client: TestClient, managed: dict[str, str]
) -> None:
    body = {
        "collection_name": "c",
        "source": {"type": "bucket", "bucket_ids": [managed["bucket_id"]]},
        "feature_extractor": {
            "feature_extractor_name": "image_extractor",
            "parameters": {"model": "siglip_base"},
            "input_mappings": {"image": {"": "x"}},
        },
    }
    headers = {"X-Namespace": managed["X-Namespace"]}
    _refused(
        client.post("/v1/collections", json=body, headers=headers),
        "feature_extractor.input_mappings",
        "empty key",
    )
    assert _ok(client.get("/v1/collections", headers=headers))["results"] == []


@pytest.mark.parametrize(("value", "words"), BAD_VALUES)
def test_field_schema_dynamodb_cannot_hold_is_422_on_every_route_taking_one(
    client: TestClient, value: dict[str, Any], words: str
) -> None:
    index = {"field_name": "category", "type": "keyword", "field_schema": value}
    _refused(
        client.post("/v1/namespaces/standalone", json={"namespace_id": "docs", "payload_indexes": [index]}),
        "payload_indexes[0].field_schema",
        words,
    )
    _ok(client.post("/v1/namespaces/standalone", json={"namespace_id": "docs"}))
    _refused(client.post("/v1/namespaces/docs/payload-indexes", json=index), "field_schema", words)
    _refused(
        client.patch("/v1/namespaces/docs", json={"payload_indexes": [index]}),
        "payload_indexes[0].field_schema",
        words,
    )
    managed_body = {**SEED_BODY, "namespace_name": "m", "payload_indexes": [index]}
    _refused(client.post("/v1/namespaces", json=managed_body), "payload_indexes[0].field_schema", words)
    assert _ok(client.get("/v1/namespaces/docs"))["namespace_id"] == "docs"
    assert [n["namespace_id"] for n in _ok(client.get("/v1/namespaces"))["results"]] == ["docs"]


def test_field_schema_size_is_bounded(client: TestClient) -> None:
    _ok(client.post("/v1/namespaces/standalone", json={"namespace_id": "docs"}))
    index = {
        "field_name": "title",
        "type": "text",
        "field_schema": {"stopwords": "x" * limits.MAX_FIELD_SCHEMA_BYTES},
    }
    _refused(
        client.post("/v1/namespaces/docs/payload-indexes", json=index),
        "field_schema",
        f"at most {limits.MAX_FIELD_SCHEMA_BYTES} bytes",
    )
