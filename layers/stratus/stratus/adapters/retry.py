"""Backoff between attempts and the retryable 503 an adapter raises once its dependency has failed:
one policy for DynamoDB, Pinecone and the inference services."""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

from stratus.errors import ServiceUnavailableError

Unavailable = TypeVar("Unavailable", bound=ServiceUnavailableError)
Jitter = Literal["equal", "full", "none"]


def backoff_delay(attempt: int, base: float, cap: float, jitter: Jitter = "equal") -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): `base * 2^(attempt-1)`, at most
    `cap`, with "equal" jitter within [d/2, d] (delays never shrink from one attempt to the next,
    yet concurrent callers spread out), "full" jitter within [0, d] (botocore's standard mode), or
    none."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    if jitter == "equal":
        return random.uniform(ceiling / 2, ceiling)
    if jitter == "full":
        return random.random() * ceiling
    return ceiling


def retry_after_seconds(value: str | None, *, http_dates: bool = True) -> float | None:
    """A `Retry-After` header as seconds (a number, or an HTTP date unless `http_dates` is off),
    never negative; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        if not http_dates:
            return None
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def unavailable(
    kind: type[Unavailable], message: str, details: dict[str, Any], retry_after: float | None = None
) -> Unavailable:
    """The retryable 503 of `kind`; `retry_after` (seconds) becomes the whole seconds of its
    `Retry-After` header, at least 1 so that clients do not spin."""
    error = kind(message, details)
    if retry_after is not None:
        error.retry_after = max(1, math.ceil(retry_after))
    return error
