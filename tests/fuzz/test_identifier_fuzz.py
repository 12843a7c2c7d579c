"""Hostile identifiers and id/name collisions, generated, against the fuzz session's local stack
(issue 17, items 7 and 8; tests/security/test_hostile_identifiers.py holds the fixed cases).

- `test_hostile_identifiers`: generated identifiers (the key separator `#` with the schema's own
  prefixes after it, unicode, control characters, 1-3000 characters) in every place a request
  carries one: the namespace path, `X-Namespace`, a search's `namespace_id`, the bucket,
  collection, object and task paths. Never a 5xx, every 4xx in the envelope, and an identifier
  holding `#` is a 400 naming its field wherever it reaches a lookup.
- `test_ids_and_names_never_collide`: generated sequences of creates (an id and a name from a
  three-value alphabet), renames and deletes, checked step by step against a model of what must
  be refused (409) and against the stack's own lists: no value is ever one namespace's id and
  another's name, and every value resolves to the namespace the model says.

Bounded as the rest of the suite: `STRATUS_FUZZ_EXAMPLES` examples each, derandomized.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st

from tests.fuzz.conftest import STANDALONE_INDEX, STATUSES, FuzzStack, Seeds
from tests.fuzz.test_api_fuzz import BOUNDED, EXAMPLES, SEED, envelope_problems

pytestmark = pytest.mark.timeout(300 if BOUNDED else 0)

SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
KEY_PARTS = ["", "NS#", "BKT#", "BKTNAME#", "COL#", "NSNAME#", "APIKEY#", "TASK#", "#"]

# Text that can travel in a URL path: no lone surrogates (UTF-8 cannot hold them; the JSON-body
# side of that is test_api_fuzz's).
PATH_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
WITH_SEPARATOR = st.builds(
    lambda head, part, tail: f"{head}#{part}{tail}",
    st.sampled_from(["ns_x", "fuzz-standalone", "a", ""]),
    st.sampled_from(KEY_PARTS),
    PATH_TEXT | st.just(""),
)
HOSTILE = st.one_of(
    WITH_SEPARATOR,
    PATH_TEXT,
    st.text(st.sampled_from("aé名\U0001f600#\x00 \t"), min_size=1, max_size=3000),
    st.sampled_from(["\x00", " ", "\u202e", "\ufeff", "%23", "NS", "é" * 600, "x" * 3000]),
)


@dataclass
class Place:
    """Where an identifier travels: the request, and the field a `#` in it must be refused as
    (None when it cannot reach a lookup intact, e.g. it splits the path)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    field: str | None


def places(seeds: Seeds, identifier: str) -> list[Place]:
    encoded = quote(identifier, safe="")
    # A decoded "/" splits the path (another route or none), and dot segments are folded away by
    # the client: the identifier never reaches the handler whole.
    reaches = "/" not in identifier and identifier not in (".", "..")
    managed = {"X-Namespace": seeds.managed_id}
    query = {"vector_name": STANDALONE_INDEX, "vector": [0.1, 0.2, 0.3, 0.4]}
    found = [
        Place("GET", f"/v1/namespaces/{encoded}", {}, None, "namespace_identifier" if reaches else None),
        Place(
            "POST",
            f"/v1/namespaces/{encoded}/documents/list",
            {},
            {},
            "namespace_identifier" if reaches else None,
        ),
        Place(
            "POST",
            "/v1/search",
            {},
            {"namespace_id": identifier, "queries": [query]},
            "namespace_id" if len(identifier) <= 128 else None,  # longer: the model's 422
        ),
        Place("GET", f"/v1/buckets/{encoded}", managed, None, "bucket_id" if reaches else None),
        Place("GET", f"/v1/collections/{encoded}", managed, None, "collection_id" if reaches else None),
        Place("GET", f"/v1/tasks/{encoded}", managed, None, "task_id" if reaches else None),
        Place(
            "GET",
            f"/v1/buckets/{seeds.bucket_id}/objects/{encoded}",
            managed,
            None,
            "object_id" if reaches else None,
        ),
    ]
    if identifier.isascii() and identifier.isprintable() and identifier.strip() == identifier:
        found.append(Place("GET", "/v1/buckets", {"X-Namespace": identifier}, None, "X-Namespace"))
    return found


def test_hostile_identifiers(fuzz_stack: FuzzStack) -> None:
    seeds = fuzz_stack.seeds
    failures: list[str] = []

    with fuzz_stack.stack.client() as client:

        @SETTINGS
        @hypothesis.seed(SEED)
        @hypothesis.given(identifier=HOSTILE)
        def check(identifier: str) -> None:
            for place in places(seeds, identifier):
                response = client.request(
                    place.method,
                    place.path,
                    headers={**place.headers, "Content-Type": "application/json"},
                    content=None if place.body is None else json.dumps(place.body),
                )
                STATUSES[
                    (f"identifier {place.method} {place.path.split('/')[2]}", response.status_code // 100)
                ] += 1
                label = f"{place.method} {place.path[:80]!r} {place.headers} ({identifier[:40]!r})"
                if response.status_code >= 500 or response.status_code < 400:
                    if response.status_code >= 500 or "#" in identifier:
                        failures.append(f"{label}: {response.status_code} {response.text[:200]}")
                    continue
                problems = envelope_problems(response.json(), response.status_code)
                failures.extend(f"{label}: {problem}" for problem in problems)
                if "#" in identifier and place.field is not None:
                    error = response.json()["error"]
                    if response.status_code != 400 or error["details"].get("field") != place.field:
                        failures.append(f"{label}: a '#' answered {response.status_code} {error}")

        check()
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(dict.fromkeys(failures))


# ---------------------------------------------------------------------------------------------
# Ids and names, raced by a generated sequence against a model

VALUES = ["a0", "b1", "c2"]
_EXAMPLE = itertools.count()

Step = tuple[str, int, int]  # (kind, value index, value index)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "rename", "delete"]), st.integers(0, 2), st.integers(0, 2)
    ),
    min_size=3,
    max_size=8,
)


@dataclass
class Model:
    """namespace id → name, for the namespaces of one example."""

    names: dict[str, str] = field(default_factory=dict)

    def claimed(self, value: str, but: str | None = None) -> bool:
        """Whether `value` is the id or the name of a namespace other than `but`."""
        return any(value in (i, n) for i, n in self.names.items() if i != but)

    def resolve(self, value: str) -> str | None:
        if value in self.names:
            return value
        return next((i for i, n in self.names.items() if n == value), None)


def _run_steps(client: httpx.Client, steps: list[Step]) -> list[str]:
    prefix = f"idfz{next(_EXAMPLE)}-"
    values = [prefix + value for value in VALUES]
    model = Model()
    failures: list[str] = []
    try:
        for kind, first, second in steps:
            failures += _step(client, model, kind, values[first], values[second])
            failures += _check(client, model, values)
            if failures:
                return [f"after {steps}: {failure}" for failure in failures]
    finally:
        for namespace_id in list(model.names):
            client.delete(f"/v1/namespaces/{namespace_id}")
    return failures


def _step(client: httpx.Client, model: Model, kind: str, first: str, second: str) -> list[str]:
    if kind == "create":
        response = client.post(
            "/v1/namespaces/standalone", json={"namespace_id": first, "namespace_name": second}
        )
        refused = model.claimed(first) or (second != first and model.claimed(second))
        if not refused:
            model.names[first] = second
    elif kind == "rename":
        target = model.resolve(first)
        if target is None:
            return []
        response = client.patch(f"/v1/namespaces/{target}", json={"namespace_name": second})
        refused = model.claimed(second, but=target)
        if not refused:
            model.names[target] = second
    else:
        target = model.resolve(first)
        if target is None:
            return []
        response = client.delete(f"/v1/namespaces/{target}")
        refused = False
        del model.names[target]
    expected = 409 if refused else 200
    if response.status_code != expected:
        return [
            f"{kind} {first} {second}: expected {expected}, got {response.status_code} {response.text[:200]}"
        ]
    return []


def _check(client: httpx.Client, model: Model, values: list[str]) -> list[str]:
    failures = []
    for value in values:
        response = client.get(f"/v1/namespaces/{value}")
        wanted = model.resolve(value)
        got = response.json().get("namespace_id") if response.status_code == 200 else None
        if got != wanted:
            failures.append(f"{value} resolves to {got}, the model says {wanted}")
    listed = client.get("/v1/namespaces?limit=1000").json()["results"]
    ids = {ns["namespace_id"] for ns in listed}
    for ns in listed:
        if ns["namespace_name"] in ids - {ns["namespace_id"]}:
            failures.append(f"{ns['namespace_id']} is named {ns['namespace_name']}, another namespace's id")
    return failures


def test_ids_and_names_never_collide(fuzz_stack: FuzzStack) -> None:
    failures: list[str] = []
    with fuzz_stack.stack.client() as client:

        @SETTINGS
        @hypothesis.seed(SEED)
        @hypothesis.given(steps=STEPS)
        # The three shapes of the flaw, always tried: a new id equal to a name in use, a new name
        # equal to an id in use, a rename to an id in use (the generated ones may miss them).
        @hypothesis.example(steps=[("create", 0, 1), ("create", 1, 2)])
        @hypothesis.example(steps=[("create", 0, 1), ("create", 2, 0)])
        @hypothesis.example(steps=[("create", 0, 1), ("create", 2, 2), ("rename", 2, 0)])
        def check(steps: list[Step]) -> None:
            failures.extend(_run_steps(client, steps))

        check()
    assert not failures, "\n".join(failures[:20])


def test_the_local_stack_counts_requests_and_never_throttles_them(fuzz_stack: FuzzStack) -> None:
    """The suites' stack runs the limiter as deployed (every answer carries its count), with
    limits no test reaches (stratus_local.resources.LOCAL_RATE_LIMITS)."""
    with fuzz_stack.stack.client() as client:
        first = client.get("/v1/inference/services")
        second = client.get("/v1/inference/services")
    assert first.status_code == second.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "1000000"
    assert int(second.headers["X-RateLimit-Remaining"]) < int(first.headers["X-RateLimit-Remaining"])
