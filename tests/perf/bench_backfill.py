"""Backfill and model migration on a local stack of their own (its `clip_vit_b32` runs the tiny
CLIP weights of tests/tiny_image_text_models.py, so the stack can migrate without a download):

1. **Backfill throughput vs the model's own rate.** N standalone documents with `payload.text`
   are promoted with an `add_vectors` entry whose source is `text` (`minilm_l6_v2`); the task is
   timed from PROCESSING to COMPLETED (polled every 0.1 s) and from the promotion's answer. The
   model's own batched rate is measured in this process, same run, same texts, same batches (64)
   and the stack's torch threads (1): `MiniLMEmbedder.embed_texts`. Both are warm (the stack's
   model is loaded by a search first). Goal: backfill >= 0.7x.
2. **Search latency during a migration vs before.** A managed namespace whose `text_embedding`
   is embedded by the tiny CLIP answers distinct text queries; then it is migrated to
   `minilm_l6_v2` (the real model: the migration's embedding competes for the CPU) while the same
   kind of queries run until the task ends. Errors are counted (the goal is none)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.perf.bench_text_query import query_texts
from tests.perf.common import ms, ratio, summarize, table
from tests.perf.context import Context
from tests.perf.stack import LocalStack, expect, running_stack

NAME = "backfill"
TITLE = "Backfill throughput and search latency during a model migration"
TEXT_BATCH = 64  # services/backfill/embedding.py
POLL_SECONDS = 0.1
WAIT_SECONDS = 1800.0
GOAL = 0.7
_TOPICS = ("volcano", "violin", "harbor", "orchard", "glacier", "telescope", "bakery", "marathon")


def text_of(number: int) -> str:
    topic = _TOPICS[number % len(_TOPICS)]
    return f"Catalogue note {number}: a short description of a {topic}, item {number} of the {topic} range."


@dataclass
class Backfill:
    documents: int
    model_seconds: float
    processing_seconds: float
    end_to_end_seconds: float
    task: dict[str, Any]

    @property
    def model_rate(self) -> float:
        return self.documents / self.model_seconds

    @property
    def processing_rate(self) -> float:
        return int(self.task.get("processed") or 0) / self.processing_seconds

    @property
    def end_to_end_rate(self) -> float:
        return int(self.task.get("processed") or 0) / self.end_to_end_seconds


@dataclass
class Migration:
    documents: int
    before: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    status: str = ""


def model_seconds(texts: list[str]) -> float:
    """The model alone, as the stack runs it: one torch thread, batches of 64."""
    from stratus.adapters.inference.minilm import MiniLMEmbedder
    from stratus.container import _limit_torch_threads

    _limit_torch_threads(1)
    model = MiniLMEmbedder()
    model.embed_texts(texts[:TEXT_BATCH])  # load and warm up
    started = time.perf_counter()
    for start in range(0, len(texts), TEXT_BATCH):
        model.embed_texts(texts[start : start + TEXT_BATCH])
    return time.perf_counter() - started


def wait_task(
    client: httpx.Client, task_id: str, namespace: str
) -> tuple[dict[str, Any], float | None, float]:
    """The final task, when it was first seen PROCESSING, and when it ended."""
    processing: float | None = None
    deadline = time.perf_counter() + WAIT_SECONDS
    while time.perf_counter() < deadline:
        task = expect(client.get(f"/v1/tasks/{task_id}", headers={"X-Namespace": namespace}))
        now = time.perf_counter()
        if processing is None and task["status"] != "PENDING":
            processing = now
        if task["status"] not in ("PENDING", "PROCESSING"):
            return task, processing, now
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"task {task_id} did not end within {WAIT_SECONDS:.0f} s")


def warm_up(client: httpx.Client) -> None:
    """Load the stack's minilm once (a container's first use costs seconds, on a busy machine
    most of a small backfill): the figures are the steady state's."""
    namespace = "bench-warm-up"
    expect(
        client.post(
            "/v1/namespaces/standalone",
            json={"namespace_id": namespace, "vector_configs": [{"name": "t", "dimension": 384}]},
        )
    )
    mapping = {"existing_index": "t", "inference_service": "minilm_l6_v2"}
    expect(client.post(f"/v1/namespaces/{namespace}/promote", json={"vector_mappings": [mapping]}))
    query = {"namespace_id": namespace, "queries": [{"vector_name": "t", "text": "warm up", "top_k": 1}]}
    expect(client.post("/v1/search", json=query))


def run_backfill(stack: LocalStack, count: int) -> Backfill:
    texts = [text_of(n) for n in range(count)]
    namespace = "bench-backfill"
    with stack.client() as client:
        warm_up(client)
        expect(client.post("/v1/namespaces/standalone", json={"namespace_id": namespace}))
        for start in range(0, count, 500):
            documents = [
                {
                    "document_id": f"d{n:06d}",
                    "vectors": {"legacy": [1.0, float(n % 7) + 1.0]},
                    "payload": {"text": texts[n]},
                }
                for n in range(start, min(count, start + 500))
            ]
            expect(client.post(f"/v1/namespaces/{namespace}/documents/upsert", json={"documents": documents}))
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
        answered = time.perf_counter()
        task_id = expect(client.post(f"/v1/namespaces/{namespace}/promote", json=body))["backfill_task_id"]
        task, processing, ended = wait_task(client, task_id, namespace)
    return Backfill(
        documents=count,
        model_seconds=model_seconds(texts),
        processing_seconds=ended - (processing or answered),
        end_to_end_seconds=ended - answered,
        task=task,
    )


def run_migration(stack: LocalStack, count: int, queries_before: int) -> Migration:
    namespace, index = "bench-migrate", "text_embedding"
    result = Migration(documents=count)
    texts = query_texts(queries_before + 5000, seed=11)
    with stack.client() as client:
        expect(
            client.post(
                "/v1/namespaces/standalone",
                json={"namespace_id": namespace, "vector_configs": [{"name": index, "dimension": 512}]},
            )
        )
        mapping = {"existing_index": index, "inference_service": "clip_vit_b32"}
        expect(client.post(f"/v1/namespaces/{namespace}/promote", json={"vector_mappings": [mapping]}))
        for start in range(0, count, 250):
            documents = [
                {
                    "document_id": f"m{n:06d}",
                    "vectors": {index: {"text": text_of(n)}},
                    "payload": {"text": text_of(n)},
                }
                for n in range(start, min(count, start + 250))
            ]
            expect(client.post(f"/v1/namespaces/{namespace}/documents/upsert", json={"documents": documents}))

        def query(text: str) -> float:
            body = {"namespace_id": namespace, "queries": [{"vector_name": index, "text": text, "top_k": 10}]}
            started = time.perf_counter()
            response = client.post("/v1/search", json=body)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                result.errors.append(f"{response.status_code}: {response.text[:200]}")
            return seconds

        result.before = [query(text) for text in texts[:queries_before]]
        started = time.perf_counter()
        task_id = expect(
            client.post(
                f"/v1/namespaces/{namespace}/vectors/{index}/migrate",
                json={"inference_service": "minilm_l6_v2", "source": {"field": "text"}},
            )
        )["task_id"]
        done = threading.Event()
        final: dict[str, Any] = {}

        def watch() -> None:
            with stack.client() as watcher:
                final.update(wait_task(watcher, task_id, namespace)[0])
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        remaining = iter(texts[queries_before:])
        while not done.is_set():
            result.during.append(query(next(remaining)))
        result.seconds = time.perf_counter() - started
        result.status = str(final.get("status"))
    return result


def render(backfill: Backfill, migration: Migration) -> str:
    share = backfill.processing_rate / backfill.model_rate
    verdict = "meets" if share >= GOAL else "misses"
    rows = [
        ["minilm_l6_v2 alone (this process, batches of 64, 1 thread)", f"{backfill.model_rate:.0f}", "1.00x"],
        [
            "backfill task, PROCESSING → COMPLETED",
            f"{backfill.processing_rate:.0f}",
            f"{share:.2f}x",
        ],
        [
            "backfill, from the promotion's answer (queue delay included)",
            f"{backfill.end_to_end_rate:.0f}",
            f"{backfill.end_to_end_rate / backfill.model_rate:.2f}x",
        ],
    ]
    before, during = summarize(migration.before), summarize(migration.during)
    latency = [
        ["before the migration", str(before.n), ms(before.p50_ms), ms(before.p95_ms), "1.00x"],
        [
            "during the migration",
            str(during.n),
            ms(during.p50_ms),
            ms(during.p95_ms),
            ratio(during.p50_ms, before.p50_ms),
        ],
    ]
    task = backfill.task
    return "\n".join(
        [
            f"Backfill: {backfill.documents} standalone documents, `add_vectors` with `source: "
            f'{{"field": "text"}}` (`minilm_l6_v2`); task {task["status"]}, processed {task["processed"]}, '
            f"skipped {task['skipped']}, failed {task['failed']}. Goal >= {GOAL}x the model's own rate: "
            f"**{verdict}** it ({share:.2f}x).",
            "",
            table(["", "documents/s", "vs the model"], rows),
            "",
            f"Search latency (distinct text queries, `top_k` 10) on {migration.documents} documents, before "
            f"and while `text_embedding` migrates from the tiny `clip_vit_b32` to `minilm_l6_v2` (task "
            f"{migration.status} in {migration.seconds:.1f} s, settle time 5 s); ratio = p50 / p50 before. "
            f"Search errors: {len(migration.errors)}.",
            "",
            table(["", "n", "p50 ms", "p95 ms", "ratio"], latency),
        ]
    )


def run(ctx: Context) -> str:
    from tests.tiny_image_text_models import build_tiny_clip

    count = ctx.sizes.text_documents
    migrated = max(300, count // 5)
    weights = build_tiny_clip(ctx.workdir / "backfill-clip")
    with running_stack(
        ctx.workdir / "backfill-stack", env={"STRATUS_CLIP_WEIGHTS_URI": str(weights)}
    ) as stack:
        ctx.log(f"backfill: {count} documents")
        backfill = run_backfill(stack, count)
        ctx.log(f"backfill: migration of {migrated} documents under text queries")
        migration = run_migration(stack, migrated, ctx.sizes.text_queries)
    return render(backfill, migration)
