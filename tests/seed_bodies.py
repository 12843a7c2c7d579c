"""The request and response bodies of the two Mixpeek pages the product started from, kept as
fixtures in `tests/fixtures/seeds/` so the tests that send them need nothing outside the
repository:

- `create-namespace.json`: the body of "Create Namespace" (`POST /v1/namespaces`), verbatim;
- `promotion-*.json`: from "Namespace promotion": the standalone namespace of its workflow
  (`promotion-create-standalone.json`, one line, as its curl sends it), the promotion of its
  example (`promotion-promote.json`), the promotion of its curl (`promotion-promote-mapping-only.json`)
  and the documented answer (`promotion-response.json`, for the example's `product-search`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"


def seed_text(name: str) -> str:
    """A seed body as the page writes it (for tests that send the raw text)."""
    return (SEEDS / name).read_text(encoding="utf-8").strip()


def seed_body(name: str) -> dict[str, Any]:
    """A seed body, parsed (a fresh copy on every call: tests may change it)."""
    body: dict[str, Any] = json.loads(seed_text(name))
    return body


CREATE_NAMESPACE_SEED_BODY = seed_body("create-namespace.json")
