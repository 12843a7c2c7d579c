"""Retrievers: the same vector query through `POST /v1/search` and the three retriever routes the
Mixpeek SDK uses, on the big standalone namespace of the run (100k x 384 in a full run):

- **search**: `POST /v1/search` (the reference);
- **ad hoc**: `POST /v1/retrievers/execute`, one `feature_search` stage with the vector inline;
- **by id**: `POST /v1/retrievers/{id}/execute` of a saved retriever whose search takes the vector
  from `{{INPUT.vector}}`;
- **feature search**: `POST /v1/features/search`.

Interleaved query by query (the order rotates) over one keep-alive connection, without and with a
filter on `category` (eq). Every route runs the same engine (stratus/services/retrieval), so the
goal is each retriever route within 1.1x of `/v1/search`'s p50; the server's `took_ms` shows what
the engine spent apart from HTTP, auth and JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from tests.perf.bench_search import settled_table
from tests.perf.common import CATEGORIES, Summary, ms, random_unit_vectors, ratio, summarize, table
from tests.perf.context import Context, LoadedNamespace
from tests.perf.stack import expect, json_floats, search_body

NAME = "retrievers"
TITLE = "Retrievers: the SDK's query routes vs POST /v1/search"
TOP_K = 10
WAYS = ("search", "adhoc", "by_id", "features")
LABELS = {
    "search": "`POST /v1/search`",
    "adhoc": "`POST /v1/retrievers/execute` (ad hoc)",
    "by_id": "`POST /v1/retrievers/{id}/execute` (saved)",
    "features": "`POST /v1/features/search`",
}
GOAL = 1.1


@dataclass
class Pass:
    label: str
    seconds: dict[str, list[float]] = field(default_factory=lambda: {way: [] for way in WAYS})
    took_ms: dict[str, list[float]] = field(default_factory=lambda: {way: [] for way in WAYS})
    agreements: int = 0
    queries: int = 0

    def summary(self, way: str) -> Summary:
        return summarize(self.seconds[way])


def category_filter(position: int) -> dict[str, Any]:
    return {"AND": [{"field": "category", "operator": "eq", "value": CATEGORIES[position % len(CATEGORIES)]}]}


def search_stage(value: Any) -> dict[str, Any]:
    return {
        "stage_name": "search",
        "config": {
            "stage_id": "feature_search",
            "parameters": {
                "searches": [
                    {"feature_uri": "emb", "query": {"input_mode": "vector", "value": value}, "top_k": TOP_K}
                ],
                "final_top_k": TOP_K,
            },
        },
    }


class Ways:
    """The four requests for one query vector; each returns (result ids, server took_ms)."""

    def __init__(self, client: httpx.Client, data: LoadedNamespace) -> None:
        self.client = client
        self.data = data
        self.scope = {"X-Namespace": data.namespace_id, "Content-Type": "application/json"}
        created = expect(
            client.post(
                "/v1/retrievers",
                headers=self.scope,
                json={"retriever_name": "bench-vector", "stages": [search_stage("{{INPUT.vector}}")]},
            )
        )
        self.retriever_id = str(created["retriever_id"])

    def close(self) -> None:
        self.client.delete(f"/v1/retrievers/{self.retriever_id}", headers=self.scope)

    def _post(
        self, path: str, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        content = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        return expect(
            self.client.post(path, content=content, headers=headers or {"Content-Type": "application/json"})
        )

    def calls(
        self, vector: list[float], filters: dict[str, Any] | None
    ) -> dict[str, Callable[[], tuple[list[str], float]]]:
        data = self.data

        def search() -> tuple[list[str], float]:
            answer = self._post(
                "/v1/search",
                search_body(data.namespace_id, data.index, TOP_K, vector=vector, filters=filters),
            )
            return [str(r["document_id"]) for r in answer["results"]], float(answer["took_ms"])

        def adhoc() -> tuple[list[str], float]:
            body: dict[str, Any] = {
                "stages": [search_stage(vector)],
                **({"filters": filters} if filters else {}),
            }
            return _documents(self._post("/v1/retrievers/execute", body, self.scope))

        def by_id() -> tuple[list[str], float]:
            body: dict[str, Any] = {"inputs": {"vector": vector}, **({"filters": filters} if filters else {})}
            return _documents(self._post(f"/v1/retrievers/{self.retriever_id}/execute", body, self.scope))

        def features() -> tuple[list[str], float]:
            body: dict[str, Any] = {
                "feature_uri": "emb",
                "query": {"input_mode": "vector", "vector": vector},
                "top_k": TOP_K,
                **({"filters": filters} if filters else {}),
            }
            return _documents(self._post("/v1/features/search", body, self.scope))

        return {"search": search, "adhoc": adhoc, "by_id": by_id, "features": features}


def _documents(answer: dict[str, Any]) -> tuple[list[str], float]:
    return [str(d["document_id"]) for d in answer["documents"]], float(answer["took_ms"])


def run_pass(ways: Ways, label: str, queries: list[list[float]], filtered: bool, warmup: int) -> Pass:
    result = Pass(label)
    for position, vector in enumerate(queries):
        calls = ways.calls(vector, category_filter(position) if filtered else None)
        shift = position % len(WAYS)
        ids: dict[str, list[str]] = {}
        for way in WAYS[shift:] + WAYS[:shift]:
            started = time.perf_counter()
            ids[way], took = calls[way]()
            seconds = time.perf_counter() - started
            if position >= warmup:
                result.seconds[way].append(seconds)
                result.took_ms[way].append(took)
        if position >= warmup:
            result.queries += 1
            result.agreements += all(ids[way] == ids["search"] for way in WAYS)
    return result


def render(ctx: Context, data: LoadedNamespace, passes: list[Pass]) -> str:
    rows: list[list[str]] = []
    for one in passes:
        reference = one.summary("search")
        took_reference = (
            float(np.percentile(one.took_ms["search"], 50)) if one.took_ms["search"] else float("nan")
        )
        for way in WAYS:
            summary = one.summary(way)
            took = float(np.percentile(one.took_ms[way], 50)) if one.took_ms[way] else float("nan")
            rows.append(
                [
                    f"{one.label}: {LABELS[way]}",
                    str(summary.n),
                    ms(summary.p50_ms),
                    ms(summary.p95_ms),
                    ratio(summary.p50_ms, reference.p50_ms),
                    ms(took),
                    ratio(took, took_reference),
                ]
            )
    worst = max(
        (one.summary(way).p50_ms / one.summary("search").p50_ms for one in passes for way in WAYS[1:]),
        default=float("nan"),
    )
    lines = [
        f"{data.loaded:,} documents x {data.vectors.shape[1]} dims in one index (cosine), top_k {TOP_K}, "
        f"the same {passes[0].queries} seeded query vectors per pass after {ctx.sizes.warmup_queries} "
        "warm-up queries, the four routes interleaved query by query (rotating order) over one keep-alive "
        "connection; ratio = p50 / `POST /v1/search` p50. The filter is `category eq <one of 10>` "
        "(unindexed: each answer carries the same warning). The saved retriever takes the vector from "
        "`{{INPUT.vector}}`; its definition and the namespace come from the container's recent copies "
        "(no DynamoDB read).",
        "",
        table(
            ["route", "n", "p50 ms", "p95 ms", "ratio to search", "`took_ms` p50", "`took_ms` ratio"], rows
        ),
        "",
    ]
    for one in passes:
        agreed = f"{one.agreements}/{one.queries}"
        lines.append(
            f"- {one.label}: all four routes returned the same top-{TOP_K} ids for {agreed} queries."
        )
    verdict = "met" if worst <= GOAL else "not met"
    lines.append(
        f"- Goal: every retriever route within {GOAL}x of `/v1/search` at p50: worst {worst:.2f}x, {verdict}."
    )
    return "\n".join(lines)


def run(ctx: Context) -> str:
    data = ctx.loaded()
    sizes = ctx.sizes
    # As bench_search: measure once the stack's background maintenance (compaction, indexes) of
    # the table has settled, whichever benchmark loaded it.
    settled_table(ctx.stack().lancedb_uri, data.table)
    queries = json_floats(random_unit_vectors(sizes.queries + sizes.warmup_queries, seed=2))
    client = ctx.stack().client()
    ways = Ways(client, data)
    try:
        passes = []
        for label, filtered in (("no filter", False), ("filter category eq", True)):
            ctx.log(f"retrievers: {label}, {len(queries)} queries x {len(WAYS)} routes")
            passes.append(run_pass(ways, label, queries, filtered, sizes.warmup_queries))
    finally:
        ways.close()
        client.close()
    return render(ctx, data, passes)
