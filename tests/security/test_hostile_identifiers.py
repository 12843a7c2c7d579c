"""Identifiers and names that try to reach another item of the metadata store (issue 17, items 7
and 8), over the app in-process on moto and LanceDB.

- **The key separator.** Keys are parts joined with `#` (`NS#{namespace}#BKT#{bucket}`), so a
  namespace identifier `ns_x#BKT#bkt_y` once read the bucket item as a namespace (a 500). Every
  identifier a request carries (path, `X-Namespace`, body) and every name that becomes a key is
  refused with a 4xx naming its field, before any read; and the store's reads check the item's
  `entity`, so a crafted key returns nothing even past the API (the store tests below).
- **Ids and names share one lookup** (`{namespace_identifier}`, `X-Namespace`: ids first), so a
  new id equal to a name in use (a decoy taking over "prod") and a name or rename equal to an id
  in use are 409s naming the field. DynamoDB Local races them in
  tests/integration/test_identifier_concurrency.py.
- Unicode, very long and otherwise odd identifiers answer 4xx or their resource, never a 5xx.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from stratus.adapters.dynamodb import schema
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.domain.identifiers import RESERVED_CHARACTERS
from tests.security.conftest import Response, Stack, assert_envelope

TEXT_EXTRACTOR = [
    {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
]
_NAMES = iter(range(1_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_NAMES)}"


def ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Managed:
    """A managed namespace with a bucket, an object-free collection and their ids."""

    namespace_id: str
    namespace_name: str
    bucket_id: str
    bucket_name: str
    collection_id: str


@pytest.fixture(scope="module")
def managed(shared_stack: Stack) -> Managed:
    name = unique("hostile")
    namespace = ok(
        shared_stack.call(
            "POST", "/v1/namespaces", json={"namespace_name": name, "feature_extractors": TEXT_EXTRACTOR}
        )
    )
    header = {"X-Namespace": namespace["namespace_id"]}
    bucket = ok(shared_stack.call("POST", "/v1/buckets", json={"bucket_name": "files"}, headers=header))
    collection = ok(
        shared_stack.call(
            "POST",
            "/v1/collections",
            json={
                "collection_name": "notes",
                "source": {"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
                "feature_extractor": {
                    "feature_extractor_name": "text_extractor",
                    "version": "v1",
                    "parameters": {"inference_service": "minilm_l6_v2"},
                },
            },
            headers=header,
        )
    )
    return Managed(namespace["namespace_id"], name, bucket["bucket_id"], "files", collection["collection_id"])


def crafted_namespace_keys(m: Managed) -> list[str]:
    """Namespace identifiers whose `NS#...` key is another item of the organization."""
    return [
        f"{m.namespace_id}#BKT#{m.bucket_id}",  # the bucket record
        f"{m.namespace_id}#BKTNAME#{m.bucket_name}",  # the bucket's name guard
        f"{m.namespace_id}#COL#{m.collection_id}",  # the collection record
    ]


def refused_naming(response: Response, field: str) -> None:
    error = assert_envelope(response, 400, "BadRequestError")
    assert error["details"].get("field") == field, error
    assert field in error["message"] and "'#'" in error["message"], error


# ---------------------------------------------------------------------------------------------
# The separator: derived from the key builders


def test_every_separator_of_the_key_schema_is_reserved() -> None:
    """Each key builder of the schema, called with placeholder parts: what is left once the
    parts and the fixed upper-case prefixes are taken out are its separators."""
    found: set[str] = set()
    for name, builder in inspect.getmembers(schema, inspect.isfunction):
        if builder.__module__ != schema.__name__ or name in ("key", "too_long", "is_entity"):
            continue
        parts = [f"p{i}x" for i in range(len(inspect.signature(builder).parameters))]
        built = builder(*parts)
        assert isinstance(built, str), name
        for part in parts:
            built = built.replace(part, "")
        found |= set(re.sub(r"[A-Z0-9]", "", built))
    assert found, "no key builder found in the schema"
    assert found <= RESERVED_CHARACTERS, f"key separators not reserved: {found - RESERVED_CHARACTERS}"


# ---------------------------------------------------------------------------------------------
# Item 7: identifiers holding the separator are refused with the field named


NAMESPACE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/namespaces/{ns}", None),
    ("PATCH", "/v1/namespaces/{ns}", {"description": "x"}),
    ("DELETE", "/v1/namespaces/{ns}", None),
    ("POST", "/v1/namespaces/{ns}/promote", {}),
    ("POST", "/v1/namespaces/{ns}/payload-indexes", {"field_name": "f", "type": "keyword"}),
    ("GET", "/v1/namespaces/{ns}/analytics/filter-usage", None),
    ("POST", "/v1/namespaces/{ns}/documents/list", {}),
    ("GET", "/v1/namespaces/{ns}/documents/doc-1", None),
    ("DELETE", "/v1/namespaces/{ns}/documents/doc-1", None),
    ("POST", "/v1/namespaces/{ns}/documents/upsert", {"documents": [{"vectors": {"e": [0.1]}}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), NAMESPACE_ROUTES, ids=lambda v: str(v)[:40])
def test_a_namespace_identifier_reaching_another_item_is_a_400(
    shared_stack: Stack, managed: Managed, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for crafted in crafted_namespace_keys(managed):
        response = shared_stack.call(method, path.format(ns=quote(crafted, safe="")), json=body)
        refused_naming(response, "namespace_identifier")
    # The namespace and its bucket are untouched (no route acted on what it misread).
    assert ok(shared_stack.call("GET", f"/v1/namespaces/{managed.namespace_id}"))["bucket_count"] == 1


def test_an_x_namespace_header_reaching_another_item_is_a_400(shared_stack: Stack, managed: Managed) -> None:
    for crafted in crafted_namespace_keys(managed):
        for method, path in [("GET", "/v1/buckets"), ("GET", "/v1/collections"), ("GET", "/v1/tasks/task_1")]:
            refused_naming(shared_stack.call(method, path, headers={"X-Namespace": crafted}), "X-Namespace")


def test_a_search_namespace_id_reaching_another_item_is_a_400(shared_stack: Stack, managed: Managed) -> None:
    for crafted in crafted_namespace_keys(managed):
        body = {"namespace_id": crafted, "queries": [{"vector_name": "e", "vector": [0.1]}]}
        refused_naming(shared_stack.call("POST", "/v1/search", json=body), "namespace_id")


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/v1/buckets/{bucket}%23x", "bucket_id"),
        ("DELETE", "/v1/buckets/{bucket}%23x", "bucket_id"),
        ("GET", "/v1/buckets/{bucket}%23x/objects", "bucket_id"),
        ("GET", "/v1/buckets/{bucket}/objects/obj_1%23x", "object_id"),
        ("GET", "/v1/collections/{collection}%23x", "collection_id"),
        ("DELETE", "/v1/collections/{collection}%23x", "collection_id"),
        ("GET", "/v1/tasks/task_1%23TASK", "task_id"),
    ],
)
def test_a_managed_content_id_holding_the_separator_is_a_400(
    shared_stack: Stack, managed: Managed, method: str, path: str, field: str
) -> None:
    url = path.format(bucket=managed.bucket_id, collection=managed.collection_id)
    response = shared_stack.call(method, url, headers={"X-Namespace": managed.namespace_id})
    refused_naming(response, field)


def test_a_collection_source_bucket_id_holding_the_separator_is_a_400(
    shared_stack: Stack, managed: Managed
) -> None:
    body = {
        "collection_name": "c",
        "source": {"type": "bucket", "bucket_ids": [f"{managed.bucket_id}#x"]},
        "feature_extractor": {"feature_extractor_name": "text_extractor", "version": "v1"},
    }
    response = shared_stack.call(
        "POST", "/v1/collections", json=body, headers={"X-Namespace": managed.namespace_id}
    )
    refused_naming(response, "source.bucket_ids")


def invalid_naming(response: Response, field: str) -> None:
    error = assert_envelope(response, 422, "ValidationError")
    locations = [problem["location"] for problem in error["details"]["validation_errors"]]
    assert field in locations, error
    assert "'#'" in error["message"], error


def test_names_that_become_keys_may_not_hold_the_separator(shared_stack: Stack, managed: Managed) -> None:
    standalone = {"namespace_id": unique("named"), "namespace_name": "team#BKT#x"}
    invalid_naming(shared_stack.call("POST", "/v1/namespaces/standalone", json=standalone), "namespace_name")
    managed_body = {"namespace_name": "a#b", "feature_extractors": TEXT_EXTRACTOR}
    assert shared_stack.call("POST", "/v1/namespaces", json=managed_body).status_code == 422
    rename = {"namespace_name": f"{managed.namespace_name}#x"}
    invalid_naming(
        shared_stack.call("PATCH", f"/v1/namespaces/{managed.namespace_id}", json=rename), "namespace_name"
    )
    bucket = {"bucket_name": "photos#2024"}
    response = shared_stack.call(
        "POST", "/v1/buckets", json=bucket, headers={"X-Namespace": managed.namespace_id}
    )
    invalid_naming(response, "bucket_name")


# Odd but separator-free identifiers: each names nothing, so 404 (or a 4xx refusing its shape).
HOSTILE_IDENTIFIERS = [
    "é-ñame",
    "名前空間",
    "emoji-\U0001f600",
    "x" * 2000,  # past DynamoDB's 1024-byte sort key
    "é" * 600,  # 1200 bytes in UTF-8, 600 characters
    "NS",
    "NSNAME",
    "..",
    " spaced ",
    "tab\there",
    "nul\x00byte",
    "\u202eright-to-left",
    "\ufeffbom",
    "APIKEY",
    "TASK",
]


@pytest.mark.parametrize("identifier", HOSTILE_IDENTIFIERS, ids=lambda v: repr(v)[:24])
def test_odd_identifiers_answer_a_4xx_never_a_5xx(
    shared_stack: Stack, managed: Managed, identifier: str
) -> None:
    encoded = quote(identifier, safe="")
    responses = [
        shared_stack.call("GET", f"/v1/namespaces/{encoded}"),
        shared_stack.call("POST", f"/v1/namespaces/{encoded}/documents/list", json={}),
        shared_stack.call("GET", f"/v1/buckets/{encoded}", headers={"X-Namespace": managed.namespace_id}),
        shared_stack.call("GET", f"/v1/collections/{encoded}", headers={"X-Namespace": managed.namespace_id}),
        shared_stack.call("GET", f"/v1/tasks/{encoded}", headers={"X-Namespace": managed.namespace_id}),
        shared_stack.call(
            "POST",
            "/v1/search",
            json={"namespace_id": identifier, "queries": [{"vector_name": "e", "vector": [0.1]}]},
        ),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500, (response.request.url, response.status_code, response.text)
        assert_envelope(response, response.status_code, response.json()["error"]["type"])


# ---------------------------------------------------------------------------------------------
# Item 7 below the API: the store's reads check the entity of what they read


def test_the_store_never_hands_back_another_item_type(shared_stack: Stack, managed: Managed) -> None:
    store = shared_stack.store
    for crafted in crafted_namespace_keys(managed):
        assert store.get_namespace("org_a", crafted) is None
        assert store.find_namespace("org_a", crafted) is None
    # A bucket id reaching the name guard under the bucket prefix's neighbour, a task id reaching
    # an API key's partition: nothing comes back, whatever the key holds.
    assert store.get_bucket("org_a", managed.namespace_id, f"x#BKTNAME#{managed.bucket_name}") is None
    assert store.get_collection("org_a", managed.namespace_id, "") is None
    assert store.get_task("x") is None


def test_a_read_of_the_wrong_entity_is_none(moto_dynamodb: DynamoDBMetadataStore) -> None:
    """The check itself: an item whose `entity` is not the one asked for is not returned."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    item = {"PK": {"S": "ORG#org_a"}, "SK": {"S": "NS#decoy"}, "entity": {"S": "bucket"}}
    client.put_item(TableName=moto_dynamodb.table_name, Item=item)
    assert moto_dynamodb.get_namespace("org_a", "decoy") is None
    assert moto_dynamodb.find_namespace("org_a", "decoy") is None
    client.put_item(TableName=moto_dynamodb.table_name, Item={**item, "entity": {"S": "namespace_name"}})
    assert moto_dynamodb._get("ORG#org_a", "NS#decoy", "namespace") is None
    assert moto_dynamodb._get("ORG#org_a", "NS#decoy", "namespace_name") is not None


# ---------------------------------------------------------------------------------------------
# Item 8: ids and names never shadow each other


def standalone(stack: Stack, namespace_id: str, name: str | None = None) -> Response:
    body: dict[str, Any] = {"namespace_id": namespace_id}
    if name is not None:
        body["namespace_name"] = name
    return stack.call("POST", "/v1/namespaces/standalone", json=body)


def conflict_naming(response: Response, field: str, value: str) -> None:
    error = assert_envelope(response, 409, "AlreadyExistsError")
    assert error["details"] == {"resource": "namespace", "field": field, "value": value}, error


def test_a_new_id_equal_to_a_name_in_use_is_refused(shared_stack: Stack) -> None:
    name = unique("prod")
    real = ok(standalone(shared_stack, unique("real"), name))
    conflict_naming(standalone(shared_stack, name, unique("decoy")), "namespace_id", name)
    # "prod" still resolves to the real one, for reads and writes.
    assert ok(shared_stack.call("GET", f"/v1/namespaces/{name}"))["namespace_id"] == real["namespace_id"]


def test_a_new_name_equal_to_an_id_in_use_is_refused(shared_stack: Stack) -> None:
    # Named apart from its id, so the id is held by the record alone, not by a name guard.
    target = ok(standalone(shared_stack, unique("target"), unique("target name")))["namespace_id"]
    conflict_naming(standalone(shared_stack, unique("decoy"), target), "namespace_name", target)
    managed_body = {"namespace_name": target, "feature_extractors": TEXT_EXTRACTOR}
    conflict_naming(shared_stack.call("POST", "/v1/namespaces", json=managed_body), "namespace_name", target)


def test_a_rename_to_an_id_in_use_is_refused(shared_stack: Stack) -> None:
    target = ok(standalone(shared_stack, unique("target"), unique("target name")))["namespace_id"]
    other = ok(standalone(shared_stack, unique("other")))["namespace_id"]
    response = shared_stack.call("PATCH", f"/v1/namespaces/{other}", json={"namespace_name": target})
    conflict_naming(response, "namespace_name", target)
    assert ok(shared_stack.call("GET", f"/v1/namespaces/{other}"))["namespace_name"] == other


def test_a_namespace_may_be_named_after_its_own_id(shared_stack: Stack) -> None:
    own = unique("own")
    assert ok(standalone(shared_stack, own))["namespace_name"] == own  # the default name
    renamed = ok(shared_stack.call("PATCH", f"/v1/namespaces/{own}", json={"namespace_name": f"{own}-b"}))
    assert renamed["namespace_name"] == f"{own}-b"
    back = ok(shared_stack.call("PATCH", f"/v1/namespaces/{own}", json={"namespace_name": own}))
    assert back["namespace_name"] == own
    # And once deleted, its id is free to be a name.
    assert shared_stack.call("DELETE", f"/v1/namespaces/{own}").status_code == 200
    assert ok(standalone(shared_stack, unique("heir"), own))["namespace_name"] == own


def test_another_organizations_ids_and_names_do_not_collide(shared_stack: Stack) -> None:
    shared = unique("shared")
    ok(standalone(shared_stack, shared))
    response = shared_stack.call(
        "POST",
        "/v1/namespaces/standalone",
        key="b_admin",
        json={"namespace_id": unique("b"), "namespace_name": shared},
    )
    assert response.status_code == 200, response.text


def test_buckets_resolve_by_id_only_so_a_name_cannot_shadow_one(
    shared_stack: Stack, managed: Managed
) -> None:
    """Buckets and collections are addressed by id alone (api.md): a bucket named like another
    bucket's id neither takes its lookups nor is found by that name."""
    header = {"X-Namespace": managed.namespace_id}
    decoy = ok(
        shared_stack.call("POST", "/v1/buckets", json={"bucket_name": managed.bucket_id}, headers=header)
    )
    found = ok(shared_stack.call("GET", f"/v1/buckets/{managed.bucket_id}", headers=header))
    assert found["bucket_id"] == managed.bucket_id and found["bucket_name"] == managed.bucket_name
    assert shared_stack.call("DELETE", f"/v1/buckets/{decoy['bucket_id']}", headers=header).status_code == 200
