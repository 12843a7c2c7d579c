"""template.yaml, functions/, the operation registry, openapi.json, docs/api.md's route table and
the event files must describe the same API. Everything here is derived from `OPERATIONS` and the template,
so a new operation is covered the moment it is registered.

Each test collects every problem before failing, so one run shows the whole drift."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib.util
import json
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from starlette.routing import BaseRoute

from stratus_local.template import REPO_ROOT, load_template, resources_of_type

FUNCTIONS_DIR = REPO_ROOT / "functions"
EVENTS_DIR = REPO_ROOT / "tests" / "events"
OPENAPI_PATH = REPO_ROOT / "openapi.json"
API_DOC_PATH = REPO_ROOT / "docs" / "api.md"
# The section of docs/api.md that lists the routes served, one table row per route.
API_DOC_ROUTES_HEADING = "# What Stratus serves"
LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "stratus" / "requirements.txt"
PYPROJECT = REPO_ROOT / "pyproject.toml"

# Routes FastAPI adds by itself; a function's app may carry them (they are not API operations).
FASTAPI_DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
# Starlette answers HEAD for every GET; API Gateway routes only what the template declares.
IGNORED_METHODS = frozenset({"HEAD"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# SAM policy templates that grant writes; a function with only GET routes must not have them.
WRITE_POLICY_TEMPLATES = frozenset(
    {"DynamoDBCrudPolicy", "DynamoDBWritePolicy", "S3CrudPolicy", "S3WritePolicy"}
)
# Nor statements whose actions write (s3:PutObject, dynamodb:DeleteItem, sqs:SendMessage...).
WRITE_ACTION = re.compile(r"^[a-z0-9-]+:(Put|Delete|Update|Create|BatchWrite|TransactWrite|Send|Change)")

Route = tuple[str, str]  # (METHOD, path), e.g. ("POST", "/v1/search")

# Event source types of the functions that are not API operations, by what they are.
SCHEDULE_EVENT_TYPES = frozenset({"Schedule", "ScheduleV2"})
SQS_EVENT_TYPES = frozenset({"SQS"})
# The event file (tests/events/<stem>.json, what `sam local invoke <Fn> -e` feeds it) of each
# SQS consumer, named for what its queue carries. A scheduled job's file is named after it.
SQS_EVENT_FILES = {"extractor": "sqs-s3-put", "backfill": "sqs-backfill"}
# The account and region every event file is recorded in.
EVENTS_ACCOUNT_ID = "123456789012"
EVENTS_REGION = "us-east-1"


# ---------------------------------------------------------------------------------------------
# Helpers


def _fmt(routes: set[Route] | list[Route]) -> str:
    return ", ".join(f"{method} {path}" for method, path in sorted(routes)) or "(none)"


def pascal_case(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def function_logical_id(operation: str) -> str:
    return f"{pascal_case(operation)}Function"


def flat_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[BaseRoute, str, set[str]]]:
    """(original route, full path, methods) of every route, through included routers: since
    FastAPI 0.16x `include_router` keeps an `_IncludedRouter` entry instead of copying routes,
    and `fastapi.routing.iter_route_contexts` is how FastAPI itself (OpenAPI) flattens them."""
    iter_route_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_route_contexts is None:  # older FastAPI: routes were copied on include
        for route in routes:
            yield route, str(getattr(route, "path", route)), set(getattr(route, "methods", None) or ())
        return
    for context in iter_route_contexts(routes):
        yield context.original_route, str(context.path), set(context.methods or ())


def _api_routes(routes: Sequence[BaseRoute], skip_docs: bool) -> set[Route]:
    found: set[Route] = set()
    for original, path, methods in flat_routes(routes):
        if skip_docs and path in FASTAPI_DOCS_PATHS:
            continue
        if isinstance(original, APIRoute):
            found |= {(method, path) for method in methods if method not in IGNORED_METHODS}
        else:
            found.add(("?", path))  # a mount, websocket or plain Starlette route: flag it
    return found


def router_routes(router: APIRouter) -> set[Route]:
    return _api_routes(router.routes, skip_docs=False)


def app_routes(app: FastAPI) -> set[Route]:
    """The API routes of an app, without FastAPI's own docs routes."""
    return _api_routes(app.routes, skip_docs=True)


def http_api_events(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = resource.get("Properties", {}).get("Events", {}) or {}
    return {name: event for name, event in events.items() if event.get("Type") == "HttpApi"}


def event_route(event: dict[str, Any]) -> Route:
    properties = event.get("Properties", {})
    return (str(properties.get("Method", "")).upper(), str(properties.get("Path", "")))


def code_dir(resource: dict[str, Any]) -> str:
    """CodeUri normalised to `functions/<op>/`."""
    return str(resource.get("Properties", {}).get("CodeUri", "")).rstrip("/") + "/"


def function_dirs() -> list[str]:
    """Folders under functions/ that hold a handler."""
    return sorted(path.parent.name for path in FUNCTIONS_DIR.glob("*/app.py"))


def non_http_function_dirs() -> set[str]:
    """functions/<name>/ of template functions with no HttpApi event (scheduled jobs, SQS
    consumers): they are not API operations, so they have no router, no Mangum handler and no
    HTTP event file."""
    functions = resources_of_type(load_template(), "AWS::Serverless::Function")
    return {
        code_dir(resource).removeprefix("functions/").rstrip("/")
        for resource in functions.values()
        if not http_api_events(resource)
    }


def event_types(resource: dict[str, Any]) -> set[str]:
    events = resource.get("Properties", {}).get("Events", {}) or {}
    return {str(event.get("Type")) for event in events.values()}


def non_http_event_file(folder: str, resource: dict[str, Any]) -> str | None:
    """The stem of the event file of a non-HTTP function: its own name for a scheduled job, its
    SQS_EVENT_FILES entry for an SQS consumer; None when there is none to name."""
    types = event_types(resource)
    if types and types <= SCHEDULE_EVENT_TYPES:
        return folder
    if types and types <= SQS_EVENT_TYPES:
        return SQS_EVENT_FILES.get(folder)
    return None


def load_function_module(operation: str) -> ModuleType:
    """Import functions/<op>/app.py by path, as Lambda does, without touching sys.path."""
    path = FUNCTIONS_DIR / operation / "app.py"
    spec = importlib.util.spec_from_file_location(f"stratus_function_{operation}", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def policy_leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (nearest key, scalar) pair inside a Policies value, through Fn::If branches."""
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from policy_leaves(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from policy_leaves(child, key)
    else:
        yield key, value


def policy_templates(policies: list[Any]) -> Iterator[str]:
    """Names of the SAM policy templates used, looking inside Fn::If branches."""
    for policy in policies:
        if isinstance(policy, dict) and "Fn::If" in policy:
            yield from policy_templates(
                [branch for branch in policy["Fn::If"][1:] if isinstance(branch, dict)]
            )
        elif isinstance(policy, dict):
            yield from (name for name in policy if name not in ("Statement", "Version", "Ref"))


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, "AWS::Serverless::Function")


@pytest.fixture(scope="module")
def api_functions(functions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The functions wired to the HTTP API (not the scheduled jobs nor the SQS-fed extractor)."""
    return {name: resource for name, resource in functions.items() if http_api_events(resource)}


@pytest.fixture(scope="module")
def operations() -> Mapping[str, APIRouter]:
    from stratus.api.operations import OPERATIONS

    return OPERATIONS


@pytest.fixture(scope="module")
def all_routes(operations: Mapping[str, APIRouter]) -> dict[Route, str]:
    """Every API route → its operation; also asserts no route belongs to two operations."""
    owners: dict[Route, str] = {}
    for operation, router in operations.items():
        for route in router_routes(router):
            assert route not in owners, f"{_fmt([route])} is in both {owners[route]} and {operation}"
            owners[route] = operation
    return owners


@pytest.fixture(scope="module")
def template_routes(api_functions: dict[str, dict[str, Any]]) -> dict[Route, list[str]]:
    """(METHOD, path) of every HttpApi event → the functions declaring it."""
    routes: dict[Route, list[str]] = {}
    for name, resource in api_functions.items():
        for event in http_api_events(resource).values():
            routes.setdefault(event_route(event), []).append(name)
    return routes


# ---------------------------------------------------------------------------------------------
# Routes ↔ template


def test_every_route_has_exactly_one_function_with_its_code(
    operations: Mapping[str, APIRouter],
    functions: dict[str, dict[str, Any]],
    template_routes: dict[Route, list[str]],
) -> None:
    problems = []
    for operation, router in operations.items():
        routes = router_routes(router)
        if not routes:
            problems.append(f"{operation}: its router has no routes")
        for route in sorted(routes):
            owners = template_routes.get(route, [])
            if len(owners) != 1:
                problems.append(f"{_fmt([route])} ({operation}): {len(owners)} functions declare it {owners}")
                continue
            resource = functions[owners[0]]
            if code_dir(resource) != f"functions/{operation}/":
                problems.append(
                    f"{_fmt([route])} ({operation}) is served by {owners[0]} whose CodeUri is "
                    f"{code_dir(resource)!r}, expected 'functions/{operation}/'"
                )
    assert not problems, "template.yaml is missing or misroutes API routes:\n" + "\n".join(problems)


def test_every_http_api_event_is_a_route(
    all_routes: dict[Route, str], api_functions: dict[str, dict[str, Any]]
) -> None:
    problems = []
    for name, resource in api_functions.items():
        for event_name, event in http_api_events(resource).items():
            route = event_route(event)
            if route not in all_routes:
                problems.append(f"{name}.{event_name}: {_fmt([route])} is not a route of any operation")
            if event.get("Properties", {}).get("ApiId") != {"Ref": "HttpApi"}:
                problems.append(f"{name}.{event_name}: ApiId must be !Ref HttpApi")
    assert not problems, "\n".join(problems)


def test_function_folders_template_and_registry_agree(
    operations: Mapping[str, APIRouter], api_functions: dict[str, dict[str, Any]]
) -> None:
    on_disk = set(function_dirs()) - non_http_function_dirs()
    registered = set(operations)
    in_template = {
        code_dir(resource).removeprefix("functions/").rstrip("/") for resource in api_functions.values()
    }
    assert on_disk == registered, (
        f"functions/ without an operation: {sorted(on_disk - registered)}; "
        f"operations without functions/<op>/app.py: {sorted(registered - on_disk)}"
    )
    assert in_template == registered, (
        f"template functions without an operation: {sorted(in_template - registered)}; "
        f"operations without a template function: {sorted(registered - in_template)}"
    )


def test_non_http_functions_have_a_folder_and_an_event_source(functions: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, resource in functions.items():
        types = event_types(resource)
        if http_api_events(resource):
            # A Mangum handler answers HTTP events only: a schedule or a queue on the same
            # function would feed it events it cannot read.
            if types != {"HttpApi"}:
                problems.append(f"{name}: mixes HttpApi with other event sources {sorted(types)}")
            continue
        folder = code_dir(resource).removeprefix("functions/").rstrip("/")
        if folder not in function_dirs():
            problems.append(f"{name}: CodeUri {code_dir(resource)!r} has no app.py")
        if not types:
            problems.append(f"{name}: no event source (neither HttpApi nor e.g. Schedule or SQS)")
        elif not (types <= SCHEDULE_EVENT_TYPES or types <= SQS_EVENT_TYPES):
            problems.append(f"{name}: event sources {sorted(types)}: expected only Schedule or only SQS")
        elif types <= SQS_EVENT_TYPES and folder not in SQS_EVENT_FILES:
            problems.append(f"{name}: an SQS consumer needs its event file in SQS_EVENT_FILES")
    assert not problems, "\n".join(problems)


def test_functions_are_named_after_their_operation(functions: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, resource in functions.items():
        operation = code_dir(resource).removeprefix("functions/").rstrip("/")
        if name != function_logical_id(operation):
            problems.append(f"{name}: expected logical id {function_logical_id(operation)} for {operation}")
        if resource["Properties"].get("Handler") != "app.handler":
            problems.append(f"{name}: Handler must be app.handler")
    assert not problems, "\n".join(problems)


def test_routes_are_named_after_their_operation(operations: Mapping[str, APIRouter]) -> None:
    """Every route sets `operation_id` (so the spec never shows FastAPI's generated
    `get_one_v1_buckets__bucket_id__get`): its operation's name, or that name and a suffix when the
    operation has several routes; the route function bears the operation's name or the id."""
    problems = []
    seen: dict[str, str] = {}
    for operation, router in operations.items():
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            label = f"{operation}: {_fmt([(method, route.path) for method in route.methods or ()])}"
            operation_id = route.operation_id
            if operation_id is None:
                problems.append(f"{label} sets no operation_id")
                continue
            if operation_id != operation and not operation_id.startswith(f"{operation}_"):
                problems.append(f"{label}: operation_id {operation_id!r} is not named after {operation!r}")
            if operation_id in seen:
                problems.append(f"{label}: operation_id {operation_id!r} is also {seen[operation_id]}'s")
            seen[operation_id] = operation
            if route.endpoint.__name__ not in (operation, operation_id):
                problems.append(f"{label}: its function is {route.endpoint.__name__!r}, not {operation!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Handlers


@pytest.mark.parametrize("operation", function_dirs())
def test_handler_is_an_observed_mangum_serving_exactly_its_operation(
    operation: str, operations: Mapping[str, APIRouter]
) -> None:
    from mangum import Mangum

    from stratus.entrypoints.http import HttpFunction

    module = load_function_module(operation)
    handler = getattr(module, "handler", None)
    if operation in non_http_function_dirs():
        # A scheduled job or an SQS consumer: a plain `handler(event, context)`, no HTTP operation.
        assert callable(handler) and not isinstance(handler, Mangum), f"functions/{operation}: plain handler"
        assert operation not in operations, f"functions/{operation} is not HTTP but is in OPERATIONS"
        return
    assert isinstance(handler, HttpFunction) and isinstance(handler.mangum, Mangum), (
        f"functions/{operation}/app.py: `handler` must be `http_handler({operation!r})` (Mangum inside)"
    )
    assert handler.operation == operation
    assert operation in operations, f"functions/{operation}/ has no entry in OPERATIONS"
    # `$default` stage: no stage prefix in rawPath, so no base path to strip.
    assert handler.mangum.config["api_gateway_base_path"] == "/"
    assert isinstance(handler.mangum.app, FastAPI)
    served = app_routes(handler.mangum.app)
    expected = router_routes(operations[operation])
    assert served == expected, (
        f"functions/{operation}/app.py serves {_fmt(served)}; expected exactly {_fmt(expected)}"
    )


# ---------------------------------------------------------------------------------------------
# OpenAPI and docs/api.md


def test_openapi_file_is_current() -> None:
    from stratus_local.openapi import build_spec, render

    assert OPENAPI_PATH.exists(), "openapi.json is missing; run `make openapi`"
    committed = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    # Through JSON so tuples/ints compare exactly as they would be written.
    current = json.loads(render(build_spec()))
    assert committed == current, "openapi.json is out of date with the routers; run `make openapi`"


def test_openapi_operations_are_in_the_template(template_routes: dict[Route, list[str]]) -> None:
    if not OPENAPI_PATH.exists():
        pytest.fail("openapi.json is missing; run `make openapi`")
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    documented = {
        (method.upper(), path)
        for path, item in spec.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS and method.upper() not in IGNORED_METHODS
    }
    missing = documented - set(template_routes)
    assert not missing, f"openapi.json documents routes that no function serves: {_fmt(missing)}"


def documented_routes() -> dict[Route, str]:
    """docs/api.md's route table, one row per route (`METHOD /path`, then its operation)."""
    assert API_DOC_PATH.exists(), "docs/api.md is missing; its route table must list every route"
    text = API_DOC_PATH.read_text(encoding="utf-8")
    assert API_DOC_ROUTES_HEADING in text, f"docs/api.md has no section {API_DOC_ROUTES_HEADING!r}"
    section = text.split(API_DOC_ROUTES_HEADING, 1)[1].split("\n# ", 1)[0]
    rows = re.findall(r"^\| `([A-Z]+) (/\S*)` \| (\w+)", section, flags=re.MULTILINE)
    documented: dict[Route, str] = {}
    for method, path, operation in rows:
        assert (method, path) not in documented, f"docs/api.md lists {method} {path} twice"
        documented[(method, path)] = operation
    return documented


def test_the_api_doc_lists_every_route_with_its_operation(all_routes: dict[Route, str]) -> None:
    documented = documented_routes()
    missing = set(all_routes) - set(documented)
    assert not missing, f"docs/api.md's route table does not list: {_fmt(missing)}"
    extra = set(documented) - set(all_routes)
    assert not extra, f"docs/api.md's route table lists routes nothing serves: {_fmt(extra)}"
    wrong = {
        route: (documented[route], owner) for route, owner in all_routes.items() if documented[route] != owner
    }
    assert not wrong, f"docs/api.md names the wrong operation (documented, served): {wrong}"


# ---------------------------------------------------------------------------------------------
# Layer


def _requirement_key(requirement: Requirement) -> tuple[frozenset[str], str, str]:
    return (
        frozenset(canonicalize_name(extra) for extra in requirement.extras),
        str(requirement.specifier),
        str(requirement.marker or ""),
    )


def _parse_requirements(lines: list[str], source: str) -> dict[str, tuple[frozenset[str], str, str]]:
    parsed: dict[str, tuple[frozenset[str], str, str]] = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        assert not text.startswith("-"), f"{source}: pip options are not supported here: {text!r}"
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name not in parsed, f"{source}: {name} is listed twice"
        parsed[name] = _requirement_key(requirement)
    return parsed


def test_layer_requirements_match_pyproject() -> None:
    with PYPROJECT.open("rb") as handle:
        runtime = tomllib.load(handle)["project"]["dependencies"]
    expected = _parse_requirements(runtime, "pyproject.toml [project].dependencies")
    layer = _parse_requirements(
        LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines(), str(LAYER_REQUIREMENTS)
    )
    assert layer == expected, (
        "layers/stratus/requirements.txt must list exactly pyproject's runtime dependencies:\n"
        f"  only in the layer: { {k: v for k, v in layer.items() if expected.get(k) != v} }\n"
        f"  only in pyproject: { {k: v for k, v in expected.items() if layer.get(k) != v} }"
    )


def test_functions_share_the_layer_and_the_table(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert {"Ref": "StratusLayer"} in function_globals["Layers"]
    variables = function_globals["Environment"]["Variables"]
    assert variables["STRATUS_TABLE_NAME"] == {"Ref": "MetadataTable"}
    layer = template["Resources"]["StratusLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/stratus"
    # The layer is built for the runtime and architecture the functions run on.
    assert layer["Metadata"]["BuildMethod"] == function_globals["Runtime"]
    assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
    assert layer["Metadata"].get("BuildArchitecture", "x86_64") in function_globals["Architectures"]


# ---------------------------------------------------------------------------------------------
# IAM


def test_function_policies_are_least_privilege(functions: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, resource in functions.items():
        policies = resource.get("Properties", {}).get("Policies", []) or []
        if not isinstance(policies, list):
            policies = [policies]
        for policy in policies:
            if isinstance(policy, str):
                problems.append(f"{name}: managed policy {policy!r}; use a scoped template or statement")
        for key, value in policy_leaves(policies):
            if value == "*":
                problems.append(f"{name}: {key or 'a policy value'} is '*'")
            elif key == "Action" and isinstance(value, str) and "*" in value:
                problems.append(f"{name}: wildcard action {value!r}")
        only_reads = all(event_route(e)[0] == "GET" for e in http_api_events(resource).values())
        writes = WRITE_POLICY_TEMPLATES & set(policy_templates(policies))
        writes |= {v for k, v in policy_leaves(policies) if k == "Action" and WRITE_ACTION.match(str(v))}
        if http_api_events(resource) and only_reads and writes:
            problems.append(f"{name} serves only GET routes but has write policies {sorted(writes)}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Events for `sam local invoke` and tests/integration/test_handlers_with_events.py


def _path_value(parameters: dict[str, Any], match: re.Match[str]) -> str:
    return str(parameters.get(match.group(1), "?"))


def http_event_problems(name: str, event: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """An API Gateway HTTP API payload v2.0 event for one of the function's routes."""
    problems = []
    method, _, route_path = event.get("routeKey", "").partition(" ")
    declared = {event_route(e) for e in http_api_events(resource).values()}
    if (method, route_path) not in declared:
        problems.append(f"{name}: routeKey {event.get('routeKey')!r} is not one of {_fmt(declared)}")
    http = event.get("requestContext", {}).get("http", {})
    consistent = http.get("method") == method and http.get("path") == event.get("rawPath")
    if event.get("version") != "2.0" or not consistent:
        problems.append(f"{name}: not a consistent HTTP API payload v2.0 event")
    parameters = event.get("pathParameters", {})
    expected_path = re.sub(r"\{(\w+)\}", functools.partial(_path_value, parameters), route_path)
    if event.get("rawPath") != expected_path:
        problems.append(f"{name}: rawPath {event.get('rawPath')!r}, pathParameters say {expected_path!r}")
    if "body" in event and not isinstance(json.loads(event["body"]), dict):
        problems.append(f"{name}: body must be a JSON object string")
    return problems


def scheduled_event_problems(name: str, event: dict[str, Any]) -> list[str]:
    if event.get("source") != "aws.events" or event.get("detail-type") != "Scheduled Event":
        return [f"{name}: not an EventBridge scheduled event"]
    return []


def sub_with_defaults(template: dict[str, Any], text: str, region: str) -> str:
    """A `!Sub` string as a deployment with the parameters' defaults, in the events' account,
    would resolve it."""
    values = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    values |= {"AWS::AccountId": EVENTS_ACCOUNT_ID, "AWS::Region": region, "AWS::Partition": "aws"}
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)


def notifying_buckets(template: dict[str, Any], queue: Any) -> dict[str, list[str]]:
    """The S3 buckets that notify `queue` (a queue ARN expression): `!Sub` name → event patterns."""
    found: dict[str, list[str]] = {}
    for bucket in resources_of_type(template, "AWS::S3::Bucket").values():
        properties = bucket.get("Properties", {})
        configurations = properties.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        patterns = [c["Event"] for c in configurations if c.get("Queue") == queue]
        if patterns:
            found[str(properties.get("BucketName", {}).get("Fn::Sub", ""))] = patterns
    return found


def s3_notification_problems(
    where: str, body: str, template: dict[str, Any], buckets: dict[str, list[str]]
) -> list[str]:
    """An S3 event notification (version 2.x) from one of `buckets`, for an event it subscribes."""
    try:
        notification = json.loads(body)
    except ValueError:
        return [f"{where}: body is not JSON"]
    records = notification.get("Records") if isinstance(notification, dict) else None
    if not isinstance(records, list) or not records:
        return [f"{where}: body is not an S3 event notification with Records"]
    problems = []
    for j, record in enumerate(records):
        at = f"{where} body Records[{j}]"
        s3 = record.get("s3", {})
        region = record.get("awsRegion", "")
        names = {sub_with_defaults(template, sub, region): p for sub, p in buckets.items()}
        patterns = names.get(s3.get("bucket", {}).get("name"))
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventVersion", "")).startswith("2."):
            problems.append(f"{at}: not an S3 event notification record (eventSource aws:s3, version 2.x)")
        if patterns is None:
            problems.append(f"{at}: bucket {s3.get('bucket', {}).get('name')!r} is none of {sorted(names)}")
        elif not any(fnmatch.fnmatchcase(f"s3:{record.get('eventName')}", p) for p in patterns):
            problems.append(f"{at}: eventName {record.get('eventName')!r} is not subscribed ({patterns})")
        obj = s3.get("object", {})
        if not all(isinstance(obj.get(k), str) for k in ("key", "eTag", "sequencer")) or not isinstance(
            obj.get("size"), int
        ):
            problems.append(f"{at}: s3.object needs key, size, eTag and sequencer")
        elif " " in obj["key"]:
            problems.append(f"{at}: s3.object.key must be URL-encoded as S3 sends it (a space is '+')")
    return problems


def sqs_event_problems(name: str, event: dict[str, Any], template: dict[str, Any], queue: Any) -> list[str]:
    """A Lambda SQS event whose messages are the S3 notifications of the buckets feeding `queue`,
    or, for a queue no bucket notifies (the backfill queue), the messages Stratus sends to it."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return [f"{name}: not a Lambda SQS event (no Records)"]
    buckets = notifying_buckets(template, queue)
    problems = []
    for i, record in enumerate(records):
        where = f"{name} Records[{i}]"
        body = record.get("body")
        region = record.get("awsRegion", "")
        if record.get("eventSource") != "aws:sqs" or not all(
            isinstance(record.get(k), str) and record.get(k) for k in ("messageId", "receiptHandle")
        ):
            problems.append(f"{where}: not an SQS record (eventSource aws:sqs, messageId, receiptHandle)")
        queue_arn = rf"arn:aws:sqs:{re.escape(region)}:\d{{12}}:[\w-]+"
        if not re.fullmatch(queue_arn, record.get("eventSourceARN", "")):
            problems.append(f"{where}: eventSourceARN is not a queue ARN in awsRegion {region!r}")
        if not str(record.get("attributes", {}).get("ApproximateReceiveCount", "")).isdigit():
            problems.append(f"{where}: attributes.ApproximateReceiveCount is missing")
        if not isinstance(record.get("messageAttributes"), dict):
            problems.append(f"{where}: messageAttributes must be an object")
        if not isinstance(body, str):
            problems.append(f"{where}: body must be a string")
            continue
        if record.get("md5OfBody") != hashlib.md5(body.encode()).hexdigest():
            problems.append(f"{where}: md5OfBody is not the MD5 of body")
        if buckets:
            problems += s3_notification_problems(where, body, template, buckets)
        else:
            problems += backfill_message_problems(where, body)
    return problems


def backfill_message_problems(where: str, body: str) -> list[str]:
    """A message of the backfill queue (stratus.services.backfill.messages)."""
    from stratus.services.backfill.messages import KINDS

    try:
        message = json.loads(body)
    except ValueError:
        return [f"{where}: body is not JSON"]
    if not isinstance(message, dict) or message.get("kind") not in KINDS:
        return [f"{where}: body is neither an S3 notification nor a backfill message (kind in {KINDS})"]
    if not str(message.get("task_id", "")).startswith("task_"):
        return [f"{where}: a backfill message names its task_id"]
    return []


def sqs_queue_of(resource: dict[str, Any]) -> Any:
    events = resource.get("Properties", {}).get("Events", {}) or {}
    queues = [e.get("Properties", {}).get("Queue") for e in events.values() if e.get("Type") == "SQS"]
    return queues[0] if len(queues) == 1 else None


def test_every_function_has_a_matching_event_file(
    template: dict[str, Any],
    operations: Mapping[str, APIRouter],
    functions: dict[str, dict[str, Any]],
    api_functions: dict[str, dict[str, Any]],
) -> None:
    problems = []
    events = {path.stem: path for path in EVENTS_DIR.glob("*.json")}
    for operation in operations:
        if operation not in events:
            problems.append(f"tests/events/{operation}.json is missing")
    non_http: dict[str, dict[str, Any]] = {}  # event file stem → the function it feeds
    for name, resource in functions.items():
        folder = code_dir(resource).removeprefix("functions/").rstrip("/")
        stem = None if http_api_events(resource) else non_http_event_file(folder, resource)
        if stem is None:
            continue  # an API operation, or a function the test above already reports
        non_http[stem] = resource
        if stem not in events:
            problems.append(f"tests/events/{stem}.json is missing (the event of {name})")
    for stem, path in sorted(events.items()):
        event = json.loads(path.read_text(encoding="utf-8"))
        if stem in non_http and event_types(non_http[stem]) <= SCHEDULE_EVENT_TYPES:
            problems += scheduled_event_problems(path.name, event)
        elif stem in non_http:
            problems += sqs_event_problems(path.name, event, template, sqs_queue_of(non_http[stem]))
        elif stem in operations:
            resource = api_functions.get(function_logical_id(stem), {})
            problems += http_event_problems(path.name, event, resource)
        else:
            problems.append(f"{path.name}: names neither an operation nor the event of a non-HTTP function")
    assert not problems, "\n".join(problems)


def test_function_folders_hold_only_a_thin_handler() -> None:
    """Logic lives in the layer; a function folder is its app.py (and maybe an empty
    requirements.txt), so `sam build` of a function is a copy."""
    problems = []
    for operation in function_dirs():
        folder: Path = FUNCTIONS_DIR / operation
        extra = sorted(
            p.name for p in folder.iterdir() if p.name not in {"app.py", "requirements.txt", "__pycache__"}
        )
        if extra:
            problems.append(f"functions/{operation}/ holds {extra}; put code in layers/stratus/")
        requirements = folder / "requirements.txt"
        if requirements.exists() and _parse_requirements(
            requirements.read_text().splitlines(), str(requirements)
        ):
            problems.append(f"functions/{operation}/requirements.txt must be empty: the layer has the deps")
    assert not problems, "\n".join(problems)
