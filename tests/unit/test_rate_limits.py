"""The rate limiter over the in-memory store, with its clocks in the test's hands: fixed
one-minute windows per (organization, category), the 429 a Mixpeek client reads, each
organization's own limits and their cache, and what a request costs the store."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from stratus.api.operations import OPERATION_NAMES, PUBLIC_OPERATIONS, RATE_CATEGORIES
from stratus.domain import rate_limits as rules
from stratus.errors import MetadataStoreUnavailableError, TooManyRequestsError
from stratus.services.rate_limits import RateLimiter, set_limits
from stratus.settings import Settings
from tests.fakes import InMemoryMetadataStore

START = 1_800_000_000.0  # a window start: a multiple of 60


class Clock:
    def __init__(self, now: float = START + 10) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore(InMemoryMetadataStore):
    """Counts the limiter's calls: each is one DynamoDB round trip in the real store."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.failing = False

    def count_request(
        self, org_id: str, category: str, window_start: int, limit: int, expires_at: int
    ) -> int | None:
        self.calls.append("count_request")
        if self.failing:
            raise MetadataStoreUnavailableError("down", {"dependency": "dynamodb"})
        return super().count_request(org_id, category, window_start, limit, expires_at)

    def get_rate_limits(self, org_id: str) -> dict[str, int]:
        self.calls.append("get_rate_limits")
        return super().get_rate_limits(org_id)


def limiter(
    store: CountingStore, clock: Clock, monotonic: Clock | None = None, **defaults: int
) -> RateLimiter:
    return RateLimiter(
        store,
        {**rules.DEFAULT_LIMITS, **defaults},  # type: ignore[dict-item]
        cache_seconds=5.0,
        clock=clock,
        monotonic=monotonic or Clock(0.0),
    )


# ---------------------------------------------------------------------------------------------
# The rules


def test_the_text_form_round_trips_and_names_what_is_wrong() -> None:
    assert rules.parse_limits(rules.format_limits(rules.DEFAULT_LIMITS)) == rules.DEFAULT_LIMITS
    assert rules.parse_limits(" Search = 5 , ,upload=0") == {"search": 5, "upload": 0}
    assert rules.parse_limits("") == {}
    for bad, words in [
        ("serch=5", "categories: metadata"),
        ("search", "not category=N"),
        ("search=five", "whole number"),
        ("search=-1", "out of range"),
        (f"search={rules.MAX_LIMIT + 1}", "out of range"),
    ]:
        with pytest.raises(ValueError, match=words):
            rules.parse_limits(bad)


def test_settings_take_the_defaults_and_override_some() -> None:
    assert Settings().default_rate_limits() == rules.DEFAULT_LIMITS
    assert Settings.from_environment({"STRATUS_RATE_LIMITS": "search=7"}).default_rate_limits() == {
        **rules.DEFAULT_LIMITS,
        "search": 7,
    }
    with pytest.raises(ValueError, match="rate_limits"):
        Settings.from_environment({"STRATUS_RATE_LIMITS": "search=lots"})


def test_windows_are_fixed_minutes_and_retry_after_is_what_is_left_of_one() -> None:
    assert rules.window_start(START) == START
    assert rules.window_start(START + 59.9) == START
    assert rules.window_start(START + 60) == START + 60
    assert rules.seconds_left(START + 10) == 50
    assert rules.seconds_left(START + 59.2) == 1
    assert rules.seconds_left(START) == 60


def test_every_authenticated_operation_has_a_category_and_public_ones_none() -> None:
    assert set(RATE_CATEGORIES) == set(OPERATION_NAMES) - PUBLIC_OPERATIONS
    assert set(OPERATION_NAMES) >= PUBLIC_OPERATIONS
    assert set(RATE_CATEGORIES.values()) == set(rules.CATEGORIES)  # each category is used


# ---------------------------------------------------------------------------------------------
# Counting


def test_requests_pass_up_to_the_limit_then_429_until_the_next_window() -> None:
    store, clock = CountingStore(), Clock()
    rate = limiter(store, clock, search=3)

    admitted = [rate.admit("org_a", "search") for _ in range(3)]
    assert [a.remaining for a in admitted if a] == [2, 1, 0]
    assert admitted[0] is not None and admitted[0].reset_at == START + 60
    assert admitted[0].headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": str(int(START + 60)),
        "X-RateLimit-Window": "60",
    }
    with pytest.raises(TooManyRequestsError) as caught:
        rate.admit("org_a", "search")
    error = caught.value
    assert error.status == 429 and error.type == "TooManyRequestsError"
    assert error.details == {
        "category": "search",
        "limit": 3,
        "window": "1m",
        "retry_after": 50,
        "retry_after_seconds": 50,
    }
    assert error.retry_after == 50 and error.headers is not None
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert "3 'search' requests per minute" in error.message

    clock.now = START + 60  # the next minute
    assert rate.admit("org_a", "search") is not None


def test_counters_are_per_organization_and_category() -> None:
    store, clock = CountingStore(), Clock()
    rate = limiter(store, clock, search=1, data=1)
    rate.admit("org_a", "search")
    with pytest.raises(TooManyRequestsError):
        rate.admit("org_a", "search")
    assert rate.admit("org_a", "data") is not None
    assert rate.admit("org_b", "search") is not None
    assert store.rate_counters == {
        ("org_a", "search", int(START)): 1,
        ("org_a", "data", int(START)): 1,
        ("org_b", "search", int(START)): 1,
    }


def test_a_request_costs_one_store_call_and_a_full_counter_none() -> None:
    store, clock = CountingStore(), Clock()
    rate = limiter(store, clock, search=2)
    rate.admit("org_a", "search")
    assert store.calls == ["get_rate_limits", "count_request"]  # the first: its own limits too
    store.calls.clear()
    rate.admit("org_a", "search")
    assert store.calls == ["count_request"]  # warm: one conditional ADD, no read
    store.calls.clear()
    for _ in range(5):
        with pytest.raises(TooManyRequestsError):
            rate.admit("org_a", "search")
    # The first refusal learned the counter is full; the rest of the minute costs nothing.
    assert store.calls == ["count_request"]
    clock.now = START + 61
    store.calls.clear()
    assert rate.admit("org_a", "search") is not None and store.calls == ["count_request"]


def test_an_unlimited_category_is_not_counted() -> None:
    store, clock = CountingStore(), Clock()
    rate = limiter(store, clock, compute=0)
    for _ in range(10):
        assert rate.admit("org_a", "compute") is None
    assert "count_request" not in store.calls and store.rate_counters == {}


def test_an_organizations_own_limits_win_and_are_cached_absence_included() -> None:
    store, clock, monotonic = CountingStore(), Clock(), Clock(0.0)
    rate = limiter(store, clock, monotonic, search=100)
    assert rate.limit_of("org_a", "search") == 100
    store.put_rate_limits("org_a", {"search": 2})
    assert rate.limit_of("org_a", "search") == 100  # the absence is cached too
    assert store.calls.count("get_rate_limits") == 1
    monotonic.now = 5.0  # the cache's lifetime is over
    assert rate.limit_of("org_a", "search") == 2 and rate.limit_of("org_a", "upload") == 300
    assert store.calls.count("get_rate_limits") == 2
    rate.admit("org_a", "search")
    rate.admit("org_a", "search")
    with pytest.raises(TooManyRequestsError) as caught:
        rate.admit("org_a", "search")
    assert caught.value.details["limit"] == 2
    # A raised limit applies at once to a counter this container saw full.
    store.put_rate_limits("org_a", {"search": 3})
    rate.forget("org_a")
    assert rate.admit("org_a", "search") is not None


def test_set_limits_merges_checks_categories_and_clears() -> None:
    store = InMemoryMetadataStore()
    assert set_limits(store, "org_a", {"upload": 10}) == {"upload": 10}
    assert set_limits(store, "org_a", {"search": 0}) == {"search": 0, "upload": 10}
    with pytest.raises(ValueError, match="unknown categories"):
        set_limits(store, "org_a", {"uploads": 1})
    store.put_rate_limits("org_a", {})
    assert store.get_rate_limits("org_a") == {}


def test_a_counter_the_store_cannot_write_lets_the_request_through_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = CountingStore(), Clock()
    rate = limiter(store, clock, search=1)
    store.failing = True
    with caplog.at_level(logging.WARNING, logger="stratus.services.rate_limits"):
        assert rate.admit("org_a", "search") is None
        assert rate.admit("org_a", "search") is None
    warnings: list[Any] = [r for r in caplog.records if "not counted" in r.getMessage()]
    assert len(warnings) == 2 and warnings[0].category == "search"
    store.failing = False
    assert rate.admit("org_a", "search") is not None  # counting resumes with the store


def test_the_local_stack_counts_every_request_but_never_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make dev`, the e2e and fuzz suites and `make load` run on stratus_local's environment:
    limits no machine reaches, but not 0 (unlimited is not counted, and the path would go
    untested); a developer's own STRATUS_RATE_LIMITS wins."""
    from stratus_local import resources

    monkeypatch.delenv("STRATUS_RATE_LIMITS", raising=False)
    local = Settings.from_environment(resources.api_environment("http://127.0.0.1:1", "/tmp/lancedb"))
    assert set(local.default_rate_limits()) == set(rules.CATEGORIES)
    assert min(local.default_rate_limits().values()) >= 1_000_000
    monkeypatch.setenv("STRATUS_RATE_LIMITS", "search=5")
    assert (
        resources.api_environment("http://127.0.0.1:1", "/tmp/lancedb")["STRATUS_RATE_LIMITS"] == "search=5"
    )
