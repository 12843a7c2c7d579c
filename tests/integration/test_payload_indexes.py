"""Payload indexes end to end: the lifecycle (pending → built → ready/failed), filter-usage
counting on search, the analytics route and the scheduled auto_create_indexes job.

Real components: the whole app through TestClient, moto's DynamoDB with the template's table,
LanceDB in a temp directory. Time is controlled through `stratus.clock.utc_now`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus import clock, limits
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.container import Container
from stratus.filters import parse_filter
from stratus.ports import FieldUsage
from stratus.services import auto_indexes, filter_usage
from stratus.services.auto_indexes import choose_index_type, run_auto_indexes
from stratus.services.filter_usage import hour_key, usage_of, value_type
from tests.static_stores import StaticStores
from tests.wiring import WiredApi

DIM = 4
NS = "shop"
NOW = datetime(2025, 11, 22, 12, 30, tzinfo=UTC)
PROTECTED = {"document_id", "object_id", "bucket_id", "collection_id", "created_at", "updated_at"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    client: TestClient
    key: str
    store: DynamoDBMetadataStore
    clock: Clock
    lancedb_dir: Path
    container: Container  # the app's

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.key}"}, **kwargs)

    def stores(self) -> Container:
        return self.container


@pytest.fixture
def api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    from stratus.services.api_keys import create_api_key

    fake_clock = Clock(NOW)
    monkeypatch.setattr(clock, "utc_now", fake_clock)
    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    key = create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0]
    wired = wired_api()
    with wired.client() as client:
        yield Api(client, key, moto_dynamodb, fake_clock, tmp_path / "lancedb", wired.container)


def _vec(*head: float) -> list[float]:
    return [*head, *([0.0] * (DIM - len(head)))]


DOCS = [
    {"document_id": "d1", "vectors": {"emb": _vec(1)}, "payload": {"category": "shoes", "size": 42}},
    {"document_id": "d2", "vectors": {"emb": _vec(0, 1)}, "payload": {"category": "hats", "size": 7}},
]


def _namespace_body(auto: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "namespace_id": NS,
        "vector_configs": [{"name": "emb", "dimension": DIM}],
        "auto_create_indexes": auto,
        **extra,
    }


def _namespace(api: Api, auto: bool = True, **extra: Any) -> dict[str, Any]:
    created = api.call("POST", "/v1/namespaces/standalone", json=_namespace_body(auto, **extra))
    assert created.status_code == 200, created.text
    upserted = api.call("POST", f"/v1/namespaces/{NS}/documents/direct", json={"documents": DOCS})
    assert upserted.status_code == 200, upserted.text
    answer: dict[str, Any] = created.json()
    return answer


def _search(api: Api, filters: dict[str, Any]) -> dict[str, Any]:
    body = {"namespace_id": NS, "queries": [{"vector_name": "emb", "vector": _vec(1)}], "filters": filters}
    response = api.call("POST", "/v1/search", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"AND": [{"field": field, "operator": "eq", "value": value}]}


def _own_indexes(namespace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {index["field_name"]: index for index in namespace["payload_indexes"] if not index["is_protected"]}


def _get(api: Api) -> dict[str, Any]:
    response = api.call("GET", f"/v1/namespaces/{NS}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _add_usage(api: Api, field: str, queries: int, types: dict[str, int], at: datetime = NOW) -> None:
    """Counters as N searches would leave them (for counts too large to search one by one)."""
    api.store.add_filter_usage("org_a", NS, hour_key(at), {field: FieldUsage(queries, types)}, 2**31)


def _run(api: Api, threshold: int = 100) -> auto_indexes.AutoIndexReport:
    return run_auto_indexes(api.stores(), api.clock.now, threshold, 24)


# --- lifecycle -------------------------------------------------------------------------------


@pytest.mark.parametrize("type_key", ["type", "field_type"])
def test_post_payload_index_accepts_type_or_field_type_and_builds_it(api: Api, type_key: str) -> None:
    _namespace(api)

    response = api.call(
        "POST", f"/v1/namespaces/{NS}/payload-indexes", json={"field_name": "size", type_key: "integer"}
    )

    assert response.status_code == 200, response.text
    index = response.json()["payload_index"]
    assert (index["field_name"], index["type"], index["state"], index["auto_created"]) == (
        "size",
        "integer",
        "ready",
        False,
    )
    assert _own_indexes(_get(api))["size"]["state"] == "ready"


def test_protected_fields_are_listed_ready_and_cannot_be_changed(api: Api) -> None:
    namespace = _namespace(api)
    listed = {i["field_name"]: i for i in namespace["payload_indexes"] if i["is_protected"]}
    assert set(listed) == PROTECTED
    assert all(index["state"] == "ready" for index in listed.values())

    post = api.call(
        "POST", f"/v1/namespaces/{NS}/payload-indexes", json={"field_name": "created_at", "type": "text"}
    )
    patch = api.call(
        "PATCH",
        f"/v1/namespaces/{NS}",
        json={"payload_indexes": [{"field_name": "document_id", "type": "text"}]},
    )

    for response in (post, patch):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["type"] == "BadRequestError"
    assert _own_indexes(_get(api)) == {}


def test_patch_merges_by_field_name_and_builds_the_changes(api: Api) -> None:
    _namespace(api, payload_indexes=[{"field_name": "category", "type": "keyword"}])

    response = api.call(
        "PATCH",
        f"/v1/namespaces/{NS}",
        json={
            "payload_indexes": [
                {"field_name": "category", "type": "text"},
                {"field_name": "size", "type": "integer"},
            ]
        },
    )

    assert response.status_code == 200, response.text
    own = _own_indexes(response.json())
    assert {name: (i["type"], i["state"]) for name, i in own.items()} == {
        "category": ("text", "ready"),
        "size": ("integer", "ready"),
    }


def test_same_field_with_another_type_replaces_the_index(api: Api) -> None:
    _namespace(api, payload_indexes=[{"field_name": "category", "type": "keyword"}])

    response = api.call(
        "POST", f"/v1/namespaces/{NS}/payload-indexes", json={"field_name": "category", "type": "text"}
    )

    assert response.status_code == 200, response.text
    own = _own_indexes(_get(api))
    assert list(own) == ["category"] and own["category"]["type"] == "text"


def test_a_namespace_has_at_most_64_indexes_of_its_own_and_at_the_cap_may_still_redefine_one(
    api: Api,
) -> None:
    at_cap = [{"field_name": f"f{n}", "type": "keyword"} for n in range(limits.MAX_PAYLOAD_INDEXES)]
    assert len(_own_indexes(_namespace(api, payload_indexes=at_cap))) == 64

    one_more = {"field_name": "extra", "type": "keyword"}
    post = api.call("POST", f"/v1/namespaces/{NS}/payload-indexes", json=one_more)
    patch = api.call("PATCH", f"/v1/namespaces/{NS}", json={"payload_indexes": [one_more]})
    for response in (post, patch):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["details"] == {"field": "payload_indexes", "limit": 64, "current": 64}
        assert "at most 64 payload indexes" in error["message"] and "would make 65" in error["message"]

    redefined = api.call(
        "PATCH", f"/v1/namespaces/{NS}", json={"payload_indexes": [{"field_name": "f0", "type": "text"}]}
    )
    assert redefined.status_code == 200, redefined.text
    own = _own_indexes(_get(api))
    assert len(own) == 64 and "extra" not in own and own["f0"]["type"] == "text"


def test_more_than_64_indexes_in_one_request_is_a_422_naming_the_field(api: Api) -> None:
    too_many = [{"field_name": f"f{n}", "type": "keyword"} for n in range(65)]
    response = api.call("POST", "/v1/namespaces/standalone", json=_namespace_body(payload_indexes=too_many))
    assert response.status_code == 422, response.text
    assert "payload_indexes" in response.text


BAD_TEXT_OPTIONS = [
    # The case: prefix with a huge max_token_len indexed every prefix of every word.
    (
        {"tokenizer": "prefix", "max_token_len": 20_000},
        "field_schema.max_token_len",
        "less than or equal to 40",
    ),
    ({"tokenizer": "stemmer"}, "field_schema.tokenizer", "'word', 'whitespace', 'prefix' or 'multilingual'"),
    ({"min_token_len": 0}, "field_schema.min_token_len", "greater than or equal to 1"),
    ({"min_token_len": 5, "max_token_len": 3}, "field_schema", "must not exceed max_token_len (3)"),
    ({"min_token_len": "2"}, "field_schema.min_token_len", "valid integer"),
    ({"lowercase": "yes"}, "field_schema.lowercase", "valid boolean"),
    ({"tokeniser": "word"}, "field_schema.tokeniser", "Extra inputs are not permitted"),
    ({"type": "keyword"}, "field_schema.type", "'text'"),
]


def _text_index(field_schema: dict[str, Any]) -> dict[str, Any]:
    return {"field_name": "title", "type": "text", "field_schema": field_schema}


@pytest.mark.parametrize(("field_schema", "option", "words"), BAD_TEXT_OPTIONS)
def test_text_index_options_are_checked_on_every_route_that_takes_indexes(
    api: Api, field_schema: dict[str, Any], option: str, words: str
) -> None:
    requests = [
        ("POST", "/v1/namespaces/standalone", _namespace_body(payload_indexes=[_text_index(field_schema)])),
        ("POST", f"/v1/namespaces/{NS}/payload-indexes", _text_index(field_schema)),
        ("PATCH", f"/v1/namespaces/{NS}", {"payload_indexes": [_text_index(field_schema)]}),
        (
            "POST",
            "/v1/namespaces",
            {
                "namespace_name": "managed-texts",
                "feature_extractors": [{"feature_extractor_name": "text_extractor"}],
                "payload_indexes": [_text_index(field_schema)],
            },
        ),
    ]
    _namespace(api)
    for method, path, body in requests:
        response = api.call(method, path, json=body)
        assert response.status_code == 422, (path, response.text)
        (problem,) = response.json()["error"]["details"]["validation_errors"]
        where = "field_schema" if path.endswith("payload-indexes") else "payload_indexes[0]"
        assert problem["location"] == where, (path, problem)
        assert f"{option}: " in problem["message"] and words in problem["message"], (path, problem)
    assert "title" not in _own_indexes(_get(api))


def test_documented_text_options_and_other_types_options_are_accepted(api: Api) -> None:
    seed = {"lowercase": True, "max_token_len": 15, "min_token_len": 2, "tokenizer": "word", "type": "text"}
    widest = {"tokenizer": "prefix", "min_token_len": 1, "max_token_len": 40, "lowercase": False}
    indexes = [
        {"field_name": "title", "type": "text", "field_schema": seed},
        {"field_name": "body", "type": "text", "field_schema": widest},
        {"field_name": "tenant", "type": "keyword", "field_schema": {"is_tenant": True, "type": "keyword"}},
    ]
    namespace = _namespace(api, payload_indexes=indexes)
    assert {name: index["field_schema"] for name, index in _own_indexes(namespace).items()} == {
        index["field_name"]: index["field_schema"] for index in indexes
    }


def test_created_indexes_are_ready_and_the_warning_disappears_only_when_ready(api: Api) -> None:
    namespace = _namespace(api, payload_indexes=[{"field_name": "category", "type": "keyword"}])
    assert _own_indexes(namespace)["category"]["state"] == "ready"
    assert _search(api, _eq("category", "shoes"))["warnings"] == []
    assert any("'size'" in warning for warning in _search(api, _eq("size", 42))["warnings"])

    api.call("POST", f"/v1/namespaces/{NS}/payload-indexes", json={"field_name": "size", "type": "integer"})

    assert _search(api, _eq("size", 42))["warnings"] == []


def test_a_failed_build_is_saved_failed_with_its_error_and_keeps_the_warning(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _namespace(api)
    vectors = api.stores().vectors

    def broken(*_args: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(vectors, "build_payload_index", broken)

    response = api.call(
        "POST", f"/v1/namespaces/{NS}/payload-indexes", json={"field_name": "size", "type": "integer"}
    )

    assert response.status_code == 200, response.text
    index = response.json()["payload_index"]
    assert index["state"] == "failed" and "disk on fire" in index["error"]
    assert any("state 'failed'" in warning for warning in _search(api, _eq("size", 42))["warnings"])


# --- usage counting and analytics ------------------------------------------------------------


def test_filter_usage_analytics_counts_filtered_searches_per_field(api: Api) -> None:
    _namespace(api, payload_indexes=[{"field_name": "category", "type": "keyword"}])
    for _ in range(3):
        _search(api, {"AND": [{"field": "category", "operator": "eq", "value": "shoes"}, {"size": 42}]})
    _search(api, _eq("size", 7.5))

    response = api.call("GET", f"/v1/namespaces/{NS}/analytics/filter-usage")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["threshold"], body["window_hours"], body["auto_create_indexes"]) == (100, 24, True)
    fields = {item["field_name"]: item for item in body["fields"]}
    assert fields["category"]["query_count"] == 3
    assert fields["category"]["value_types"] == {"keyword": 3}
    assert fields["category"]["indexed"] is True and fields["category"]["index_state"] == "ready"
    assert fields["size"]["query_count"] == 4
    assert fields["size"]["value_types"] == {"float": 1, "integer": 3}
    assert fields["size"]["indexed"] is False and fields["size"]["above_threshold"] is False


def test_searches_without_auto_create_indexes_are_not_counted(api: Api) -> None:
    _namespace(api, auto=False)
    _search(api, _eq("category", "shoes"))

    assert api.call("GET", f"/v1/namespaces/{NS}/analytics/filter-usage").json()["fields"] == []


def test_counters_older_than_the_window_are_ignored(api: Api) -> None:
    _namespace(api)
    api.clock.now = NOW - timedelta(hours=26)
    for _ in range(101):
        _search(api, _eq("category", "shoes"))
    api.clock.now = NOW

    usage = api.call("GET", f"/v1/namespaces/{NS}/analytics/filter-usage").json()
    report = _run(api)

    assert usage["fields"] == []
    assert report.created == []


def test_a_failing_usage_write_never_fails_the_search(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _namespace(api)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("dynamodb exploded")

    monkeypatch.setattr(DynamoDBMetadataStore, "add_filter_usage", broken)

    answer = _search(api, _eq("category", "shoes"))

    assert [result["document_id"] for result in answer["results"]] == ["d1"]


def test_hostile_field_names_round_trip_through_the_counters(api: Api) -> None:
    names = ["size", "a.b", "x#y", ":v", "#n", "ünïcødé", "q_", "t_keyword_x", "with space"]
    api.store.add_filter_usage(
        "org_a", NS, hour_key(NOW), {name: FieldUsage(1, {"keyword": 1}) for name in names}, 2**31
    )

    stored = api.store.get_filter_usage("org_a", NS, hour_key(NOW), hour_key(NOW))[hour_key(NOW)]

    assert {name: (u.queries, u.value_types) for name, u in stored.items()} == {
        name: (1, {"keyword": 1}) for name in names
    }


# --- the scheduled job -----------------------------------------------------------------------


def test_101_filtered_searches_create_one_keyword_index_and_a_second_run_nothing(api: Api) -> None:
    _namespace(api)
    for _ in range(101):
        _search(api, _eq("category", "shoes"))

    first = _run(api)
    second = _run(api)

    assert [(c["field_name"], c["type"], c["state"]) for c in first.created] == [
        ("category", "keyword", "ready")
    ]
    assert second.created == []
    own = _own_indexes(_get(api))
    assert list(own) == ["category"]
    assert own["category"]["auto_created"] is True and own["category"]["state"] == "ready"
    assert _search(api, _eq("category", "shoes"))["warnings"] == []


def test_100_filtered_searches_create_nothing(api: Api) -> None:
    _namespace(api)
    for _ in range(100):
        _search(api, _eq("category", "shoes"))

    assert _run(api).created == []
    assert _own_indexes(_get(api)) == {}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("size", 42, "integer"),
        ("in_stock", True, "bool"),
        ("released", "2024-05-01T10:00:00Z", "datetime"),
        ("price", 9.5, "float"),
    ],
)
def test_the_index_type_follows_the_values_seen(api: Api, field: str, value: Any, expected: str) -> None:
    _namespace(api)
    for _ in range(3):
        _search(api, _eq(field, value))

    report = _run(api, threshold=2)

    assert [(c["field_name"], c["type"]) for c in report.created] == [(field, expected)]


def test_mixed_types_without_a_common_index_are_skipped(api: Api) -> None:
    _namespace(api)
    _add_usage(api, "flag", 300, {"bool": 150, "keyword": 150})

    report = _run(api)

    assert report.created == [] and [s["field_name"] for s in report.skipped] == ["flag"]


def test_protected_fields_are_never_touched_even_if_filtered_500_times(api: Api) -> None:
    _namespace(api)
    for field in PROTECTED:
        _add_usage(api, field, 500, {"keyword": 500})

    report = _run(api)

    assert report.created == []
    assert _own_indexes(_get(api)) == {}


def test_the_job_fills_the_room_under_the_cap_with_the_most_filtered_fields_and_skips_the_rest(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_PAYLOAD_INDEXES", 2)  # the job reads the cap when it runs
    _namespace(api, payload_indexes=[{"field_name": "category", "type": "keyword"}])
    _add_usage(api, "size", 300, {"integer": 300})
    _add_usage(api, "brand", 500, {"keyword": 500})
    _add_usage(api, "color", 200, {"keyword": 200})

    report = _run(api)

    assert [c["field_name"] for c in report.created] == ["brand"]
    assert {s["field_name"]: s["reason"] for s in report.skipped} == {
        "size": "the namespace already has the maximum of 2 payload indexes",
        "color": "the namespace already has the maximum of 2 payload indexes",
    }
    assert set(_own_indexes(_get(api))) == {"category", "brand"}
    assert _run(api).created == []


def test_only_opted_in_namespaces_are_indexed(api: Api) -> None:
    _namespace(api, auto=False)
    _add_usage(api, "category", 500, {"keyword": 500})

    report = _run(api)

    assert report.namespaces_checked == 0 and report.created == []


def test_two_overlapping_runs_create_the_index_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _namespace(api)
    _add_usage(api, "category", 101, {"keyword": 101})
    stores = api.stores()
    builds: list[str] = []
    real_build = stores.vectors.build_payload_index

    def counting_build(space: Any, index: Any) -> None:
        builds.append(index.field_name)
        real_build(space, index)

    monkeypatch.setattr(stores.vectors, "build_payload_index", counting_build)
    # Both runs read the namespace and the counters before either writes: a real overlap. The
    # timeout only ends a broken run; it is generous because CI runs this beside another shard.
    barrier = threading.Barrier(2, timeout=300)
    real_usage = filter_usage.usage_in_window

    def usage_then_wait(*args: Any) -> dict[str, FieldUsage]:
        usage = real_usage(*args)
        barrier.wait()
        return usage

    monkeypatch.setattr(auto_indexes, "usage_in_window", usage_then_wait)
    reports: list[auto_indexes.AutoIndexReport] = []
    threads = [threading.Thread(target=lambda: reports.append(_run(api))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=330)

    assert len(reports) == 2 and [report.errors for report in reports] == [[], []]
    assert sum(len(report.created) for report in reports) == 1
    assert builds == ["category"]
    assert _own_indexes(_get(api))["category"]["state"] == "ready"


@pytest.mark.parametrize(
    ("error", "reported"),
    [(TimeoutError(), "TimeoutError"), (RuntimeError("disk on fire"), "RuntimeError: disk on fire")],
)
def test_a_failing_namespace_is_reported_by_type_and_text(
    api: Api, monkeypatch: pytest.MonkeyPatch, error: Exception, reported: str
) -> None:
    _namespace(api)
    _add_usage(api, "category", 101, {"keyword": 101})

    def failing_usage(*args: Any) -> dict[str, FieldUsage]:
        raise error

    monkeypatch.setattr(auto_indexes, "usage_in_window", failing_usage)
    report = _run(api)

    assert report.errors == [{"org_id": "org_a", "namespace_id": NS, "error": reported}]
    assert report.namespaces_checked == 1 and report.created == []


def test_the_job_runs_on_static_stores_too(api: Api) -> None:
    _namespace(api)
    _add_usage(api, "category", 101, {"keyword": 101})
    stores = StaticStores(metadata=api.store, vectors=api.stores().vectors)

    assert [c["field_name"] for c in run_auto_indexes(stores, NOW, 100, 24).created] == ["category"]


# --- small rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shoes", "keyword"),
        ("2024-05-01", "datetime"),
        ("2024-05-01T10:00:00+02:00", "datetime"),
        ("2024-13-01", "keyword"),
        (3, "integer"),
        (3.5, "float"),
        (False, "bool"),
    ],
)
def test_value_types(value: Any, expected: str) -> None:
    assert value_type(value) == expected


def test_usage_of_counts_each_field_once_per_search() -> None:
    conditions = [
        {"field": "a", "operator": "in", "value": [1, 2.5]},
        {"a": 3},
        {"field": "t", "operator": "text", "value": "hi"},
        {"field": "e", "operator": "exists", "value": True},
    ]
    node = parse_filter({"OR": conditions}, "filters")

    usage = usage_of(node)

    assert {name: (u.queries, u.value_types) for name, u in usage.items()} == {
        "a": (1, {"integer": 1, "float": 1}),
        "t": (1, {"text": 1}),
        "e": (1, {}),
    }


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ({"keyword": 5}, "keyword"),
        ({"integer": 3, "float": 1}, "float"),
        ({"datetime": 3, "keyword": 1}, "keyword"),
        ({"bool": 1, "integer": 1}, None),
        ({}, None),
    ],
)
def test_choose_index_type(types: dict[str, int], expected: str | None) -> None:
    assert choose_index_type(types) == expected
