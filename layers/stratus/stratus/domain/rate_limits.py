"""Rate limits per organization, in Mixpeek's five categories (docs/api.md, "Rate limits"): the
categories, the fixed one-minute windows, and the `category=N,...` text the settings and the CLI
read. Pure: the counting is `stratus.services.rate_limits`, the counters the metadata store's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, get_args

RateCategory = Literal["metadata", "data", "search", "upload", "compute"]
CATEGORIES: tuple[RateCategory, ...] = get_args(RateCategory)
WINDOW_SECONDS = 60
# Mixpeek's spelling of the window in a 429's details.
WINDOW_NAME = "1m"
# Counters outlive their minute by this much before DynamoDB's TTL may remove them (TTL deletes
# lazily anyway; the counter of a past window is never read again).
COUNTER_LIFETIME_SECONDS = 3600

# Requests per organization per minute, by category, where neither the settings nor the
# organization's own limits say otherwise. 0 means unlimited. Cheap configuration reads and
# writes get the most; uploads (bytes into S3 and an extraction each) and compute (a payload index
# built over every record) the least.
DEFAULT_LIMITS: dict[RateCategory, int] = {
    "metadata": 600,
    "data": 1200,
    "search": 1200,
    "upload": 300,
    "compute": 60,
}
MAX_LIMIT = 10_000_000


def format_limits(limits: Mapping[RateCategory, int]) -> str:
    """`metadata=600,data=1200,...` in the categories' order."""
    return ",".join(f"{category}={limits[category]}" for category in CATEGORIES if category in limits)


def parse_limits(text: str) -> dict[RateCategory, int]:
    """`category=N` pairs, comma-separated (blank: none). `ValueError` names what is wrong."""
    parsed: dict[RateCategory, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (piece.strip() for piece in part.partition("="))
        category = next((c for c in CATEGORIES if c == name.lower()), None)
        if not sep or category is None:
            raise ValueError(
                f"{part!r} is not category=N; categories: {', '.join(CATEGORIES)} (e.g. search=600)"
            )
        parsed[category] = check_limit(category, value)
    return parsed


def check_limit(category: str, value: str | int) -> int:
    """A limit: an integer 0 (unlimited) to MAX_LIMIT requests per minute."""
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"{category}: {value!r} is not a whole number of requests per minute") from None
    if not 0 <= limit <= MAX_LIMIT:
        raise ValueError(f"{category}: {limit} is out of range (0 = unlimited, up to {MAX_LIMIT})")
    return limit


def window_start(now: float) -> int:
    """The start (epoch seconds) of the fixed one-minute window holding `now`."""
    return int(now // WINDOW_SECONDS) * WINDOW_SECONDS


def seconds_left(now: float) -> int:
    """Whole seconds until the window holding `now` ends: what `Retry-After` says (at least 1)."""
    return max(1, math.ceil(window_start(now) + WINDOW_SECONDS - now))
