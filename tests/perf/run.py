"""Run the benchmarks and write their sections of tests/perf/RESULTS.md.

    .venv/bin/python tests/perf/run.py                 # everything (what `make bench` runs)
    .venv/bin/python tests/perf/run.py --only search   # one benchmark (repeatable)
    .venv/bin/python tests/perf/run.py --quick         # smoke run: 10k documents, fewer repeats
    .venv/bin/python tests/perf/run.py --only cold_start --cold-start-rounds 15

One local stack (`python -m stratus_local`, free ports, temporary data dir) serves the whole run
and is stopped at the end. `--quick` prints its tables and writes no file unless `--output`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

if __package__ in (None, ""):  # run as a script: make `tests.perf` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# cold_start runs first: it needs no stack, and measures best before one is up.
BENCHMARKS = (
    "cold_start", "search", "retrievers", "upsert", "pinecone_calls", "promotion", "text_query",
    "auto_indexes", "ingestion", "load", "rate_limit", "backfill",
)  # fmt: skip
# Benchmarks whose module is not tests/perf/bench_<name>.py.
MODULES = {"cold_start": "tests.perf.cold_start"}


def _module(name: str) -> ModuleType:
    return importlib.import_module(MODULES.get(name, f"tests.perf.bench_{name}"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tests/perf/run.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 10k documents (auto_indexes: 20k), fewer repeats"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="results file (default tests/perf/RESULTS.md)"
    )
    parser.add_argument(
        "--cold-start-rounds",
        type=int,
        default=None,
        help="fresh-process rounds of cold_start (default 11, --quick 5)",
    )
    args = parser.parse_args(argv)
    if args.cold_start_rounds is not None and args.cold_start_rounds < 1:
        parser.error("--cold-start-rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from tests.perf.context import Sizes, context
    from tests.perf.report import RESULTS_PATH, machine, run_line, update_section

    args = parse_args(argv)
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    mode = "quick" if args.quick else "full"
    output = args.output if args.output is not None else (None if args.quick else RESULTS_PATH)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    if args.cold_start_rounds is not None:
        sizes = dataclasses.replace(sizes, cold_start_rounds=args.cold_start_rounds)
    host = machine()
    run_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as tmp, context(sizes, mode, Path(tmp)) as ctx:
        for name in names:
            module = _module(name)
            started = time.perf_counter()
            ctx.log(f"{name}: start")
            body = module.run(ctx)
            seconds = time.perf_counter() - started
            ctx.log(f"{name}: done in {seconds:.0f} s")
            section = f"## {module.TITLE}\n\n{run_line(mode, host, seconds)}\n\n{body}\n"
            print(f"\n{section}", flush=True)
            if output is not None:
                update_section(name, section, output)
    total = time.perf_counter() - run_started
    print(f"\n[bench] total {total:.0f} s ({', '.join(names)})", flush=True)
    if output is not None:
        print(f"[bench] results written to {output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
