"""The README and docs/ stay true and inside the repository.

- The README's settings table lists every field of `stratus.settings.Settings` under the
  environment variable that sets it, with its default, and nothing else.
- The README stays a front page (at most 200 lines, no dates: figures and their dates live in
  tests/perf/RESULTS.md).
- Every relative link in the README and docs/ points at a file of the repository; none leaves it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from stratus.settings import Settings
from stratus_local.template import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
README_MAX_LINES = 200
SETTINGS_HEADING = "## Settings"
# Pages another change of the same restructure adds (linked here before they land). Empty once
# they are merged: a link to a missing file is then a broken link again.
# `| `STRATUS_X` (or `ALIAS`) | `default` or unset | what |`
SETTING_ROW = re.compile(
    r"^\| `(STRATUS_[A-Z0-9_]+)`((?: \(or `[A-Z0-9_]+`\))?) \| ([^|]+?) \|", re.MULTILINE
)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The variables that set a field, first the documented one (as Settings.from_environment reads them)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    return [f"STRATUS_{name.upper()}"]


def rendered_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def documented_settings(readme: str) -> dict[str, tuple[list[str], str]]:
    """The README's settings table: variable → (its aliases, the default cell)."""
    assert SETTINGS_HEADING in readme, f"README.md has no section {SETTINGS_HEADING!r}"
    section = readme.split(SETTINGS_HEADING, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[list[str], str]] = {}
    for name, aliases, default in SETTING_ROW.findall(section):
        assert name not in rows, f"README.md lists {name} twice"
        rows[name] = (re.findall(r"`([A-Z0-9_]+)`", aliases), default.strip())
    return rows


def settings_table_problems(readme: str) -> list[str]:
    """How the README's settings table differs from stratus/settings.py; empty when it does not."""
    documented = documented_settings(readme)
    expected = {
        env_names(name, field)[0]: (env_names(name, field)[1:], rendered_default(field.default))
        for name, field in Settings.model_fields.items()
    }
    problems = [
        f"{name}: missing (stratus/settings.py reads it)" for name in expected if name not in documented
    ]
    problems += [f"{name}: not a setting" for name in documented if name not in expected]
    problems += [
        f"{name}: README says {documented[name]}, stratus/settings.py {want}"
        for name, want in expected.items()
        if name in documented and documented[name] != want
    ]
    return problems


def test_the_readme_settings_table_is_settings_py() -> None:
    assert settings_table_problems(README.read_text(encoding="utf-8")) == []


def test_the_settings_check_sees_a_missing_an_unknown_and_a_stale_row() -> None:
    readme = README.read_text(encoding="utf-8")
    stale = readme.replace("| `STRATUS_TORCH_THREADS` | `1` |", "| `STRATUS_TORCH_THREADS` | `2` |")
    stale = re.sub(
        r"^\| `STRATUS_AWS_REGION` .*\n", "| `STRATUS_NOT_READ` | unset | x |\n", stale, flags=re.M
    )
    assert stale != readme
    assert sorted(problem.split(":")[0] for problem in settings_table_problems(stale)) == [
        "STRATUS_AWS_REGION",
        "STRATUS_NOT_READ",
        "STRATUS_TORCH_THREADS",
    ]


def test_the_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
    dated = [line for line in lines if re.search(r"\b20\d\d-\d\d-\d\d\b", line)]
    assert not dated, f"README.md carries dates (figures belong in tests/perf/RESULTS.md): {dated}"


def link_problems(text: str, directory: Path) -> list[str]:
    """The links of a page (in `directory`) that leave the repository or point at no file."""
    problems = []
    for target in MARKDOWN_LINK.findall(text):
        if target.startswith("#"):
            continue
        if re.match(r"^[a-z]+:", target):
            problems.append(f"{target}: leaves the repository")
            continue
        resolved = (directory / target.split("#", 1)[0]).resolve()
        if not resolved.is_relative_to(REPO_ROOT):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
    return problems


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_links_stay_inside_the_repository_and_resolve(page: Path) -> None:
    assert link_problems(page.read_text(encoding="utf-8"), page.parent) == []


def test_the_link_check_sees_links_out_and_missing_files() -> None:
    page = "[a](../shared/docs/api.md) [b](https://example.com/x) [c](docs/nope.md)\n"
    page += "[d](docs/api.md#lists) [e](#top)"
    assert link_problems(page, REPO_ROOT) == [
        "../shared/docs/api.md: outside the repository",
        "https://example.com/x: leaves the repository",
        "docs/nope.md: no such file",
    ]
