"""Cold start (Lambda init): every HTTP function, in fresh processes, next to bare baselines.

    .venv/bin/python tests/perf/cold_start.py                  # 11 rounds, print the table
    .venv/bin/python tests/perf/cold_start.py --rounds 15 --only search --only health
    .venv/bin/python tests/perf/cold_start.py --only search --ref main       # before/after, one run
    .venv/bin/python tests/perf/cold_start.py --only search --variant tracing:STRATUS_TRACING=true
    .venv/bin/python tests/perf/run.py --only cold_start       # the RESULTS.md section

One measurement is one new `python -c` process that does what the Lambda runtime does after its
own start-up: puts the function's folder and the layer (`layers/stratus`, the layer's `python/`
on Lambda) on `sys.path`, imports the handler module (`functions/<op>/app.py` as `app`: every
import, `create_app(...)`, `Mangum(...)`), then calls `handler(event, context)` once with the
operation's API Gateway HTTP API (payload v2) event from tests/events/<op>.json. The probe times
the import and the first invocation with `time.perf_counter()` inside the process, so
interpreter start-up (the same for every app) is left out; the process wall time is reported
apart. It also records which heavy modules are in `sys.modules` after the import and after the
first request.

The environment is a Lambda's, not the developer's: template.yaml's variables (Pinecone as the
vector store), the `AWS_LAMBDA_*` variables, credentials in the environment (as Lambda gives
them) and no instance metadata. DynamoDB is a loopback stub served by this process
(tests/loopback_dynamodb.py), so the first request is a real one but never waits on a network:

- "unknown key" (every function): the events' API key is not in the stub's table, so an
  authenticated operation reads the key (one `GetItem` over HTTP to the stub, sent by
  stratus.adapters.dynamodb.point_reads, not boto3) and answers 401; `GET /v1/health` needs no
  key and answers 200. This is the path every authenticated function takes before its own work,
  the same in every run.
- "search, first vector query": the stub holds the key and the `legal-docs` namespace, and
  Pinecone is the loopback server of tests/loopback_pinecone.py holding the two documents of
  tests/events/upsert_documents.json (both seeded by this process through the real adapters);
  the search event's vector query then runs end to end (auth, namespace read, Pinecone
  describe and query) and answers 200. It shows what the deployed search function
  loads for its first real query. The Pinecone key comes from the environment, not Secrets
  Manager.
- "get_namespace, a real read": the same seeded stub; the event's key is valid and
  `GET /v1/namespaces/legal-docs` answers 200 with the namespace (two point reads: the key
  and the namespace). The cost of a successful request that needs no vector store.

Baselines, measured in the same rounds with tests/events/health.json: the smallest FastAPI app
behind Mangum (tests/perf/baselines/fastapi_mangum.py), the same with the garbage collector
paused during init as the functions do (tests/perf/baselines/fastapi_mangum_gc_paused.py),
aws-lambda-powertools' `APIGatewayHttpResolver` (tests/perf/baselines/powertools_resolver.py),
and the FastAPI app
whose route also imports boto3, builds a DynamoDB client and reads one item from the stub
(tests/perf/baselines/fastapi_mangum_dynamodb.py): the floor of any function whose first request
authenticates against DynamoDB through boto3 (the point reads exist to stay under it). Every
round runs every app once, in an order rotated by one each round; medians are over the rounds,
and ratios divide an app's median by a baseline's median of the same run.

Comparisons in one run: `--ref REF` also measures the chosen functions as git REF has them
(`functions/` and `layers/stratus` exported to a temporary directory), `--variant NAME:VAR=VALUE,...`
the same functions with extra environment variables; their rows carry `@REF` or `[NAME]` and
every round runs them beside the others, so their ratios to the same baselines compare directly
(a change's before and after, or a setting's cost) even on a machine whose load drifts.

Not measured: the Lambda runtime's own start, reading the code from a cold disk (every file here
is in the page cache after the first round), and the CPU share of a 1024 MB Lambda.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a script: make `tests.perf` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

if TYPE_CHECKING:
    from tests.loopback_dynamodb import DynamoDBStub
    from tests.perf.context import Context

TITLE = "Cold start (Lambda init): import + app construction + first request, fresh processes"

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
EVENTS_DIR = REPO_ROOT / "tests" / "events"
LAYER_DIR = REPO_ROOT / "layers" / "stratus"
BASELINES_DIR = Path(__file__).resolve().parent / "baselines"

# Functions whose event is not an HTTP API request (a schedule, an SQS batch).
NON_HTTP_FUNCTIONS = frozenset({"auto_create_indexes", "extractor"})
# Reported as loaded or not, after the import and after the first request.
HEAVY_MODULES = (
    "torch",
    "transformers",
    "sentence_transformers",
    "lancedb",
    "pyarrow",
    "pinecone",
    "openai",
    "PIL",
    "boto3",
    "numpy",
    "aws_xray_sdk",
)
# Installed here only by dev tools (uvicorn, schemathesis, pytest), not by the layer's
# requirements: httpx (the Pinecone SDK's HTTP client) imports its command line's dependencies
# when they are installed, ~50 ms on Lambda's behalf that Lambda never pays. The probe refuses
# them as a Lambda package would (ModuleNotFoundError) and reports who asked.
DEV_ONLY_MODULES = ("click", "rich", "pygments")
# The events' fixed key (tests/integration/test_handlers_with_events.py, EVENT_API_KEY).
EVENT_API_KEY = "sk_eventsEventsEventsEventsEvents00"
EMPTY_TABLE = "cold-start-empty"
SEEDED_TABLE = "cold-start-seeded"
SEEDED_ORG = "org_cold_start"
PINECONE_KEY = "pc-cold-start"
BASELINE = "bare FastAPI + Mangum"
BASELINE_DYNAMODB = "bare FastAPI + Mangum + boto3 GetItem"
BASELINE_GC_PAUSED = "bare FastAPI + Mangum, collector paused during init"
MARKER = "@@cold-start@@"
FULL_ROUNDS = 11

# What runs in each fresh process. Everything before `t0` the Lambda runtime has done before it
# imports the handler (it has json, time and importlib loaded, and reads the event itself).
PROBE = (
    r"""
import importlib, json, sys, time
task_root, module_name, event_path, layer, heavy, absent = sys.argv[1:7]
heavy, absent = heavy.split(","), frozenset(absent.split(","))
refused = []

class NotInThePackage:
    # A meta path finder: the modules Lambda's package does not hold cannot be imported here either.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in absent:
            refused.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInThePackage())
with open(event_path, encoding="utf-8") as file:
    event = json.load(file)

class Context:
    function_name = "stratus-cold-start"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stratus-cold-start"
    log_group_name = "/aws/lambda/stratus-cold-start"
    log_stream_name = "2025/11/22/[$LATEST]0123456789abcdef"
    def get_remaining_time_in_millis(self):
        return 29000

def loaded():
    return [name for name in heavy if name in sys.modules]

t0, c0 = time.perf_counter(), time.process_time()
sys.path[0:0] = [task_root] + ([layer] if layer else [])
module = importlib.import_module(module_name)
t1, c1 = time.perf_counter(), time.process_time()
after_import, modules_after_import = loaded(), len(sys.modules)
response = module.handler(event, Context())
t2, c2 = time.perf_counter(), time.process_time()
print("""
    + repr(MARKER)
    + r""" + json.dumps({
    "import_ms": (t1 - t0) * 1000.0,
    "invoke_ms": (t2 - t1) * 1000.0,
    "import_cpu_ms": (c1 - c0) * 1000.0,
    "invoke_cpu_ms": (c2 - c1) * 1000.0,
    "status": response.get("statusCode"),
    "body": str(response.get("body") or "")[:300],
    "after_import": after_import,
    "after_request": loaded(),
    "modules_after_import": modules_after_import,
    "modules_after_request": len(sys.modules),
    "refused": refused,
}), flush=True)
"""
)


# ---------------------------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class App:
    label: str
    task_root: Path
    module: str
    event: Path
    scenario: str  # "baseline", "unknown key" or "seeded"
    function_name: str
    layer: Path = LAYER_DIR  # the functions' layer (not used by the baselines)
    env: tuple[tuple[str, str], ...] = ()  # added to lambda_environment's
    group: str = ""  # "" for this checkout's functions, "@REF" or "[NAME]" for a comparison

    @property
    def is_baseline(self) -> bool:
        return self.scenario == "baseline"


@dataclass
class Sample:
    import_ms: float
    invoke_ms: float
    cpu_ms: float  # CPU time of the process (every thread) over import + first request
    wall_ms: float
    status: int | None
    body: str
    after_import: list[str]
    after_request: list[str]
    modules_after_import: int
    modules_after_request: int
    dynamodb_calls: Counter[str]
    dev_only: list[str] = field(default_factory=list)  # asked for, refused: not in the package
    round_index: int = -1

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.invoke_ms


@dataclass
class Measured:
    app: App
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def http_functions() -> list[str]:
    return sorted(
        path.parent.name
        for path in FUNCTIONS_DIR.glob("*/app.py")
        if path.parent.name not in NON_HTTP_FUNCTIONS and (EVENTS_DIR / f"{path.parent.name}.json").exists()
    )


def apps(only: Sequence[str] | None = None) -> list[App]:
    health = EVENTS_DIR / "health.json"
    chosen: list[App] = [
        App(BASELINE, BASELINES_DIR, "fastapi_mangum", health, "baseline", "baseline-fastapi"),
        App(
            "bare Powertools APIGatewayHttpResolver",
            BASELINES_DIR,
            "powertools_resolver",
            health,
            "baseline",
            "baseline-powertools",
        ),
        App(BASELINE_DYNAMODB, BASELINES_DIR, "fastapi_mangum_dynamodb", health, "baseline", "baseline-ddb"),
        App(
            BASELINE_GC_PAUSED,
            BASELINES_DIR,
            "fastapi_mangum_gc_paused",
            health,
            "baseline",
            "baseline-gc-paused",
        ),
    ]
    for operation in http_functions():
        if only and operation not in only:
            continue
        chosen.append(
            App(
                operation,
                FUNCTIONS_DIR / operation,
                "app",
                EVENTS_DIR / f"{operation}.json",
                "unknown key",
                f"stratus-{operation.replace('_', '-')}",
            )
        )
    if not only or "get_namespace" in only:
        chosen.append(
            App(
                "get_namespace, a real read (key and namespace seeded)",
                FUNCTIONS_DIR / "get_namespace",
                "app",
                EVENTS_DIR / "get_namespace.json",
                "seeded",
                "stratus-get-namespace",
            )
        )
    if not only or "search" in only:
        chosen.append(
            App(
                "search, first vector query (key, namespace and Pinecone seeded)",
                FUNCTIONS_DIR / "search",
                "app",
                EVENTS_DIR / "search.json",
                "seeded",
                "stratus-search",
            )
        )
    return chosen


def compared(
    chosen: Sequence[App], group: str, root: Path | None = None, env: Sequence[tuple[str, str]] = ()
) -> list[App]:
    """Copies of the chosen functions (not the baselines) labelled `group`: from the checkout at
    `root` (its functions and layer) and/or with extra environment variables."""
    copies = []
    for app in chosen:
        if app.is_baseline:
            continue
        task_root = app.task_root if root is None else root / app.task_root.relative_to(REPO_ROOT)
        layer = app.layer if root is None else root / app.layer.relative_to(REPO_ROOT)
        label = f"{app.label} {group}"
        copies.append(
            replace(app, label=label, task_root=task_root, layer=layer, env=tuple(env), group=group)
        )
    return copies


def export_ref(ref: str, into: Path) -> Path:
    """`functions/` and `layers/stratus` of git `ref`, written under `into`."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "functions", "layers/stratus"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True, timeout=120)
    return into


def parse_variant(text: str) -> tuple[str, list[tuple[str, str]]]:
    """`NAME:VAR=VALUE,VAR=VALUE` -> ("[NAME]", [(VAR, VALUE), ...])."""
    name, _, assignments = text.partition(":")
    pairs = [item.partition("=") for item in assignments.split(",") if item]
    if not name or not pairs or any(not var or not eq for var, eq, _ in pairs):
        raise ValueError(f"--variant {text!r}: expected NAME:VAR=VALUE[,VAR=VALUE...]")
    return f"[{name}]", [(var, value) for var, _, value in pairs]


# ---------------------------------------------------------------------------------------------
# The backends of the first request


@dataclass(frozen=True)
class Backends:
    dynamodb_url: str
    pinecone_url: str
    workdir: Path
    stub: DynamoDBStub


@contextmanager
def backends(workdir: Path) -> Iterator[Backends]:
    """The loopback DynamoDB and Pinecone, seeded; `workdir` is the functions' HOME."""
    from tests.loopback_dynamodb import DynamoDBStub
    from tests.loopback_pinecone import LoopbackPinecone

    workdir.mkdir(parents=True, exist_ok=True)
    with DynamoDBStub() as stub, LoopbackPinecone(api_key=PINECONE_KEY) as pinecone:
        _seed(stub.url, pinecone.url)
        yield Backends(stub.url, pinecone.url, workdir, stub)


def _seed(dynamodb_url: str, pinecone_url: str) -> None:
    """The events' key, the `legal-docs` namespace and its two documents, written through the
    real adapters and services (so the stored items are exactly what they read back)."""
    import boto3

    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus.adapters.pinecone.store import PineconeVectorStore
    from stratus.clock import iso_now
    from stratus.models.documents import UpsertDocumentsRequest
    from stratus.models.namespaces import CreateStandaloneNamespaceRequest
    from stratus.ports import ApiKey
    from stratus.services import documents, namespaces
    from stratus.services.api_keys import hash_api_key
    from tests.static_stores import StaticStores

    client = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="cold-start",
        aws_secret_access_key="cold-start",
    )
    metadata = DynamoDBMetadataStore(SEEDED_TABLE, endpoint_url=dynamodb_url, client=client)
    vectors = PineconeVectorStore(api_key_provider=lambda: PINECONE_KEY, control_plane_host=pinecone_url)
    stores = StaticStores(metadata=metadata, vectors=vectors)
    metadata.put_api_key(
        ApiKey(
            key_id="key_cold_start",
            key_hash=hash_api_key(EVENT_API_KEY),
            org_id=SEEDED_ORG,
            name="tests/perf/cold_start.py",
            permissions=["read", "write", "admin"],
            created_at=iso_now(),
        )
    )
    create = _event_body("create_standalone_namespace")
    namespace = namespaces.create_standalone_namespace(
        stores, SEEDED_ORG, CreateStandaloneNamespaceRequest.model_validate_json(create)
    )
    documents.upsert_documents(
        stores, namespace, UpsertDocumentsRequest.model_validate_json(_event_body("upsert_documents"))
    )


def _event_body(operation: str) -> str:
    event = json.loads((EVENTS_DIR / f"{operation}.json").read_text(encoding="utf-8"))
    return str(event["body"])


def lambda_environment(app: App, backends: Backends) -> dict[str, str]:
    """What a function sees on Lambda (template.yaml's Globals and the runtime's variables),
    pointed at the loopback backends; nothing from the developer's shell but PATH and LANG."""
    missing = str(backends.workdir / "no-aws-config")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(backends.workdir),
        "TZ": ":UTC",
        # The runtime's
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": app.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        # Where the runtime's API listens (unused here; stratus.lambda_init reads it as "on Lambda").
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "LAMBDA_TASK_ROOT": str(app.task_root),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # X-Ray (template.yaml's `Tracing: Active`): a sampled trace header, and a daemon address
        # where nothing listens (the SDK sends its UDP datagrams and never waits for an answer).
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_ACCESS_KEY_ID": "cold-start",
        "AWS_SECRET_ACCESS_KEY": "cold-start",
        "AWS_SESSION_TOKEN": "cold-start",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        # template.yaml's Globals
        "STRATUS_TABLE_NAME": SEEDED_TABLE if app.scenario == "seeded" else EMPTY_TABLE,
        "STRATUS_IDEMPOTENCY_TABLE_NAME": "cold-start-idempotency",
        "STRATUS_AWS_REGION": "us-east-1",
        "STRATUS_VECTOR_STORE": "pinecone",
        "STRATUS_PINECONE_INDEX_PREFIX": "stratus",
        "STRATUS_PINECONE_REGION": "us-east-1",
        "STRATUS_STAGE": "bench",
        "STRATUS_TRACING": "false",  # ApiTracing's default (`--variant tracing:STRATUS_TRACING=true`)
        "STRATUS_DATA_BUCKET": "stratus-data-bench-123456789012-us-east-1",
        "POWERTOOLS_SERVICE_NAME": "stratus",
        "POWERTOOLS_METRICS_NAMESPACE": "Stratus",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "LOG_LEVEL": "INFO",
        # The loopback backends (unset on Lambda, where the SDK's default endpoints apply)
        "STRATUS_AWS_ENDPOINT_URL": backends.dynamodb_url,
        "STRATUS_PINECONE_API_KEY": PINECONE_KEY,
        "STRATUS_PINECONE_CONTROL_PLANE_HOST": backends.pinecone_url,
    }
    return env


# ---------------------------------------------------------------------------------------------
# Running


def measure_once(app: App, backends: Backends, python: str = sys.executable) -> Sample:
    before = backends.stub.calls()
    started = time.perf_counter()
    completed = subprocess.run(
        [
            python,
            "-c",
            PROBE,
            str(app.task_root),
            app.module,
            str(app.event),
            "" if app.is_baseline else str(app.layer),
            ",".join(HEAVY_MODULES),
            ",".join(DEV_ONLY_MODULES),
        ],
        cwd=app.task_root,
        env={**lambda_environment(app, backends), **dict(app.env)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000.0
    calls = backends.stub.calls() - before
    lines = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{app.label}: exit {completed.returncode}: " + " | ".join(tail))
    data = json.loads(lines[-1][len(MARKER) :])
    return Sample(
        import_ms=float(data["import_ms"]),
        invoke_ms=float(data["invoke_ms"]),
        cpu_ms=float(data["import_cpu_ms"]) + float(data["invoke_cpu_ms"]),
        wall_ms=wall_ms,
        status=data["status"],
        body=str(data["body"]),
        after_import=[name for name in data["after_import"] if name in HEAVY_MODULES],
        after_request=[name for name in data["after_request"] if name in HEAVY_MODULES],
        dev_only=sorted(set(data["refused"])),
        modules_after_import=int(data["modules_after_import"]),
        modules_after_request=int(data["modules_after_request"]),
        dynamodb_calls=calls,
    )


def measure(
    chosen: Sequence[App], rounds: int, workdir: Path, log: Callable[[str], None] | None = None
) -> list[Measured]:
    """`rounds` rounds; each runs every app once, the order rotated by one per round."""
    results = [Measured(app) for app in chosen]
    with backends(workdir) as loopback:
        for round_index in range(rounds):
            shift = round_index % len(results)
            started = time.perf_counter()
            for measured in results[shift:] + results[:shift]:
                try:
                    sample = measure_once(measured.app, loopback)
                    sample.round_index = round_index
                    measured.samples.append(sample)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    measured.failures.append(str(error))
            if log is not None:
                log(f"cold_start: round {round_index + 1}/{rounds} in {time.perf_counter() - started:.0f} s")
    return results


# ---------------------------------------------------------------------------------------------
# Reporting


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.0f}"


def _modules(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "-"


def _statuses(samples: Sequence[Sample]) -> str:
    counts = Counter(sample.status for sample in samples)
    return ", ".join(f"{status}" if len(counts) == 1 else f"{status} x{n}" for status, n in counts.items())


def _calls(samples: Sequence[Sample]) -> str:
    if not samples:
        return "-"
    calls = samples[-1].dynamodb_calls
    return ", ".join(f"{operation} x{n}" for operation, n in sorted(calls.items())) or "-"


def _union(groups: Sequence[Sequence[str]]) -> list[str]:
    seen = {name for group in groups for name in group}
    return [name for name in HEAVY_MODULES if name in seen]


@dataclass(frozen=True)
class Row:
    label: str
    scenario: str
    group: str
    n: int
    import_ms: float
    invoke_ms: float
    total_ms: float
    cpu_ms: float
    wall_ms: float
    ratio: float  # median total / the bare app's median total
    paired_ratio: float  # median over rounds of total / the bare app's total of the same round
    cpu_ratio: float  # median CPU / the bare app's median CPU
    like_cpu_ratio: float  # median CPU / the like-for-like baseline's median CPU
    like_baseline: str
    status: str
    after_import: list[str]
    added_by_request: list[str]
    dynamodb: str
    modules_after_import: int
    modules_after_request: int


def _ratio(numerator: float, denominator: float) -> float:
    if numerator != numerator or denominator != denominator or not denominator:
        return float("nan")
    return numerator / denominator


def _paired_ratio(samples: Sequence[Sample], baseline: Sequence[Sample]) -> float:
    """The median over rounds of (this app's total / the baseline's total in the same round):
    steadier than a ratio of medians when the machine's load drifts during the run."""
    by_round = {s.round_index: s.total_ms for s in baseline}
    ratios = [s.total_ms / by_round[s.round_index] for s in samples if by_round.get(s.round_index)]
    return _median(ratios)


def rows(results: Sequence[Measured]) -> list[Row]:
    """One row per app. The like-for-like baseline of an app whose first request loaded boto3
    is the bare app that does the same (boto3 import, client, one GetItem); of the others, the
    bare FastAPI + Mangum app (point reads over HTTP do not count as boto3)."""
    totals = {m.app.label: _median([s.total_ms for s in m.samples]) for m in results}
    cpus = {m.app.label: _median([s.cpu_ms for s in m.samples]) for m in results}
    baseline_samples = next(m.samples for m in results if m.app.label == BASELINE)
    out = []
    for measured in results:
        samples = measured.samples
        label = measured.app.label
        after_import = _union([s.after_import for s in samples])
        after_request = _union([s.after_request for s in samples])
        uses_boto3 = label == BASELINE_DYNAMODB or "boto3" in after_request
        like = BASELINE_DYNAMODB if uses_boto3 and BASELINE_DYNAMODB in cpus else BASELINE
        out.append(
            Row(
                label=label,
                scenario=measured.app.scenario,
                group=measured.app.group,
                n=len(samples),
                import_ms=_median([s.import_ms for s in samples]),
                invoke_ms=_median([s.invoke_ms for s in samples]),
                total_ms=totals[label],
                cpu_ms=cpus[label],
                wall_ms=_median([s.wall_ms for s in samples]),
                ratio=_ratio(totals[label], totals[BASELINE]),
                paired_ratio=_paired_ratio(samples, baseline_samples),
                cpu_ratio=_ratio(cpus[label], cpus[BASELINE]),
                like_cpu_ratio=_ratio(cpus[label], cpus[like]),
                like_baseline=like,
                status=_statuses(samples),
                after_import=after_import,
                added_by_request=[name for name in after_request if name not in after_import],
                dynamodb=_calls(samples),
                modules_after_import=int(_median([s.modules_after_import for s in samples])),
                modules_after_request=int(_median([s.modules_after_request for s in samples])),
            )
        )
    return out


def _x(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}x"


def render(results: Sequence[Measured], rounds: int) -> str:
    from tests.perf.common import table

    table_rows = rows(results)
    header = (
        "app (first request)",
        "n",
        "import ms",
        "first request ms",
        "total ms",
        "total / bare FastAPI",
        "same-round total / bare FastAPI",
        "CPU ms",
        "CPU / bare FastAPI",
        "CPU / like-for-like baseline",
        "process wall ms",
        "status",
        "heavy modules after import",
        "added by the first request",
        "DynamoDB calls",
        "modules (import → request)",
    )
    body_rows = []
    for row in table_rows:
        label = row.label if row.scenario != "unknown key" else f"`{row.label}`"
        kind = "+ GetItem" if row.like_baseline == BASELINE_DYNAMODB else "bare"
        like = "-" if row.scenario == "baseline" else f"{_x(row.like_cpu_ratio)} ({kind})"
        body_rows.append(
            (
                label,
                str(row.n),
                _ms(row.import_ms),
                _ms(row.invoke_ms),
                _ms(row.total_ms),
                _x(row.ratio),
                _x(row.paired_ratio),
                _ms(row.cpu_ms),
                _x(row.cpu_ratio),
                like,
                _ms(row.wall_ms),
                row.status,
                _modules(row.after_import),
                _modules(row.added_by_request),
                row.dynamodb,
                f"{row.modules_after_import} → {row.modules_after_request}",
            )
        )
    functions = [r for r in table_rows if r.scenario == "unknown key" and not r.group]
    lines = [
        f"Every HTTP function in a fresh process per measurement, {rounds} rounds, every app once "
        "per round in a rotating order; medians over the rounds. import = loading the handler "
        "module (its imports, `create_app`, `Mangum`); first request = `handler(event, context)` "
        "with tests/events/<op>.json; total = the two, in wall-clock time; CPU = the process's CPU "
        "time (every thread) over the same span, which other processes on a shared machine "
        "disturb far less than wall time; process wall = spawn to exit, with interpreter start-up "
        "and exit. Ratios divide medians of this run by the bare FastAPI + Mangum app's; the "
        "same-round ratio is the median over the rounds of the app's total / the bare app's total "
        'of the same round. The like-for-like baseline is "+ GetItem" (the bare app whose route '
        "also imports boto3, builds a DynamoDB client and reads one item) for the rows whose first "
        'request loaded boto3, "bare" otherwise. Functions (names in code) get the "unknown key" '
        "first request: the event's key is not stored, so an authenticated function reads the key "
        "once from a loopback stub (a point read: one signed POST, no boto3) and answers 401 "
        "(health answers 200 without any call). The seeded rows answer 200 from a stub holding "
        "the key and namespace: get_namespace reads both; search runs the event's vector query "
        "end to end against a loopback Pinecone holding the documents. Method and caveats: "
        "tests/perf/cold_start.py.",
        "",
        table(header, body_rows),
        "",
    ]
    for name, key in (
        ("total / bare FastAPI", "ratio"),
        ("same-round total / bare FastAPI", "paired_ratio"),
        ("CPU / bare FastAPI", "cpu_ratio"),
        ("CPU / like-for-like baseline", "like_cpu_ratio"),
    ):
        values = [(getattr(r, key), r.label) for r in functions if getattr(r, key) == getattr(r, key)]
        within = [v for v in values if v[0] <= 1.3]
        if values:
            worst_ratio, worst_label = max(values)
            lines.append(
                f"- Functions within 1.3x by {name}: {len(within)}/{len(functions)}; "
                f"the highest is `{worst_label}` at {worst_ratio:.2f}x."
            )
    lines += _comparison_lines(table_rows)
    by_label = {r.label: r for r in table_rows}
    paused = by_label.get(BASELINE_GC_PAUSED)
    if paused is not None and paused.total_ms == paused.total_ms and paused.total_ms:
        against_paused = [
            (r.total_ms / paused.total_ms, r.label) for r in functions if r.total_ms == r.total_ms
        ]
        if against_paused:
            worst_ratio, worst_label = max(against_paused)
            paused_within = sum(1 for ratio, _ in against_paused if ratio <= 1.3)
            lines.append(
                f"- Every function pauses the garbage collector during init (stratus/lambda_init.py); "
                f"the bare app doing the same takes {_ms(paused.total_ms)} ms ({_x(paused.ratio)} the "
                f"plain bare app). Against it: {paused_within}/{len(functions)} functions within 1.3x by "
                f"total; the highest is `{worst_label}` at {worst_ratio:.2f}x."
            )
    bare, with_sdk = by_label.get(BASELINE), by_label.get(BASELINE_DYNAMODB)
    if bare is not None and with_sdk is not None and bare.total_ms == bare.total_ms and bare.total_ms:
        lines.append(
            f"- The AWS SDK part of an authenticated first request, measured on its own: the "
            f'"+ GetItem" baseline\'s first request (boto3 import, client, one GetItem) takes '
            f"{_ms(with_sdk.invoke_ms)} ms, {with_sdk.invoke_ms / bare.total_ms:.2f}x of the bare app's "
            f"whole total (CPU: the + GetItem baseline is {_x(with_sdk.cpu_ratio)} the bare app); a "
            "function whose first request goes through boto3 carries it whatever it imports lazily; "
            "the point reads (stratus.adapters.dynamodb.point_reads) keep key and namespace reads "
            "out of it."
        )
    dev_only = sorted({m.app.label for m in results for s in m.samples if s.dev_only})
    if dev_only:
        names = sorted({name for m in results for s in m.samples for name in s.dev_only})
        lines.append(
            f"- Asked for and refused, as in the Lambda package, which does not hold them "
            f"({', '.join(names)}: installed here by dev tools; httpx, the Pinecone SDK's HTTP "
            "client, imports its command line's dependencies when present and does without them): "
            f"{', '.join(dev_only)}."
        )
    failures = [(m.app.label, f) for m in results for f in m.failures]
    if failures:
        lines.append(f"- Failed measurements ({len(failures)}), left out of the medians:")
        lines += [f"  - {label}: {failure[:300]}" for label, failure in failures[:10]]
    for measured in results:
        if measured.app.scenario == "seeded" and measured.samples:
            sample = measured.samples[-1]
            lines.append(
                f"- {measured.app.label} answered {sample.status}; its body starts `{sample.body[:100]}`."
            )
    return "\n".join(lines)


def _comparison_lines(table_rows: Sequence[Row]) -> list[str]:
    """Per comparison group (`--ref`, `--variant`): its functions' CPU ratios beside this
    checkout's, function by function (median CPU / the bare app's median CPU, same run)."""
    own = {r.label: r for r in table_rows if not r.group and r.scenario != "baseline"}
    lines = []
    for group in sorted({r.group for r in table_rows if r.group}):
        pairs = [
            (own[r.label.removesuffix(f" {group}")], r)
            for r in table_rows
            if r.group == group and r.label.removesuffix(f" {group}") in own
        ]
        if not pairs:
            continue
        within = sum(1 for _, r in pairs if r.scenario == "unknown key" and r.cpu_ratio <= 1.3)
        functions = sum(1 for _, r in pairs if r.scenario == "unknown key")
        shown = "; ".join(f"{mine.label}: {_x(mine.cpu_ratio)} vs {_x(r.cpu_ratio)}" for mine, r in pairs)
        lines.append(
            f"- CPU / bare FastAPI, this checkout vs {group} (same rounds): {shown}. Functions of "
            f"{group} within 1.3x by CPU: {within}/{functions}."
        )
    return lines


# ---------------------------------------------------------------------------------------------
# Entry points


def run(ctx: Context) -> str:
    """The RESULTS.md section body (tests/perf/run.py; rounds: `ctx.sizes.cold_start_rounds`)."""
    rounds = ctx.sizes.cold_start_rounds
    results = measure(apps(), rounds, ctx.workdir / "cold_start", log=ctx.log)
    return render(results, rounds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests/perf/cold_start.py", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=FULL_ROUNDS, help="rounds (default %(default)s)")
    parser.add_argument(
        "--only", action="append", default=None, help="only this function (repeatable); baselines always run"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every sample here")
    parser.add_argument(
        "--ref",
        default=None,
        help="also measure the chosen functions as this git ref has them, in the same rounds (before/after)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE[,VAR=VALUE...]",
        help="also measure the chosen functions with these environment variables (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        variants = [parse_variant(text) for text in args.variant]
    except ValueError as error:
        parser.error(str(error))

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="stratus-cold-start-") as tmp:
        chosen = apps(args.only)
        extra = [app for group, env in variants for app in compared(chosen, group, env=env)]
        if args.ref:
            extra += compared(chosen, f"@{args.ref}", root=export_ref(args.ref, Path(tmp) / "ref"))
        results = measure(chosen + extra, args.rounds, Path(tmp), log=log)
    print(render(results, args.rounds))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    m.app.label: [
                        {
                            "import_ms": s.import_ms,
                            "invoke_ms": s.invoke_ms,
                            "cpu_ms": s.cpu_ms,
                            "wall_ms": s.wall_ms,
                            "round": s.round_index,
                            "status": s.status,
                            "after_import": s.after_import,
                            "after_request": s.after_request,
                        }
                        for s in m.samples
                    ]
                    for m in results
                },
                indent=1,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
