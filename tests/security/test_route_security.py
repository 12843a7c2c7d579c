"""Auth, permissions and organization isolation on every route, generated from the route table.

For each route of `stratus.api.operations.OPERATIONS` (every router, every method):

* no key, a malformed or unknown key, another scheme, a revoked key → 401 in the error envelope;
* a key holding less than the route's permission (read < write < admin) → 403;
* org B's key on org A's resources → 404, never 403 and never A's data; on a list, none of A's
  items; on a create, no "already exists" for a name only A uses (that would leak it too); and
  nothing of A's changes (table, data bucket, vectors);
* routes taking `X-Namespace`: org B with its own namespace in the header and A's ids in the path
  or body → still nothing of A's;
* the control: org A's key holding exactly the route's permission gets the answer B was refused
  (so B's 404 is isolation, not a wrong path or body).

A route with no entry in `CASES` fails every test here: new routes cannot silently escape.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from stratus.adapters.dynamodb.schema import RATE_PREFIX
from stratus.api.operations import OPERATIONS
from stratus.ports import Permission
from tests.security.conftest import DATA_BUCKET, Response, Stack, assert_envelope, scan_table
from tests.unit.test_template_drift import flat_routes

THIS_FILE = "tests/security/test_route_security.py"
Route = tuple[str, str]  # ("GET", "/v1/buckets/{bucket_id}")

# Routes anyone may call, and why.
PUBLIC: dict[Route, str] = {
    ("GET", "/v1/health"): "liveness check for load balancers; answers only status and version",
    ("GET", "/v1/retrievers/stages"): (
        "the stage catalogue: the same constant for everyone, no organization's data; the SDK's "
        "RetrieverStagesApi sends no key (docs/api.md, decisions)"
    ),
    # The SDK's FeatureExtractorsApi sends no key: the catalogue is code, the same for everyone.
    ("GET", "/v1/collections/features/extractors"): "the extractor catalogue; no organization's data",
    ("GET", "/v1/collections/features/extractors/{feature_extractor_id}"): "one catalogue entry",
}
# Path parameters of the public routes, for the test that calls them.
PUBLIC_PARAMS = {"feature_extractor_id": "text_extractor_v1"}

TEXT_EXTRACTORS = [
    {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
]
TEXT_INDEX = "text_extractor_v1_embedding"  # 384 dimensions (minilm_l6_v2)
QUERY_384 = [1.0] + [0.0] * 383
SEARCH_STAGE = {
    "stage_name": "search",
    "config": {
        "stage_id": "feature_search",
        "parameters": {
            "searches": [{"feature_uri": TEXT_INDEX, "query": {"input_mode": "vector", "value": QUERY_384}}]
        },
    },
}


# ---------------------------------------------------------------------------------------------
# The world each test runs against: org A's resources of every kind, and org B's own namespace


@dataclass(frozen=True)
class World:
    suffix: str
    secret: str  # in every description, payload and metadata of org A
    standalone_id: str
    document_id: str
    managed_id: str
    managed_name: str
    bucket_id: str
    bucket_name: str
    object_id: str
    collection_id: str
    task_id: str
    retriever_id: str
    retriever_name: str
    upload_id: str  # a presigned upload of A's bucket, its file arrived
    b_namespace: str  # org B's own managed namespace

    # A payload index of the standalone namespace (not protected, so it can be dropped).
    field_name: str = "tier"

    @property
    def params(self) -> dict[str, str]:
        """Path parameter → org A's resource."""
        return {
            "namespace_identifier": self.standalone_id,
            "document_id": self.document_id,
            "bucket_id": self.bucket_id,
            "object_id": self.object_id,
            "collection_id": self.collection_id,
            "task_id": self.task_id,
            "retriever_id": self.retriever_id,
            "index_name": "emb",
            "upload_id": self.upload_id,
            "field_name": self.field_name,
        }

    @property
    def markers(self) -> list[str]:
        """Strings only org A's data holds; org B must never see one it did not send itself."""
        return [
            self.secret,
            self.managed_id,
            self.bucket_id,
            self.object_id,
            self.collection_id,
            self.task_id,
            self.retriever_id,
        ]


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def build_world(stack: Stack) -> World:
    from stratus.models.managed_content import Task

    suffix = uuid.uuid4().hex[:8]
    secret = f"alpha-secret-{suffix}"
    standalone_id = f"alpha-{suffix}"
    _ok(
        stack.call(
            "POST",
            "/v1/namespaces/standalone",
            json={
                "namespace_id": standalone_id,
                "description": secret,
                "vector_configs": [{"name": "emb", "dimension": 4}],
            },
        )
    )
    document = {
        "document_id": "doc-alpha",
        "vectors": {"emb": [1.0, 0.0, 0.0, 0.0]},
        "payload": {"secret": secret},
    }
    _ok(
        stack.call("POST", f"/v1/namespaces/{standalone_id}/documents/direct", json={"documents": [document]})
    )
    managed_name = f"alpha-managed-{suffix}"
    managed_id = _ok(
        stack.call(
            "POST",
            "/v1/namespaces",
            json={
                "namespace_name": managed_name,
                "description": secret,
                "feature_extractors": TEXT_EXTRACTORS,
            },
        )
    )["namespace_id"]
    scope = {"X-Namespace": managed_id}
    bucket_name = f"alpha-bucket-{suffix}"
    bucket_id = _ok(
        stack.call(
            "POST", "/v1/buckets", json={"bucket_name": bucket_name, "description": secret}, headers=scope
        )
    )["bucket_id"]
    object_id = _ok(
        stack.call(
            "POST",
            f"/v1/buckets/{bucket_id}/objects",
            json={
                "metadata": {"secret": secret},
                "blobs": [{"property": "body", "type": "text", "data": secret}],
            },
            headers=scope,
        )
    )["object_id"]
    collection_id = _ok(
        stack.call(
            "POST",
            "/v1/collections",
            json={
                "collection_name": f"alpha-collection-{suffix}",
                "description": secret,
                "source": {"type": "bucket", "bucket_ids": [bucket_id]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "parameters": {"inference_service": "minilm_l6_v2"},
                },
            },
            headers=scope,
        )
    )["collection_id"]
    _ok(
        stack.call(
            "POST",
            f"/v1/namespaces/{standalone_id}/payload-indexes",
            json={"field_name": "tier", "type": "keyword"},
        )
    )
    # A document of the collection (as ingestion would write it): the collection's documents.
    in_collection = {
        "document_id": "doc-alpha",
        "vectors": {"text_extractor_v1_embedding": [1.0] + [0.0] * 383},
        "payload": {"collection_id": collection_id, "secret": secret},
    }
    _ok(
        stack.call(
            "POST", f"/v1/namespaces/{managed_id}/documents/direct", json={"documents": [in_collection]}
        )
    )
    upload = _ok(
        stack.call(
            "POST",
            f"/v1/buckets/{bucket_id}/uploads",
            json={"filename": "notes.txt", "content_type": "text/plain", "metadata": {"secret": secret}},
            headers=scope,
        )
    )
    import boto3

    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=DATA_BUCKET, Key=upload["s3_key"], Body=secret.encode(), ContentType="text/plain"
    )
    task_id = f"task_alpha{suffix}"
    stack.store.put_task(
        Task(
            task_id=task_id,
            task_type="object_processing",
            status="COMPLETED",
            inputs={"secret": secret, "object_id": object_id},
            org_id="org_a",
            namespace_id=managed_id,
            created_at="2025-01-01T00:00:00Z",
            updated_at="2025-01-01T00:00:00Z",
        )
    )
    managed_document = {
        "document_id": "doc-managed",
        "vectors": {TEXT_INDEX: QUERY_384},
        "payload": {"secret": secret},
    }
    _ok(
        stack.call(
            "POST", f"/v1/namespaces/{managed_id}/documents/direct", json={"documents": [managed_document]}
        )
    )
    retriever_name = f"alpha-retriever-{suffix}"
    retriever_id = _ok(
        stack.call(
            "POST",
            "/v1/retrievers",
            json={"retriever_name": retriever_name, "description": secret, "stages": [SEARCH_STAGE]},
            headers=scope,
        )
    )["retriever_id"]
    b_namespace = _ok(
        stack.call(
            "POST",
            "/v1/namespaces",
            key="b_admin",
            json={"namespace_name": f"bravo-{suffix}", "feature_extractors": TEXT_EXTRACTORS},
        )
    )["namespace_id"]
    return World(
        suffix=suffix,
        secret=secret,
        standalone_id=standalone_id,
        document_id="doc-alpha",
        managed_id=managed_id,
        managed_name=managed_name,
        bucket_id=bucket_id,
        bucket_name=bucket_name,
        object_id=object_id,
        collection_id=collection_id,
        task_id=task_id,
        retriever_id=retriever_id,
        retriever_name=retriever_name,
        upload_id=upload["upload_id"],
        b_namespace=b_namespace,
    )


# ---------------------------------------------------------------------------------------------
# The per-route table


@dataclass(frozen=True)
class Case:
    """How to call a route on org A's world, and what each caller must get.

    `b_status`: org B's key on org A's resource (A's namespace in `X-Namespace`).
    `own_scope_status`: routes taking `X-Namespace` only: org B with its own namespace in the
    header, A's ids in the path and body.
    `a_status`: org A's key holding exactly `permission` (the control).
    `shows_secret`: A's answer carries A's data, so B's answer not carrying it means something."""

    permission: Permission
    body: Callable[[World], Any] | None = None
    b_status: int = 404
    own_scope_status: int | None = None
    a_status: int = 200
    shows_secret: bool = False
    query: str = ""


# Lists run on a stack shared by the module's tests: one page must hold every item.
ALL = "?limit=1000"


def _upsert(_: World) -> dict[str, Any]:
    return {"documents": [{"document_id": "doc-new", "vectors": {"emb": [0.0, 1.0, 0.0, 0.0]}}]}


def _object(_: World) -> dict[str, Any]:
    return {"blobs": [{"property": "body", "type": "text", "data": "hello"}]}


CASES: dict[Route, Case] = {
    # Creates name nothing of A's but a name: B reusing it must succeed (names are per
    # organization; a 409 would tell B the name exists), A reusing it must get 409.
    ("POST", "/v1/namespaces"): Case(
        "write",
        lambda w: {"namespace_name": w.managed_name, "feature_extractors": TEXT_EXTRACTORS},
        b_status=200,
        a_status=409,
    ),
    ("POST", "/v1/namespaces/standalone"): Case(
        "write", lambda w: {"namespace_id": w.standalone_id}, b_status=200, a_status=409
    ),
    ("GET", "/v1/namespaces"): Case("read", b_status=200, shows_secret=True, query=ALL),
    ("POST", "/v1/namespaces/list"): Case("read", lambda w: {"limit": 1000}, b_status=200, shows_secret=True),
    ("GET", "/v1/namespaces/{namespace_identifier}"): Case("read", shows_secret=True),
    ("PATCH", "/v1/namespaces/{namespace_identifier}"): Case("write", lambda w: {"description": "patched"}),
    ("DELETE", "/v1/namespaces/{namespace_identifier}"): Case("admin"),
    ("POST", "/v1/namespaces/{namespace_identifier}/promote"): Case("admin", lambda w: {}),
    # The world's namespace is standalone: A's key gets the migration rule's 409, B's a 404.
    ("POST", "/v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate"): Case(
        "admin", lambda w: {"inference_service": "minilm_l6_v2", "source": {"field": "secret"}}, a_status=409
    ),
    ("POST", "/v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate/cancel"): Case(
        "admin", a_status=409
    ),
    ("PUT", "/v1/namespaces/{namespace_identifier}"): Case(
        "write", lambda w: {"namespace_name": f"renamed-{w.suffix}"}
    ),
    ("POST", "/v1/namespaces/{namespace_identifier}/payload-indexes"): Case(
        "write", lambda w: {"field_name": "secret", "type": "keyword"}
    ),
    ("DELETE", "/v1/namespaces/{namespace_identifier}/payload-indexes/{field_name}"): Case("write"),
    ("POST", "/v1/namespaces/{namespace_identifier}/ensure-indexes"): Case("write"),
    ("GET", "/v1/namespaces/{namespace_identifier}/analytics/filter-usage"): Case("read"),
    # The catalogue is the same for everyone: no organization's data in it.
    ("GET", "/v1/inference/services"): Case("read", b_status=200),
    ("POST", "/v1/namespaces/{namespace_identifier}/documents/direct"): Case("write", _upsert),
    ("POST", "/v1/namespaces/{namespace_identifier}/documents/upsert"): Case("write", _upsert),
    ("POST", "/v1/namespaces/{namespace_identifier}/documents/list"): Case(
        "read", lambda w: {}, shows_secret=True
    ),
    ("GET", "/v1/namespaces/{namespace_identifier}/documents/{document_id}"): Case("read", shows_secret=True),
    ("DELETE", "/v1/namespaces/{namespace_identifier}/documents/{document_id}"): Case("write"),
    ("POST", "/v1/search"): Case(
        "read",
        lambda w: {
            "namespace_id": w.standalone_id,
            "queries": [{"vector_name": "emb", "vector": [1.0, 0.0, 0.0, 0.0]}],
        },
        shows_secret=True,
    ),
    # --- X-Namespace routes
    ("POST", "/v1/buckets"): Case(
        "write", lambda w: {"bucket_name": w.bucket_name}, own_scope_status=200, a_status=409
    ),
    ("GET", "/v1/buckets"): Case("read", own_scope_status=200, shows_secret=True, query=ALL),
    ("POST", "/v1/buckets/list"): Case(
        "read", lambda w: {"limit": 1000}, own_scope_status=200, shows_secret=True
    ),
    ("GET", "/v1/buckets/{bucket_id}"): Case("read", own_scope_status=404, shows_secret=True),
    ("DELETE", "/v1/buckets/{bucket_id}"): Case("write", own_scope_status=404),
    ("POST", "/v1/buckets/{bucket_id}/objects"): Case("write", _object, own_scope_status=404),
    ("POST", "/v1/buckets/{bucket_id}/objects/batch"): Case(
        "write", lambda w: {"objects": [_object(w), _object(w)]}, own_scope_status=404
    ),
    ("GET", "/v1/buckets/{bucket_id}/objects"): Case(
        "read", own_scope_status=404, shows_secret=True, query=ALL
    ),
    ("GET", "/v1/buckets/{bucket_id}/objects/{object_id}"): Case(
        "read", own_scope_status=404, shows_secret=True
    ),
    ("POST", "/v1/buckets/{bucket_id}/objects/list"): Case(
        "read", lambda w: {"limit": 1000}, own_scope_status=404, shows_secret=True
    ),
    ("DELETE", "/v1/buckets/{bucket_id}/objects/{object_id}"): Case("write", own_scope_status=404),
    ("POST", "/v1/buckets/{bucket_id}/uploads/{upload_id}/confirm"): Case("write", own_scope_status=404),
    ("POST", "/v1/buckets/{bucket_id}/uploads"): Case(
        "write", lambda w: {"filename": "notes.txt", "content_type": "text/plain"}, own_scope_status=404
    ),
    # B's own namespace, A's bucket as the source: refused as a bucket B does not have.
    ("POST", "/v1/collections"): Case(
        "write",
        lambda w: {
            "collection_name": f"new-collection-{w.suffix}",
            "source": {"type": "bucket", "bucket_ids": [w.bucket_id]},
            "feature_extractor": {
                "feature_extractor_name": "text_extractor",
                "version": "v1",
                "parameters": {"inference_service": "minilm_l6_v2"},
            },
        },
        own_scope_status=400,
    ),
    ("GET", "/v1/collections"): Case("read", own_scope_status=200, shows_secret=True, query=ALL),
    ("POST", "/v1/collections/list"): Case(
        "read", lambda w: {"limit": 1000}, own_scope_status=200, shows_secret=True
    ),
    ("POST", "/v1/collections/{collection_id}/documents/list"): Case(
        "read", lambda w: {}, own_scope_status=404, shows_secret=True
    ),
    ("GET", "/v1/collections/{collection_id}/documents"): Case(
        "read", own_scope_status=404, shows_secret=True
    ),
    ("GET", "/v1/collections/{collection_id}/documents/{document_id}"): Case(
        "read", own_scope_status=404, shows_secret=True
    ),
    ("PATCH", "/v1/collections/{collection_id}/documents/{document_id}"): Case(
        "write", lambda w: {"reviewed": True}, own_scope_status=404
    ),
    ("DELETE", "/v1/collections/{collection_id}/documents/{document_id}"): Case(
        "write", own_scope_status=404
    ),
    ("POST", "/v1/collections/{collection_id}/documents/batch"): Case(
        "write",
        lambda w: {"updates": [{"document_id": w.document_id, "update_data": {"reviewed": True}}]},
        own_scope_status=404,
    ),
    ("GET", "/v1/collections/{collection_id}"): Case("read", own_scope_status=404, shows_secret=True),
    ("DELETE", "/v1/collections/{collection_id}"): Case("write", own_scope_status=404),
    ("GET", "/v1/tasks/{task_id}"): Case("read", own_scope_status=404, shows_secret=True),
    # Retrievers: B's own namespace holds none of A's retrievers, and its searches find only its
    # own (empty) index; a name A uses is free in B's namespace.
    ("POST", "/v1/retrievers"): Case(
        "write",
        lambda w: {"retriever_name": w.retriever_name, "stages": [SEARCH_STAGE]},
        own_scope_status=200,
        a_status=409,
    ),
    ("GET", "/v1/retrievers"): Case("read", own_scope_status=200, shows_secret=True, query=ALL),
    ("POST", "/v1/retrievers/list"): Case(
        "read", lambda w: {"limit": 1000}, own_scope_status=200, shows_secret=True
    ),
    ("POST", "/v1/retrievers/execute"): Case(
        "read", lambda w: {"stages": [SEARCH_STAGE]}, own_scope_status=200, shows_secret=True
    ),
    ("GET", "/v1/retrievers/{retriever_id}"): Case("read", own_scope_status=404, shows_secret=True),
    ("PATCH", "/v1/retrievers/{retriever_id}"): Case(
        "write", lambda w: {"description": "patched"}, own_scope_status=404
    ),
    ("DELETE", "/v1/retrievers/{retriever_id}"): Case("write", own_scope_status=404),
    ("POST", "/v1/retrievers/{retriever_id}/execute"): Case(
        "read", lambda w: {"inputs": {}}, own_scope_status=404, shows_secret=True
    ),
    ("POST", "/v1/features/search"): Case(
        "read",
        lambda w: {"feature_uri": TEXT_INDEX, "query": {"input_mode": "vector", "vector": QUERY_384}},
        own_scope_status=200,
        shows_secret=True,
    ),
}


# ---------------------------------------------------------------------------------------------
# The route walk


def _header_names(dependant: Any) -> set[str]:
    names = {str(param.alias).lower() for param in dependant.header_params}
    for sub in dependant.dependencies:
        names |= _header_names(sub)
    return names


def _walk() -> dict[Route, APIRoute | BaseRoute]:
    routes: dict[Route, APIRoute | BaseRoute] = {}
    for router in OPERATIONS.values():
        for original, path, methods in flat_routes(router.routes):
            for method in methods or {"?"}:
                if method != "HEAD":
                    routes[(method, path)] = original
    return routes


ROUTES = _walk()
PROTECTED = sorted(route for route in ROUTES if route not in PUBLIC)
IDS = [f"{method} {path}" for method, path in PROTECTED]


def _case(route: Route) -> Case:
    case = CASES.get(route)
    if case is None:
        pytest.fail(
            f"add {route[0]} {route[1]} to {THIS_FILE} CASES (its permission, body and expected answers), "
            f"or to PUBLIC with the reason it needs no key"
        )
    original = ROUTES[route]
    assert isinstance(original, APIRoute), f"{route}: not an API route; {THIS_FILE} cannot check it"
    scoped = "x-namespace" in _header_names(original.dependant)
    assert scoped == (case.own_scope_status is not None), (
        f"{route[0]} {route[1]} {'takes' if scoped else 'does not take'} X-Namespace: "
        f"{'set' if scoped else 'drop'} own_scope_status in {THIS_FILE} CASES"
    )
    return case


def _path(route: Route, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in world.params, f"{route}: add a value for path parameter {{{name}}} to World.params"
        return world.params[name]

    return re.sub(r"\{(\w+)\}", value, route[1])


Scope = Literal["a", "own"]


def _request(
    stack: Stack, world: World, route: Route, key: str | None, scope: Scope = "a", **kw: Any
) -> Response:
    case = _case(route)
    headers = dict(kw.pop("headers", None) or {})
    if case.own_scope_status is not None:
        headers["X-Namespace"] = world.managed_id if scope == "a" else world.b_namespace
    body = case.body(world) if case.body is not None else None
    return stack.call(route[0], _path(route, world) + case.query, key=key, json=body, headers=headers, **kw)


def _a_state(stack: Stack, world: World) -> str:
    """Everything of org A's: its table items, the data bucket, the standalone namespace's vectors.
    Not its rate-limit counters: reading the vectors below is a request, and counts."""
    import boto3

    items = sorted(
        json.dumps(item, sort_keys=True)
        for item in scan_table()
        if "org_b" not in json.dumps(item) and not item["PK"]["S"].startswith(RATE_PREFIX)
    )
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=DATA_BUCKET)
    blobs = sorted((obj["Key"], obj["ETag"]) for obj in listing.get("Contents", []))
    vectors = stack.call(
        "POST",
        f"/v1/namespaces/{world.standalone_id}/documents/list",
        json={"return_vectors": True, "limit": 1000},
    ).text
    return json.dumps([items, blobs, vectors])


def _assert_no_markers(response: Response, world: World) -> None:
    request = response.request
    sent = f"{request.url} {request.content.decode(errors='replace')} {request.headers}"
    leaked = [marker for marker in world.markers if marker in response.text and marker not in sent]
    assert not leaked, f"org B's answer holds org A's {leaked}: {response.text[:500]}"


def _assert_refused_as_not_found(response: Response, status: int) -> None:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    if status == 404:
        assert_envelope(response, 404, "NotFoundError")
    elif status >= 400:
        assert response.json()["success"] is False


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def world(shared_stack: Stack) -> World:
    """One world for the tests that must change nothing (401, 403)."""
    return build_world(shared_stack)


@pytest.fixture(scope="module")
def revoked_key(shared_stack: Stack) -> str:
    from stratus.services.api_keys import create_api_key, revoke_api_key

    key, record = create_api_key(shared_stack.store, "org_a", "revoked", ["read", "write", "admin"])
    revoke_api_key(shared_stack.store, "org_a", record.key_id)
    return key


@pytest.fixture
def make_world(shared_stack: Stack) -> Iterator[Callable[[], World]]:
    """Fresh worlds for tests that change things; deleted afterwards, so the shared stack's
    lists stay short."""
    made: list[World] = []

    def make() -> World:
        made.append(build_world(shared_stack))
        return made[-1]

    yield make
    for world in made:
        for key in ("a_admin", "b_admin"):
            listed = _ok(shared_stack.call("GET", "/v1/namespaces?limit=1000", key=key))["results"]
            for namespace in listed:
                if world.suffix in namespace["namespace_id"] or world.suffix in namespace["namespace_name"]:
                    shared_stack.call("DELETE", f"/v1/namespaces/{namespace['namespace_id']}", key=key)


# ---------------------------------------------------------------------------------------------
# The table covers the routes


def test_every_route_has_a_case() -> None:
    missing = [f"{m} {p}" for m, p in PROTECTED if (m, p) not in CASES]
    assert not missing, f"add these routes to {THIS_FILE} CASES (or PUBLIC, with a reason): {missing}"


def test_every_case_is_a_route() -> None:
    stale = [f"{m} {p}" for m, p in [*CASES, *PUBLIC] if (m, p) not in ROUTES]
    assert not stale, f"{THIS_FILE} lists routes that no longer exist: {stale}"


def test_public_routes_answer_without_a_key(shared_stack: Stack) -> None:
    for method, path in PUBLIC:
        concrete = re.sub(r"\{(\w+)\}", lambda match: PUBLIC_PARAMS[match.group(1)], path)
        assert shared_stack.call(method, concrete, key=None).status_code == 200


# ---------------------------------------------------------------------------------------------
# 401


@pytest.mark.parametrize("route", PROTECTED, ids=IDS)
def test_without_a_valid_key_every_route_is_401(
    shared_stack: Stack, world: World, revoked_key: str, route: Route
) -> None:
    before = _a_state(shared_stack, world)
    credentials = {
        "no Authorization": None,
        "another scheme": "Basic YWxpY2U6c2VjcmV0",
        "a malformed key": "Bearer not-a-key",
        "an unknown key": "Bearer sk_" + "U" * 32,
        "a revoked key": f"Bearer {revoked_key}",
    }
    for what, header in credentials.items():
        headers = {"Authorization": header} if header is not None else {}
        response = _request(shared_stack, world, route, key=None, headers=headers)
        assert response.status_code == 401, f"{what}: {response.status_code} {response.text}"
        assert_envelope(response, 401, "UnauthorizedError")
        _assert_no_markers(response, world)
    assert _a_state(shared_stack, world) == before


# ---------------------------------------------------------------------------------------------
# 403

_BELOW: dict[Permission, list[str]] = {"read": [], "write": ["a_read"], "admin": ["a_read", "a_write"]}
NEEDS_MORE_THAN_READ = [r for r in PROTECTED if r not in CASES or CASES[r].permission != "read"]


@pytest.mark.parametrize("route", NEEDS_MORE_THAN_READ, ids=[f"{m} {p}" for m, p in NEEDS_MORE_THAN_READ])
def test_a_key_without_the_permission_is_403(shared_stack: Stack, world: World, route: Route) -> None:
    case = _case(route)
    before = _a_state(shared_stack, world)
    for key in _BELOW[case.permission]:
        response = _request(shared_stack, world, route, key=key)
        error = assert_envelope(response, 403, "ForbiddenError")
        assert error["details"]["required_permission"] == case.permission, error
    assert _a_state(shared_stack, world) == before


# ---------------------------------------------------------------------------------------------
# Organization isolation, then the control

_MINIMAL_KEY: dict[Permission, str] = {"read": "a_read", "write": "a_write", "admin": "a_admin"}


@pytest.mark.parametrize("route", PROTECTED, ids=IDS)
def test_another_organization_gets_nothing_of_ours(
    shared_stack: Stack, world: World, make_world: Callable[[], World], route: Route
) -> None:
    case = _case(route)
    stack = shared_stack
    if case.permission != "read":  # the request may change things: a world of its own
        world = make_world()
    before = _a_state(stack, world)

    refused = _request(stack, world, route, key="b_admin", scope="a")
    _assert_refused_as_not_found(refused, case.b_status)
    _assert_no_markers(refused, world)
    if case.own_scope_status is not None:
        own = _request(stack, world, route, key="b_admin", scope="own")
        _assert_refused_as_not_found(own, case.own_scope_status)
        _assert_no_markers(own, world)
    assert _a_state(stack, world) == before, "org B's requests changed org A's state"

    control = _request(stack, world, route, key=_MINIMAL_KEY[case.permission], scope="a")
    assert control.status_code == case.a_status, f"the control answered {control.status_code}: {control.text}"
    if case.shows_secret:
        assert world.secret in control.text, f"the control does not show org A's data: {control.text[:500]}"


def test_the_same_namespace_id_in_two_organizations_shares_nothing(
    shared_stack: Stack, make_world: Callable[[], World]
) -> None:
    stack, world = shared_stack, make_world()
    body = {"namespace_id": world.standalone_id, "vector_configs": [{"name": "emb", "dimension": 4}]}
    _ok(stack.call("POST", "/v1/namespaces/standalone", key="b_admin", json=body))
    mine = {"document_id": "doc-bravo", "vectors": {"emb": [1.0, 0.0, 0.0, 0.0]}, "payload": {"owner": "b"}}
    docs = f"/v1/namespaces/{world.standalone_id}/documents"
    _ok(stack.call("POST", f"{docs}/direct", key="b_admin", json={"documents": [mine]}))
    search = {
        "namespace_id": world.standalone_id,
        "queries": [{"vector_name": "emb", "vector": [1.0, 0.0, 0.0, 0.0]}],
    }

    for key, own, other in (("b_admin", "doc-bravo", "doc-alpha"), ("a_admin", "doc-alpha", "doc-bravo")):
        found = _ok(stack.call("POST", "/v1/search", key=key, json=search))
        assert [r["document_id"] for r in found["results"]] == [own]
        listed = _ok(stack.call("POST", f"{docs}/list", key=key, json={}))
        assert [d["document_id"] for d in listed["results"]] == [own]
        assert stack.call("GET", f"{docs}/{other}", key=key).status_code == 404
    assert world.secret not in stack.call("GET", f"/v1/namespaces/{world.standalone_id}", key="b_admin").text
