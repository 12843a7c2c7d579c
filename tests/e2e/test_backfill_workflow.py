"""Backfill and model migration end to end on the local stack (`python -m stratus_local`, its
backfill worker polling the emulated queue and calling `functions/backfill/app.py`), over HTTP, on
both vector stores:

- a standalone namespace with 2,000 documents whose payload has `text` is promoted with an
  `add_vectors` entry naming that source; `stratus tasks watch` follows the task to COMPLETED;
  a text search on the new index finds an old document;
- a model migration (minilm_l6_v2 → clip_vit_b32, the tiny CLIP weights) under concurrent upserts
  and searches loses no document, and no search answers an error."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LocalStack, free_port, stack_environment, start_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
TOPICS = ("volcano", "violin", "harbor", "orchard", "glacier", "telescope", "bakery", "marathon")
WAIT_SECONDS = 600.0
# Thousands of embeddings and a migration's settle time, on a shared 2-core machine.
pytestmark = pytest.mark.timeout(900)


def text_of(number: int, version: int = 0) -> str:
    topic = TOPICS[(number + version) % len(TOPICS)]
    return f"Note {number} (v{version}) is about a {topic}; it is number {number} of the {topic} notes."


@pytest.fixture(scope="module", params=["lancedb", "pinecone"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack whose clip_vit_b32 runs the tiny CLIP model (the real loading code, tiny weights)."""
    from tests.tiny_image_text_models import build_tiny_clip

    workdir = tmp_path_factory.mktemp(f"backfill-{request.param}")
    env = {"STRATUS_CLIP_WEIGHTS_URI": str(build_tiny_clip(workdir / "clip"))}
    with contextlib.ExitStack() as resources:
        if request.param == "pinecone":
            from tests.loopback_pinecone import LoopbackPinecone

            server = resources.enter_context(LoopbackPinecone())
            env |= {
                "STRATUS_VECTOR_STORE": "pinecone",
                "STRATUS_PINECONE_API_KEY": server.api_key,
                "STRATUS_PINECONE_CONTROL_PLANE_HOST": server.url,
            }
        running = start_stack(workdir, port=free_port(), env=env)
        yield running
        running.assert_stops_cleanly()


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def wait_for_task(api: httpx.Client, task_id: str, namespace: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        task = ok(api.get(f"/v1/tasks/{task_id}", headers={"X-Namespace": namespace}))
        if task["status"] not in ("PENDING", "PROCESSING"):
            return task
        time.sleep(0.5)
    pytest.fail(f"task {task_id} did not end within {WAIT_SECONDS:.0f} s")


def search(api: httpx.Client, namespace: str, index: str, text: str, top_k: int = 5) -> list[dict[str, Any]]:
    body = {"namespace_id": namespace, "queries": [{"vector_name": index, "text": text, "top_k": top_k}]}
    results: list[dict[str, Any]] = ok(api.post("/v1/search", json=body))["results"]
    return results


def test_a_promotion_backfills_2000_documents_and_a_text_search_finds_an_old_one(
    stack: LocalStack, api: httpx.Client
) -> None:
    namespace = "product-notes"
    ok(api.post("/v1/namespaces/standalone", json={"namespace_id": namespace}))
    documents = [
        {
            "document_id": f"note-{n:04d}",
            "vectors": {"legacy": [float((n * 7 + i) % 11) + 1.0 for i in range(8)]},
            "payload": {"text": text_of(n), "n": n},
        }
        for n in range(2000)
    ]
    for start in range(0, len(documents), 500):
        ok(
            api.post(
                f"/v1/namespaces/{namespace}/documents/upsert",
                json={"documents": documents[start : start + 500]},
            )
        )
    body = {
        "add_vectors": [
            {
                "name": "text_minilm",
                "dimension": 384,
                "inference_service": "minilm_l6_v2",
                "source": {"field": "text"},
            }
        ]
    }
    promoted = ok(api.post(f"/v1/namespaces/{namespace}/promote", json=body))
    task_id = promoted["backfill_task_id"]
    assert promoted["mode"] == "managed"

    # The CLI follows the task to its end (exit 0 once COMPLETED), printing a line per change.
    watched = subprocess.run(
        [sys.executable, "-m", "stratus.cli", "tasks", "watch", task_id, "--namespace", namespace,
         "--url", stack.base_url, "--interval", "0.5", "--timeout", str(WAIT_SECONDS)],
        cwd=REPO_ROOT, env=stack_environment({"STRATUS_API_KEY": stack.api_key}),
        capture_output=True, text=True, timeout=WAIT_SECONDS + 60, check=False,
    )  # fmt: skip
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "2000/2000" in watched.stdout and "COMPLETED" in watched.stdout

    task = wait_for_task(api, task_id, namespace)
    assert (task["status"], task["total"], task["processed"], task["skipped"], task["failed"]) == (
        "COMPLETED",
        2000,
        2000,
        0,
        0,
    )
    hits = search(api, namespace, "text_minilm", text_of(1234))
    assert hits[0]["document_id"] == "note-1234"
    assert hits[0]["payload"]["n"] == 1234


def test_a_model_migration_under_concurrent_writes_and_searches_loses_nothing(
    stack: LocalStack, api: httpx.Client
) -> None:
    namespace = "live-notes"
    index = "text_embedding"
    ok(
        api.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": namespace, "vector_configs": [{"name": index, "dimension": 384}]},
        )
    )
    mapping = {"existing_index": index, "inference_service": "minilm_l6_v2"}
    ok(api.post(f"/v1/namespaces/{namespace}/promote", json={"vector_mappings": [mapping]}))

    expected: dict[str, str] = {}  # document id → the text last written
    lock = threading.Lock()

    def upsert(numbers: range, version: int, client: httpx.Client) -> None:
        batch: list[dict[str, Any]] = []
        for n in numbers:
            text = text_of(n, version)
            batch.append(
                {"document_id": f"doc-{n:04d}", "vectors": {index: {"text": text}}, "payload": {"text": text}}
            )
        ok(client.post(f"/v1/namespaces/{namespace}/documents/upsert", json={"documents": batch}))
        with lock:
            expected.update({item["document_id"]: item["payload"]["text"] for item in batch})

    upsert(range(0, 400), 0, api)
    migration = ok(
        api.post(
            f"/v1/namespaces/{namespace}/vectors/{index}/migrate",
            json={"inference_service": "clip_vit_b32", "source": {"field": "text"}},
        )
    )
    task_id = migration["task_id"]

    stop = threading.Event()
    search_errors: list[str] = []
    searches = [0]
    writes = [0]

    def writer() -> None:
        with stack.client() as client:
            round_ = 0
            while not stop.is_set():
                round_ += 1
                upsert(range(400 + 10 * round_, 410 + 10 * round_), 0, client)  # new documents
                upsert(range(5 * round_ % 400, 5 * round_ % 400 + 5), round_, client)  # changed ones
                writes[0] += 1
                time.sleep(0.05)

    def searcher() -> None:
        with stack.client() as client:
            while not stop.is_set():
                body = {
                    "namespace_id": namespace,
                    "queries": [{"vector_name": index, "text": text_of(7), "top_k": 3}],
                }
                response = client.post("/v1/search", json=body)
                searches[0] += 1
                if response.status_code != 200:
                    search_errors.append(f"{response.status_code}: {response.text[:300]}")

    threads = [threading.Thread(target=writer), threading.Thread(target=searcher)]
    for thread in threads:
        thread.start()
    try:
        task = wait_for_task(api, task_id, namespace)
        # Keep going past the swap, while the retired copy is still around and then dropped.
        time.sleep(8)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    assert task["status"] == "COMPLETED", task
    assert search_errors == [], search_errors[:5]
    assert searches[0] > 10 and writes[0] > 3
    described = ok(api.get(f"/v1/namespaces/{namespace}"))
    assert described["vector_inference_map"][index] == "clip_vit_b32"
    assert [c["dimension"] for c in described["vector_configs"] if c["name"] == index] == [512]
    # Every document written before or during the migration is there, with its last text, and a
    # vector of the new model.
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    totals: list[int] = []
    while True:
        page = ok(
            api.post(
                f"/v1/namespaces/{namespace}/documents/list",
                json={
                    "limit": 1000,
                    "return_vectors": True,
                    "include_total": not totals,
                    **({"cursor": cursor} if cursor else {}),
                },
            )
        )
        totals.append(page["pagination"]["total"])
        found.update({doc["document_id"]: doc for doc in page["results"]})
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert set(found) == set(expected)
    # One record per document in the new index: the count is the store's, by row (two concurrent
    # first writes of one id once left two rows in a LanceDB copy, and a listing lost documents).
    assert totals[0] == len(expected)
    stale = [doc_id for doc_id, text in expected.items() if found[doc_id]["payload"]["text"] != text]
    assert stale == []
    assert {len(doc["vectors"][index]) for doc in found.values()} == {512}
    # And a text query, now embedded by the new model, finds a document by what it says.
    changed = max(expected, key=lambda doc_id: int(doc_id.split("-")[1]))
    assert search(api, namespace, index, expected[changed], top_k=3)[0]["document_id"] == changed
