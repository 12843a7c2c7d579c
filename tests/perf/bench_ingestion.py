"""Ingestion throughput: small text files end to end through the local stack, next to the
embedding model's own throughput on the same machine.

A managed namespace (`text_extractor`, `minilm_l6_v2`) with one bucket and one collection; after
one warm-up file (the worker loads the model), N small `.txt` files are put into the bucket's
prefix with plain S3 `put_object` calls, and the clock runs from the first put until every object
is `COMPLETED` (polled through the API). That is the whole path: S3 notification → SQS → the
worker's long poll → `functions/extractor/app.py` (Powertools batch + idempotency) → S3 read →
minilm → LanceDB upsert → object/task status in DynamoDB (moto).

The model's own throughput is `MiniLMEmbedder.embed_texts` in this process on the same texts,
measured after the ingestion (so the two never share the CPU): one text per call (what the
extractor does for one small file) and batches of 64.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

from stratus.adapters.inference.minilm import MiniLMEmbedder
from tests.perf.common import table
from tests.perf.context import Context
from tests.perf.stack import LocalStack, expect

NAME = "ingestion"
TITLE = "Ingestion throughput (small text files, S3 → SQS → extractor, minilm_l6_v2)"
POLL_SECONDS = 0.5
BUDGET_SECONDS = 900.0
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


def measure_pipeline(ctx: Context, stack: LocalStack, texts: list[str]) -> tuple[float, float]:
    """(seconds for all files, seconds of the S3 puts alone)."""
    namespace, bucket = prepare(stack)
    s3 = _s3(stack)
    prefix = str(bucket["s3_uri"]).removeprefix(f"s3://{stack.info['data_bucket']}/")
    s3.put_object(Bucket=stack.info["data_bucket"], Key=f"{prefix}warm-up.txt", Body=b"warm up the model")
    _wait_for_documents(stack, namespace, bucket["bucket_id"], 1)
    ctx.log(f"ingestion: model warm; putting {len(texts)} files")
    started = time.perf_counter()
    for position, text in enumerate(texts):
        s3.put_object(
            Bucket=stack.info["data_bucket"], Key=f"{prefix}notes/{position:05d}.txt", Body=text.encode()
        )
    puts_done = time.perf_counter()
    finished = _wait_for_documents(stack, namespace, bucket["bucket_id"], len(texts) + 1)
    return finished - started, puts_done - started


def measure_model(texts: list[str]) -> tuple[float, float]:
    """(seconds embedding one text per call, seconds embedding batches of 64) for all texts."""
    embedder = MiniLMEmbedder()
    embedder.embed_texts(["warm-up"])
    started = time.perf_counter()
    for text in texts:
        embedder.embed_texts([text])
    single = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        embedder.embed_texts(texts[start : start + 64])
    return single, time.perf_counter() - started


def run(ctx: Context) -> str:
    count = 1000 if ctx.mode == "full" else 100
    texts = file_texts(count)
    stack = ctx.stack()
    pipeline_seconds, put_seconds = measure_pipeline(ctx, stack, texts)
    ctx.log("ingestion: the model alone, in this process")
    single_seconds, batch_seconds = measure_model(texts)
    import torch

    end_to_end = count / pipeline_seconds
    single = count / single_seconds
    batched = count / batch_seconds
    rows = [
        ["end to end: S3 put → document searchable (local stack)", f"{end_to_end:,.1f}", "1.0x"],
        [f"minilm alone, 1 text per call (torch threads {torch.get_num_threads()})", f"{single:,.1f}",
         f"{end_to_end / single:.2f}x"],
        ["minilm alone, 64 texts per call", f"{batched:,.1f}", f"{end_to_end / batched:.2f}x"],
    ]  # fmt: skip
    return "\n".join(
        [
            f"{count:,} text files of ~110 characters (one chunk, one document each), put one after another "
            "with boto3 into one bucket's prefix; documents/s from the first put until every document is "
            "searchable; ratio = end-to-end rate / that row's rate.",
            "",
            table(["path", "documents/s", "end to end / row"], rows),
            "",
            f"- The {count:,} S3 puts alone took {put_seconds:.1f} s of the {pipeline_seconds:.1f} s.",
            "- The local worker is one thread handling up to 10 messages per batch, as one Lambda "
            "instance would; deployed, the SQS event source scales out to many concurrent instances, "
            "so this is the per-instance rate, not the service's ceiling.",
        ]
    )
