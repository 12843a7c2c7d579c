"""Pinecone HTTP calls of the upsert route: 10,000 documents with vectors for 2 indexes, in
batches of 1,000 through `POST /v1/namespaces/{id}/documents/direct`, against the loopback
Pinecone server (tests/loopback_pinecone.py) with the real `pinecone` client.

The floor is one upsert request per index per batch when a batch's records fit one request
(Pinecone's limits: 1,000 records and 2 MB): 20 for 10,000 documents x 2 indexes. Larger vectors
need more requests (the body limit), computed here from the bodies the client sends. The API runs
in this process (FastAPI's TestClient) over moto's DynamoDB: the calls are counted, not timed."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.perf.common import VECTOR_DECIMALS, document_id, payload_of, random_unit_vectors, table
from tests.perf.context import Context

NAME = "pinecone_calls"
TITLE = "Pinecone HTTP calls of the upsert route (loopback Pinecone)"
DOCUMENTS = 10_000
BATCH = 1_000
INDEXES = ("first", "second")
MAX_UPSERT_BYTES = 2_000_000


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _body(vectors: dict[str, np.ndarray[Any, Any]], start: int) -> bytes:
    rows = {
        name: np.round(matrix.astype(np.float64), VECTOR_DECIMALS).tolist()
        for name, matrix in vectors.items()
    }
    documents = [
        {
            "document_id": document_id(start + offset),
            "vectors": {name: rows[name][offset] for name in vectors},
            "payload": payload_of(start + offset),
        }
        for offset in range(len(next(iter(rows.values()))))
    ]
    return json.dumps({"documents": documents}, separators=(",", ":")).encode()


@dataclass
class Calls:
    dimension: int
    upserts: int
    floor: int
    records: int
    largest_bytes: int
    other: dict[str, int]
    seconds: float


def measure(dimension: int, documents: int, batch_size: int = BATCH) -> Calls:
    """Counted calls of one run: a fresh moto DynamoDB, loopback Pinecone and API."""
    import boto3
    from moto import mock_aws

    from stratus.services.api_keys import create_api_key
    from stratus_local.bootstrap.tables import create_tables
    from tests.loopback_pinecone import LoopbackPinecone
    from tests.wiring import WiredApi, container_from_environment

    vectors = {
        name: random_unit_vectors(documents, seed=seed, dimension=dimension)
        for seed, name in enumerate(INDEXES)
    }
    with LoopbackPinecone() as server, mock_aws():
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STRATUS_TABLE_NAME": "stratus",
            "STRATUS_AUTH_CACHE_SECONDS": "60",
            "STRATUS_DYNAMODB_HTTP_READS": "false",
            "STRATUS_VECTOR_STORE": "pinecone",
            "STRATUS_PINECONE_API_KEY": server.api_key,
            "STRATUS_PINECONE_CONTROL_PLANE_HOST": server.url,
        }
        with _environment(env):
            create_tables(boto3.client("dynamodb", region_name="us-east-1"), {"MetadataTable": "stratus"})
            container = container_from_environment()
            key = create_api_key(container.metadata, "bench", "bench", ["read", "write", "admin"])[0]
            wired = WiredApi(container)
            with wired.client() as client:
                client.headers["Authorization"] = f"Bearer {key}"
                configs = [{"name": name, "dimension": dimension} for name in INDEXES]
                created = client.post(
                    "/v1/namespaces/standalone", json={"namespace_id": "calls", "vector_configs": configs}
                )
                assert created.status_code == 200, created.text
                before = len(server.requests)
                started = time.perf_counter()
                for start in range(0, documents, batch_size):
                    batch = {name: matrix[start : start + batch_size] for name, matrix in vectors.items()}
                    response = client.post(
                        "/v1/namespaces/calls/documents/direct",
                        content=_body(batch, start),
                        headers={"Content-Type": "application/json"},
                    )
                    assert response.status_code == 200, response.text
                seconds = time.perf_counter() - started
                container.vectors.close()  # type: ignore[attr-defined]
            wired.unwire()
        requests = server.requests[before:]
    kinds = Counter(_kind(request.method, request.path) for request in requests)
    upserts = [request for request in requests if request.path.endswith("/vectors/upsert")]
    sizes = [len(json.dumps(request.body, separators=(",", ":")).encode()) for request in upserts]
    return Calls(
        dimension=dimension,
        upserts=len(upserts),
        floor=_floor(upserts, sizes, batch_size),
        records=sum(len(request.body["vectors"]) for request in upserts),
        largest_bytes=max(sizes),
        other={kind: count for kind, count in kinds.items() if kind != "upsert"},
        seconds=seconds,
    )


def _floor(upserts: list[Any], sizes: list[int], batch_size: int) -> int:
    """The fewest requests the route's batches could take: per (batch, index), one, or as many as
    its records' bytes need at Pinecone's 2 MB each."""
    per_batch: Counter[tuple[str, int]] = Counter()
    for request, size in zip(upserts, sizes, strict=True):
        namespace = str(request.body.get("namespace", ""))
        first = str(request.body["vectors"][0]["id"])
        per_batch[(namespace, int(first.lstrip("d") or 0) // batch_size)] += size
    return sum(max(1, math.ceil(size / MAX_UPSERT_BYTES)) for size in per_batch.values())


def _kind(method: str, path: str) -> str:
    path = path.split("?", 1)[0]
    for suffix, kind in (
        ("/vectors/upsert", "upsert"),
        ("/vectors/delete", "delete"),
        ("/vectors/fetch", "fetch"),
        ("/describe_index_stats", "describe_index_stats"),
        ("/query", "query"),
    ):
        if path.endswith(suffix):
            return kind
    return f"{method} {path.rstrip('/').rsplit('/', 1)[-1] if path.count('/') > 1 else path}"


def run(ctx: Context) -> str:
    documents = DOCUMENTS if ctx.mode == "full" else 2_000
    rows = []
    # 2 x 384 floats per document: 1,000 documents would pass the API's 6 MB body limit.
    for dimension, batch_size in ((64, BATCH), (384, 500)):
        ctx.log(f"pinecone_calls: {documents} documents x {len(INDEXES)} indexes x {dimension} dims")
        found = measure(dimension, documents, batch_size)
        other = ", ".join(f"{kind} {count}" for kind, count in sorted(found.other.items())) or "none"
        rows.append(
            [
                str(dimension),
                f"{batch_size:,}",
                str(found.upserts),
                str(found.floor),
                f"{found.records:,}",
                f"{found.largest_bytes / 1e6:.2f} MB",
                other,
            ]
        )
    return "\n".join(
        [
            f"{documents:,} documents x {len(INDEXES)} indexes through the upsert route, in batches "
            f'(payload `{{"category", "n"}}`, values rounded to {VECTOR_DECIMALS} decimals as the other '
            "benchmarks send them); floor = one request per (batch, index), or more where that batch's "
            "records take more than Pinecone's 2 MB per request.",
            "",
            table(
                ["dims", "batch", "upserts", "floor", "records sent", "largest request", "other calls"], rows
            ),
        ]
    )
