"""Promotion: latency of `POST /v1/namespaces/{id}/promote` (each on a fresh standalone
namespace), then a race: N threads promote the same fresh namespace at once, R rounds over.

moto's server runs one request at a time (see `stratus_local.moto_server`), so each round must
have exactly one winner (200) and N - 1 losers (409). Each thread adds its own `extra_<thread>`
index, so the namespace's final state tells whose promotion was committed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.perf.common import DIMENSION, ms, ratio, summarize, table
from tests.perf.context import Context
from tests.perf.stack import create_standalone, expect

NAME = "promotion"
TITLE = "Promotion latency and concurrent promotions"
INDEX = "text_embedding"
SERVICE = "minilm_l6_v2"
BARRIER_TIMEOUT_SECONDS = 60.0


def promote_body(extra: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"vector_mappings": [{"existing_index": INDEX, "inference_service": SERVICE}]}
    if extra is not None:
        body["add_vectors"] = [{"name": extra, "dimension": DIMENSION, "metric": "cosine"}]
    return body


def promote(client: httpx.Client, namespace_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/v1/namespaces/{namespace_id}/promote", json=body)


# ---------------------------------------------------------------------------------------------
# Latency


def measure_latency(ctx: Context, count: int) -> dict[str, list[float]]:
    """`count` promotions over a reused connection and `count` over new ones, alternating."""
    seconds: dict[str, list[float]] = {"keep-alive": [], "new connection": []}
    stack = ctx.stack()
    with stack.client() as reused, stack.client(keep_alive=False) as fresh:
        clients = {"keep-alive": reused, "new connection": fresh}
        for position in range(count):
            for label, client in clients.items():
                namespace_id = f"promo-{label.split()[0]}-{position}"
                create_standalone(reused, namespace_id, INDEX, DIMENSION)
                started = time.perf_counter()
                expect(promote(client, namespace_id, promote_body()))
                seconds[label].append(time.perf_counter() - started)
    return seconds


# ---------------------------------------------------------------------------------------------
# Race


@dataclass
class Attempt:
    thread: int
    status: int
    seconds: float


@dataclass
class Race:
    rounds: int = 0
    threads: int = 0
    winners_per_round: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    winner_seconds: list[float] = field(default_factory=list)
    loser_seconds: list[float] = field(default_factory=list)
    round_seconds: list[float] = field(default_factory=list)
    state_matches_winner: int = 0


def _attempt(client: httpx.Client, barrier: threading.Barrier, namespace_id: str, thread: int) -> Attempt:
    barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
    started = time.perf_counter()
    response = promote(client, namespace_id, promote_body(f"extra_{thread}"))
    return Attempt(thread, response.status_code, time.perf_counter() - started)


def _state_matches(client: httpx.Client, namespace_id: str, winners: list[Attempt]) -> bool:
    """Managed, and exactly the single winner's extra index was added."""
    namespace = expect(client.get(f"/v1/namespaces/{namespace_id}"))
    extras = sorted(c["name"] for c in namespace["vector_configs"] if c["name"].startswith("extra_"))
    return namespace["mode"] == "managed" and len(winners) == 1 and extras == [f"extra_{winners[0].thread}"]


def run_race(ctx: Context, rounds: int, threads: int) -> Race:
    race = Race(rounds=rounds, threads=threads)
    stack = ctx.stack()
    clients = [stack.client() for _ in range(threads)]
    try:
        with stack.client() as admin, ThreadPoolExecutor(max_workers=threads) as pool:
            for round_number in range(rounds):
                namespace_id = f"race-{round_number}"
                create_standalone(admin, namespace_id, INDEX, DIMENSION)
                barrier = threading.Barrier(threads)
                started = time.perf_counter()
                futures = [
                    pool.submit(_attempt, clients[thread], barrier, namespace_id, thread)
                    for thread in range(threads)
                ]
                attempts = [future.result(timeout=BARRIER_TIMEOUT_SECONDS * 2) for future in futures]
                race.round_seconds.append(time.perf_counter() - started)
                winners = [attempt for attempt in attempts if attempt.status == 200]
                race.winners_per_round.append(len(winners))
                race.statuses.update(attempt.status for attempt in attempts)
                race.winner_seconds += [attempt.seconds for attempt in winners]
                race.loser_seconds += [attempt.seconds for attempt in attempts if attempt.status != 200]
                race.state_matches_winner += _state_matches(admin, namespace_id, winners)
    finally:
        for client in clients:
            client.close()
    return race


# ---------------------------------------------------------------------------------------------
# Report


def render(latency: dict[str, list[float]], race: Race) -> str:
    reused = summarize(latency["keep-alive"])
    rows = []
    for label, values in latency.items():
        summary = summarize(values)
        rows.append(
            [
                f"promote, {label}",
                str(summary.n),
                ms(summary.p50_ms),
                ms(summary.p95_ms),
                ratio(summary.p50_ms, reused.p50_ms),
            ]
        )
    for label, values in (
        ("race: winner's request", race.winner_seconds),
        ("race: loser's request (409)", race.loser_seconds),
        (f"race: whole round ({race.threads} requests)", race.round_seconds),
    ):
        summary = summarize(values)
        rows.append(
            [
                label,
                str(summary.n),
                ms(summary.p50_ms),
                ms(summary.p95_ms),
                ratio(summary.p50_ms, reused.p50_ms),
            ]
        )
    exactly_one = sum(1 for winners in race.winners_per_round if winners == 1)
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(race.statuses.items()))
    return "\n".join(
        [
            f"Each promotion maps `{INDEX}` (384-d) to `{SERVICE}` on a fresh standalone namespace; "
            "ratio = p50 / keep-alive promote p50.",
            "",
            table(["operation", "n", "p50 ms", "p95 ms", "ratio"], rows),
            "",
            f"- Race: {race.rounds} rounds x {race.threads} threads (one keep-alive client each, released "
            f"together by a barrier) = {race.rounds * race.threads} promotions.",
            f"- Rounds with exactly one winner: {exactly_one}/{race.rounds}; winners per round: "
            f"{dict(sorted(Counter(race.winners_per_round).items()))}; statuses: {statuses}.",
            f"- Final state is the single winner's (mode managed, only its `extra_<thread>` index): "
            f"{race.state_matches_winner}/{race.rounds} rounds.",
        ]
    )


def run(ctx: Context) -> str:
    sizes = ctx.sizes
    ctx.log(f"promotion: {sizes.promotions} promotions per connection kind")
    latency = measure_latency(ctx, sizes.promotions)
    ctx.log(f"promotion: race, {sizes.race_rounds} rounds x {sizes.race_threads} threads")
    race = run_race(ctx, sizes.race_rounds, sizes.race_threads)
    return render(latency, race)
