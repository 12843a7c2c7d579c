"""Ingestion throughput: small text files end to end through the local stack, next to the
embedding model's own throughput on the same machine.

A managed namespace (`text_extractor`, `minilm_l6_v2`) with one bucket and one collection; after
one warm-up file (the worker loads the model), N small `.txt` files are put into the bucket's
prefix with plain S3 `put_object` calls from `PUT_THREADS` threads (as `aws s3 cp --recursive`,
which makes 10 requests at a time), and the clock runs from the first put until every object is
`COMPLETED` (polled through the API). That is the whole path: S3 notification → SQS → the
worker's long polls → `functions/extractor/app.py` (Powertools batch + idempotency, one embedding
call and one vector upsert per batch) → object/task statuses in DynamoDB (moto).

It runs twice, each time on a fresh stack: with one ingest poller (`STRATUS_INGEST_WORKERS=1`,
one Lambda instance at a time) and with one per core (the local default, as Lambda's concurrency
would scale out). The model's own throughput is `MiniLMEmbedder.embed_texts` in this process on
the same texts, measured after the ingestion (so the two never share the CPU): one text per call
and batches of 64.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from stratus.adapters.inference.minilm import MiniLMEmbedder
from tests.perf.common import table
from tests.perf.context import Context
from tests.perf.stack import LocalStack, expect, running_stack

NAME = "ingestion"
TITLE = "Ingestion throughput (small text files, S3 → SQS → extractor, minilm_l6_v2)"
POLL_SECONDS = 0.5
BUDGET_SECONDS = 900.0
PUT_THREADS = 10
_TOPICS = (
    "the harbour lighthouse", "a sourdough starter", "quarterly revenue", "a mountain trail",
    "the school garden", "a jazz quartet", "solar panels on the roof", "the city library",
)  # fmt: skip


def file_texts(count: int) -> list[str]:
    """`count` distinct two-sentence notes (~110 characters each)."""
    return [
        f"Note {n}: notes about {_TOPICS[n % len(_TOPICS)]}. "
        f"Written on day {n % 365} with {n % 17} follow-up items for the team."
        for n in range(count)
    ]


def prepare(stack: LocalStack) -> tuple[str, dict[str, Any]]:
    with stack.client() as client:
        namespace = expect(
            client.post(
                "/v1/namespaces",
                json={
                    "namespace_name": "bench-ingest",
                    "feature_extractors": [
                        {
                            "feature_extractor_name": "text_extractor",
                            "params": {"inference_service": "minilm_l6_v2"},
                        }
                    ],
                },
            )
        )["namespace_id"]
        headers = {"X-Namespace": namespace}
        bucket = expect(client.post("/v1/buckets", json={"bucket_name": "files"}, headers=headers))
        expect(
            client.post(
                "/v1/collections",
                json={
                    "collection_name": "files-text",
                    "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                    "feature_extractor": {
                        "feature_extractor_name": "text_extractor",
                        "parameters": {"inference_service": "minilm_l6_v2"},
                    },
                },
                headers=headers,
            )
        )
    return namespace, bucket


def _s3(stack: LocalStack) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("s3", endpoint_url=stack.info["aws_endpoint_url"])


def _completed(stack: LocalStack, namespace: str, bucket_id: str) -> tuple[int, int]:
    with stack.client() as client:
        bucket = expect(client.get(f"/v1/buckets/{bucket_id}", headers={"X-Namespace": namespace}))
        described = expect(client.get(f"/v1/namespaces/{namespace}"))
    return int(bucket["object_count"]), int(described["document_count"])


def _wait_for_documents(stack: LocalStack, namespace: str, bucket_id: str, wanted: int) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < BUDGET_SECONDS:
        _objects, documents = _completed(stack, namespace, bucket_id)
        if documents >= wanted:
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"ingestion did not finish within {BUDGET_SECONDS:.0f} s")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_pipeline(ctx: Context, stack: LocalStack, texts: list[str]) -> tuple[float, float, float]:
    """(seconds for all files, seconds of the S3 puts alone, CPU seconds the stack's process
    spent meanwhile: the API, the emulator, the pollers and the model share it)."""
    namespace, bucket = prepare(stack)
    s3 = _s3(stack)
    prefix = str(bucket["s3_uri"]).removeprefix(f"s3://{stack.info['data_bucket']}/")
    s3.put_object(Bucket=stack.info["data_bucket"], Key=f"{prefix}warm-up.txt", Body=b"warm up the model")
    _wait_for_documents(stack, namespace, bucket["bucket_id"], 1)
    ctx.log(f"ingestion: model warm; putting {len(texts)} files")

    def put(position: int) -> None:
        key = f"{prefix}notes/{position:05d}.txt"
        s3.put_object(Bucket=stack.info["data_bucket"], Key=key, Body=texts[position].encode())

    cpu_before = process_cpu_seconds(stack.process.pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=PUT_THREADS) as pool:
        list(pool.map(put, range(len(texts))))
    puts_done = time.perf_counter()
    finished = _wait_for_documents(stack, namespace, bucket["bucket_id"], len(texts) + 1)
    return finished - started, puts_done - started, process_cpu_seconds(stack.process.pid) - cpu_before


def measure_model(texts: list[str]) -> tuple[float, float, float]:
    """(seconds embedding one text per call, seconds embedding batches of 64, CPU seconds of
    batches of 10 on one torch thread: the stack's setting and the extractor's batch) for all texts."""
    import torch

    embedder = MiniLMEmbedder()
    embedder.embed_texts(["warm-up"])
    started = time.perf_counter()
    for text in texts:
        embedder.embed_texts([text])
    single = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        embedder.embed_texts(texts[start : start + 64])
    batched = time.perf_counter() - started
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cpu = time.process_time()
        for start in range(0, len(texts), 10):
            embedder.embed_texts(texts[start : start + 10])
        return single, batched, time.process_time() - cpu
    finally:
        torch.set_num_threads(threads)


def run(ctx: Context) -> str:
    count = 1000 if ctx.mode == "full" else 100
    texts = file_texts(count)
    cores = os.cpu_count() or 1
    measured: dict[int, tuple[float, float, float]] = {}
    for pollers in dict.fromkeys((1, cores)):
        ctx.log(f"ingestion: a stack with {pollers} ingest poller(s)")
        workdir = ctx.workdir / f"ingestion-{pollers}"
        with running_stack(workdir, env={"STRATUS_INGEST_WORKERS": str(pollers)}) as stack:
            measured[pollers] = measure_pipeline(ctx, stack, texts)
    ctx.log("ingestion: the model alone, in this process")
    single_seconds, batch_seconds, model_cpu = measure_model(texts)
    import torch

    single = count / single_seconds
    batched = count / batch_seconds
    rows = []
    for pollers, (pipeline_seconds, _, _) in measured.items():
        rate = count / pipeline_seconds
        label = f"end to end with {pollers} ingest poller{'s' if pollers > 1 else ''} (local stack)"
        rows.append([label, f"{rate:,.1f}", f"{rate / single:.2f}x", f"{rate / batched:.2f}x"])
    rows += [
        [f"minilm alone, 1 text per call (torch threads {torch.get_num_threads()})", f"{single:,.1f}",
         "1.00x", f"{single / batched:.2f}x"],
        ["minilm alone, 64 texts per call", f"{batched:,.1f}", f"{batched / single:.2f}x", "1.00x"],
    ]  # fmt: skip
    puts = "; ".join(
        f"{pollers} poller{'s' if pollers > 1 else ''}: {put:.1f} s of {total:.1f} s"
        for pollers, (total, put, _) in measured.items()
    )
    cpu = "; ".join(
        f"{pollers} poller{'s' if pollers > 1 else ''}: {spent:.1f} s ({1000 * spent / count:.1f} ms per "
        f"document, {spent / total:.2f} cores busy on average of {cores})"
        for pollers, (total, _, spent) in measured.items()
    )
    return "\n".join(
        [
            f"{count:,} text files of ~110 characters (one chunk, one document each), put into one bucket's "
            f"prefix by {PUT_THREADS} threads; documents/s from the first put until every document is "
            "searchable; the ratios divide a row's rate by the model's own rates of the same run.",
            "",
            table(["path", "documents/s", "/ 1 text per call", "/ 64 texts per call"], rows),
            "",
            f"- The S3 puts alone took ({puts}).",
            f"- CPU time of the stack's process during the run ({cpu}); the model's own share, "
            f"batches of 10 on one torch thread as the stack runs it: {model_cpu:.1f} s "
            f"({1000 * model_cpu / count:.1f} ms per document). The rest is the API, the emulator "
            "(moto: S3, SQS and DynamoDB answered in this process, one request at a time) and the "
            "pollers' SDK calls, mostly Python under one GIL.",
            "- The extractor ingests a batch (up to 10 messages) together: one embedding call per "
            "inference service, one vector upsert per index, batched status transactions. Each poller "
            "plays one concurrent Lambda invocation; deployed, the SQS event source scales out further.",
        ]
    )
