"""`sam validate --lint` on template.yaml: the SAM transform plus cfn-lint, fully offline.

The SAM CLI lives in its own venv (its pins clash with the project's), found at
$STRATUS_SAM_CLI or `.tools/sam-venv/bin/sam` (`make sam` creates it). Without it the test
skips locally and fails in CI, where it must be installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from stratus_local.template import REPO_ROOT, TEMPLATE_PATH

DEFAULT_SAM_CLI = REPO_ROOT / ".tools" / "sam-venv" / "bin" / "sam"


def find_sam_cli() -> Path | None:
    configured = os.environ.get("STRATUS_SAM_CLI")
    candidates = [Path(configured)] if configured else []
    candidates.append(DEFAULT_SAM_CLI)
    return next((path for path in candidates if path.is_file() and os.access(path, os.X_OK)), None)


def sam_environment(tmp_path: Path) -> dict[str, str]:
    """A region and dummy credentials (cfn-lint needs a region; nothing may reach a real
    account), no telemetry, and a throwaway home so the CLI writes no config elsewhere."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
        SAM_CLI_TELEMETRY="0",
        SAM_CLI_CONFIG_DIR=str(tmp_path / "samcli"),
    )
    return env


@pytest.mark.sam
def test_sam_validate_lint_passes(tmp_path: Path) -> None:
    sam = find_sam_cli()
    if sam is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"SAM CLI not found at $STRATUS_SAM_CLI or {DEFAULT_SAM_CLI}; CI must install it")
        pytest.skip("SAM CLI venv not installed; run make sam")
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template", str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        env=sam_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"sam validate --lint failed:\n{output}"
    assert "is a valid SAM Template" in output, output
