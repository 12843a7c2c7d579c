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
    return SEEDED_VECTOR.map(lambda v: {**document, "vectors": {STANDALONE_INDEX: v}})


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
