"""Rate limits per organization (docs/api.md, "Rate limits"): each authenticated request counts
once against its organization's limit for the operation's category, in fixed one-minute windows.

What one request costs (tests/perf/bench_rate_limit.py measures it):
- ONE DynamoDB round trip, the counter's conditional `ADD` (`RateLimitRepository.count_request`),
  which checks and counts in the same step. Never a read before the write.
- The organization's own limits come from a per-container cache (`cache_seconds`, the auth
  cache's lifetime), absent ones included, so they cost a read per organization per container
  every few seconds, not per request.
- A container that saw a counter full answers that organization's later requests in the same
  category and minute itself, without DynamoDB: a caller hammering past its limit costs nothing.

If the counter cannot be written (DynamoDB throttled or down) the request goes through and a
warning is logged: the limiter guards capacity, and turning its own fault into a 503 for every
request would be the outage it exists to prevent. The HTTP API stage's throttling still bounds
everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from stratus.domain.rate_limits import (
    CATEGORIES,
    COUNTER_LIFETIME_SECONDS,
    WINDOW_NAME,
    WINDOW_SECONDS,
    RateCategory,
    seconds_left,
    window_start,
)
from stratus.errors import ServiceUnavailableError, TooManyRequestsError
from stratus.ports.metadata import RateLimitRepository

logger = logging.getLogger(__name__)
_K = TypeVar("_K")
_V = TypeVar("_V")

# Organizations whose limits (and full counters) a container remembers; the oldest goes first.
MAX_REMEMBERED = 1024


@dataclass(frozen=True)
class Admission:
    """A request let through: its category's limit, what is left of it this minute, and when
    the minute ends (epoch seconds)."""

    category: RateCategory
    limit: int
    remaining: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        """The `X-RateLimit-*` headers Mixpeek documents on every answer."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
            "X-RateLimit-Window": str(WINDOW_SECONDS),
        }


def too_many_requests(category: RateCategory, limit: int, now: float) -> TooManyRequestsError:
    retry_after = seconds_left(now)
    error = TooManyRequestsError(
        f"rate limit reached: this organization may make {limit} '{category}' requests per minute; "
        f"retry in {retry_after} s",
        {
            "category": category,
            "limit": limit,
            "window": WINDOW_NAME,
            "retry_after": retry_after,
            # What the Mixpeek SDK's high-level client reads (besides Retry-After).
            "retry_after_seconds": retry_after,
        },
    )
    error.retry_after = retry_after
    reset_at = window_start(now) + WINDOW_SECONDS
    error.headers = Admission(category, limit, 0, reset_at).headers()
    return error


class RateLimiter:
    """One per container (`Container.rate_limiter`); thread-safe."""

    def __init__(
        self,
        store: RateLimitRepository,
        defaults: Mapping[RateCategory, int],
        cache_seconds: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._defaults = dict(defaults)
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # org → (monotonic time read, its own limits)
        self._limits: dict[str, tuple[float, dict[str, int]]] = {}
        # (org, category) → (window start, limit) of a counter this container saw full
        self._full: dict[tuple[str, str], tuple[int, int]] = {}

    def admit(self, org_id: str, category: RateCategory) -> Admission | None:
        """Count the request, or raise `TooManyRequestsError` (429) when the organization's
        counter for `category` is full this minute. None: not counted (the category is
        unlimited, or the counter could not be written)."""
        limit = self.limit_of(org_id, category)
        if limit <= 0:
            return None
        now = self._clock()
        window = window_start(now)
        with self._lock:
            seen_full = self._full.get((org_id, category)) == (window, limit)
        if seen_full:
            raise too_many_requests(category, limit, now)
        expires_at = window + WINDOW_SECONDS + COUNTER_LIFETIME_SECONDS
        try:
            count = self._store.count_request(org_id, category, window, limit, expires_at)
        except ServiceUnavailableError as error:
            logger.warning(
                "rate limit not counted; the request goes through",
                extra={"category": category, "error_type": error.type},
            )
            return None
        if count is None:
            with self._lock:
                self._remember(self._full, (org_id, category), (window, limit))
            raise too_many_requests(category, limit, now)
        return Admission(category, limit, max(0, limit - count), window + WINDOW_SECONDS)

    def limit_of(self, org_id: str, category: RateCategory) -> int:
        """The organization's own limit for `category` if it has one, else the default."""
        own = self._own_limits(org_id)
        return own.get(category, self._defaults.get(category, 0))

    def _own_limits(self, org_id: str) -> dict[str, int]:
        with self._lock:
            cached = self._limits.get(org_id)
        if cached is not None and self._monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            own = self._store.get_rate_limits(org_id)
        except ServiceUnavailableError as error:
            logger.warning(
                "organization rate limits unreadable; defaults apply", extra={"error_type": error.type}
            )
            return {}
        if self._cache_seconds > 0:
            with self._lock:
                self._remember(self._limits, org_id, (self._monotonic(), own))
        return own

    def forget(self, org_id: str) -> None:
        """Drop what this container remembers of an organization (after changing its limits)."""
        with self._lock:
            self._limits.pop(org_id, None)
            for entry in [entry for entry in self._full if entry[0] == org_id]:
                del self._full[entry]

    @staticmethod
    def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
        if key not in cache and len(cache) >= MAX_REMEMBERED:
            del cache[next(iter(cache))]
        cache[key] = value


def set_limits(store: RateLimitRepository, org_id: str, limits: Mapping[str, int]) -> dict[str, int]:
    """Merge `limits` into the organization's own (categories checked) and store them."""
    unknown = sorted(set(limits) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"unknown categories {unknown}; categories: {', '.join(CATEGORIES)}")
    merged = {**store.get_rate_limits(org_id), **limits}
    ordered: dict[str, int] = {category: merged[category] for category in CATEGORIES if category in merged}
    store.put_rate_limits(org_id, ordered)
    return ordered
