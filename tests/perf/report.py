"""RESULTS.md: a fixed intro, then one section per benchmark between markers, so a run of one
benchmark (`run.py --only NAME`) rewrites its own section and leaves the others as they were."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"

INTRO = """# Stratus benchmarks

Written by `make bench` (`.venv/bin/python tests/perf/run.py`); `run.py --only NAME` reruns one
section, `--quick` is a smoke run (10k documents, fewer repeats) that prints its tables and writes
no file unless `--output` is given. Benchmarks measure and report: nothing here is asserted, and
the figures are only comparable within one run (each section says when and where it ran).
Latencies are in milliseconds; p50/p95 are over the repeats listed in `n`. A ratio compares two
rows measured in the same run, interleaved where possible, so machine noise hits both alike.
"""


def _marker(name: str, edge: str) -> str:
    return f"<!-- bench:{name}:{edge} -->"


def update_section(name: str, body: str, path: Path = RESULTS_PATH) -> None:
    """Replace the section `name` (or append it) and write the file atomically."""
    text = path.read_text(encoding="utf-8") if path.exists() else INTRO
    block = f"{_marker(name, 'start')}\n{body.strip()}\n{_marker(name, 'end')}"
    pattern = re.compile(
        re.escape(_marker(name, "start")) + r".*?" + re.escape(_marker(name, "end")), re.DOTALL
    )
    if pattern.search(text):
        text = pattern.sub(lambda _match: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


# ---------------------------------------------------------------------------------------------
# The machine


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    python: str
    lancedb: str
    load_average: str

    def short(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores, {self.ram_gib:.0f} GiB, "
            f"Python {self.python}, lancedb {self.lancedb}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return float("nan")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> Machine:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        ram_gib=_ram_gib(),
        python=platform.python_version(),
        lancedb=_version("lancedb"),
        load_average=" / ".join(f"{value:.2f}" for value in load),
    )


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_line(mode: str, host: Machine, seconds: float) -> str:
    return (
        f"_Run {now()}, {mode} mode, {seconds:.0f} s, load average at start {host.load_average}; "
        f"{host.short()}._"
    )
