"""Load: mixed traffic against the local stack served by several uvicorn workers.

20 standalone namespaces of 50k documents are loaded through the API, then a bounded,
self-stopping generator on loopback (asyncio + httpx, closed loop: each virtual user sends its
next request when the last one answered) runs for one minute: 80 % vector search (half with a
payload filter), 15 % upserts of 100 documents, 5 % namespace reads. Every answer is checked
(status 200, and a search returns `top_k` results); anything else is an error and is counted.

While the measured window runs, py-spy samples the stack's processes (the uvicorn workers and
the main process that hosts the AWS emulation); the report gives the profile by package and the
hottest Stratus functions, which is where the first bottleneck is read from.

Why not locust: it would be one more dependency (gevent, with its monkey-patching) to drive
three request shapes; a 150-line asyncio generator does it with the httpx already in the dev
extra and reports its own CPU time, so the reader can see how much of the 2 cores it took.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.perf.common import CATEGORIES, ms, random_unit_vectors, table
from tests.perf.context import Context
from tests.perf.stack import (
    LocalStack,
    create_standalone,
    expect,
    json_floats,
    post_upsert,
    running_stack,
    upsert_body,
)

TITLE = "Load: mixed traffic on the local stack (uvicorn workers)"

INDEX = "emb"
TOP_K = 10
UPSERT_SIZE = 100
LOAD_BATCH = 1000
# Share of each operation in the traffic (the mix).
MIX = (("search", 0.80), ("upsert", 0.15), ("namespace_read", 0.05))
REQUEST_TIMEOUT_SECONDS = 30.0
# Distinct pre-encoded bodies the generator cycles through (encoding is not what is measured).
SEARCH_BODIES = 400
UPSERT_BODIES = 60
PY_SPY_RATE = 50
SETTLE_MAX_SECONDS = 180.0


@dataclass(frozen=True)
class LoadSizes:
    namespaces: int
    documents: int
    dimension: int
    seconds: float
    warmup_seconds: float
    users: int
    workers: int
    loaders: int
    profile_seconds: float

    @classmethod
    def for_mode(cls, mode: str) -> LoadSizes:
        workers = max(2, os.cpu_count() or 2)
        if mode == "full":
            return cls(20, 50_000, 128, 60.0, 5.0, 16, workers, 2, 20.0)
        return cls(20, 2_000, 128, 10.0, 2.0, 8, workers, 2, 5.0)


@dataclass
class Sample:
    operation: str
    started: float
    seconds: float
    error: str | None


@dataclass
class Traffic:
    samples: list[Sample] = field(default_factory=list)
    measured_seconds: float = 0.0
    generator_cpu_seconds: float = 0.0
    # CPU seconds of the stack's threads over the measured window (see thread_cpu_seconds).
    stack_cpu: dict[ThreadKey, float] = field(default_factory=dict)


def namespace_id(position: int) -> str:
    return f"load-{position:02d}"


# ---------------------------------------------------------------------------------------------
# Loading


def load_namespaces(ctx: Context, stack: LocalStack, sizes: LoadSizes) -> float:
    """Create and fill every namespace through the API (`loaders` in parallel); seconds taken."""
    started = time.perf_counter()
    positions = iter(range(sizes.namespaces))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def loader() -> None:
        with stack.client() as client:
            while True:
                with lock:
                    position = next(positions, None)
                if position is None or failures:
                    return
                try:
                    load_one(client, position, sizes)
                except BaseException as error:  # reported by the caller
                    failures.append(error)
                    return
                ctx.log(f"load: {namespace_id(position)} filled ({time.perf_counter() - started:.0f} s)")

    threads = [threading.Thread(target=loader, name=f"loader-{n}") for n in range(sizes.loaders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


def settle(stack: LocalStack) -> float:
    """Wait until the stack is idle (under 10 % of a core for 2 s, at most SETTLE_MAX_SECONDS):
    the workers build and update their tables' indexes in the background after a bulk load
    (stratus.adapters.lancedb.maintenance), and the traffic is measured on the steady state."""
    started = time.perf_counter()
    processes = stack_processes(stack.process.pid)
    while time.perf_counter() - started < SETTLE_MAX_SECONDS:
        before = stack_cpu_seconds(processes)
        time.sleep(2.0)
        if stack_cpu_seconds(processes) - before < 0.2:
            break
    return time.perf_counter() - started


def load_one(client: httpx.Client, position: int, sizes: LoadSizes) -> None:
    name = namespace_id(position)
    create_standalone(client, name, INDEX, sizes.dimension)
    vectors = random_unit_vectors(sizes.documents, seed=1000 + position, dimension=sizes.dimension)
    for start in range(0, sizes.documents, LOAD_BATCH):
        post_upsert(client, name, upsert_body(INDEX, vectors[start : start + LOAD_BATCH], start))


# ---------------------------------------------------------------------------------------------
# Traffic


def search_bodies(sizes: LoadSizes, rng: random.Random) -> list[bytes]:
    """Half plain vector queries, half filtered on one category (10 % of the documents)."""
    vectors = json_floats(random_unit_vectors(SEARCH_BODIES, seed=7, dimension=sizes.dimension))
    bodies = []
    for position, vector in enumerate(vectors):
        body: dict[str, Any] = {
            "namespace_id": namespace_id(rng.randrange(sizes.namespaces)),
            "queries": [{"vector_name": INDEX, "vector": vector, "top_k": TOP_K}],
            "top_k": TOP_K,
        }
        if position % 2:
            body["filters"] = {
                "AND": [{"field": "category", "operator": "eq", "value": rng.choice(CATEGORIES)}]
            }
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def upsert_requests(sizes: LoadSizes, rng: random.Random) -> list[tuple[str, bytes]]:
    """(namespace, body): 100 documents each, half new ids, half overwriting loaded ones."""
    requests = []
    for position in range(UPSERT_BODIES):
        vectors = random_unit_vectors(UPSERT_SIZE, seed=5000 + position, dimension=sizes.dimension)
        start = sizes.documents + position * UPSERT_SIZE if position % 2 else rng.randrange(sizes.documents)
        name = namespace_id(rng.randrange(sizes.namespaces))
        requests.append((name, upsert_body(INDEX, vectors, start)))
    return requests


def check_answer(operation: str, response: httpx.Response) -> str | None:
    """None if the answer is what a client expects, else what was wrong."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if operation == "search":
        results = response.json().get("results", [])
        if len(results) != TOP_K:
            return f"search returned {len(results)} results, expected {TOP_K}"
    if operation == "upsert" and response.json().get("inserted") != UPSERT_SIZE:
        return "upsert did not confirm every document"
    return None


async def run_traffic(stack: LocalStack, sizes: LoadSizes) -> Traffic:
    processes = stack_processes(stack.process.pid)
    cpu_at_start: dict[ThreadKey, float] = {}

    async def snapshot_after_warmup() -> None:
        await asyncio.sleep(sizes.warmup_seconds)
        cpu_at_start.update(thread_cpu_seconds(processes))

    rng = random.Random(20261122)
    searches = search_bodies(sizes, rng)
    upserts = upsert_requests(sizes, rng)
    operations = [name for name, _share in MIX]
    weights = [share for _name, share in MIX]
    traffic = Traffic()
    headers = {"Authorization": f"Bearer {stack.info['api_key']}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=sizes.users, max_keepalive_connections=sizes.users)
    cpu_started = time.process_time()
    started = time.perf_counter()
    deadline = started + sizes.warmup_seconds + sizes.seconds

    async with httpx.AsyncClient(
        base_url=stack.api_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:

        async def user(number: int) -> None:
            own = random.Random(number)
            while time.perf_counter() < deadline:
                operation = own.choices(operations, weights)[0]
                sent = time.perf_counter()
                try:
                    if operation == "search":
                        response = await client.post("/v1/search", content=own.choice(searches))
                    elif operation == "upsert":
                        name, body = own.choice(upserts)
                        response = await client.post(f"/v1/namespaces/{name}/documents/direct", content=body)
                    else:
                        response = await client.get(
                            f"/v1/namespaces/{namespace_id(own.randrange(sizes.namespaces))}"
                        )
                    error = check_answer(operation, response)
                except httpx.HTTPError as failure:
                    error = type(failure).__name__
                answered = time.perf_counter()
                traffic.samples.append(Sample(operation, sent - started, answered - sent, error))

        await asyncio.gather(snapshot_after_warmup(), *(user(number) for number in range(sizes.users)))
        at_end = thread_cpu_seconds(processes)
        traffic.stack_cpu = {key: seconds - cpu_at_start.get(key, 0.0) for key, seconds in at_end.items()}

    traffic.measured_seconds = time.perf_counter() - started - sizes.warmup_seconds
    traffic.generator_cpu_seconds = time.process_time() - cpu_started
    traffic.samples = [s for s in traffic.samples if s.started >= sizes.warmup_seconds]
    return traffic


# ---------------------------------------------------------------------------------------------
# Profile


class Profiler:
    """py-spy sampling the stack's process tree for the measured window (if py-spy is here)."""

    def __init__(self, stack: LocalStack, seconds: float, output: Path) -> None:
        self._stack = stack
        self._seconds = seconds
        self._output = output
        self._process: subprocess.Popen[bytes] | None = None
        self.problem: str | None = None

    def start(self) -> None:
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(binary).exists():
            self.problem = "py-spy is not installed (it comes with the dev extra)"
            return
        args = [
            binary, "record", "--pid", str(self._stack.process.pid), "--subprocesses",
            "--rate", str(PY_SPY_RATE), "--duration", str(int(self._seconds)),
            "--format", "raw", "--output", str(self._output), "--nonblocking",
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self) -> list[tuple[list[str], int]]:
        """[(frames root first, samples)] from py-spy's collapsed-stack output."""
        if self._process is None:
            return []
        _out, err = self._process.communicate(timeout=self._seconds + 60)
        if self._process.returncode != 0 or not self._output.exists():
            self.problem = (
                f"py-spy failed ({self._process.returncode}): {err.decode(errors='replace')[-300:]}"
            )
            return []
        stacks = []
        for line in self._output.read_text(encoding="utf-8", errors="replace").splitlines():
            frames, _, count = line.rpartition(" ")
            if frames and count.isdigit():
                stacks.append((frames.split(";"), int(count)))
        return stacks


# Package of a frame, by the path py-spy prints ("function (path:line)").
PACKAGES = (
    ("stratus/", "stratus (our code)"),
    ("stratus_local/", "stratus_local (local stack)"),
    ("lancedb/", "lancedb"),
    ("pyarrow/", "pyarrow"),
    ("moto/", "moto (AWS emulation)"),
    ("botocore/", "botocore/boto3"),
    ("boto3/", "botocore/boto3"),
    ("pydantic", "pydantic"),
    ("fastapi/", "fastapi/starlette"),
    ("starlette/", "fastapi/starlette"),
    ("uvicorn/", "uvicorn/h11/asyncio"),
    ("h11/", "uvicorn/h11/asyncio"),
    ("asyncio/", "uvicorn/h11/asyncio"),
    ("werkzeug/", "werkzeug (moto's server)"),
    ("json/", "json"),
    ("numpy/", "numpy"),
    ("aws_lambda_powertools/", "powertools"),
)


def package_of(frame: str) -> str:
    for marker, name in PACKAGES:
        if marker in frame:
            return name
    return "other (stdlib, threads, native)"


def process_of(frames: list[str]) -> str:
    """py-spy's `--subprocesses` roots each stack at `process <pid>:"<command line>"` frames,
    the supervisor's first and a worker's under it: the innermost one is the process sampled."""
    processes = [frame for frame in frames if frame.startswith("process ")]
    if not processes:
        return "?"
    pid = processes[-1].split(":", 1)[0].removeprefix("process ")
    if "spawn_main" in processes[-1]:
        return f"uvicorn worker (pid {pid})"
    return f"main (pid {pid}: moto, ingest worker, supervisor)"


@dataclass
class Profile:
    total: int
    by_package: list[tuple[str, int]]
    by_process: list[tuple[str, int]]
    hottest: list[tuple[str, int]]


def summarize_profile(stacks: list[tuple[list[str], int]]) -> Profile:
    """Self samples by package (leaf frame), samples by process, and the Stratus functions with
    the most inclusive samples (each counted once per stack)."""
    by_package: collections.Counter[str] = collections.Counter()
    by_process: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in stacks:
        total += count
        by_package[package_of(frames[-1])] += count
        by_process[process_of(frames)] += count
        for frame in set(frames):
            if "stratus/" in frame and "stratus_local/" not in frame:
                inclusive[_short(frame)] += count
    return Profile(total, by_package.most_common(), by_process.most_common(), inclusive.most_common(12))


def _short(frame: str) -> str:
    """`upsert (stratus/services/documents.py:120)` without the line number and the path prefix."""
    function, _, where = frame.partition(" (")
    path = where.split(":", 1)[0]
    return f"`{function}` ({path[path.find('stratus/') :]})"


# ---------------------------------------------------------------------------------------------
# CPU by thread: py-spy sees Python frames only; LanceDB runs its queries on native (Rust)
# threads, so /proc's per-thread CPU counters are what show where the cores went.

ThreadKey = tuple[str, str]  # (process role, thread name)


def stack_processes(root: int) -> dict[int, str]:
    """{pid: role} for the stack's supervisor and its direct children (the uvicorn workers)."""
    processes = {root: "main"}
    children = Path(f"/proc/{root}/task/{root}/children")
    for child in children.read_text().split() if children.exists() else []:
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        processes[int(child)] = "uvicorn worker" if b"spawn_main" in command else "child"
    return processes


PROCESS_TOTAL = "(whole process)"


def thread_cpu_seconds(processes: dict[int, str]) -> dict[ThreadKey, float]:
    """CPU seconds (user + system) so far, per (role, thread name) summed over the processes of
    a role, plus (role, PROCESS_TOTAL): the process counters keep the CPU of threads that ended
    (moto's server runs a thread per connection), the thread counters cannot."""
    totals: collections.defaultdict[ThreadKey, float] = collections.defaultdict(float)
    for pid, role in processes.items():
        try:
            totals[(role, PROCESS_TOTAL)] += _cpu_seconds(Path(f"/proc/{pid}/stat"))
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue  # the process ended
        for task in tasks:
            try:
                name = (task / "comm").read_text().strip()
                seconds = _cpu_seconds(task / "stat")
            except OSError:
                continue  # the thread ended
            totals[(role, name.rstrip("0123456789-") or name)] += seconds
    return dict(totals)


def stack_cpu_seconds(processes: dict[int, str]) -> float:
    """CPU seconds so far of all the stack's processes (ended ones count for nothing)."""
    total = 0.0
    for pid in processes:
        with contextlib.suppress(OSError):
            total += _cpu_seconds(Path(f"/proc/{pid}/stat"))
    return total


def _cpu_seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# ---------------------------------------------------------------------------------------------
# Report


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q)) if values else float("nan")


def operation_rows(traffic: Traffic) -> Iterator[list[str]]:
    names = [name for name, _ in MIX]
    for name in [*names, "all"]:
        samples = [s for s in traffic.samples if name in ("all", s.operation)]
        seconds = [s.seconds for s in samples]
        errors = sum(1 for s in samples if s.error)
        share = len(samples) / len(traffic.samples) if traffic.samples else 0.0
        yield [
            f"`{name}`" if name != "all" else "**all**",
            f"{len(samples):,}",
            f"{share:.0%}",
            f"{len(samples) / traffic.measured_seconds:,.1f}",
            ms(percentile(seconds, 50)),
            ms(percentile(seconds, 95)),
            ms(percentile(seconds, 99)),
            str(errors),
        ]


def render(
    sizes: LoadSizes,
    load_seconds: float,
    settle_seconds: float,
    traffic: Traffic,
    profile: Profile | None,
    problem: str | None,
) -> str:
    documents = sizes.namespaces * sizes.documents
    errors = collections.Counter(s.error for s in traffic.samples if s.error)
    run_seconds = sizes.warmup_seconds + sizes.seconds
    generator_share = traffic.generator_cpu_seconds / run_seconds / (os.cpu_count() or 1)
    header = ["operation", "requests", "share", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    lines = [
        f"{sizes.namespaces} standalone namespaces x {sizes.documents:,} documents x {sizes.dimension} dims "
        f"({documents:,} documents, cosine) loaded through the API in {load_seconds:.0f} s "
        f"({documents / load_seconds:,.0f} docs/s, {sizes.loaders} loaders, batches of {LOAD_BATCH}; the "
        f"workers' background index builds then took {settle_seconds:.0f} s more to settle). "
        f"Then {sizes.users} closed-loop virtual users for {sizes.seconds:.0f} s after a "
        f"{sizes.warmup_seconds:.0f} s warm-up, against `python -m stratus_local --workers {sizes.workers}`: "
        f"80 % `POST /v1/search` (top_k {TOP_K}, half with `category eq <one of 10>`), 15 % upserts of "
        f"{UPSERT_SIZE} documents (half new ids, half overwrites), 5 % `GET /v1/namespaces/{{id}}`, "
        "namespaces picked at random. An error is any answer but 200, or a search without "
        f"{TOP_K} results, or a transport failure.",
        "",
        table(header, list(operation_rows(traffic))),
        "",
        f"- Errors: {dict(errors) if errors else 'none'}.",
        f"- The generator ran on the same machine and took {traffic.generator_cpu_seconds:.1f} s of CPU "
        f"over the {run_seconds:.0f} s run ({generator_share:.0%} of the machine); the stack had the rest.",
    ]
    lines += ["", render_thread_cpu(traffic)]
    if profile is None or profile.total == 0:
        lines.append(f"- No profile: {problem or 'py-spy recorded no samples'}.")
        return "\n".join(lines)
    return "\n".join([*lines, "", render_profile(profile)])


def render_thread_cpu(traffic: Traffic) -> str:
    cpu = traffic.stack_cpu
    roles = sorted({role for role, _ in cpu}, key=lambda role: -cpu.get((role, PROCESS_TOTAL), 0.0))
    total = sum(cpu.get((role, PROCESS_TOTAL), 0.0) for role in roles)
    capacity = traffic.measured_seconds * (os.cpu_count() or 1)
    rows = []
    for role in roles:
        named = sorted(
            (
                (thread, seconds)
                for (owner, thread), seconds in cpu.items()
                if owner == role and thread != PROCESS_TOTAL
            ),
            key=lambda item: -item[1],
        )
        shown = [(thread, seconds) for thread, seconds in named if seconds >= 0.03 * total]
        rest = cpu.get((role, PROCESS_TOTAL), 0.0) - sum(seconds for _, seconds in shown)
        for thread, seconds in [*shown, ("(other and ended threads)", rest)]:
            if seconds >= 0.005 * total:
                rows.append([role, f"`{thread}`", f"{seconds:.1f}", f"{seconds / total:.0%}"])
    return "\n".join(
        [
            f"CPU of the stack's processes over the measured window, from /proc: {total:.1f} s of the "
            f"{capacity:.0f} s the machine had ({total / capacity:.0%}), by thread name (workers summed; "
            "LanceDB runs queries and writes on its own native threads, which py-spy does not see):",
            "",
            table(["process", "thread", "CPU s", "share"], rows),
        ]
    )


def render_profile(profile: Profile) -> str:
    def shares(counts: list[tuple[str, int]]) -> list[list[str]]:
        return [[name, f"{count / profile.total:.1%}"] for name, count in counts]

    processes = ", ".join(f"{name} {count / profile.total:.0%}" for name, count in profile.by_process)
    return "\n".join(
        [
            f"py-spy ({PY_SPY_RATE} Hz, all the stack's processes, {profile.total:,} samples of busy "
            "threads) over a second window of the same traffic (the table above was measured without "
            "it). Where the Python time went, by the package of the running frame:",
            "",
            table(["package", "share of samples"], shares(profile.by_package)),
            "",
            f"By process: {processes}. The Stratus functions with the most samples (inclusive: time in "
            "them and in what they call):",
            "",
            table(["function", "share of samples"], shares(profile.hottest)),
        ]
    )


def run(ctx: Context) -> str:
    sizes = LoadSizes.for_mode(ctx.mode)
    workdir = ctx.workdir / "load"
    with running_stack(workdir / "stack", workers=sizes.workers) as stack:
        ctx.log(f"load: stack with {sizes.workers} workers at {stack.api_url}; loading")
        load_seconds = load_namespaces(ctx, stack, sizes)
        with stack.client() as client:
            expect(client.get(f"/v1/namespaces/{namespace_id(0)}"))
        settle_seconds = settle(stack)
        ctx.log(
            f"load: {sizes.namespaces} namespaces in {load_seconds:.0f} s, "
            f"settled in {settle_seconds:.0f} s; traffic for {sizes.seconds:.0f} s"
        )
        # The measured window runs without the profiler (py-spy sampling three processes at
        # 50 Hz takes a visible share of 2 cores); a shorter second window is profiled.
        traffic = asyncio.run(run_traffic(stack, sizes))
        ctx.log(f"load: measured; profiling {sizes.profile_seconds:.0f} s more of the same traffic")
        profiled = LoadSizes(**{**asdict(sizes), "seconds": sizes.profile_seconds})
        profiler = Profiler(stack, sizes.profile_seconds, workdir / "profile.txt")
        threading.Timer(sizes.warmup_seconds, profiler.start).start()
        asyncio.run(run_traffic(stack, profiled))
        stacks = profiler.finish()
        keep = os.environ.get("STRATUS_LOAD_PROFILE")
        if keep and (workdir / "profile.txt").exists():  # the raw stacks, for a closer look
            shutil.copyfile(workdir / "profile.txt", keep)
    profile = summarize_profile(stacks) if stacks else None
    return render(sizes, load_seconds, settle_seconds, traffic, profile, profiler.problem)
