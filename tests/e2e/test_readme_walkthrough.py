"""The README's walkthrough, run for real: its bash block, as written, against a local stack.

Given a running stack (default environment: no OpenAI key) and a working directory whose
`.stratus/stack.json` is the stack's info file, as `make dev` leaves it,
when the walkthrough's bash block runs with BASE pointed at that stack,
then every step answers as the README says and the last search returns `cat` first."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO_ROOT, LocalStack, stack_environment, start_stack

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
WALKTHROUGH_HEADING = "## Walkthrough (works with `make dev` as written)"
UPLOAD_HEADING = "## Walkthrough: upload a file, find it by text"
SDK_HEADING = "## Using the Mixpeek SDK"
DEFAULT_API_ROOT = "http://127.0.0.1:8000"
# The script embeds text with the in-process MiniLM model: the first call loads it.
SCRIPT_TIMEOUT_SECONDS = 240


def walkthrough_script(readme: str, heading: str = WALKTHROUGH_HEADING) -> str:
    """The first ```bash block of a walkthrough section (before the next `## ` heading)."""
    assert heading in readme, f"README.md has no section {heading!r}"
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```bash\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)
    assert match, "the walkthrough section has no ```bash block"
    return match.group(1)


def pointed_at(script: str, api_root: str) -> str:
    """The script with BASE on the test's stack instead of the `make dev` default port."""
    assert script.count(DEFAULT_API_ROOT) == 1, f"expected BASE={DEFAULT_API_ROOT}/v1 once:\n{script}"
    return script.replace(DEFAULT_API_ROOT, api_root)


def json_documents(output: str) -> list[Any]:
    """Every JSON value curl printed, in order (curl -s adds no newline between answers)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(output) and output[position].isspace():
            position += 1
        if position == len(output):
            return documents
        document, position = decoder.raw_decode(output, position)
        documents.append(document)


@pytest.fixture(scope="module")
def walkthrough_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = start_stack(tmp_path_factory.mktemp("readme-walkthrough"), port=0)
    try:
        yield stack
    finally:
        stack.assert_stops_cleanly()


@pytest.fixture(scope="module")
def walkthrough_outputs(
    walkthrough_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    return run_walkthrough(walkthrough_stack, tmp_path_factory.mktemp("walkthrough-cwd"), WALKTHROUGH_HEADING)


@pytest.fixture(scope="module")
def upload_outputs(
    walkthrough_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    return run_walkthrough(walkthrough_stack, tmp_path_factory.mktemp("upload-cwd"), UPLOAD_HEADING)


def run_walkthrough(stack: LocalStack, workdir: Path, heading: str) -> list[dict[str, Any]]:
    """Run a walkthrough block with bash in a directory laid out like the repository after
    `make dev` (`.stratus/stack.json`, `.venv/`); its JSON answers."""
    (workdir / ".stratus").mkdir()
    shutil.copyfile(stack.info_path, workdir / ".stratus" / "stack.json")
    (workdir / ".venv").symlink_to(Path(sys.executable).parents[1])  # the venv `make dev` made
    script = pointed_at(walkthrough_script(README.read_text(encoding="utf-8"), heading), stack.base_url)
    script_path: Path = workdir / "walkthrough.sh"
    script_path.write_text(script, encoding="utf-8")

    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", str(script_path)],
        cwd=workdir,
        env=stack_environment(),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert result.stderr == "", result.stderr
    outputs = json_documents(result.stdout)
    assert all(isinstance(output, dict) for output in outputs), outputs
    return outputs


def test_every_step_answers_and_none_is_an_error(walkthrough_outputs: list[dict[str, Any]]) -> None:
    # create, upsert, search, promote, upsert by text, search by text
    assert len(walkthrough_outputs) == 6, json.dumps(walkthrough_outputs, indent=1)[:4000]
    errors = [output for output in walkthrough_outputs if output.get("success") is False]
    assert errors == []


def test_step_1_creates_the_standalone_namespace(walkthrough_outputs: list[dict[str, Any]]) -> None:
    created = walkthrough_outputs[0]
    assert (created["namespace_id"], created["mode"]) == ("product-search", "standalone")
    assert created["vector_configs"] == [{"name": "text_embedding", "dimension": 384, "metric": "cosine"}]


def test_step_2_loads_and_validates_by_vector(walkthrough_outputs: list[dict[str, Any]]) -> None:
    upserted, searched = walkthrough_outputs[1:3]
    assert upserted == {"inserted": 1, "document_ids": ["legacy-1"]}
    assert [r["document_id"] for r in searched["results"]] == ["legacy-1"]
    assert searched["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)


def test_step_3_promotes(walkthrough_outputs: list[dict[str, Any]]) -> None:
    assert walkthrough_outputs[3] == {
        "namespace_id": "product-search",
        "previous_mode": "standalone",
        "mode": "managed",
        "status": "active",
        "vector_configs": [
            {"name": "text_embedding", "dimension": 384, "metric": "cosine"},
            {"name": "image_embedding", "dimension": 512, "metric": "cosine"},
        ],
        "vector_inference_map": {"text_embedding": "minilm_l6_v2", "image_embedding": "clip_vit_b32"},
    }


def test_step_4_the_last_search_returns_cat_first_and_keeps_legacy_documents(
    walkthrough_outputs: list[dict[str, Any]],
) -> None:
    upserted, searched = walkthrough_outputs[4:6]
    assert upserted == {"inserted": 2, "document_ids": ["cat", "tax"]}
    ids = [r["document_id"] for r in searched["results"]]
    assert ids[0] == "cat", searched
    # "The legacy-1 document loaded before promotion is still in the index."
    assert sorted(ids) == ["cat", "legacy-1", "tax"]
    assert searched["results"][0]["payload"] == {"category": "pets"}


def test_the_upload_walkthrough_finds_the_uploaded_file_by_text(upload_outputs: list[dict[str, Any]]) -> None:
    # Only the last step prints (the others capture their answers): the search.
    (searched,) = upload_outputs
    results = searched["results"]
    assert [r["payload"]["filename"] for r in results] == ["cat-notes.txt", "tax-notes.txt"], searched
    assert results[0]["payload"]["text"].startswith("Our cat sleeps")


def test_the_sdk_snippet_finds_cat_first(
    walkthrough_stack: LocalStack, walkthrough_outputs: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The README's Mixpeek SDK snippet, run as written after the first walkthrough."""
    section = README.read_text(encoding="utf-8").split(SDK_HEADING, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)
    assert match, "the SDK section has no ```python block"
    assert f'base_url="{DEFAULT_API_ROOT}/v1"' in match.group(1)
    (tmp_path / ".stratus").mkdir()
    shutil.copyfile(walkthrough_stack.info_path, tmp_path / ".stratus" / "stack.json")
    script = match.group(1).replace(DEFAULT_API_ROOT, walkthrough_stack.base_url)

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=stack_environment(),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.replace("'", '"'))
    assert printed[0] == "cat" and "legacy-1" in printed, printed
