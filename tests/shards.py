"""Run the test suite as parallel pytest processes, one per shard of test directories.

    .venv/bin/python tests/shards.py            # what `make test` runs
    .venv/bin/python tests/shards.py -x -k foo  # extra arguments go to every shard

Why shards and not pytest-xdist: much of the suite waits (local stacks starting in subprocesses,
DynamoDB Local, loopback servers, timeouts in the fault tests), so two processes on the 2 CI
cores halve the wall time. xdist hands modules to workers in a different order on every run; a
shard runs its directories in the same order as a plain `pytest` does, so a run is repeatable.
Together the shards cover `testpaths` exactly (`tests/unit/test_shards.py` checks it). They are
balanced by measured time: the first holds the local-stack suites, the second most modules.

Each shard's lines are printed as they come, prefixed with the shard's name; the exit status is
the first failing shard's, else 0.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The serial order is contract, e2e, faults, fuzz, integration, property, security, unit; each
# shard is a stretch of it. tests/integration is cut where the two halves took about the same
# time (2026-12-03: ~520 s each on 2 cores): its files before `test_e...` run in the first shard.
SPLIT_DIRECTORY = "tests/integration"
SPLIT_BEFORE = "test_e"


def _test_files(directory: str) -> list[str]:
    return sorted(str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / directory).glob("test_*.py"))


def shards() -> dict[str, list[str]]:
    split = _test_files(SPLIT_DIRECTORY)
    head = [path for path in split if Path(path).name < SPLIT_BEFORE]
    tail = [path for path in split if Path(path).name >= SPLIT_BEFORE]
    return {
        "stacks": ["tests/contract", "tests/e2e", "tests/faults", "tests/fuzz", *head],
        "modules": [*tail, "tests/property", "tests/security", "tests/unit"],
    }


def _pump(name: str, process: subprocess.Popen[str], lock: threading.Lock) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        with lock:
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()


def run(extra_args: Sequence[str]) -> int:
    lock = threading.Lock()
    started = time.monotonic()
    processes: dict[str, subprocess.Popen[str]] = {}
    pumps = []
    for name, paths in shards().items():
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", *paths, *extra_args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        processes[name] = process
        pump = threading.Thread(target=_pump, args=(name, process, lock), daemon=True)
        pump.start()
        pumps.append(pump)
    codes = {name: process.wait() for name, process in processes.items()}
    for pump in pumps:
        pump.join()
    elapsed = time.monotonic() - started
    summary = ", ".join(f"{name} exit {code}" for name, code in codes.items())
    print(f"shards: {summary}; {elapsed:.0f} s in all", flush=True)
    return next((code for code in codes.values() if code != 0), 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
