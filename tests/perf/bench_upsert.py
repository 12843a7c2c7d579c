"""Upsert throughput: documents/s through `POST /documents/direct` (batches of 1000 x 384) vs the
same data written straight into fresh LanceDB tables.

- **HTTP**: the timings of the big namespace's load (shared with the search benchmark): request
  time only, the JSON body is encoded before the clock starts;
- **adapter in-process**: `LanceDBVectorStore.upsert_columns` with the columns the service hands
  it (one float64 matrix as parsed, the payloads and their JSON): float32 cast, filter terms,
  Arrow, then `merge_insert`; and `upsert` with one record of Python floats per document (the
  port's other way in, which the extractor uses);
- **direct merge_insert**: `merge_insert("id").when_matched_update_all()
  .when_not_matched_insert_all()` with ready Arrow tables (what the adapter ends with);
- **direct add**: `table.add` (append, no id matching), for scale.

The three in-process ways write to their own fresh tables, interleaved batch by batch.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa

from stratus.adapters.lancedb.arrow import record_batch, table_schema
from stratus.adapters.lancedb.store import LanceDBVectorStore
from stratus.ports import Space, VectorColumns, VectorRecord
from tests.perf.common import VECTOR_DECIMALS, document_id, median, ms, payload_of, ratio, table
from tests.perf.context import Context, LoadedNamespace

NAME = "upsert"
TITLE = "Upsert throughput: API vs straight LanceDB"
IN_PROCESS = ("adapter", "adapter_records", "merge_insert", "add")
LABELS = {
    "http": "HTTP `POST /v1/namespaces/{id}/documents/direct`",
    "adapter": "adapter `LanceDBVectorStore.upsert_columns` in-process (what the route calls)",
    "adapter_records": "adapter `LanceDBVectorStore.upsert`, records of Python floats",
    "merge_insert": "direct LanceDB `merge_insert` (as the adapter)",
    "add": "direct LanceDB `table.add` (append)",
}
EDGE_BATCHES = 10  # first / last batches compared to show the effect of the table's size


@dataclass
class Batches:
    """Each batch's inputs in every shape: columns (as the service hands them), Python records
    and Arrow (direct)."""

    columns: list[VectorColumns]
    records: list[list[VectorRecord]]
    arrow: list[pa.Table]


def build_batches(data: LoadedNamespace, batch: int) -> Batches:
    space = Space("direct", data.index, int(data.vectors.shape[1]), "cosine")
    columns: list[VectorColumns] = []
    records: list[list[VectorRecord]] = []
    arrow: list[pa.Table] = []
    for start in range(0, data.loaded, batch):
        rows = np.round(data.vectors[start : start + batch].astype(np.float64), VECTOR_DECIMALS)
        ids = [document_id(start + offset) for offset in range(len(rows))]
        payloads = [payload_of(start + offset) for offset in range(len(rows))]
        texts = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in payloads]
        columns.append(VectorColumns(ids, payloads, np.ascontiguousarray(rows), texts))
        chunk = [
            VectorRecord(id=record_id, payload=payload, vector=vector)
            for record_id, payload, vector in zip(ids, payloads, rows.tolist(), strict=True)
        ]
        records.append(chunk)
        # The adapter's own conversion, so the direct tables hold byte-for-byte the same rows.
        arrow.append(record_batch(space, chunk, set()))  # no payload-index columns
    return Batches(columns, records, arrow)


class Writers:
    def __init__(self, directory: Path, dimension: int, index: str) -> None:
        self.space = Space("adapter", index, dimension, "cosine")
        self.records_space = Space("records", index, dimension, "cosine")
        self.store = LanceDBVectorStore(str(directory / "adapter"))
        self.store.ensure_space(self.space)
        self.store.ensure_space(self.records_space)
        db = lancedb.connect(str(directory / "direct"))
        schema = table_schema(dimension, "cosine")
        self.merge_table = db.create_table("merge_insert", schema=schema)
        self.add_table = db.create_table("add", schema=schema)

    def adapter(self, columns: VectorColumns) -> None:
        self.store.upsert_columns(self.space, columns)

    def adapter_records(self, records: list[VectorRecord]) -> None:
        self.store.upsert(self.records_space, records)

    def merge_insert(self, batch: pa.Table) -> None:
        self.merge_table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(
            batch
        )

    def add(self, batch: pa.Table) -> None:
        self.add_table.add(batch)


def write_interleaved(writers: Writers, batches: Batches) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {method: [] for method in IN_PROCESS}
    inputs = zip(batches.columns, batches.records, batches.arrow, strict=True)
    for position, (columns, records, arrow) in enumerate(inputs):
        calls: dict[str, Callable[[], None]] = {
            "adapter": partial(writers.adapter, columns),
            "adapter_records": partial(writers.adapter_records, records),
            "merge_insert": partial(writers.merge_insert, arrow),
            "add": partial(writers.add, arrow),
        }
        shift = position % len(IN_PROCESS)
        for method in IN_PROCESS[shift:] + IN_PROCESS[:shift]:
            started = time.perf_counter()
            calls[method]()
            seconds[method].append(time.perf_counter() - started)
    return seconds


def render(data: LoadedNamespace, batch: int, seconds: dict[str, list[float]]) -> str:
    def rate(values: list[float]) -> float:
        return batch * len(values) / sum(values) if values else float("nan")

    reference = rate(seconds["merge_insert"])
    rows = []
    for method, values in seconds.items():
        batch_ms = np.asarray(values) * 1000
        rows.append(
            [
                LABELS[method],
                str(len(values)),
                ms(float(np.percentile(batch_ms, 50))),
                ms(float(np.percentile(batch_ms, 95))),
                f"{rate(values):,.0f}",
                ratio(reference, rate(values)),
                ms(median(list(batch_ms[:EDGE_BATCHES]))),
                ms(median(list(batch_ms[-EDGE_BATCHES:]))),
            ]
        )
    truncated = (
        f" The load was cut at {data.loaded:,} of {data.requested:,} documents (time budget)."
        if data.loaded < data.requested
        else ""
    )
    return "\n".join(
        [
            f"{data.loaded:,} documents x {data.vectors.shape[1]} dims, batches of {batch}, payload "
            f'`{{"category": <one of 10>, "n": i}}`; docs/s = documents / summed batch time; '
            f"ratio = how many times slower than direct `merge_insert`.{truncated}",
            "",
            table(
                [
                    "operation",
                    "batches",
                    "p50 ms/batch",
                    "p95 ms/batch",
                    "docs/s",
                    "ratio",
                    f"first {EDGE_BATCHES} p50",
                    f"last {EDGE_BATCHES} p50",
                ],
                rows,
            ),
            "",
            f"- HTTP wall clock including client-side JSON encoding: {data.wall_seconds:.1f} s "
            f"({data.loaded / data.wall_seconds:,.0f} docs/s).",
        ]
    )


def run(ctx: Context) -> str:
    data = ctx.loaded()
    batch = ctx.sizes.batch
    ctx.log(f"upsert: preparing {data.loaded} records")
    batches = build_batches(data, batch)
    with tempfile.TemporaryDirectory(prefix="direct-", dir=ctx.workdir) as directory:
        writers = Writers(Path(directory), int(data.vectors.shape[1]), data.index)
        ctx.log(f"upsert: {len(batches.arrow)} batches x {len(IN_PROCESS)} in-process ways")
        seconds = {"http": data.batch_seconds, **write_interleaved(writers, batches)}
    return render(data, batch, seconds)
