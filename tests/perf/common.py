"""Shared helpers of the benchmarks: seeded data, percentiles, timing, markdown tables.

Nothing here asserts on speed: benchmarks measure and report."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Rows of float32 vectors.
Matrix = npt.NDArray[np.float32]

DIMENSION = 384
SEED = 20240611
CATEGORIES = tuple(f"cat-{i}" for i in range(10))
# Decimals kept in generated vectors: `round(x, 6)` has a short JSON repr (~9 characters), so a
# batch of 1000 x 384 stays well under the API's 6 MB body limit (full float64 reprs would not).
VECTOR_DECIMALS = 6


@dataclass(frozen=True)
class Summary:
    """Percentiles of a list of durations, in milliseconds."""

    n: int
    p50_ms: float
    p95_ms: float
    mean_ms: float


def summarize(seconds: Sequence[float]) -> Summary:
    if not seconds:
        return Summary(0, float("nan"), float("nan"), float("nan"))
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return Summary(
        n=len(ms),
        p50_ms=float(np.percentile(ms, 50)),
        p95_ms=float(np.percentile(ms, 95)),
        mean_ms=float(ms.mean()),
    )


def timed(action: Callable[[], object]) -> float:
    """Seconds one call of `action` took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def time_each(actions: Sequence[Callable[[], object]]) -> list[float]:
    return [timed(action) for action in actions]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Data


def random_unit_vectors(count: int, seed: int, dimension: int = DIMENSION) -> Matrix:
    """`count` random unit vectors (float32), rounded to VECTOR_DECIMALS; the same for a seed."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.round(vectors, VECTOR_DECIMALS).astype(np.float32)


def payload_of(position: int) -> dict[str, object]:
    return {"category": CATEGORIES[position % len(CATEGORIES)], "n": position}


def document_id(position: int) -> str:
    return f"d{position:07d}"


# ---------------------------------------------------------------------------------------------
# Formatting


def ms(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ratio(numerator: float, denominator: float) -> str:
    if denominator == 0 or numerator != numerator or denominator != denominator:
        return "n/a"
    return f"{numerator / denominator:.1f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
