"""`stratus tasks watch`: the progress line, the polling loop and its exit codes (the command
against a running stack is in tests/e2e/test_backfill_workflow.py)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pytest

from stratus.cli import main
from stratus.cli_tasks import WatchError, render, watch


def _task(status: str, **fields: Any) -> dict[str, Any]:
    return {"task_id": "task_1", "status": status, **fields}


def test_the_line_shows_a_bar_the_share_the_counts_and_the_estimate() -> None:
    line = render(
        _task("PROCESSING", processed=900, skipped=90, failed=10, total=2000, eta_seconds=75), width=10
    )
    assert line.startswith("[#####.....]  50.0%  1000/2000")
    assert "processed 900  skipped 90  failed 10  eta 1m15s  PROCESSING" in line


def test_before_the_listing_and_at_the_end() -> None:
    assert "listing documents" in render(_task("PENDING", processed=0, total=None))
    done = render(
        _task("COMPLETED_WITH_ERRORS", processed=8, skipped=1, failed=1, total=10, error="1 failed")
    )
    assert (
        "100.0%  10/10" in done and done.endswith("COMPLETED_WITH_ERRORS  (1 failed)") and "eta" not in done
    )


def test_watch_polls_until_the_task_ends_printing_each_change_once() -> None:
    states = [
        _task("PENDING"),
        _task("PROCESSING", processed=5, total=10),
        _task("PROCESSING", processed=5, total=10),
        _task("COMPLETED", processed=10, total=10),
    ]
    out = io.StringIO()
    sleeps: list[float] = []

    final = watch(lambda: states.pop(0), out, 0.5, sleep=sleeps.append)

    assert final["status"] == "COMPLETED" and sleeps == [0.5, 0.5, 0.5]
    assert len(out.getvalue().splitlines()) == 3  # the repeated state is not printed again


def test_on_a_terminal_one_line_is_redrawn() -> None:
    states = [_task("PROCESSING", processed=1, total=2), _task("COMPLETED", processed=2, total=2)]
    out = io.StringIO()
    watch(lambda: states.pop(0), out, 0.1, tty=True, sleep=lambda s: None)
    assert out.getvalue().count("\r\x1b[2K") == 2 and out.getvalue().endswith("\n")


def test_watch_gives_up_after_its_timeout() -> None:
    now = [0.0]

    def tick(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(WatchError, match="still PROCESSING"):
        watch(lambda: _task("PROCESSING"), io.StringIO(), 1.0, timeout=3.0, sleep=tick, clock=lambda: now[0])


def test_the_command_needs_a_key_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STRATUS_API_KEY", raising=False)
    assert main(["tasks", "watch", "task_1"]) == 1
    assert "STRATUS_API_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(("status", "code"), [("COMPLETED", 0), ("FAILED", 1), ("CANCELED", 1)])
def test_the_exit_code_says_how_the_task_ended(
    monkeypatch: pytest.MonkeyPatch, status: str, code: int
) -> None:
    def fetch_factory(*args: Any) -> Any:
        def fetch() -> Mapping[str, Any]:
            return _task(status, processed=1, total=1)

        return fetch

    monkeypatch.setattr("stratus.cli_tasks.http_fetch", fetch_factory)
    assert main(["tasks", "watch", "task_1", "--api-key", "sk_x", "--json"]) == code


def test_an_unreachable_api_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "watch", "task_1", "--api-key", "sk_x", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err
