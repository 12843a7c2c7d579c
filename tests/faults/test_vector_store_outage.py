"""The vector store down during a direct upsert, over HTTP (TestClient).

api.md: a 503 `VectorStoreUnavailableError` with `Retry-After`. Vectors are written first and
metadata last, so the failed request leaves the namespace record exactly as it was (the index
the batch would have created by schema-on-write is not registered, the version has not moved),
and the client's retry of the same request lands every document exactly once.

LanceDB fails at the adapter boundary: the store's connection is swapped for one whose tables
refuse writes with the OSError of an unreachable object store. Pinecone fails over HTTP: the
loopback server answers 503s, or hangs past the client's timeout (and applies the write anyway:
the answer, not the write, is lost)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.faults.api import PINECONE_MAX_ATTEMPTS, PINECONE_TIMEOUT_SECONDS, Api
from tests.faults.upsert_checks import (
    IDS,
    NS,
    assert_landed_exactly_once,
    assert_retryable_503,
    space_ids,
    standalone_with_one_document,
    upsert_batch,
)
from tests.loopback_pinecone import LoopbackPinecone

# ---------------------------------------------------------------------------------------------
# LanceDB: a failing connection at the adapter boundary


class _WriteRefusingTable:
    """A LanceDB table whose writes fail as when its object store is unreachable; reads work."""

    def __init__(self, table: Any, refused: list[str]) -> None:
        self._table = table
        self._refused = refused

    def merge_insert(self, *args: Any, **kwargs: Any) -> Any:
        self._refused.append(self._table.name)
        raise OSError("LanceDB: object store unreachable (injected by the fault test)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


class _FailingConnection:
    """The real connection, handing out write-refusing tables for the names `fails` picks."""

    def __init__(self, real: Any, fails: Callable[[str], bool]) -> None:
        self._real = real
        self._fails = fails
        self.refused: list[str] = []

    def open_table(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(name, self._real.open_table(name, *args, **kwargs))

    def create_table(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(name, self._real.create_table(name, *args, **kwargs))

    def _wrap(self, name: str, table: Any) -> Any:
        return _WriteRefusingTable(table, self.refused) if self._fails(name) else table

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def lancedb_writes_failing(store: Any, fails: Callable[[str], bool]) -> Iterator[_FailingConnection]:
    """Swap the store's connection (and drop its cached tables, as a new container would)."""
    with store._lock:
        real = store._connection()
        failing = _FailingConnection(real, fails)
        store._db = failing
        store._tables.clear()
    try:
        yield failing
    finally:
        with store._lock:
            store._db = real
            store._tables.clear()


@pytest.mark.parametrize("failing", ["every table", "the new index only"])
def test_lancedb_down_during_upsert_is_a_503_with_no_metadata_change_and_the_retry_lands_once(
    lancedb_api: Api, failing: str
) -> None:
    api = lancedb_api
    before = standalone_with_one_document(api)

    def fails(table_name: str) -> bool:
        return failing == "every table" or table_name.endswith("__fresh")

    with lancedb_writes_failing(api.stores.vectors, fails) as connection:
        response = upsert_batch(api)

    body = assert_retryable_503(response, "VectorStoreUnavailableError")
    assert "upsert" in body["error"]["message"] and body["error"]["details"]["operation"] == "upsert"
    refused_index = "emb" if failing == "every table" else "fresh"
    assert connection.refused == [f"{before.storage_key}__{refused_index}"]
    assert api.namespace(NS) == before  # not registered, not even touched (version, updated_at)
    described = api.client.get(f"/v1/namespaces/{NS}").json()
    assert [c["name"] for c in described["vector_configs"]] == ["emb"]
    if failing == "the new index only":
        # The existing index was written before the new one failed: visible, and harmless,
        # since the retry overwrites the same ids.
        assert space_ids(api, "emb") == ({*IDS, "seed"}, 4)
    else:
        assert space_ids(api, "emb") == ({"seed"}, 1)

    retried = upsert_batch(api)

    assert retried.status_code == 200, retried.text
    assert retried.json() == {"inserted": 3, "document_ids": IDS}
    assert_landed_exactly_once(api, before)


# ---------------------------------------------------------------------------------------------
# Pinecone: faults of the loopback server, through the real client


def _pinecone_space(api: Api, index: str) -> str:
    return f"{api.namespace(NS).storage_key}__{index}"


@pytest.mark.parametrize(
    ("path", "times", "retry_after", "answered_retry_after"),
    [
        # Every attempt of the first write (the existing index's pool) gets a 503.
        ("/vectors/upsert", PINECONE_MAX_ATTEMPTS, None, "1"),
        # Only the new index's pool (3 dimensions) fails: the existing index was already written.
        ("stratus-3-cosine/vectors/upsert", PINECONE_MAX_ATTEMPTS, None, "1"),
        # A Retry-After too long to wait for inside a request: answered at once, hint passed on.
        ("/vectors/upsert", 1, 30, "30"),
    ],
    ids=["503-every-attempt", "503-new-pool-only", "503-retry-after-30"],
)
def test_pinecone_503s_during_upsert_are_a_503_with_no_metadata_change_and_the_retry_lands_once(
    pinecone_api: Api,
    pinecone_server: LoopbackPinecone,
    path: str,
    times: int,
    retry_after: int | None,
    answered_retry_after: str,
) -> None:
    api, server = pinecone_api, pinecone_server
    before = standalone_with_one_document(api)
    upserts_before = server.calls("/vectors/upsert")
    server.fail_next(times, status=503, path_contains=path, retry_after=retry_after)

    response = upsert_batch(api)

    body = assert_retryable_503(response, "VectorStoreUnavailableError", answered_retry_after)
    assert body["error"]["details"]["operation"] == "upsert"
    assert "HTTP 503" in body["error"]["message"]
    new_pool_only = path.startswith("stratus-3")
    # One request per attempt (the loopback counts refused ones too), plus the good first pool.
    assert server.calls("/vectors/upsert") - upserts_before == times + (1 if new_pool_only else 0)
    assert api.namespace(NS) == before
    emb_records = server.records("stratus-4-cosine", _pinecone_space(api, "emb"))
    assert len(emb_records) == (4 if new_pool_only else 1)

    retried = upsert_batch(api)

    assert retried.status_code == 200, retried.text
    assert_landed_exactly_once(api, before)
    assert len(server.records("stratus-4-cosine", _pinecone_space(api, "emb"))) == 4
    assert len(server.records("stratus-3-cosine", _pinecone_space(api, "fresh"))) == 3


def test_pinecone_timeouts_during_upsert_are_a_503_and_the_late_write_plus_the_retry_land_once(
    pinecone_api: Api, pinecone_server: LoopbackPinecone
) -> None:
    """Each attempt hangs past the client's timeout; the server then applies it anyway. So the
    vectors arrive although the client was told 503: exactly the state a retry must absorb."""
    api, server = pinecone_api, pinecone_server
    before = standalone_with_one_document(api)
    hang = PINECONE_TIMEOUT_SECONDS * 2
    server.hang_next(PINECONE_MAX_ATTEMPTS, seconds=hang, path_contains="/vectors/upsert")

    started = time.monotonic()
    response = upsert_batch(api)

    body = assert_retryable_503(response, "VectorStoreUnavailableError")
    assert f"(timed out) after {PINECONE_MAX_ATTEMPTS} attempts" in body["error"]["message"], body
    assert body["error"]["details"]["confirmed_records"] == 0  # as far as the client knows
    emb_space = _pinecone_space(api, "emb")
    deadline = started + PINECONE_MAX_ATTEMPTS * (hang + 1) + 5
    while len(server.records("stratus-4-cosine", emb_space)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.records("stratus-4-cosine", emb_space)) == 4, "the late write landed"
    assert api.namespace(NS) == before  # the answer was a 503: nothing registered

    retried = upsert_batch(api)

    assert retried.status_code == 200, retried.text
    assert_landed_exactly_once(api, before)
