"""The loopback Pinecone server speaks the wire protocol of the REAL `pinecone` SDK (v10, REST).

Every test drives the installed client against `tests.loopback_pinecone.LoopbackPinecone`; raw
httpx requests are used only where the client validates before sending, to prove the server
enforces the limit itself. No network: everything is on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors.exceptions import (
    ApiError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    PineconeTimeoutError,
    RateLimitError,
    ServiceError,
    UnauthorizedError,
)

from tests.loopback_pinecone import DEFAULT_NAMESPACE, LoopbackPinecone, reset_client_retry_state

API_KEY = "pc-loopback-0123456789abcdef"
DIMENSION = 3
DENSE_SCHEMA = {"fields": {"_values": {"type": "dense_vector", "dimension": DIMENSION, "metric": "cosine"}}}
MANAGED = {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's retry backoffs, recorded instead of slept; its retry budget refilled."""
    delays: list[float] = []
    monkeypatch.setattr("pinecone._internal.http_client._retry_sleep", delays.append)
    reset_client_retry_state()
    return delays


@pytest.fixture
def server(retry_sleeps: list[float]) -> Iterator[LoopbackPinecone]:
    with LoopbackPinecone(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def pc(server: LoopbackPinecone) -> Iterator[Pinecone]:
    client = Pinecone(api_key=API_KEY, host=server.url, timeout=5.0, ssl_verify=False)
    yield client
    client.close()


@pytest.fixture
def make_index(pc: Pinecone) -> Iterator[Callable[..., Any]]:
    """Create an index through the control plane and open it at the host `describe` reports."""
    opened: list[Any] = []

    def make(name: str = "docs", metric: str = "cosine") -> Any:
        schema = {"fields": {"_values": {"type": "dense_vector", "dimension": DIMENSION, "metric": metric}}}
        model = pc.indexes.create(name=name, schema=schema, deployment=MANAGED)
        assert model.host is not None
        opened.append(pc.Index(host=model.host))
        return opened[-1]

    yield make
    for index in opened:
        index.close()


def raw(server: LoopbackPinecone, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request outside the SDK, with the headers the SDK sends unless `headers` replaces them."""
    headers = kwargs.pop("headers", {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"})
    return httpx.request(method, server.url + path, headers=headers, timeout=5.0, **kwargs)


# ---------------------------------------------------------------------------------------------
# Control plane


def test_create_describe_list_delete_with_the_legacy_serverless_spec(
    server: LoopbackPinecone, pc: Pinecone
) -> None:
    model = pc.create_index(
        name="docs", dimension=4, metric="dotproduct", spec=ServerlessSpec(cloud="aws", region="eu-west-1")
    )
    assert model.status.ready
    assert model.host == server.index_host("docs") == f"{server.url}/data/docs"
    create = next(r for r in server.requests if r.method == "POST")
    assert create.path == "/indexes"
    assert create.body == {
        "name": "docs",
        "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 4, "metric": "dotproduct"}}},
        "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "eu-west-1"},
    }
    described = pc.describe_index("docs")
    assert described.to_dict()["deployment"]["region"] == "eu-west-1"
    assert (described.dimension, described.metric, described.status.state) == (4, "dotproduct", "Ready")
    assert described.spec.serverless is not None and described.spec.serverless.cloud == "aws"
    assert [index.name for index in pc.list_indexes()] == ["docs"]
    assert pc.has_index("docs") and not pc.has_index("other")

    pc.delete_index("docs")
    assert not pc.has_index("docs")
    with pytest.raises(NotFoundError) as caught:
        pc.describe_index("docs")
    assert caught.value.body == {
        "error": {"code": "NOT_FOUND", "message": "Resource docs not found"},
        "status": 404,
    }


def test_the_2025_10_create_body_is_accepted_too(server: LoopbackPinecone, pc: Pinecone) -> None:
    body = {
        "name": "old",
        "dimension": 8,
        "metric": "euclidean",
        "spec": {"serverless": {"cloud": "gcp", "region": "x"}},
    }
    response = raw(server, "POST", "/indexes", json=body)
    assert response.status_code == 201
    assert response.json()["schema"]["fields"]["_values"] == {
        "type": "dense_vector",
        "dimension": 8,
        "metric": "euclidean",
    }
    assert pc.describe_index("old").to_dict()["deployment"]["cloud"] == "gcp"


def test_a_duplicate_name_is_a_409_conflict(pc: Pinecone) -> None:
    pc.indexes.create(name="docs", schema=DENSE_SCHEMA)
    with pytest.raises(ConflictError) as caught:
        pc.indexes.create(name="docs", schema=DENSE_SCHEMA)
    assert caught.value.status_code == 409
    assert caught.value.error_code == "ALREADY_EXISTS"


def test_the_index_quota_is_a_403_forbidden(server: LoopbackPinecone, pc: Pinecone) -> None:
    server.max_indexes = 2
    pc.indexes.create(name="one", schema=DENSE_SCHEMA)
    pc.indexes.create(name="two", schema=DENSE_SCHEMA)
    with pytest.raises(ForbiddenError) as caught:
        pc.indexes.create(name="three", schema=DENSE_SCHEMA)
    assert (caught.value.status_code, caught.value.error_code) == (403, "FORBIDDEN")
    assert "max serverless indexes" in caught.value.message
    assert server.index_names() == ["one", "two"]


def test_a_bad_dimension_is_a_400_from_the_server(pc: Pinecone) -> None:
    with pytest.raises(ApiError) as caught:
        pc.create_index(name="docs", dimension=0, spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    assert (caught.value.status_code, caught.value.error_code) == (400, "INVALID_ARGUMENT")


def test_a_new_index_can_report_not_ready_for_a_while(server: LoopbackPinecone, pc: Pinecone) -> None:
    server.ready_delay = 0.3
    created = pc.indexes.create(name="slow", schema=DENSE_SCHEMA, timeout=-1)
    assert (created.status.ready, created.status.state) == (False, "Initializing")
    time.sleep(0.35)
    assert pc.indexes.describe("slow").status.ready


def test_deletion_protection_refuses_delete_with_403(pc: Pinecone) -> None:
    pc.indexes.create(name="kept", schema=DENSE_SCHEMA, deletion_protection="enabled")
    with pytest.raises(ForbiddenError):
        pc.indexes.delete("kept", timeout=-1)
    pc.indexes.configure("kept", deletion_protection="disabled")
    pc.indexes.delete("kept", timeout=-1)
    assert not pc.indexes.exists("kept")


# ---------------------------------------------------------------------------------------------
# Data plane round trips


def test_upsert_query_fetch_round_trip(server: LoopbackPinecone, make_index: Callable[..., Any]) -> None:
    idx = make_index()
    upserted = idx.upsert(
        vectors=[
            ("a", [1.0, 0.0, 0.0], {"genre": "comedy", "year": 2020, "tags": ["x", "y"], "gone": None}),
            {"id": "b", "values": [0.0, 1.0, 0.0]},
            {"id": "c", "values": [1.0, 1.0, 0.0], "metadata": {"score": 2.5}},
        ],
        namespace="films",
    )
    assert upserted.upserted_count == 3
    assert server.requests[-1].path == "/data/docs/vectors/upsert"
    assert server.requests[-1].body["namespace"] == "films"

    result = idx.query(vector=[1.0, 0.0, 0.0], top_k=2, namespace="films", include_metadata=True)
    assert [(m.id, round(m.score, 6)) for m in result.matches] == [("a", 1.0), ("c", 0.707107)]
    assert result.matches[0].metadata == {"genre": "comedy", "year": 2020, "tags": ["x", "y"]}
    assert result.matches[0].values == []  # include_values defaults to False
    assert server.requests[-1].body == {
        "topK": 2,
        "includeValues": False,
        "includeMetadata": True,
        "namespace": "films",
        "vector": [1.0, 0.0, 0.0],
    }

    by_id = idx.query(id="b", top_k=1, namespace="films", include_values=True)
    assert [(m.id, m.values) for m in by_id.matches] == [("b", [0.0, 1.0, 0.0])]

    fetched = idx.fetch(ids=["a", "c", "missing"], namespace="films")
    assert sorted(fetched.vectors) == ["a", "c"]
    assert fetched.vectors["c"].metadata == {"score": 2.5}
    assert server.requests[-1].path == "/data/docs/vectors/fetch?ids=a&ids=c&ids=missing&namespace=films"
    assert idx.query(vector=[1.0, 0.0, 0.0], top_k=5, namespace="nowhere").matches == []
    assert server.records("docs", "films")["a"][1] == {
        "genre": "comedy",
        "year": 2020.0,
        "tags": ["x", "y"],
    }  # null stripped, number stored as a float


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("cosine", [("long", 1.0), ("same", 1.0), ("half", 0.707107), ("away", -1.0)]),
        ("dotproduct", [("long", 3.0), ("half", 1.0), ("same", 1.0), ("away", -1.0)]),
        # squared Euclidean distance, lowest (closest) first
        ("euclidean", [("same", 0.0), ("half", 1.0), ("away", 4.0), ("long", 4.0)]),
    ],
)
def test_scores_and_order_per_metric(
    metric: str, expected: list[tuple[str, float]], make_index: Callable[..., Any]
) -> None:
    idx = make_index(metric=metric)
    idx.upsert(
        vectors=[
            ("same", [1.0, 0.0, 0.0]),
            ("long", [3.0, 0.0, 0.0]),
            ("half", [1.0, 1.0, 0.0]),
            ("away", [-1.0, 0.0, 0.0]),
        ]
    )
    matches = idx.query(vector=[1.0, 0.0, 0.0], top_k=4).matches
    assert [(m.id, round(m.score, 6)) for m in matches] == expected  # ties broken by id


def test_list_pages_ids_in_lexicographic_order(
    server: LoopbackPinecone, make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    idx.upsert(vectors=[(rid, [1.0, 0.0, 0.0]) for rid in ["b2", "a1", "b10", "b1", "c"]], namespace="ns")
    first = idx.list_paginated(prefix="b", limit=2, namespace="ns")
    assert [item.id for item in first.vectors] == ["b1", "b10"]
    assert first.pagination is not None and first.pagination.next
    second = idx.list_paginated(prefix="b", limit=2, namespace="ns", pagination_token=first.pagination.next)
    assert [item.id for item in second.vectors] == ["b2"]
    assert second.pagination is None
    assert [[item.id for item in page.vectors] for page in idx.list(limit=3, namespace="ns")] == [
        ["a1", "b1", "b10"],
        ["b2", "c"],
    ]
    bad = raw(server, "GET", "/data/docs/vectors/list?namespace=ns&paginationToken=nonsense")
    assert bad.status_code == 400 and bad.json()["code"] == 3


def test_stats_namespaces_and_whole_namespace_deletion(
    server: LoopbackPinecone, make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    idx.upsert(vectors=[("a", [1.0, 0.0, 0.0]), ("b", [0.0, 1.0, 0.0])])
    idx.upsert(vectors=[("c", [0.0, 0.0, 1.0])], namespace="tenant-1")
    stats = idx.describe_index_stats()
    assert (stats.dimension, stats.total_vector_count, stats.metric) == (DIMENSION, 3, "cosine")
    assert {name: ns.vector_count for name, ns in stats.namespaces.items()} == {
        DEFAULT_NAMESPACE: 2,
        "tenant-1": 1,
    }

    idx.delete(delete_all=True, namespace="tenant-1")
    assert server.requests[-1].body == {"namespace": "tenant-1", "deleteAll": True}
    assert set(idx.describe_index_stats().namespaces) == {DEFAULT_NAMESPACE}
    with pytest.raises(NotFoundError):  # the namespace went away with its last record
        idx.delete(delete_all=True, namespace="tenant-1")
    idx.delete(ids=["never-there"])  # the default namespace always exists

    idx.upsert(vectors=[("d", [1.0, 1.0, 1.0])], namespace="tenant-2")
    assert idx.describe_namespace(name="tenant-2").record_count == 1
    idx.delete_namespace(name="tenant-2")
    with pytest.raises(NotFoundError):
        idx.describe_namespace(name="tenant-2")
    idx.delete(ids=["a"])
    assert list(server.records("docs")) == ["b"]


def test_delete_and_update_by_filter(server: LoopbackPinecone, make_index: Callable[..., Any]) -> None:
    idx = make_index()
    idx.upsert(vectors=[("a", [1.0, 0, 0], {"k": "x"}), ("b", [0, 1.0, 0], {"k": "y"}), ("c", [0, 0, 1.0])])
    assert idx.update(filter={"k": "y"}, set_metadata={"seen": True}, dry_run=True).matched_records == 1
    assert server.records("docs")["b"][1] == {"k": "y"}
    idx.update(filter={"k": "y"}, set_metadata={"seen": True})
    idx.update(id="c", values=[0.0, 0.0, 2.0], set_metadata={"k": "z"})
    assert server.records("docs")["b"][1] == {"k": "y", "seen": True}
    assert server.records("docs")["c"] == ([0.0, 0.0, 2.0], {"k": "z"})
    idx.delete(filter={"k": {"$in": ["x", "z"]}})
    assert list(server.records("docs")) == ["b"]


def test_a_bare_host_reaches_the_only_index_or_the_default_one(
    server: LoopbackPinecone, pc: Pinecone, make_index: Callable[..., Any]
) -> None:
    make_index(name="one").upsert(vectors=[("a", [1.0, 0.0, 0.0])])
    with pc.Index(host=server.url) as bare:
        assert bare.describe_index_stats().total_vector_count == 1
        make_index(name="two")
        with pytest.raises(NotFoundError):
            bare.describe_index_stats()
        server.default_index = "two"
        assert bare.describe_index_stats().total_vector_count == 0


# ---------------------------------------------------------------------------------------------
# Filters

FILTER_RECORDS: list[tuple[str, dict[str, Any] | None]] = [
    ("a", {"genre": "comedy", "year": 2020, "tags": ["x", "y"], "flag": True}),
    ("b", {"genre": "drama", "year": 2021.5, "tags": ["y"], "flag": False}),
    ("c", {"genre": "documentary", "year": 2019, "rating": 4}),
    ("d", {"year": "2020"}),
    ("e", None),
]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"genre": "comedy"}, {"a"}),
        ({"genre": {"$eq": "comedy"}}, {"a"}),
        ({"genre": {"$ne": "comedy"}}, {"b", "c"}),  # records without the field never match $ne
        ({"genre": {"$in": ["comedy", "drama"]}}, {"a", "b"}),
        ({"genre": {"$nin": ["comedy"]}}, {"b", "c"}),
        ({"year": 2020}, {"a"}),  # a number never equals the string "2020"
        ({"year": {"$eq": 2020.0}}, {"a"}),  # numbers compare as floats
        ({"year": "2020"}, {"d"}),
        ({"year": {"$gt": 2019}}, {"a", "b"}),  # range operators ignore string values
        ({"year": {"$gte": 2019, "$lt": 2021}}, {"a", "c"}),  # operators on one field are ANDed
        ({"year": {"$lte": 2019}}, {"c"}),
        ({"tags": "x"}, {"a"}),  # on a list field: any element
        ({"tags": {"$in": ["y", "z"]}}, {"a", "b"}),
        ({"tags": {"$ne": "x"}}, {"b"}),  # ... and $ne/$nin: no element
        ({"tags": {"$nin": ["x"]}}, {"b"}),
        ({"$and": [{"tags": "x"}, {"tags": "y"}]}, {"a"}),
        ({"$or": [{"genre": "drama"}, {"rating": {"$gte": 4}}]}, {"b", "c"}),
        ({"genre": "comedy", "year": 2021.5}, set()),  # several keys are ANDed
        ({"rating": {"$exists": True}}, {"c"}),
        ({"rating": {"$exists": False}}, {"a", "b", "d", "e"}),
        ({"flag": True}, {"a"}),
        ({"flag": {"$eq": 1}}, set()),  # a boolean never equals a number
        ({}, {"a", "b", "c", "d", "e"}),
    ],
)
def test_filter_semantics(flt: dict[str, Any], expected: set[str], make_index: Callable[..., Any]) -> None:
    idx = make_index()
    idx.upsert(vectors=[{"id": rid, "values": [1.0, 0.5, 0.0], "metadata": md} for rid, md in FILTER_RECORDS])
    matches = idx.query(vector=[1.0, 0.0, 0.0], top_k=10, filter=flt).matches
    assert {m.id for m in matches} == expected


@pytest.mark.parametrize(
    "flt",
    [
        {"$gt": 1},
        {"year": {"$gt": "2019"}},
        {"genre": {"$regex": "com.*"}},
        {"$or": []},
        {"tags": {"$in": "x"}},
        {"rating": {"$exists": "yes"}},
        {"genre": {"$eq": ["comedy"]}},
    ],
)
def test_malformed_filters_are_400(flt: dict[str, Any], make_index: Callable[..., Any]) -> None:
    idx = make_index()
    with pytest.raises(ApiError) as caught:
        idx.query(vector=[1.0, 0.0, 0.0], top_k=1, filter=flt)
    assert caught.value.status_code == 400
    assert caught.value.body is not None
    assert caught.value.body["code"] == 3 and caught.value.body["details"] == []


# ---------------------------------------------------------------------------------------------
# Limits


def _vectors(n: int, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [{"id": f"v{i}", "values": [1.0, 0.0, 0.0], "metadata": metadata or {}} for i in range(n)]


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (_vectors(1001), "maximum number of vectors per upsert is 1000"),
        (_vectors(1, {"text": "x" * 41_000}), "exceeds the limit of 40960 bytes per vector"),
        (
            [{"id": "v", "values": [1.0, 0.0]}],
            "Vector dimension 2 does not match the dimension of the index 3",
        ),
        ([{"id": "v" * 513, "values": [1.0, 0.0, 0.0]}], "512 characters or less"),
        ([{"id": "v", "values": [0.0, 0.0, 0.0]}], "at least one non-zero value"),
    ],
)
def test_upsert_limits_are_400_and_write_nothing(
    server: LoopbackPinecone, vectors: list[dict[str, Any]], message: str, make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    with pytest.raises(ApiError) as caught:
        idx.upsert(vectors=vectors)
    assert caught.value.status_code == 400
    assert message in caught.value.message
    assert server.records("docs") == {}


def test_an_upsert_over_2mb_is_413_payload_too_large(
    server: LoopbackPinecone, make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    with pytest.raises(PayloadTooLargeError) as caught:
        idx.upsert(vectors=_vectors(60, {"text": "x" * 38_000}))  # each record fits, the request does not
    assert caught.value.status_code == 413
    assert server.records("docs") == {}


def test_fetch_and_delete_take_at_most_1000_ids(make_index: Callable[..., Any]) -> None:
    idx = make_index()
    ids = [f"id-{i}" for i in range(1001)]
    with pytest.raises(ApiError) as fetch_error:
        idx.fetch(ids=ids)
    with pytest.raises(ApiError) as delete_error:
        idx.delete(ids=ids)
    assert fetch_error.value.status_code == delete_error.value.status_code == 400


def test_the_server_enforces_what_the_client_checks_first(
    server: LoopbackPinecone, make_index: Callable[..., Any]
) -> None:
    make_index()
    too_many = raw(server, "POST", "/data/docs/query", json={"topK": 10_001, "vector": [1, 0, 0]})
    assert too_many.status_code == 400
    assert too_many.json() == {
        "code": 3,
        "message": "topK must be an integer between 1 and 10000, got 10001",
        "details": [],
    }
    nested = {"vectors": [{"id": "v", "values": [1, 0, 0], "metadata": {"obj": {"a": 1}}}]}
    assert raw(server, "POST", "/data/docs/vectors/upsert", json=nested).status_code == 400
    numbers = {"vectors": [{"id": "v", "values": [1, 0, 0], "metadata": {"list": [1, 2]}}]}
    assert raw(server, "POST", "/data/docs/vectors/upsert", json=numbers).status_code == 400
    assert raw(server, "POST", "/data/docs/vectors/delete", json={"filter": {}}).status_code == 400


# ---------------------------------------------------------------------------------------------
# Authentication and headers


def test_a_wrong_api_key_is_401_on_both_planes(
    server: LoopbackPinecone, make_index: Callable[..., Any]
) -> None:
    make_index()
    with Pinecone(api_key="wrong-key", host=server.url, ssl_verify=False) as stranger:
        with pytest.raises(UnauthorizedError) as control:
            stranger.list_indexes()
        assert control.value.error_code == "UNAUTHENTICATED"
        with stranger.Index(host=server.index_host("docs")) as idx, pytest.raises(UnauthorizedError):
            idx.describe_index_stats()
    assert raw(server, "GET", "/indexes", headers={"X-Pinecone-Api-Version": "2026-07"}).status_code == 401


def test_the_api_version_header_is_required_and_recorded(server: LoopbackPinecone, pc: Pinecone) -> None:
    pc.list_indexes()
    assert server.api_versions == ["2026-07"]
    missing = raw(server, "GET", "/indexes", headers={"Api-Key": API_KEY})
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "Missing X-Pinecone-Api-Version header"


# ---------------------------------------------------------------------------------------------
# Failure injection


def test_injected_500s_outlast_the_client_retries(
    server: LoopbackPinecone, retry_sleeps: list[float], make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    server.fail_next(4, status=500, path_contains="/query")
    with pytest.raises(ServiceError) as caught:
        idx.query(vector=[1.0, 0.0, 0.0], top_k=1)
    assert caught.value.status_code == 500
    assert server.calls("/query") == 4 and len(retry_sleeps) == 3  # 1 attempt + 3 retries
    assert idx.query(vector=[1.0, 0.0, 0.0], top_k=1).matches == []  # the faults are used up


def test_one_injected_503_is_retried_away(server: LoopbackPinecone, make_index: Callable[..., Any]) -> None:
    idx = make_index()
    server.fail_next(1, status=503)
    assert idx.upsert(vectors=[("a", [1.0, 0.0, 0.0])]).upserted_count == 1
    assert server.calls("/vectors/upsert") == server.calls("/data/docs/vectors/upsert") == 2


def test_injected_429_surfaces_as_rate_limit_with_retry_after(
    server: LoopbackPinecone, pc: Pinecone, retry_sleeps: list[float], make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    server.fail_next(4, status=429, retry_after=0)
    with pytest.raises(RateLimitError) as data_plane:
        idx.describe_index_stats()
    assert data_plane.value.retry_after == 0.0 and data_plane.value.body == {
        "code": 8,
        "message": "Too many requests. Please retry shortly. (injected by the loopback server)",
        "details": [],
    }
    assert retry_sleeps == [0.0, 0.0, 0.0]  # Retry-After: 0 is honoured
    server.fail_next(4, status=429, path_contains="/indexes")
    with pytest.raises(RateLimitError) as control_plane:
        pc.list_indexes()
    assert control_plane.value.error_code == "RESOURCE_EXHAUSTED"


def test_faults_only_hit_matching_paths_and_reset_clears_them(
    server: LoopbackPinecone, make_index: Callable[..., Any]
) -> None:
    idx = make_index()
    server.fail_next(100, status=500, path_contains="/vectors/upsert")
    assert idx.query(vector=[1.0, 0.0, 0.0], top_k=1).matches == []
    with pytest.raises(ServiceError):
        idx.upsert(vectors=[("a", [1.0, 0.0, 0.0])])
    server.reset(data=False)
    assert server.requests == [] and server.calls("/vectors/upsert") == 0
    assert idx.upsert(vectors=[("a", [1.0, 0.0, 0.0])]).upserted_count == 1


def test_a_hang_beyond_the_client_timeout_is_a_timeout(server: LoopbackPinecone) -> None:
    host = server.create_index("docs", DIMENSION)
    with Pinecone(api_key=API_KEY, host=server.url, timeout=0.3, ssl_verify=False) as client:
        idx = client.Index(host=host)
        server.hang_next(4, seconds=2.0, path_contains="/query")
        started = time.monotonic()
        with pytest.raises(PineconeTimeoutError):
            idx.query(vector=[1.0, 0.0, 0.0], top_k=1)
        assert time.monotonic() - started < 2.0  # four 0.3 s attempts, no backoff
        assert server.calls("/query") == 4
        assert idx.describe_index_stats().total_vector_count == 0  # other paths are not hung
        idx.close()


def test_stop_releases_a_hanging_request_at_once(retry_sleeps: list[float]) -> None:
    server = LoopbackPinecone(api_key=API_KEY).start()
    server.create_index("docs", DIMENSION)
    server.hang_next(1, seconds=30.0)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            raw(server, "POST", "/data/docs/describe_index_stats", json={})
            outcome.append(None)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 3.0
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError)  # dropped unanswered
