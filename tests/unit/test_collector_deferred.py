"""stratus.api.upsert_route.collector_deferred: the cyclic garbage collector paused for one
upsert, resumed by the block that paused it, and never resumed when something else paused it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from stratus.api.upsert_route import collector_deferred


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_in_the_block_and_resumed_after() -> None:
    gc.enable()
    with collector_deferred():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_is_resumed_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_deferred():
        raise RuntimeError("the upsert failed")
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    gc.disable()
    with collector_deferred():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_block_that_paused_it_resumes_it_whatever_runs_beside_it() -> None:
    """Two upserts overlapping: the second finds the collector paused and leaves it to the first;
    the first resumes it when it ends, so a pause never outlasts the upsert that began it."""
    gc.enable()
    second_inside, second_done, first_may_end = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def second() -> None:
        with collector_deferred():
            second_inside.set()
        seen["after the second"] = gc.isenabled()
        second_done.set()
        first_may_end.wait(5)

    with collector_deferred():
        thread = threading.Thread(target=second)
        thread.start()
        assert second_inside.wait(5) and second_done.wait(5)
        first_may_end.set()
    thread.join(5)
    assert seen == {"after the second": False}
    assert gc.isenabled()
