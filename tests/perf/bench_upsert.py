"""Upsert throughput: documents/s through `POST /documents/direct` (batches of 1000 x 384) vs the
same data written straight into fresh LanceDB tables.

- **HTTP**: the timings of the big namespace's load (shared with the search benchmark): request
  time only, the JSON body is encoded before the clock starts;
- **adapter in-process**: `LanceDBVectorStore.upsert` with the records the service would hand it
  (Python float lists): Arrow conversion, filter terms, then `merge_insert`;
- **direct merge_insert**: `merge_insert("id").when_matched_update_all()
  .when_not_matched_insert_all()` with ready Arrow tables (what the adapter ends with);
- **direct add**: `table.add` (append, no id matching), for scale.

The three in-process ways write to their own fresh tables, interleaved batch by batch.
"""

from __future__ import annotations

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
from stratus.ports import Space, VectorRecord
from tests.perf.common import document_id, median, ms, payload_of, ratio, table
from tests.perf.context import Context, LoadedNamespace

NAME = "upsert"
TITLE = "Upsert throughput: API vs straight LanceDB"
IN_PROCESS = ("adapter", "merge_insert", "add")
LABELS = {
    "http": "HTTP `POST /v1/namespaces/{id}/documents/direct`",
    "adapter": "adapter `LanceDBVectorStore.upsert` in-process",
    "merge_insert": "direct LanceDB `merge_insert` (as the adapter)",
    "add": "direct LanceDB `table.add` (append)",
}
EDGE_BATCHES = 10  # first / last batches compared to show the effect of the table's size


@dataclass
class Batches:
    """One batch's inputs in both shapes: Python records (adapter) and Arrow (direct)."""

    records: list[list[VectorRecord]]
    arrow: list[pa.Table]


def build_batches(data: LoadedNamespace, batch: int) -> Batches:
    space = Space("direct", data.index, int(data.vectors.shape[1]), "cosine")
    records: list[list[VectorRecord]] = []
    arrow: list[pa.Table] = []
    for start in range(0, data.loaded, batch):
        rows = data.vectors[start : start + batch]
        chunk = [
            VectorRecord(id=document_id(start + offset), payload=payload_of(start + offset), vector=vector)
            for offset, vector in enumerate(rows.astype(np.float64).tolist())
        ]
        records.append(chunk)
        # The adapter's own conversion, so the direct tables hold byte-for-byte the same rows.
        arrow.append(record_batch(space, chunk, set()))  # no payload-index columns
    return Batches(records, arrow)


class Writers:
    def __init__(self, directory: Path, dimension: int, index: str) -> None:
        self.space = Space("adapter", index, dimension, "cosine")
        self.store = LanceDBVectorStore(str(directory / "adapter"))
        self.store.ensure_space(self.space)
        db = lancedb.connect(str(directory / "direct"))
        schema = table_schema(dimension, "cosine")
        self.merge_table = db.create_table("merge_insert", schema=schema)
        self.add_table = db.create_table("add", schema=schema)

    def adapter(self, records: list[VectorRecord]) -> None:
        self.store.upsert(self.space, records)

    def merge_insert(self, batch: pa.Table) -> None:
        self.merge_table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(
            batch
        )

    def add(self, batch: pa.Table) -> None:
        self.add_table.add(batch)


def write_interleaved(writers: Writers, batches: Batches) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {method: [] for method in IN_PROCESS}
    for position, (records, arrow) in enumerate(zip(batches.records, batches.arrow, strict=True)):
        calls: dict[str, Callable[[], None]] = {
            "adapter": partial(writers.adapter, records),
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
