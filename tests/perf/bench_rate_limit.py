"""Rate limiter: what counting a request costs (stratus.services.rate_limits).

Two views, both on the run's local stack (moto's DynamoDB over HTTP, as the API sees it):

- **The counter's round trip**, from this process with the store the API uses (the HTTP point
  reader, no boto3): the conditional `ADD` next to a point read of an API key, the round trip
  every request already paid when its key was not cached; and the limiter's in-memory paths
  (a counter this container saw full, the cached limits).
- **End to end**, interleaved request by request: the same route for an organization whose
  requests are counted (the dev key) and one whose own limits make every category unlimited
  (so nothing is counted): the difference is what the limiter adds to a request. The counter
  items tell how many `UpdateItem`s the counted requests made.

moto answers on loopback in about a millisecond; DynamoDB answers from the same region in a few,
so the absolute figures here are the floor, and the ratio to the point read the thing to compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.perf.common import ms, ratio, summarize, table
from tests.perf.context import Context
from tests.perf.stack import create_standalone, expect

NAME = "rate_limit"
TITLE = "Rate limiter"
UNLIMITED_ORG = "bench-unlimited"
NAMESPACE = "bench-rate"
INDEX = "emb"
DIMENSION = 8


def _store(ctx: Context) -> Any:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

    stack = ctx.stack()
    return DynamoDBMetadataStore(
        str(stack.info["table_name"]),
        endpoint_url=str(stack.info["aws_endpoint_url"]),
        region=str(stack.info.get("region", "us-east-1")),
        http_reads=True,
    )


def _with_aws_env(stack_info: dict[str, Any]) -> None:
    """The point reader signs with the environment's credentials, as on Lambda."""
    import os

    from stratus_local.moto_server import DUMMY_CREDENTIALS

    os.environ.update(DUMMY_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", str(stack_info.get("region", "us-east-1")))


def measure_store(ctx: Context, count: int) -> dict[str, list[float]]:
    """Interleaved: a counted request's conditional ADD, and a point read of an API key."""
    from stratus.domain.rate_limits import DEFAULT_LIMITS, window_start
    from stratus.services.api_keys import create_api_key
    from stratus.services.rate_limits import RateLimiter

    _with_aws_env(ctx.stack().info)
    store = _store(ctx)
    assert store._reader() is not None, "the HTTP point reader did not come up"
    key_hash = create_api_key(store, "bench-reads", "reads", ["read"])[1].key_hash
    limiter = RateLimiter(store, {**DEFAULT_LIMITS, "search": 10_000_000}, cache_seconds=3600)
    full = RateLimiter(store, {**DEFAULT_LIMITS, "search": 1}, cache_seconds=3600)
    try:
        full.admit("bench-full", "search")
        full.admit("bench-full", "search")
    except Exception:  # the second is the 429 that teaches it the counter is full
        pass
    seconds: dict[str, list[float]] = {name: [] for name in ("count", "read", "admit", "full", "limits")}
    window = window_start(time.time())
    actions: dict[str, Callable[[], object]] = {
        "count": lambda: store.count_request("bench-store", "search", window, 10_000_000, window + 3660),
        "read": lambda: store.get_api_key(key_hash),
        "admit": lambda: limiter.admit("bench-admit", "search"),
        "full": lambda: _refused(full),
        "limits": lambda: limiter.limit_of("bench-admit", "search"),
    }
    for _ in range(count):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def _refused(limiter: Any) -> None:
    """A request on a counter this container saw full. When a new minute has begun, the first
    request of it passes (and fills the limit of 1) and the next is refused from memory again."""
    from stratus.errors import TooManyRequestsError

    for _ in range(3):
        try:
            limiter.admit("bench-full", "search")
        except TooManyRequestsError:
            return
    raise AssertionError("the full counter let requests through")


def measure_end_to_end(ctx: Context, count: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    from stratus.domain.rate_limits import CATEGORIES, window_start
    from stratus.services.api_keys import create_api_key

    stack = ctx.stack()
    store = _store(ctx)
    unlimited_key = create_api_key(store, UNLIMITED_ORG, "bench", ["read", "write"])[0]
    store.put_rate_limits(UNLIMITED_ORG, dict.fromkeys(CATEGORIES, 0))
    body = {"namespace_id": NAMESPACE, "queries": [{"vector_name": INDEX, "vector": [0.1] * DIMENSION}]}
    seconds: dict[str, list[float]] = {}
    updates: dict[str, int] = {}
    with stack.client() as counted, stack.client() as uncounted:
        uncounted.headers["Authorization"] = f"Bearer {unlimited_key}"
        create_standalone(counted, NAMESPACE, INDEX, DIMENSION)
        create_standalone(uncounted, NAMESPACE, INDEX, DIMENSION)
        routes: dict[str, Callable[[httpx.Client], httpx.Response]] = {
            "GET /v1/inference/services": lambda c: c.get("/v1/inference/services"),
            "POST /v1/search": lambda c: c.post("/v1/search", json=body),
        }
        for route, call in routes.items():
            for client in (counted, uncounted):  # warm: keys, limits and namespaces cached
                for _ in range(5):
                    expect(call(client))
            category = "metadata" if route.startswith("GET") else "search"
            since = window_start(time.time())
            before = _counted(store, "local", category, since)
            for _ in range(count):
                for label, client in (("counted", counted), ("not counted", uncounted)):
                    started = time.perf_counter()
                    response = call(client)
                    seconds.setdefault(f"{route}, {label}", []).append(time.perf_counter() - started)
                    expect(response)
            updates[route] = _counted(store, "local", category, since) - before
    return seconds, updates


def _counted(store: Any, org_id: str, category: str, since: int) -> int:
    """The org's count for `category` over the minutes from `since` to now."""
    from stratus.domain.rate_limits import window_start

    total = 0
    for start in range(since, window_start(time.time()) + 60, 60):
        item = store.client.get_item(
            TableName=store.table_name,
            Key={"PK": {"S": f"RATE#{org_id}#{category}#{start}"}, "SK": {"S": "COUNTER"}},
            ConsistentRead=True,
        ).get("Item")
        total += int(item["n"]["N"]) if item else 0
    return total


def render(store: dict[str, list[float]], end_to_end: dict[str, list[float]], updates: dict[str, int]) -> str:
    read = summarize(store["read"])
    labels = {
        "count": "counter `UpdateItem` (conditional ADD), HTTP point reader",
        "read": "API key `GetItem`, HTTP point reader (the baseline round trip)",
        "admit": "`RateLimiter.admit`, warm (cached limits + the ADD)",
        "full": "`admit` on a counter this container saw full (429, no DynamoDB)",
        "limits": "`limit_of`, cached",
    }
    rows = []
    for name, label in labels.items():
        summary = summarize(store[name])
        rows.append(
            [
                label,
                str(summary.n),
                ms(summary.p50_ms),
                ms(summary.p95_ms),
                ratio(summary.p50_ms, read.p50_ms),
            ]
        )
    parts = [table(["in this process", "n", "p50 ms", "p95 ms", "p50 vs the read"], rows)]
    rows = []
    for route in sorted({label.rsplit(", ", 1)[0] for label in end_to_end}):
        counted = summarize(end_to_end[f"{route}, counted"])
        uncounted = summarize(end_to_end[f"{route}, not counted"])
        rows.append(
            [
                route,
                str(counted.n),
                ms(uncounted.p50_ms),
                ms(counted.p50_ms),
                ms(counted.p50_ms - uncounted.p50_ms),
                ms(counted.p95_ms - uncounted.p95_ms),
                f"{updates[route] / counted.n:.2f}" if counted.n else "n/a",
            ]
        )
    parts.append(
        table(
            [
                "end to end (interleaved)",
                "n",
                "not counted p50 ms",
                "counted p50 ms",
                "added p50 ms",
                "added p95 ms",
                "UpdateItem per request",
            ],
            rows,
        )
    )
    parts.append(
        "_Counted: the dev organization (limits of the local stack, far above this run). Not counted: "
        "an organization whose own limits are 0 (unlimited) in every category. Both warm (key, "
        "limits and namespace cached), so the only DynamoDB call left is the counter's._"
    )
    return "\n\n".join(parts)


def run(ctx: Context) -> str:
    count = max(50, ctx.sizes.queries)
    ctx.log(f"rate_limit: {count} rounds in process")
    store = measure_store(ctx, count)
    ctx.log(f"rate_limit: {count} interleaved requests per route and organization")
    end_to_end, updates = measure_end_to_end(ctx, count)
    return render(store, end_to_end, updates)
