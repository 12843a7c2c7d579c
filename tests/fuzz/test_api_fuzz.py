"""Schemathesis against the committed `openapi.json`, on a running local stack (issue 7 §3).

Every operation of the spec is fuzzed over HTTP with the stack's dev key: valid and invalid
requests (schemathesis' positive and negative modes). Three times out of four each part of a
request is steered to the seeded resources of `conftest.py` (path parameters, the `X-Namespace`
header, and in bodies `namespace_id`, vectors of the seeded index, a collection's bucket and
extractor), so that requests reach the handlers and the stores rather than a 404 or a 400;
`test_fuzzing_reached_the_handlers` checks that they do. Each answer must:

- not be a 5xx (`not_a_server_error`);
- have a status the spec documents for the operation (`status_code_conformance`);
- have the documented content type (`content_type_conformance`);
- match the documented schema of its status (`response_schema_conformance`);
- if it is a 4xx or 5xx, be the error envelope of api.md with `status` equal to the HTTP status
  and a `type` that goes with it (`error_envelope`, below).

`test_stateful` then runs schemathesis' state machine. FastAPI writes no OpenAPI links, and
none are needed: schemathesis infers them from the schemas (39 of them: a create's `bucket_id`
feeds the bucket routes, a list's `namespace_id` the namespace routes, and so on), so scenarios
chain creates, reads, lists, updates and deletes of the resources they made.

A fuzzed DELETE never removes a seeded resource (`keep_seeds`): everything after it would 404.

Hostile shapes (issue 17): filters wider than the budget or nested past the depth limit,
payloads and metadata nested past the stored-JSON depth, lone surrogates in keys, values and
document ids. A quarter of the generated bodies that take them carry one (mixed with whatever else
was generated, so most are refused for another reason), and `test_hostile_shapes` sends each of
them in an otherwise valid body to every route that takes it. Each must be answered, or refused
with the 4xx envelope: never a 5xx, and nothing stored that a later read trips over.

Bounded by default (what `make test` runs): `STRATUS_FUZZ_EXAMPLES` (default 15) examples per
operation and as many stateful scenarios, derandomized, no example database, no coverage phase.
`make fuzz` raises the examples and adds schemathesis' coverage phase (`STRATUS_FUZZ_COVERAGE=1`).
A failure prints the request as a curl command.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, HookContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stratus import limits
from stratus.models.stored_json import MAX_DEPTH
from tests.fuzz.conftest import STANDALONE_DIMENSION, STANDALONE_INDEX, STATUSES, FuzzStack, Seeds
from tests.seed_bodies import CREATE_NAMESPACE_SEED_BODY

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "openapi.json"

DEFAULT_EXAMPLES = 15
EXAMPLES = int(os.environ.get("STRATUS_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
COVERAGE = os.environ.get("STRATUS_FUZZ_COVERAGE", "") not in ("", "0")
BOUNDED = EXAMPLES <= DEFAULT_EXAMPLES and not COVERAGE
SEED = 20260407
STATEFUL_STEPS = 6
STATEFUL_RUNS = 3  # runs of the state machine at most (see test_stateful)
REQUEST_TIMEOUT_SECONDS = 60

# pytest-timeout's 300 s per test fits the bounded run; a long run has no per-test limit.
pytestmark = pytest.mark.timeout(300 if BOUNDED else 0)

# api.md's table: the error types each status may carry.
ERROR_TYPES: dict[int, frozenset[str]] = {
    400: frozenset({"BadRequestError"}),
    401: frozenset({"UnauthorizedError"}),
    403: frozenset({"ForbiddenError"}),
    404: frozenset({"NotFoundError"}),
    405: frozenset({"MethodNotAllowedError"}),
    409: frozenset({"AlreadyExistsError", "ConflictError"}),
    413: frozenset({"PayloadTooLargeError"}),
    415: frozenset({"UnsupportedMediaTypeError"}),
    422: frozenset({"ValidationError"}),
    429: frozenset({"TooManyRequestsError"}),
    500: frozenset({"InternalServerError"}),
    503: frozenset(
        {"VectorStoreUnavailableError", "InferenceServiceUnavailableError", "ServiceUnavailableError"}
    ),
}


def envelope_problems(body: Any, status: int) -> list[str]:
    """What keeps `body` from being api.md's error envelope for an answer with HTTP `status`."""
    if not isinstance(body, dict):
        return [f"the body is a JSON {type(body).__name__}, not an object"]
    problems = []
    if set(body) != {"success", "status", "error"}:
        problems.append(f"top-level keys are {sorted(body)}, not ['error', 'status', 'success']")
    if body.get("success") is not False:
        problems.append(f"success is {body.get('success')!r}, not false")
    if type(body.get("status")) is not int or body.get("status") != status:
        problems.append(f"status is {body.get('status')!r}, not the HTTP status {status}")
    error = body.get("error")
    if not isinstance(error, dict):
        return [*problems, f"error is {error!r}, not an object"]
    if set(error) != {"type", "message", "details"}:
        problems.append(f"error keys are {sorted(error)}, not ['details', 'message', 'type']")
    allowed = ERROR_TYPES.get(status)
    if not isinstance(error.get("type"), str) or (allowed is not None and error["type"] not in allowed):
        expected = sorted(allowed or [])
        problems.append(f"error.type is {error.get('type')!r}; a {status} carries one of {expected}")
    if not isinstance(error.get("message"), str) or not error["message"].strip():
        problems.append(f"error.message is {error.get('message')!r}, not a non-empty string")
    details = error.get("details")
    if not isinstance(details, dict):
        problems.append(f"error.details is {details!r}, not an object")
    elif status == 422:
        problems.extend(_validation_error_problems(details))
    return problems


def _validation_error_problems(details: dict[str, Any]) -> list[str]:
    errors = details.get("validation_errors")
    if not isinstance(errors, list) or not errors:
        return ["a 422 has no details.validation_errors list"]
    return [
        f"details.validation_errors[{i}] is {entry!r}, not {{type, location, message}} strings"
        for i, entry in enumerate(errors)
        if not (
            isinstance(entry, dict)
            and set(entry) == {"type", "location", "message"}
            and all(isinstance(value, str) for value in entry.values())
        )
    ]


def error_envelope(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A schemathesis check: every 4xx/5xx answer is the error envelope, in JSON."""
    status = response.status_code
    if status < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"the {status} answer is not JSON: {response.content[:200]!r}") from None
    problems = envelope_problems(body, status)
    if problems:
        raise AssertionError(f"the {status} answer is not the error envelope: " + "; ".join(problems))
    return None


CHECKS: list[Callable[[CheckContext, Response, Case[Any]], bool | None]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_envelope,
]

# ---------------------------------------------------------------------------------------------
# The schema: loaded at import, so that pytest collects one test per operation. Where the stack
# runs and its key are known only once `fuzz_stack` has started it, so they travel with each
# call (`Target`), not in the schema's config.

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "request-timeout": REQUEST_TIMEOUT_SECONDS,
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The dev key goes with every call; a generated Authorization header would replace
            # it with garbage (tests/security covers the 401s and 403s).
            "with-security-parameters": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": COVERAGE},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
        },
    }
)
schema = schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG)


class Target:
    """The running stack and its seeds, set by the `target` fixture before any request is drawn."""

    seeds: Seeds | None = None
    base_url = ""
    headers: dict[str, str] = {}  # noqa: RUF012 (set once per session by the fixture)

    @classmethod
    def call_kwargs(cls) -> dict[str, Any]:
        return {"base_url": cls.base_url, "headers": dict(cls.headers)}


@pytest.fixture
def target(fuzz_stack: FuzzStack) -> Seeds:
    Target.seeds = fuzz_stack.seeds
    Target.base_url = fuzz_stack.stack.base_url
    Target.headers = {"Authorization": f"Bearer {fuzz_stack.stack.api_key}"}
    return fuzz_stack.seeds


# ---------------------------------------------------------------------------------------------
# Steering generated requests to the seeded resources. Each part of a request (its path
# parameters, its headers, its body) is left as generated a quarter of the time; otherwise every
# id in it is a seeded one, and vectors have the seeded index's name and dimension.

SEEDED_VECTOR = st.lists(
    st.floats(min_value=-1, max_value=1, allow_nan=False, width=32),
    min_size=STANDALONE_DIMENSION,
    max_size=STANDALONE_DIMENSION,
)
STEERED_LIST_ITEMS = 16  # documents or queries of a body steered one by one; the rest as generated
IMAGE_EXTRACTOR = {
    "feature_extractor_name": "image_extractor",
    "version": "v1",
    "parameters": {"model": "siglip_base"},
}


# ---------------------------------------------------------------------------------------------
# Hostile shapes, mixed into the bodies that take them (a quarter of the time).

LONE = "\ud800"  # half a UTF-16 pair: JSON can escape it, UTF-8 cannot hold it


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": LONE if depth % 2 else 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _nested_filter(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"field": "category", "operator": "eq", "value": "fuzz"}
    for _ in range(depth):
        value = {"AND": [value]}
    return value


HOSTILE_JSON_VALUES: list[dict[str, Any]] = [
    _nested(MAX_DEPTH),  # at the limit: stored and read back
    _nested(MAX_DEPTH + 1),
    _nested(300),  # once stored, then every read of it answered 500
    {"title": f"x{LONE}"},
    {LONE: 1},
    {"tags": ["ok", LONE], "nested": {"deeper": [{LONE: LONE}]}},
]
HOSTILE_FILTER_VALUES: list[dict[str, Any]] = [
    # Past the width budget (one OR of 30k conditions took 29 s; 40k crashed the process).
    {"OR": [{"field": f"f{i}", "operator": "eq", "value": i} for i in range(limits.MAX_FILTER_COST + 1)]},
    {
        "AND": [
            {"field": f"f{i}", "operator": "in", "value": list(range(limits.MAX_IN_VALUES))} for i in range(3)
        ]
    },
    # Wide but within it.
    {"field": "category", "operator": "in", "value": [f"v{i}" for i in range(limits.MAX_IN_VALUES)]},
    # Nested one level past the depth limit.
    _nested_filter(limits.MAX_FILTER_DEPTH + 1),
    {"field": LONE, "operator": "exists"},
    {"category": f"fuzz{LONE}"},
    {"OR": [{"field": "category", "operator": "starts_with", "value": LONE}, {LONE: None}]},
]
HOSTILE_DOCUMENT_ID_VALUES = [LONE, f"doc-{LONE}", "x" * 257, "a/b", "NS#fuzz", "\x00"]
HOSTILE_JSON = st.sampled_from(HOSTILE_JSON_VALUES)
HOSTILE_FILTERS = st.sampled_from(HOSTILE_FILTER_VALUES)
HOSTILE_DOCUMENT_IDS = st.sampled_from(HOSTILE_DOCUMENT_ID_VALUES)


def _hostile(value: Any, hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(value), st.just(value), st.just(value), hostile)


def _hostile_value(key: str, value: Any) -> st.SearchStrategy[Any] | None:
    """Filters, or free-form JSON, sometimes hostile; None for the other keys of a body."""
    if key == "filters":
        return _hostile(value, HOSTILE_FILTERS)
    if key in ("metadata", "bucket_schema", "field_schema") and isinstance(value, dict):
        return _hostile(value, HOSTILE_JSON)
    return None


def _often(value: Any, seeded: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Seeded first: hypothesis leans to a `one_of`'s first branches (it is where it shrinks to).
    return st.one_of(seeded, seeded, seeded, st.just(value))


def _path_pools(operation: APIOperation[Any, Any, Any, Any], seeds: Seeds) -> dict[str, list[str]]:
    pools = {
        # The seeded document lives in the standalone namespace.
        "namespace_identifier": [seeds.standalone_id]
        if "/documents" in operation.path
        else seeds.namespaces(),
        "bucket_id": [seeds.bucket_id],
        "collection_id": [seeds.collection_id],
        "object_id": [seeds.object_id],
        "task_id": [seeds.task_id] if seeds.task_id else [],
        "document_id": [seeds.document_id],
    }
    if operation.method.upper() == "DELETE":
        protected = seeds.protected()
        return {name: [value for value in pool if value not in protected] for name, pool in pools.items()}
    return pools


@schema.hook("flatmap_path_parameters")
def steer_path(context: HookContext, path_parameters: Any) -> st.SearchStrategy[Any]:
    seeds, operation = Target.seeds, context.operation
    if seeds is None or operation is None or not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    pools = _path_pools(operation, seeds)
    seeded = st.fixed_dictionaries(
        {
            name: st.sampled_from(pools[name]) if pools.get(name) else st.just(value)
            for name, value in path_parameters.items()
        }
    )
    return _often(path_parameters, seeded)


@schema.hook("flatmap_headers")
def steer_headers(context: HookContext, headers: Any) -> st.SearchStrategy[Any]:
    """`X-Namespace` is optional in the spec (its absence is a 400), so it is often not generated
    at all: it is added as well as replaced."""
    seeds, operation = Target.seeds, context.operation
    if seeds is None or operation is None or not any(p.name == "X-Namespace" for p in operation.headers):
        return st.just(headers)
    if headers is not None and not isinstance(headers, dict):
        return st.just(headers)
    given = dict(headers or {})
    # Buckets, collections, objects and tasks live in the managed namespace.
    pool = [seeds.managed_id, seeds.managed_id, seeds.managed_name, seeds.standalone_id]
    return _often(headers, st.sampled_from(pool).map(lambda name: {**given, "X-Namespace": name}))


def _seeded_items(
    items: list[Any], seeded: Callable[[Any], st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    head = [seeded(item) if isinstance(item, dict) else st.just(item) for item in items[:STEERED_LIST_ITEMS]]
    return st.tuples(*head).map(lambda steered: [*steered, *items[STEERED_LIST_ITEMS:]])


def _seeded_query(query: dict[str, Any]) -> st.SearchStrategy[Any]:
    plain = {key: value for key, value in query.items() if key not in ("text", "url")}
    return SEEDED_VECTOR.map(lambda v: {**plain, "vector_name": STANDALONE_INDEX, "vector": v})


def _seeded_document(document: dict[str, Any]) -> st.SearchStrategy[Any]:
    vectors = SEEDED_VECTOR.map(lambda v: {**document, "vectors": {STANDALONE_INDEX: v}})
    # `metadata` is an alias of `payload`: a body with both is refused before anything is tried.
    payload_key = "metadata" if "metadata" in document else "payload"
    hostile = st.tuples(vectors, HOSTILE_JSON, st.one_of(st.none(), HOSTILE_DOCUMENT_IDS)).map(
        lambda parts: {
            **parts[0],
            payload_key: parts[1],
            **({"document_id": parts[2]} if parts[2] is not None else {}),
        }
    )
    return st.one_of(vectors, vectors, vectors, hostile)


@schema.hook("flatmap_body")
def steer_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Search the standalone namespace's index with vectors of its dimension, upsert such
    vectors, feed collections the seeded bucket through an extractor the managed namespace has,
    create managed namespaces with the seed's extractors, upload plain file names; everything
    else in the body stays as generated."""
    seeds, operation = Target.seeds, context.operation
    if seeds is None or operation is None or not isinstance(body, dict):
        return st.just(body)
    steered: dict[str, st.SearchStrategy[Any]] = {}
    for key, value in body.items():
        if key == "namespace_id":
            steered[key] = st.sampled_from([seeds.standalone_id, seeds.standalone_id, *seeds.namespaces()])
        elif key == "queries" and isinstance(value, list):
            steered[key] = _seeded_items(value, _seeded_query)
        elif key == "documents" and isinstance(value, list):
            steered[key] = _seeded_items(value, _seeded_document)
        elif key == "source" and isinstance(value, dict):
            steered[key] = st.just({**value, "type": "bucket", "bucket_ids": [seeds.bucket_id]})
        elif key == "feature_extractor" and operation.path == "/v1/collections":
            steered[key] = st.just(IMAGE_EXTRACTOR)
        elif key == "feature_extractors" and operation.path == "/v1/namespaces":
            steered[key] = st.just(CREATE_NAMESPACE_SEED_BODY["feature_extractors"])
        elif key == "filename" and operation.path.endswith("/uploads"):
            steered[key] = st.sampled_from(["notes.txt", "photo.png"])
        elif (hostile := _hostile_value(key, value)) is not None:
            steered[key] = hostile
    if not steered:
        return st.just(body)
    others = {key: st.just(value) for key, value in body.items() if key not in steered}
    return _often(body, st.fixed_dictionaries({**others, **steered}))


def keep_seeds(case: Case[Any], seeds: Seeds) -> None:
    """A DELETE aimed at a seeded resource (a value reused from an earlier answer, say) is sent
    to an absent one instead."""
    if case.method.upper() != "DELETE" or not isinstance(case.path_parameters, dict):
        return
    protected = seeds.protected()
    for name, value in list(case.path_parameters.items()):
        if value in protected:
            case.path_parameters[name] = f"absent-{value}"


# ---------------------------------------------------------------------------------------------
# The tests


@schema.parametrize()
def test_api(case: Case[Any], target: Seeds) -> None:
    keep_seeds(case, target)
    kwargs = Target.call_kwargs()
    response = case.call(**kwargs)
    STATUSES[(case.operation.label, response.status_code // 100)] += 1
    case.validate_response(response, checks=CHECKS, headers=kwargs["headers"], transport_kwargs=kwargs)


def test_stateful(target: Seeds) -> None:
    """Failures are collected, not raised inside the state machine: replaying a scenario against
    a live stack (to shrink it) meets different state, which hypothesis rejects as flaky data
    generation. Each failure is reported with the request as a curl command."""
    failures: dict[str, str] = {}
    steps: Counter[str] = Counter()

    class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Case[Any]) -> None:
            keep_seeds(case, target)

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return Target.call_kwargs()

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            steps[case.operation.label] += 1
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            except BaseExceptionGroup as group:
                kinds = sorted({type(failure).__name__ for failure in group.exceptions})
                failures.setdefault(f"{case.operation.label}: {', '.join(kinds)}", group.message)

    settings = hypothesis.settings(
        max_examples=EXAMPLES,
        stateful_step_count=STATEFUL_STEPS,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    for _ in range(STATEFUL_RUNS):
        try:
            Scenarios.run(settings=settings)
        except hypothesis.errors.Flaky:
            # A replay met other server state (see above); run again rather than stop here.
            continue
        break
    assert steps.total() >= EXAMPLES, f"only {steps.total()} stateful steps ran: {dict(steps)}"
    assert not failures, f"{len(failures)} distinct failure(s):\n\n" + "\n\n".join(failures.values())


def _hostile_requests(seeds: Seeds) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(label, path, body, headers): each hostile shape in an otherwise valid body, on every
    route that takes it."""
    managed = {"X-Namespace": seeds.managed_id}
    query = {"vector_name": STANDALONE_INDEX, "vector": [0.1, 0.2, 0.3, 0.4]}
    documents = f"/v1/namespaces/{seeds.standalone_id}/documents"
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
    for n, filters in enumerate(HOSTILE_FILTER_VALUES):
        requests += [
            (
                f"filter {n}",
                "/v1/search",
                {"namespace_id": seeds.standalone_id, "queries": [query], "filters": filters},
                {},
            ),
            (f"filter {n}", f"{documents}/list", {"filters": filters}, {}),
            (f"filter {n}", "/v1/namespaces/list", {"filters": filters}, {}),
        ]
    for n, value in enumerate(HOSTILE_JSON_VALUES):
        document = {
            "document_id": f"hostile-{n}",
            "vectors": {STANDALONE_INDEX: query["vector"]},
            "payload": value,
        }
        blobs = [{"property": "text", "type": "text", "data": "hi"}]
        upload = {"filename": "notes.txt", "content_type": "text/plain", "metadata": value}
        index = {"field_name": f"hostile{n}", "type": "keyword", "field_schema": value}
        requests += [
            (f"json {n}", f"{documents}/direct", {"documents": [document]}, {}),
            (
                f"json {n}",
                f"/v1/buckets/{seeds.bucket_id}/objects",
                {"metadata": value, "blobs": blobs},
                managed,
            ),
            (f"json {n}", f"/v1/buckets/{seeds.bucket_id}/uploads", upload, managed),
            (f"json {n}", "/v1/buckets", {"bucket_name": f"hostile-{n}", "bucket_schema": value}, managed),
            (f"json {n}", f"/v1/namespaces/{seeds.standalone_id}/payload-indexes", index, {}),
        ]
    for n, document_id in enumerate(HOSTILE_DOCUMENT_ID_VALUES):
        document = {"document_id": document_id, "vectors": {STANDALONE_INDEX: query["vector"]}}
        requests.append((f"document id {n}", f"{documents}/direct", {"documents": [document]}, {}))
    return requests


def test_hostile_shapes(target: Seeds) -> None:
    """Every hostile shape on every route that takes it: an answer or a 4xx envelope, and the
    seeded namespace still reads whole afterwards (nothing unreadable was stored)."""
    failures: list[str] = []
    with httpx.Client(
        base_url=Target.base_url, headers=Target.headers, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        for label, path, body, headers in _hostile_requests(target):
            # ASCII JSON: a lone surrogate travels as its escape, as a client sends it.
            response = client.post(
                path, content=json.dumps(body), headers={"Content-Type": "application/json", **headers}
            )
            STATUSES[(f"hostile POST {path}", response.status_code // 100)] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{label}: POST {path} answered {response.status_code}: {response.text[:200]}"
                )
            elif response.status_code >= 400:
                problems = envelope_problems(response.json(), response.status_code)
                failures += [f"{label}: POST {path}: {problem}" for problem in problems]
        query = {"vector_name": STANDALONE_INDEX, "vector": [0.1, 0.2, 0.3, 0.4], "top_k": 1000}
        reads = [
            client.post(f"/v1/namespaces/{target.standalone_id}/documents/list", json={"limit": 1000}),
            client.post("/v1/search", json={"namespace_id": target.standalone_id, "queries": [query]}),
            client.get(f"/v1/namespaces/{target.standalone_id}/documents/hostile-0?return_vectors=true"),
        ]
        failures += [
            f"read {r.request.url} answered {r.status_code}: {r.text[:200]}"
            for r in reads
            if r.status_code != 200
        ]
    assert not failures, f"{len(failures)} hostile request(s) went wrong:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (404, {"detail": "Not Found"}, "top-level keys"),
        (
            404,
            {
                "success": False,
                "status": 400,
                "error": {"type": "NotFoundError", "message": "m", "details": {}},
            },
            "not the HTTP status 404",
        ),
        (
            409,
            {
                "success": False,
                "status": 409,
                "error": {"type": "NotFoundError", "message": "m", "details": {}},
            },
            "error.type",
        ),
        (
            400,
            {
                "success": False,
                "status": 400,
                "error": {"type": "BadRequestError", "message": " ", "details": {}},
            },
            "error.message",
        ),
        (
            400,
            {"success": False, "status": 400, "error": {"type": "BadRequestError", "message": "m"}},
            "error keys",
        ),
        (
            422,
            {
                "success": False,
                "status": 422,
                "error": {"type": "ValidationError", "message": "m", "details": {}},
            },
            "validation_errors",
        ),
        (500, ["internal error"], "not an object"),
    ],
)
def test_the_envelope_check_refuses_what_is_not_the_envelope(status: int, body: Any, words: str) -> None:
    assert any(words in problem for problem in envelope_problems(body, status)), envelope_problems(
        body, status
    )


def test_the_envelope_check_accepts_the_envelope() -> None:
    details = {"validation_errors": [{"type": "t", "location": "limit", "message": "too big"}]}
    error = {"type": "ValidationError", "message": "limit: too big", "details": details}
    assert envelope_problems({"success": False, "status": 422, "error": error}, 422) == []
    not_found = {"type": "NotFoundError", "message": "namespace 'x' not found", "details": {}}
    assert envelope_problems({"success": False, "status": 404, "error": not_found}, 404) == []


# Reached only through a seeded path parameter and/or `X-Namespace`; each must answer 2xx at
# least once. And at least one of the body-steered operations must.
PATH_STEERED = (
    "GET /v1/namespaces/{namespace_identifier}",
    "GET /v1/namespaces/{namespace_identifier}/documents/{document_id}",
    "GET /v1/buckets/{bucket_id}",
    "GET /v1/buckets/{bucket_id}/objects/{object_id}",
    "GET /v1/collections/{collection_id}",
    "GET /v1/tasks/{task_id}",
)
BODY_STEERED = (
    "POST /v1/search",
    "POST /v1/namespaces/{namespace_identifier}/documents/direct",
    "POST /v1/namespaces/{namespace_identifier}/documents/upsert",
)


def test_fuzzing_reached_the_handlers() -> None:
    """The steering works: were every request a 404 or a 400 for a missing header, the fuzzing
    above would prove little."""
    if not STATUSES:
        pytest.skip("test_api did not run in this session")
    succeeded = {label for (label, status_class), count in STATUSES.items() if status_class == 2 and count}
    missed = [label for label in PATH_STEERED if label not in succeeded]
    assert not missed, f"never answered 2xx: {missed}\n{dict(STATUSES)}"
    assert succeeded & set(BODY_STEERED), f"none of {BODY_STEERED} answered 2xx\n{dict(STATUSES)}"
