"""Cold-start hygiene (tests/perf/cold_start.py measures it; nothing here is timed): a Lambda
function loads its own operation's router and nothing heavy at init, and the search function's
first vector query loads the vector store's SDK, never boto3 (its DynamoDB reads are point reads
over HTTP), a model, numpy, the X-Ray SDK (tracing is off, as template.yaml deploys the HTTP
functions by default) or another store's SDK.

Every check runs in a fresh interpreter: this process has long imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.perf import cold_start

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER_DIR = REPO_ROOT / "layers" / "stratus"
FUNCTIONS_DIR = REPO_ROOT / "functions"
ROUTERS = "stratus.api.routers"

# No function may load these when it is imported (Lambda init).
HEAVY_AT_INIT = (
    "torch",
    "transformers",
    "sentence_transformers",
    "lancedb",
    "pyarrow",
    "pinecone",
    "openai",
    "PIL",
    "numpy",
    "boto3",
    "aws_xray_sdk",  # with STRATUS_TRACING on, loaded by the first request, never at init
)
# What the search function's first vector query may add: the deployed vector store's SDK. The key
# and the namespace are point reads, which go over stratus.adapters.dynamodb.point_reads, not boto3.
NEEDED_BY_A_VECTOR_QUERY = frozenset({"pinecone"})

# Imports the HTTP functions one after the other, as Lambda does (by path, the layer on
# sys.path), and reports what each import added to sys.modules.
_IMPORT_PROBE = r"""
import importlib.util, json, sys
layer, heavy, paths = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
sys.path.insert(0, layer)
report = {}

import stratus.api.operations as registry
report["<registry>"] = {
    "routers": sorted(m for m in sys.modules if m.startswith("stratus.api.routers.")),
    "heavy": sorted(m for m in heavy if m in sys.modules),
    "search_known": "search" in registry.OPERATIONS,
}
seen = set(sys.modules)
for path in paths:
    operation = path.split("/")[-2]
    spec = importlib.util.spec_from_file_location(f"stratus_lambda_{operation}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    added = set(sys.modules) - seen
    seen |= added
    report[operation] = {
        "routers": sorted(m for m in added if m.startswith("stratus.api.routers.")),
        "heavy": sorted(m for m in heavy if m in added),
    }
print(json.dumps(report))
"""


def _http_function_paths() -> list[Path]:
    return [FUNCTIONS_DIR / operation / "app.py" for operation in cold_start.http_functions()]


def _import_report() -> dict[str, dict[str, object]]:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _IMPORT_PROBE,
            str(LAYER_DIR),
            ",".join(HEAVY_AT_INIT),
            *map(str, _http_function_paths()),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report: dict[str, dict[str, object]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return report


def test_every_http_function_imports_only_its_router_and_nothing_heavy() -> None:
    # Given every HTTP function, imported one after the other in one fresh interpreter
    report = _import_report()

    # Then the registry itself imported no router (and `in` imported none either)
    registry = report.pop("<registry>")
    assert registry["search_known"] is True
    assert registry["routers"] == [], f"importing stratus.api.operations loaded {registry['routers']}"
    assert registry["heavy"] == []
    # And each function added its own router module and no other, and no heavy module
    assert sorted(report) == cold_start.http_functions()
    problems = []
    for operation, added in report.items():
        if added["routers"] != [f"{ROUTERS}.{operation}"]:
            problems.append(f"{operation}: loaded router modules {added['routers']}")
        if added["heavy"]:
            problems.append(f"{operation}: loaded {added['heavy']} at import (Lambda init)")
    assert not problems, "\n".join(problems)


def test_search_first_vector_query_loads_only_the_sdks_it_needs(tmp_path: Path) -> None:
    # Given the deployed configuration (Pinecone) on loopback servers holding the events' key,
    # the `legal-docs` namespace and its two documents
    (app,) = [app for app in cold_start.apps(["search"]) if app.scenario == "seeded"]
    with cold_start.backends(tmp_path) as backends:
        # When a fresh interpreter imports functions/search/app.py and sends it the search event
        sample = cold_start.measure_once(app, backends)

    # Then the vector query answered, with the seeded document
    assert sample.status == 200, sample.body
    assert '"document_id":"contract-0001"' in sample.body
    # And init loaded nothing heavy, and the first query only the Pinecone SDK
    assert sample.after_import == [], f"init loaded {sample.after_import}"
    extra = set(sample.after_request) - NEEDED_BY_A_VECTOR_QUERY
    assert not extra, f"the first vector query loaded {sorted(extra)}"
    assert sample.dynamodb_calls["GetItem"] >= 1
