"""stratus.lambda_init: a function's init runs with the garbage collector paused; on Lambda the
objects init made are frozen, elsewhere the collector is only resumed. Each case runs in a fresh
interpreter (a handler import, as Lambda does it), so this process's collector is never touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER = REPO_ROOT / "layers" / "stratus"

PROBE = r"""
import gc, json, sys
gc.enable()
collections = []
# A collection counts once pydantic is loading: the few before it (importing stratus.lambda_init
# itself, ~3 gen-0 passes) come before the pause can start.
def count(phase, info):
    if phase == "start" and "pydantic" in sys.modules:
        collections.append(1)
gc.callbacks.append(count)
frozen_before = gc.get_freeze_count()
sys.path[0:0] = [sys.argv[1], sys.argv[2]]
import app
during = list(collections)
print(json.dumps({
    "collections_during_init": len(during),
    "pydantic_loaded": "pydantic" in sys.modules,
    "enabled_after": gc.isenabled(),
    "frozen_by_init": gc.get_freeze_count() - frozen_before,
    "handler": type(app.handler).__name__,
}))
"""


def _init(function: str, on_lambda: bool, gc_enabled_before: bool = True) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "AWS_LAMBDA_RUNTIME_API"}
    if on_lambda:
        env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9001"
    probe = PROBE if gc_enabled_before else PROBE.replace("gc.enable()", "gc.disable()")
    result = subprocess.run(
        [sys.executable, "-c", probe, str(REPO_ROOT / "functions" / function), str(LAYER)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.parametrize("function", ["search", "extractor"])
def test_on_lambda_init_runs_no_collection_and_freezes_what_it_made(function: str) -> None:
    report = _init(function, on_lambda=True)

    assert report["pydantic_loaded"] and report["collections_during_init"] == 0
    # Tens of thousands of objects (modules, classes, routes): far more than a token freeze.
    assert report["frozen_by_init"] > 10_000
    assert report["enabled_after"] is True


def test_off_lambda_the_collector_is_paused_and_resumed_but_nothing_is_frozen() -> None:
    report = _init("search", on_lambda=False)

    # At most the one that runs as soon as the collector resumes (init's objects are all new to
    # it); without the pause there are dozens (the control below).
    assert report["collections_during_init"] <= 1
    assert report["frozen_by_init"] == 0
    assert report["enabled_after"] is True
    assert report["handler"] == "HttpFunction"


def test_a_collector_disabled_before_init_stays_disabled() -> None:
    assert _init("health", on_lambda=True, gc_enabled_before=False)["enabled_after"] is False


def test_the_collector_would_run_during_init_without_the_pause() -> None:
    """The control: the same imports with an enabled collector do collect (else the
    assertions above could not fail)."""
    script = r"""
import gc, json
import sys
count = []
def counted(phase, info):
    if phase == "start" and "pydantic" in sys.modules:
        count.append(1)
gc.callbacks.append(counted)
import fastapi, mangum, pydantic, stratus.api.app
print(json.dumps(len(count)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(LAYER)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) > 10
