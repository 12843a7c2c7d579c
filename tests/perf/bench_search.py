"""Search: `POST /v1/search` on the local stack vs the same query straight on the LanceDB table
the stack wrote, without and with a filter on `category` (eq).

Four ways per query, interleaved query by query (the order rotates) so machine noise hits all
of them alike:
- **HTTP keep-alive**: one httpx client, connection reused (what an SDK does);
- **HTTP new connection**: a new TCP connection per request (see the transport floor below);
- **adapter in-process**: `LanceDBVectorStore.query` in this process (what the search service
  calls, without HTTP, auth, pydantic and the namespace read from DynamoDB);
- **direct**: `lancedb` on the table, read-only: `search(vec).distance_type("cosine")
  .select([...]).limit(10).to_arrow()`, with the adapter's compiled `where` for the filter.

The transport floor: `GET /v1/health` (no auth, no store) over a reused and over a new
connection, so a fixed per-request cost of the server shows apart from search work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import lancedb
import numpy as np
from lancedb.query import LanceVectorQueryBuilder

from stratus.adapters.lancedb.filters import compile_filter
from stratus.adapters.lancedb.store import LanceDBVectorStore
from stratus.filters import parse_filter
from stratus.ports import Space
from tests.perf.common import CATEGORIES, Summary, ms, random_unit_vectors, ratio, summarize, table
from tests.perf.context import Context, LoadedNamespace
from tests.perf.stack import expect, json_floats, post_search, search_body

NAME = "search"
TITLE = "Search: HTTP on the local stack vs straight LanceDB"
TOP_K = 10
SELECT = ["id", "payload_json", "_distance"]
METHODS = ("http", "http_new_connection", "adapter", "direct")
LABELS = {
    "http": "HTTP `POST /v1/search`, keep-alive, interleaved",
    "http_burst": "HTTP `POST /v1/search`, keep-alive, back-to-back",
    "http_new_connection": "HTTP `POST /v1/search`, new connection per request",
    "adapter": "adapter `LanceDBVectorStore.query` in-process",
    "direct": "direct LanceDB (`to_arrow`)",
}
HTTP_WAYS = ("http", "http_burst", "http_new_connection")
# The ways that only explain the gap (new connection, adapter, back-to-back) run on every
# DIAGNOSTIC_EVERY-th query: the core comparison (keep-alive HTTP vs direct) gets every query.
CORE = ("http", "direct")
DIAGNOSTIC_EVERY = 2
HEALTH_REQUESTS = 50


@dataclass
class Pass:
    """One pass (unfiltered or filtered) over the query set."""

    label: str
    seconds: dict[str, list[float]] = field(
        default_factory=lambda: {method: [] for method in (*METHODS, "http_burst")}
    )
    # The server's `took_ms` of each HTTP request, by HTTP way.
    took_ms: dict[str, list[float]] = field(default_factory=lambda: {way: [] for way in HTTP_WAYS})
    agreements: int = 0
    results_per_query: list[int] = field(default_factory=list)

    def summary(self, method: str) -> Summary:
        return summarize(self.seconds[method])


def category_filter(position: int) -> dict[str, Any]:
    return {"AND": [{"field": "category", "operator": "eq", "value": CATEGORIES[position % len(CATEGORIES)]}]}


def compiled_where(filters: dict[str, Any] | None) -> str | None:
    """The adapter's SQL for `filters`: the direct query filters exactly as the API does."""
    if filters is None:
        return None
    node = parse_filter(filters, "filters")
    assert node is not None
    return compile_filter(node)


class Searchers:
    """The ways to run one query; each returns the result ids in rank order."""

    def __init__(self, ctx: Context, data: LoadedNamespace) -> None:
        stack = ctx.stack()
        self.data = data
        self.client = stack.client()
        self.fresh_client = stack.client(keep_alive=False)
        # After the stack's background maintenance has settled: a LanceDB handle stays on the
        # version it opened, so one opened mid-maintenance would query an older, unindexed table.
        self.table = settled_table(stack.lancedb_uri, data.table)
        storage_key = data.table.removesuffix(f"__{data.index}")
        self.space = Space(storage_key, data.index, int(data.vectors.shape[1]), "cosine")
        self.store = LanceDBVectorStore(stack.lancedb_uri)
        self.last_took_ms = 0.0

    def close(self) -> None:
        self.client.close()
        self.fresh_client.close()

    def http(self, client: httpx.Client, vector: list[float], filters: dict[str, Any] | None) -> list[str]:
        body = search_body(self.data.namespace_id, self.data.index, TOP_K, vector=vector, filters=filters)
        answer = post_search(client, body)
        self.last_took_ms = float(answer["took_ms"])
        return [str(result["document_id"]) for result in answer["results"]]

    def adapter(self, vector: list[float], filters: dict[str, Any] | None) -> list[str]:
        node = parse_filter(filters, "filters") if filters is not None else None
        return [record.id for record in self.store.query(self.space, vector, TOP_K, node, False)]

    def direct(self, vector: list[float], where: str | None) -> list[str]:
        search = self.table.search(np.asarray(vector, dtype=np.float32), vector_column_name="vector")
        assert isinstance(search, LanceVectorQueryBuilder), "a vector gives a vector query"
        query = search.distance_type("cosine").select(SELECT).limit(TOP_K)
        if where is not None:
            query = query.where(where, prefilter=True)
        return [str(value) for value in query.to_arrow().column("id").to_pylist()]

    def calls(
        self, vector: list[float], filters: dict[str, Any] | None
    ) -> dict[str, Callable[[], list[str]]]:
        return {
            "http": partial(self.http, self.client, vector, filters),
            "http_new_connection": partial(self.http, self.fresh_client, vector, filters),
            "adapter": partial(self.adapter, vector, filters),
            "direct": partial(self.direct, vector, compiled_where(filters)),
        }


def is_diagnostic(position: int, warmup: int) -> bool:
    """Warm-up queries warm every way; then every DIAGNOSTIC_EVERY-th query."""
    return position < warmup or (position - warmup) % DIAGNOSTIC_EVERY == 0


def run_pass(
    searchers: Searchers, label: str, queries: list[list[float]], filtered: bool, warmup: int
) -> Pass:
    result = Pass(label)
    for position, vector in enumerate(queries):
        calls = searchers.calls(vector, category_filter(position) if filtered else None)
        ways = METHODS if is_diagnostic(position, warmup) else CORE
        shift = position % len(ways)
        ids: dict[str, list[str]] = {}
        seconds: dict[str, float] = {}
        took: dict[str, float] = {}
        for method in ways[shift:] + ways[:shift]:
            started = time.perf_counter()
            ids[method] = calls[method]()
            seconds[method] = time.perf_counter() - started
            took[method] = searchers.last_took_ms
        if position < warmup:
            continue
        for method in ways:
            result.seconds[method].append(seconds[method])
            if method in HTTP_WAYS:
                result.took_ms[method].append(took[method])
        result.agreements += ids["http"] == ids["direct"]
        result.results_per_query.append(len(ids["http"]))
    return result


def run_burst(
    searchers: Searchers, result: Pass, queries: list[list[float]], filtered: bool, warmup: int
) -> None:
    """The same queries again over the keep-alive connection, one right after the other (as a
    client looping over queries sends them), without other work in between."""
    for position, vector in enumerate(queries):
        if not is_diagnostic(position, warmup):
            continue
        filters = category_filter(position) if filtered else None
        started = time.perf_counter()
        searchers.http(searchers.client, vector, filters)
        if position >= warmup:
            result.seconds["http_burst"].append(time.perf_counter() - started)
            result.took_ms["http_burst"].append(searchers.last_took_ms)


def health_floor(searchers: Searchers) -> dict[str, Summary]:
    """`GET /v1/health`, alternating a reused and a new connection."""
    seconds: dict[str, list[float]] = {"keep-alive": [], "new connection": []}
    clients = {"keep-alive": searchers.client, "new connection": searchers.fresh_client}
    for _ in range(HEALTH_REQUESTS):
        for label, client in clients.items():
            started = time.perf_counter()
            expect(client.get("/v1/health"))
            seconds[label].append(time.perf_counter() - started)
    return {label: summarize(values[5:]) for label, values in seconds.items()}


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


SETTLE_QUIET_SECONDS = 3.0
SETTLE_TIMEOUT_SECONDS = 180.0


def settled_table(uri: str, name: str) -> Any:
    """The table once its version has not moved for SETTLE_QUIET_SECONDS (the stack compacts
    and indexes in the background after writes), opened at that version."""
    db = lancedb.connect(uri)
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    version, since = db.open_table(name).version, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < SETTLE_QUIET_SECONDS:
        time.sleep(0.5)
        current = db.open_table(name).version
        if current != version:
            version, since = current, time.monotonic()
    return db.open_table(name)


def table_indexes(searchers: Searchers) -> str:
    try:
        described = [
            f"{index.index_type} on {', '.join(index.columns)}" for index in searchers.table.list_indices()
        ]
    except (AttributeError, TypeError):
        return "unknown"
    return "; ".join(described) if described else "none"


def fragment_count(searchers: Searchers) -> str:
    try:
        stats: Any = searchers.table.stats()
        return str(stats["fragment_stats"]["num_fragments"])
    except (AttributeError, KeyError, TypeError):
        return "unknown"


def outside_row(one: Pass, way: str) -> list[str]:
    seconds, took = one.seconds[way], one.took_ms[way]
    outside = [s * 1000 - t for s, t in zip(seconds, took, strict=True)]
    return [
        f"{one.label}: {LABELS[way].removeprefix('HTTP `POST /v1/search`, ')}",
        str(len(outside)),
        ms(_percentile([s * 1000 for s in seconds], 50)),
        ms(_percentile(took, 50)),
        ms(_percentile(outside, 50)),
        ms(_percentile(outside, 95)),
    ]


def render(
    ctx: Context,
    data: LoadedNamespace,
    passes: list[Pass],
    floor: dict[str, Summary],
    fragments: str,
    indexes: str,
) -> str:
    rows: list[list[str]] = []
    for one in passes:
        direct = one.summary("direct")
        for method in ("http", "http_burst", *METHODS[1:]):
            summary = one.summary(method)
            rows.append(
                [
                    f"{one.label}: {LABELS[method]}",
                    str(summary.n),
                    ms(summary.p50_ms),
                    ms(summary.p95_ms),
                    ratio(summary.p50_ms, direct.p50_ms),
                ]
            )
            if method == "http":
                took = one.took_ms["http"]
                took50, took95 = _percentile(took, 50), _percentile(took, 95)
                rows.append(
                    [
                        f"{one.label}: server `took_ms` of those requests (inside the search service)",
                        str(len(took)),
                        ms(took50),
                        ms(took95),
                        ratio(took50, direct.p50_ms),
                    ]
                )
    outside_rows = [outside_row(one, way) for one in passes for way in HTTP_WAYS]
    floor_rows = [
        [f"`GET /v1/health`, {label}", str(summary.n), ms(summary.p50_ms), ms(summary.p95_ms)]
        for label, summary in floor.items()
    ]
    lines = [
        f"{data.loaded:,} documents x {data.vectors.shape[1]} dims in one index (cosine), top_k {TOP_K}, "
        f"the same {passes[0].summary('http').n} seeded query vectors per pass "
        f"after {ctx.sizes.warmup_queries} warm-up queries (1 query in {DIAGNOSTIC_EVERY} for the rows "
        "that only explain the gap: back-to-back, new connection, adapter); ratio = p50 / direct p50. "
        "The filter is "
        "`category eq <one of 10>` (10% of the documents), compiled by the adapter and applied as a "
        "prefilter in both the API and the direct query. The stack maintains its tables in the "
        "background (stratus/adapters/lancedb/maintenance.py: compaction, and from 10k rows an exact "
        "one-partition IVF_FLAT index and a LabelList index on the filter terms); every way queries "
        f"the same table once that has settled: {fragments} fragments, indexes: {indexes}.",
        "",
        "Interleaved rows run the ways one after the other for each query, so a keep-alive "
        "connection sits idle while the other ways run; the back-to-back row sends the same queries "
        "over the keep-alive connection with nothing in between, as a client looping over queries does.",
        "",
        table(["operation", "n", "p50 ms", "p95 ms", "ratio to direct"], rows),
        "",
    ]
    for one in passes:
        mean_results = np.mean(one.results_per_query) if one.results_per_query else float("nan")
        lines.append(
            f"- {one.label}: HTTP and direct returned the same top-{TOP_K} ids for "
            f"{one.agreements}/{len(one.results_per_query)} queries (mean {mean_results:.1f} results)."
        )
    lines += [
        "",
        "Time outside the search service, per request: HTTP latency - the server's `took_ms` "
        "(transport, uvicorn, FastAPI, auth, JSON and pydantic):",
        "",
        table(
            ["HTTP way", "n", "HTTP p50 ms", "`took_ms` p50", "outside p50 ms", "outside p95 ms"],
            outside_rows,
        ),
        "",
        "Transport floor of the local stack:",
        "",
        table(["operation", "n", "p50 ms", "p95 ms"], floor_rows),
    ]
    return "\n".join(lines)


def run(ctx: Context) -> str:
    data = ctx.loaded()
    sizes = ctx.sizes
    queries = json_floats(random_unit_vectors(sizes.queries + sizes.warmup_queries, seed=2))
    searchers = Searchers(ctx, data)
    try:
        passes = []
        for label, filtered in (("no filter", False), ("filter category eq", True)):
            ctx.log(f"search: {label}, {len(queries)} queries x {len(METHODS)} ways")
            one = run_pass(searchers, label, queries, filtered, sizes.warmup_queries)
            run_burst(searchers, one, queries, filtered, sizes.warmup_queries)
            passes.append(one)
        fragments, indexes = fragment_count(searchers), table_indexes(searchers)
        floor = health_floor(searchers)
    finally:
        searchers.close()
    return render(ctx, data, passes, floor, fragments, indexes)
