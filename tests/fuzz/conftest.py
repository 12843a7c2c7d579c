"""The API fuzz suite's stack: one `python -m stratus_local` for the session (started with the
e2e suite's `start_stack`), and the resources the fuzzed requests are steered to so that they
reach real code rather than a 404: a standalone namespace holding a document, the managed
namespace of create-namespace.txt, and in it a bucket, a collection and an object.

Every test in this directory is marked `fuzz` (deselect with `-m "not fuzz"`).
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LocalStack, free_port, start_stack
from tests.seed_bodies import CREATE_NAMESPACE_SEED_BODY

FUZZ_DIR = Path(__file__).resolve().parent
STANDALONE_ID = "fuzz-standalone"
STANDALONE_INDEX = "emb"
STANDALONE_DIMENSION = 4
DOCUMENT_ID = "fuzz-doc-1"
BUCKET_NAME = "fuzz-bucket"
COLLECTION_NAME = "fuzz-collection"
SHUTDOWN_TIMEOUT_SECONDS = 120.0


# Status classes (2 for 2xx, ...) per operation label over `test_api`'s requests: printed at the
# end of the session and checked by `test_fuzzing_reached_the_handlers`.
STATUSES: Counter[tuple[str, int]] = Counter()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Collection hooks see every item of the session, not only this directory's.
    for item in items:
        if FUZZ_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.fuzz)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if STATUSES:
        by_class: Counter[str] = Counter()
        for (_, status_class), count in STATUSES.items():
            by_class[f"{status_class}xx"] += count
        terminalreporter.write_line(
            f"API fuzz: {by_class.total()} requests over {len({label for label, _ in STATUSES})} "
            f"operations; {dict(sorted(by_class.items()))}"
        )


@dataclass(frozen=True)
class Seeds:
    """What the fuzzer is steered to, by id (and the managed namespace also by name)."""

    standalone_id: str
    managed_id: str
    managed_name: str
    bucket_id: str
    collection_id: str
    object_id: str
    task_id: str | None
    document_id: str

    def namespaces(self) -> list[str]:
        return [self.standalone_id, self.managed_id, self.managed_name]

    def protected(self) -> set[str]:
        """Never deleted by a fuzzed DELETE: every later operation needs them."""
        return {
            self.standalone_id,
            self.managed_id,
            self.managed_name,
            self.bucket_id,
            self.collection_id,
            self.document_id,
            self.object_id,  # DELETE .../objects/{object_id} exists too
        }


@dataclass
class FuzzStack:
    stack: LocalStack
    seeds: Seeds


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def seed(client: httpx.Client) -> Seeds:
    """Create the seeded resources through the API, as a user would."""
    _ok(
        client.post(
            "/v1/namespaces/standalone",
            json={
                "namespace_id": STANDALONE_ID,
                "vector_configs": [
                    {"name": STANDALONE_INDEX, "dimension": STANDALONE_DIMENSION, "metric": "cosine"}
                ],
                "payload_indexes": [{"field_name": "category", "type": "keyword"}],
            },
        )
    )
    _ok(
        client.post(
            f"/v1/namespaces/{STANDALONE_ID}/documents/direct",
            json={
                "documents": [
                    {
                        "document_id": DOCUMENT_ID,
                        "vectors": {STANDALONE_INDEX: [0.1, 0.2, 0.3, 0.4]},
                        "payload": {"category": "fuzz", "rank": 1},
                    }
                ]
            },
        )
    )
    managed = _ok(client.post("/v1/namespaces", json=CREATE_NAMESPACE_SEED_BODY))
    headers = {"X-Namespace": managed["namespace_id"]}
    bucket = _ok(client.post("/v1/buckets", json={"bucket_name": BUCKET_NAME}, headers=headers))
    collection = _ok(
        client.post(
            "/v1/collections",
            json={
                "collection_name": COLLECTION_NAME,
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "image_extractor",
                    "version": "v1",
                    "parameters": {"model": "siglip_base"},
                },
            },
            headers=headers,
        )
    )
    created = _ok(
        client.post(
            f"/v1/buckets/{bucket['bucket_id']}/objects",
            json={
                "metadata": {"source": "fuzz"},
                "blobs": [{"property": "text", "type": "text", "data": "hi"}],
            },
            headers=headers,
        )
    )
    return Seeds(
        standalone_id=STANDALONE_ID,
        managed_id=managed["namespace_id"],
        managed_name=managed["namespace_name"],
        bucket_id=bucket["bucket_id"],
        collection_id=collection["collection_id"],
        object_id=created["object_id"],
        task_id=created.get("task_id"),
        document_id=DOCUMENT_ID,
    )


@pytest.fixture(scope="session")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzStack]:
    """One local stack (LanceDB) for the whole fuzz session, with the seeded resources."""
    stack = start_stack(tmp_path_factory.mktemp("fuzz-stack"), port=free_port())
    try:
        with stack.client() as client:
            seeds = seed(client)
        yield FuzzStack(stack, seeds)
    finally:
        # Not the e2e suite's 15 s: after a long run (thousands of LanceDB tables) the process
        # takes longer than that to exit after "Stratus local stack stopped." The shutdown
        # contract is tests/e2e's; here a hang still fails, after SHUTDOWN_TIMEOUT_SECONDS.
        stack.stop(signal.SIGINT, timeout=SHUTDOWN_TIMEOUT_SECONDS)
