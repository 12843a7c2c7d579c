"""Regenerate (or check) the committed OpenAPI file `openapi.json` from the full FastAPI app.

`python -m stratus_local.openapi` writes it (what `make openapi` runs); `--check` exits 1 when
the committed file is stale. tests/unit/test_template_drift.py fails on drift, so a route change
and its spec change land in the same commit."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stratus_local.template import REPO_ROOT

OPENAPI_PATH = REPO_ROOT / "openapi.json"


def build_spec() -> dict[str, Any]:
    """The spec of the app that serves every operation, exactly as FastAPI generates it."""
    # Imported here: building the app reads settings, which callers may set up first.
    from stratus.api.app import create_full_app

    spec: dict[str, Any] = create_full_app().openapi()
    return spec


def render(spec: dict[str, Any]) -> str:
    # Sorted keys and a trailing newline keep diffs small and independent of route order.
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratus_local.openapi", description=__doc__)
    parser.add_argument("--output", type=Path, default=OPENAPI_PATH, help="where to write (%(default)s)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is stale")
    args = parser.parse_args(argv)

    text = render(build_spec())
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else None
        if current != text:
            print(f"{output} is out of date; run `make openapi`", file=sys.stderr)
            return 1
        return 0
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
