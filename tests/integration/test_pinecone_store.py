"""`PineconeVectorStore` with the real `pinecone` client against the loopback Pinecone server:
pools, retries and timeouts, Pinecone's limits, and what the filter compiler writes and asks.
What every store must do is in `tests/contract/test_vector_store_contract.py`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
import pytest

from stratus.adapters.pinecone.filters import compile_filter
from stratus.adapters.pinecone.metadata import PAYLOAD_KEY, record_metadata, shadow_key
from stratus.adapters.pinecone.records import MAX_METADATA_BYTES, MAX_UPSERT_BYTES, decode_id, encode_id
from stratus.adapters.pinecone.store import PineconeVectorStore
from stratus.adapters.secrets import api_key_from
from stratus.errors import (
    BadRequestError,
    PayloadTooLargeError,
    VectorStoreUnavailableError,
)
from stratus.filters import FilterNode, evaluate, parse_filter
from stratus.models.namespaces import Metric
from stratus.ports import Space, VectorRecord
from tests.loopback_pinecone import LoopbackPinecone

API_KEY = "pc-loopback-0123456789"
DIM = 8


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[LoopbackPinecone]:
    with LoopbackPinecone(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def make(
    server: LoopbackPinecone, sleep: Callable[[float], None] | None = None, **options: Any
) -> PineconeVectorStore:
    return PineconeVectorStore(
        lambda: API_KEY,
        control_plane_host=server.url,
        sleep=sleep if sleep is not None else FakeSleep(),
        **{"timeout_seconds": 5.0, **options},
    )


def space(
    dimension: int = DIM, metric: Metric = "cosine", index: str = "text", key: str = "ns-0001"
) -> Space:
    return Space(storage_key=key, index_name=index, dimension=dimension, metric=metric)


def vectors(count: int, dimension: int = DIM, seed: int = 0) -> list[list[float]]:
    rows = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return [row.tolist() for row in rows]


def records(count: int, dimension: int = DIM, payload: dict[str, Any] | None = None) -> list[VectorRecord]:
    return [
        VectorRecord(f"r{i:05d}", {"i": i, **(payload or {})}, vector)
        for i, vector in enumerate(vectors(count, dimension))
    ]


def node(raw: dict[str, Any]) -> FilterNode:
    parsed = parse_filter(raw)
    assert parsed is not None
    return parsed


def requests_to(server: LoopbackPinecone, method: str, suffix: str) -> list[Any]:
    return [r for r in server.requests if r.method == method and r.path.split("?")[0].endswith(suffix)]


# ---------------------------------------------------------------------------------------------
# Pools


def test_a_pool_is_created_once_under_concurrent_ensure_space(server: LoopbackPinecone) -> None:
    store = make(server)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            store.ensure_space(space())
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(requests_to(server, "POST", "/indexes")) == 1
    assert server.index_names() == ["stratus-8-cosine"]
    store.ensure_space(space())  # cached: no control-plane call at all
    assert len(requests_to(server, "GET", "/indexes/stratus-8-cosine")) == 1


def test_processes_racing_to_create_a_pool_all_succeed(server: LoopbackPinecone) -> None:
    """Separate stores (as separate Lambda containers): the losers of the race get a 409, which
    means "describe it"."""
    stores = [make(server) for _ in range(8)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(store: PineconeVectorStore) -> None:
        try:
            barrier.wait()
            store.upsert(space(), records(1))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert server.index_names() == ["stratus-8-cosine"]
    assert stores[0].count(space()) == 1


def test_one_pool_per_dimension_and_metric_one_namespace_per_space(server: LoopbackPinecone) -> None:
    store = make(server, index_prefix="acme")
    cosine, dot, euclidean = space(), space(metric="dot", index="b"), space(16, "euclidean", index="c")
    for target in (cosine, dot, euclidean):
        store.upsert(target, records(2, target.dimension))
    store.upsert(space(key="ns-0002"), records(3))
    assert sorted(server.index_names()) == ["acme-16-euclidean", "acme-8-cosine", "acme-8-dotproduct"]
    assert sorted(server.records("acme-8-cosine", "ns-0001__text")) == ["r00000", "r00001"]
    assert len(server.records("acme-8-cosine", "ns-0002__text")) == 3
    assert len(server.records("acme-8-dotproduct", "ns-0001__b")) == 2
    assert store.locator("ns-0001") == "pinecone:acme-*/ns-0001__*"
    create = requests_to(server, "POST", "/indexes")[0].body
    assert create["schema"] == {
        "fields": {"_values": {"type": "dense_vector", "dimension": 8, "metric": "cosine"}}
    }
    assert create["deployment"] == {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}
    assert set(server.api_versions) == {"2026-07"}


def test_a_new_pool_is_waited_for(server: LoopbackPinecone) -> None:
    server.ready_delay = 0.4
    store = make(server, sleep=time.sleep)
    started = time.monotonic()
    store.ensure_space(space())
    assert time.monotonic() - started >= 0.3
    assert len(requests_to(server, "GET", "/indexes/stratus-8-cosine")) >= 2


def test_a_pool_still_initializing_is_a_retryable_503(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    server.ready_delay = 0.5
    store = make(server, sleep)  # a fake sleep: the polls run out at once
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.upsert(space(), records(1))
    assert caught.value.retry_after == 5
    assert "not ready" in caught.value.message
    assert requests_to(server, "POST", "/vectors/upsert") == []
    time.sleep(0.6)
    store.upsert(space(), records(1))  # the caller's retry: described again, now ready
    assert len(requests_to(server, "POST", "/indexes")) == 1


def test_a_deleted_pool_is_found_again_and_recreated(server: LoopbackPinecone) -> None:
    store = make(server)
    store.upsert(space(), records(2))
    server.reset()  # every index is gone
    with pytest.raises(VectorStoreUnavailableError):
        store.count(space())  # 404 from the cached host: forgotten
    assert store.count(space()) == 0  # described again: missing, so empty
    store.upsert(space(), records(3))  # created again
    assert store.count(space()) == 3


def test_an_index_with_our_name_but_another_shape_is_a_conflict(server: LoopbackPinecone) -> None:
    from stratus.errors import ConflictError

    server.create_index("stratus-8-cosine", dimension=4, metric="cosine")
    with pytest.raises(ConflictError) as caught:
        make(server).ensure_space(space())
    assert "stratus-8-cosine" in caught.value.message


# ---------------------------------------------------------------------------------------------
# Retries, timeouts, failures


def test_429_is_retried_honouring_retry_after(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep)
    store.ensure_space(space())
    server.fail_next(2, status=429, path_contains="/vectors/upsert", retry_after=2)
    store.upsert(space(), records(5))
    assert len(requests_to(server, "POST", "/vectors/upsert")) == 3
    assert len(sleep.delays) == 2 and all(delay >= 2 for delay in sleep.delays)
    assert store.count(space()) == 5


def test_backoff_grows_with_jitter(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep, max_attempts=4)
    store.ensure_space(space())
    server.fail_next(3, status=503, path_contains="/query")
    store.query(space(), vectors(1)[0], 3, None, False)
    first, second, third = sleep.delays
    assert 0.125 <= first <= 0.25 and 0.25 <= second <= 0.5 and 0.5 <= third <= 1.0


def test_a_long_retry_after_is_handed_to_the_caller(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep)
    store.ensure_space(space())
    server.fail_next(1, status=429, path_contains="/query", retry_after=120)
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.query(space(), vectors(1)[0], 3, None, False)
    assert caught.value.retry_after == 120
    assert sleep.delays == []
    assert len(requests_to(server, "POST", "/query")) == 1


def test_a_persistent_500_is_a_503_after_max_attempts(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep, max_attempts=3)
    store.ensure_space(space())
    server.fail_next(10, status=500, path_contains="/vectors/upsert")
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.upsert(space(), records(5))
    error = caught.value
    assert error.status == 503 and error.type == "VectorStoreUnavailableError"
    assert "ns-0001__text" in error.message and "confirmed 0 of 5" in error.message
    assert error.details["confirmed_records"] == 0
    assert len(requests_to(server, "POST", "/vectors/upsert")) == 3  # ours only: the client's are off
    assert len(sleep.delays) == 2


def test_a_timeout_is_retried_then_a_503(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep, timeout_seconds=0.3, max_attempts=2)
    store.upsert(space(), records(3))
    server.hang_next(1, seconds=1.5, path_contains="/query")
    assert len(store.query(space(), vectors(1)[0], 3, None, False)) == 3  # the second attempt answers
    server.hang_next(2, seconds=1.5, path_contains="/query")
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.query(space(), vectors(1)[0], 3, None, False)
    assert "timed out" in caught.value.message
    assert len(requests_to(server, "POST", "/query")) == 4


def test_a_failed_batch_reports_what_was_confirmed(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep, max_concurrency=2, max_attempts=1)
    target = space()
    store.ensure_space(target)
    batch = records(3000)  # three requests of 1000
    server.hang_next(1, seconds=0.5, path_contains="/vectors/upsert")  # one slow success...
    server.fail_next(1, status=500, path_contains="/vectors/upsert")  # ...while another fails
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.upsert(target, batch)
    stored = len(server.records("stratus-8-cosine", target.name))
    assert caught.value.details["confirmed_records"] == stored
    assert 1000 <= stored < 3000
    assert caught.value.details["total_records"] == 3000
    store.upsert(target, batch)  # the caller's retry completes it
    assert store.count(target) == 3000


def test_a_refusal_is_not_retried(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = make(server, sleep)
    store.ensure_space(space())
    server.fail_next(1, status=400, path_contains="/vectors/upsert")
    with pytest.raises(BadRequestError) as caught:
        store.upsert(space(), records(1))
    assert "'pinecone'" in caught.value.message
    assert sleep.delays == []


def test_a_wrong_api_key_is_a_503_and_not_retried(server: LoopbackPinecone, sleep: FakeSleep) -> None:
    store = PineconeVectorStore(lambda: "wrong", control_plane_host=server.url, sleep=sleep)
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.ensure_space(space())
    assert "HTTP 401" in caught.value.message
    assert len(server.requests) == 1


def test_a_missing_api_key_names_the_settings(server: LoopbackPinecone) -> None:
    provider = api_key_from(
        None,
        None,
        service="pinecone",
        env_name="STRATUS_PINECONE_API_KEY",
        secret_setting_name="STRATUS_PINECONE_API_KEY_SECRET_ARN",
    )
    store = PineconeVectorStore(provider, control_plane_host=server.url)
    with pytest.raises(VectorStoreUnavailableError) as caught:
        store.count(space())
    message = caught.value.message
    assert message.startswith("vector store 'pinecone' is unavailable")
    assert "STRATUS_PINECONE_API_KEY" in message and "STRATUS_PINECONE_API_KEY_SECRET_ARN" in message
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# Limits


def test_metadata_over_40kb_is_a_413_and_nothing_is_sent(server: LoopbackPinecone) -> None:
    store = make(server)
    store.ensure_space(space())
    fine = VectorRecord("fine", {"text": "x" * 39_000}, vectors(1)[0])  # long texts shadow as digests
    many = VectorRecord("many-tags", {"tags": [f"tag{i}" for i in range(3000)]}, vectors(1)[0])
    with pytest.raises(PayloadTooLargeError) as caught:
        store.upsert(space(), [fine, many])
    assert caught.value.status == 413
    assert "'many-tags'" in caught.value.message and str(MAX_METADATA_BYTES) in caught.value.message
    assert caught.value.details["document_id"] == "many-tags"
    assert requests_to(server, "POST", "/vectors/upsert") == []
    store.upsert(space(), [fine])
    assert store.fetch(space(), ["fine"], False)["fine"].payload == fine.payload


def test_upsert_requests_stay_within_2mb_and_1000_records(server: LoopbackPinecone) -> None:
    store = make(server)
    target = space(dimension=512)
    rows = vectors(240, dimension=512, seed=2)
    batch = [VectorRecord(f"big-{i:03d}", {"text": f"{i} " + "lorem " * 4000}, rows[i]) for i in range(240)]
    store.upsert(target, batch)
    sent = [request.body for request in requests_to(server, "POST", "/vectors/upsert")]
    assert len(sent) >= 4
    assert all(len(orjson.dumps(body)) <= MAX_UPSERT_BYTES for body in sent)
    assert all(len(body["vectors"]) <= 1000 for body in sent)
    assert store.count(target) == 240


def test_zero_vectors_and_overlong_ids_are_bad_requests(server: LoopbackPinecone) -> None:
    store = make(server)
    with pytest.raises(BadRequestError) as caught:
        store.upsert(space(), [VectorRecord("zero", {}, [0.0] * DIM)])
    assert "'zero'" in caught.value.message and "non-zero" in caught.value.message
    with pytest.raises(BadRequestError):
        store.query(space(), [0.0] * DIM, 3, None, False)
    with pytest.raises(BadRequestError) as caught:
        store.upsert(space(), [VectorRecord("é" * 200, {}, vectors(1)[0])])
    assert "512" in caught.value.message
    assert requests_to(server, "POST", "/vectors/upsert") == []


def test_integers_beyond_2_106_are_refused_with_the_field(server: LoopbackPinecone) -> None:
    store = make(server)
    with pytest.raises(BadRequestError) as caught:
        store.upsert(space(), [VectorRecord("huge", {"a": {"n": 2**107}}, vectors(1)[0])])
    assert caught.value.details["field"] == "a.n"
    # In a list (never compared by a range) or as a string it is kept as written.
    kept = {"a": {"n": [2**300]}, "s": str(2**107)}
    store.upsert(space(), [VectorRecord("kept", kept, vectors(1)[0])])
    assert store.fetch(space(), ["kept"], False)["kept"].payload == kept


# ---------------------------------------------------------------------------------------------
# Ids


@pytest.mark.parametrize(
    "record_id", ["plain-id_1", "a b", "é", "~", "~7E", "😀", "\ud800", "中文", "x" * 512]
)
def test_ids_round_trip(record_id: str) -> None:
    encoded = encode_id(record_id)
    assert encoded.isascii() and "\x00" not in encoded
    assert decode_id(encoded) == record_id


def test_escaped_ids_keep_their_order() -> None:
    ids = ["a", "a~", "a}", "a\x7e", "b", "é", "ÿ", "~", "\uffff", "😀", "a b", "A", "\ud7ff", "\ue000"]
    assert sorted(ids, key=encode_id) == sorted(ids)


# ---------------------------------------------------------------------------------------------
# Filters: what is written and asked


def test_record_metadata_shadows() -> None:
    metadata = record_metadata(
        "d",
        {
            "Name": "Ada",
            "n": 2**53 + 1,
            "tags": ["X", "y", 5, True, None, {"k": 1}],
            "o": {"f": False},
            "z": None,
        },
    )
    assert metadata[PAYLOAD_KEY].startswith('{"Name":"Ada"')
    assert metadata["t_Name"] == "s" and metadata["v_Name"] == "sAda" and metadata["i_Name"] == "sada"
    assert metadata["v_n"] == "n9007199254740993"
    assert metadata["h_n"] == 2.0**53 and metadata["l_n"] == 1.0
    assert metadata["t_tags"] == "l"
    assert sorted(metadata["v_tags"]) == ["b1", "n5", "sX", "sy"] and metadata["i_tags"] == ["sx"]
    assert metadata["t_o"] == "o" and metadata["t_o__f"] == "b" and metadata["v_o__f"] == "b0"
    assert not any(key.endswith("_z") for key in metadata)  # null is absence
    assert "i_o__f" not in metadata and "h_Name" not in metadata


def test_hostile_field_names_get_digest_keys() -> None:
    for path in [("$where",), ("a b",), ("ключ",), ("x", "$in"), ("a__b",), ("_x",), ("x" * 80,)]:
        key = shadow_key("v", path)
        assert key.startswith("v-") and len(key) == 42 and key.isascii()
    assert shadow_key("v", ("meta", "lang")) == "v_meta__lang"


def test_negations_also_match_documents_without_the_field() -> None:
    compiled = compile_filter(node({"field": "a", "operator": "ne", "value": "x", "case_sensitive": True}))
    assert compiled.filter == {"$or": [{"v_a": {"$nin": ["sx"]}}, {"v_a": {"$exists": False}}]}
    exists = compile_filter(node({"NOT": {"field": "a", "operator": "exists"}}))
    assert exists.filter == {"t_a": {"$exists": False}}


def test_unsupported_operators_are_refused_before_any_request(server: LoopbackPinecone) -> None:
    store = make(server)
    store.upsert(space(), records(2, payload={"title": "Services"}))
    server.reset(data=False)
    for raw in [
        {"field": "title", "operator": "starts_with", "value": "S"},
        {"field": "title", "operator": "ends_with", "value": "s"},
        {"field": "title", "operator": "text", "value": "services"},
        {"field": "title", "operator": "gt", "value": "A"},
    ]:
        with pytest.raises(BadRequestError) as caught:
            store.query(space(), vectors(1)[0], 5, node(raw), False)
        assert caught.value.details == {
            "field": "title",
            "operator": raw["operator"],
            "vector_store": "pinecone",
        }
        assert f"operator '{raw['operator']}' cannot be evaluated exactly by the 'pinecone' vector store" in (
            caught.value.message
        )
    assert server.requests == []


def test_contains_is_refused_only_where_strings_are(server: LoopbackPinecone) -> None:
    store = make(server)
    target = space()
    rows = vectors(3)
    store.upsert(
        target,
        [
            VectorRecord("list", {"tags": ["alpha", "beta"]}, rows[0]),
            VectorRecord("text", {"tags": "alphabet"}, rows[1]),
            VectorRecord("none", {"other": 1}, rows[2]),
        ],
    )
    contains = node({"NOT": {"field": "tags", "operator": "contains", "value": "alpha"}})
    with pytest.raises(BadRequestError) as caught:
        store.query(target, rows[0], 5, contains, False)
    assert caught.value.details == {"field": "tags", "operator": "contains", "vector_store": "pinecone"}
    assert "'tags'" in caught.value.message
    # Listing reads the payloads, so it answers the substring test too.
    assert [r.id for r in store.list(target, contains, 10, None, False).records] == ["none"]
    store.delete(target, ["text"])
    assert [hit.id for hit in store.query(target, rows[0], 5, contains, False)] == ["none"]


def test_numbers_no_double_holds_compare_exactly(server: LoopbackPinecone) -> None:
    """Integers up to 2**106 (beyond LanceDB's exact range, so not in the shared corpus)."""
    store = make(server)
    target = space()
    values: list[int | float] = [
        2**105 + 1,
        2**105,
        float(2**105),
        2**105 - 1,
        -(2**106),
        2**106,
        3,
        2**53 + 1,
    ]
    rows = vectors(len(values))
    store.upsert(target, [VectorRecord(f"n{i}", {"v": value}, rows[i]) for i, value in enumerate(values)])
    payloads = {f"n{i}": {"v": value} for i, value in enumerate(values)}
    bounds: list[int | float] = [
        2**105,
        2**105 + 1,
        2**105 - 1,
        float(2**105),
        -(2**106),
        2**106,
        2**106 + 1,
        2**53,
    ]
    for operator in ("gt", "gte", "lt", "lte", "eq", "ne"):
        for bound in bounds:
            parsed = node({"field": "v", "operator": operator, "value": bound})
            expected = {record_id for record_id, payload in payloads.items() if evaluate(parsed, payload)}
            hits = store.query(target, rows[0], 100, parsed, False)
            assert {hit.id for hit in hits} == expected, (operator, bound)


def test_filtered_listing_is_bounded(server: LoopbackPinecone) -> None:
    store = make(server, list_scan_limit=150)
    target = space()
    rows = vectors(400)
    store.upsert(target, [VectorRecord(f"r{i:03d}", {"hit": i >= 390}, rows[i]) for i in range(400)])
    with pytest.raises(BadRequestError) as caught:
        store.list(target, node({"hit": True}), 5, None, False)
    assert 150 <= caught.value.details["examined"] < 400  # whole pages of 100
    page = store.list(target, node({"hit": False}), 5, None, False)
    assert [r.id for r in page.records] == [f"r{i:03d}" for i in range(5)] and page.next_cursor == "r004"


def test_the_next_page_resumes_from_a_remembered_token(server: LoopbackPinecone) -> None:
    store = make(server)
    target = space()
    store.upsert(target, records(450))
    first = store.list(target, None, 250, None, False)
    assert first.next_cursor == "r00249"
    server.reset(data=False)
    second = store.list(target, None, 250, first.next_cursor, False)
    assert [r.id for r in second.records] == [f"r{i:05d}" for i in range(250, 450)]
    listed = requests_to(server, "GET", "/vectors/list")
    assert "paginationToken" in listed[0].path  # not from the namespace's first id
    assert len(listed) == 3
