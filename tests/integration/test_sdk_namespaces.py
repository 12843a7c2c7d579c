"""The namespace behaviours the Mixpeek SDK's fields and routes ask for, on the real app (moto's
DynamoDB with the template's table, LanceDB in a temp directory):

- `POST /v1/namespaces` with every field the typed SDK sends (`mode: managed`, mangled
  `field_schema`s) and those Stratus reports as not applied; a caller-chosen `namespace_id`;
- lists (GET, and POST with no body, with `case_sensitive`, with paging in the query) answer
  `total_count` from the organization's counter;
- `PUT` renames and replaces the payload indexes (those left out are dropped from the store);
- `ensure-indexes` builds what is missing and reports what exists;
- `DELETE .../payload-indexes/{field}` drops the index from the vector store itself."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.adapters.lancedb.payload_indexes import index_columns
from stratus.adapters.lancedb.store import LanceDBVectorStore
from stratus.container import Container
from stratus.services.spaces import spaces_of
from tests.seed_bodies import seed_body
from tests.wiring import WiredApi

DIM = 4


@dataclass
class Api:
    client: TestClient
    store: DynamoDBMetadataStore
    container: Container

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


@pytest.fixture
def api(
    moto_dynamodb: DynamoDBMetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wired_api: Callable[..., WiredApi],
) -> Iterator[Api]:
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", "stratus")
    monkeypatch.setenv("STRATUS_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", "test-data")
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="test-data")  # namespace deletes
    key = create_api_key(moto_dynamodb, "org_a", "admin", ["read", "write", "admin"])[0]
    wired = wired_api()
    with wired.client() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield Api(client, moto_dynamodb, wired.container)


def _standalone(api: Api, namespace_id: str, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = api.ok(
        "POST",
        "/v1/namespaces/standalone",
        json={"namespace_id": namespace_id, "vector_configs": [{"name": "emb", "dimension": DIM}], **body},
    )
    return created


def _upsert(api: Api, namespace_id: str, payloads: list[dict[str, Any]]) -> None:
    documents = [
        {"document_id": f"d{i}", "vectors": {"emb": [1.0, float(i), 0.5, 0.25]}, "payload": payload}
        for i, payload in enumerate(payloads)
    ]
    api.ok("POST", f"/v1/namespaces/{namespace_id}/documents/direct", json={"documents": documents})


def _lance_traces(api: Api, namespace_id: str, field: str, index_type: str) -> set[str]:
    """The index's columns and Lance indexes in every table of the namespace: the store itself."""
    vectors = api.container.vectors
    assert isinstance(vectors, LanceDBVectorStore)
    namespace = api.store.get_namespace("org_a", namespace_id)
    assert namespace is not None
    columns = set(index_columns(field, index_type).values())
    found: set[str] = set()
    for space in spaces_of(namespace):
        table = vectors._table(space)
        assert table is not None
        found |= {name for name in table.schema.names if name in columns}
        found |= {f"index:{config.name}" for config in table.list_indices() if columns & set(config.columns)}
    return found


# ---------------------------------------------------------------------------------------------
# Create


def test_the_seed_body_as_the_typed_sdk_sends_it_is_accepted(api: Api) -> None:
    from mixpeek import CreateNamespaceRequest

    request = CreateNamespaceRequest.from_dict(seed_body("create-namespace.json"))
    assert request is not None
    sent = request.to_dict()
    assert sent["mode"] == "managed"  # always sent by the SDK
    keyword = sent["payload_indexes"][1]
    assert keyword["field_schema"]["min_token_len"] == 2  # a text option on a keyword index

    created = api.ok("POST", "/v1/namespaces", json=sent)

    assert created["mode"] == "managed" and created["warnings"] == []
    assert created["vector_inference_map"]["image_extractor_v1_embedding"] == "google_siglip_base_v1"
    described = {index["field_name"]: index for index in created["payload_indexes"]}
    assert described["metadata.description"]["field_schema"] == {"type": "keyword"}  # foreign options gone
    assert described["metadata.title"]["field_schema"]["tokenizer"] == "word"


def test_sdk_fields_stratus_does_not_apply_are_accepted_and_reported(api: Api) -> None:
    body = {
        "namespace_name": "with-extras",
        "namespace_id": "chosen-id",
        "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}],
        "namespace_type": "standard",  # Stratus's own behaviour: no warning
        "scope": "org",
        "adaptive_indexing": False,
        "ttl_seconds": 3600,
        "infrastructure": {"max_workers": 4},
        "tiering": {"mode": "hot"},
    }

    created = api.ok("POST", "/v1/namespaces", json=body)

    assert created["namespace_id"] == "chosen-id"
    assert [warning.split(":")[0] for warning in created["warnings"]] == [
        "ttl_seconds",
        "infrastructure",
        "tiering",
    ]
    assert all("accepted but not applied" in warning for warning in created["warnings"])
    assert api.client.post("/v1/namespaces", json={**body, "namespace_name": "other"}).status_code == 409
    standalone = api.client.post("/v1/namespaces", json={**body, "mode": "standalone"})
    assert standalone.status_code == 422  # a standalone namespace has its own route
    unknown = api.client.post("/v1/namespaces", json={**body, "namespace_name": "x2", "colour": "red"})
    assert unknown.status_code == 422  # unknown to the SDK and to api.md: still refused
    patched = api.ok("PATCH", "/v1/namespaces/chosen-id", json={"description": "d", "pinned": {"on": True}})
    assert patched["description"] == "d" and [w.split(":")[0] for w in patched["warnings"]] == ["pinned"]


# ---------------------------------------------------------------------------------------------
# Lists


def test_lists_answer_total_count_with_or_without_a_body(api: Api) -> None:
    for name in ("Alpha", "beta", "gamma"):
        _standalone(api, name.lower(), namespace_name=name, description=f"about {name}")

    got = api.ok("GET", "/v1/namespaces?limit=2")
    assert got["total_count"] == 3 and len(got["results"]) == 2 and got["pagination"]["next_cursor"]
    no_body = api.ok("POST", "/v1/namespaces/list?page_size=1&include_system=false&view=summary")
    assert no_body["total_count"] == 3 and len(no_body["results"]) == 1
    searched = api.ok("POST", "/v1/namespaces/list", json={"search": "ALPHA", "case_sensitive": False})
    assert [n["namespace_name"] for n in searched["results"]] == ["Alpha"] and searched["total_count"] == 1
    exact = api.ok("POST", "/v1/namespaces/list", json={"search": "ALPHA", "case_sensitive": True})
    assert exact["results"] == [] and exact["total_count"] == 0
    filtered = api.ok(
        "POST", "/v1/namespaces/list", json={"filters": {"namespace_name": "ALPHA"}, "case_sensitive": True}
    )
    assert filtered["total_count"] == 0
    sorted_desc = api.ok(
        "POST",
        "/v1/namespaces/list",
        json={"sorts": [{"field": "namespace_name", "direction": "desc"}], "limit": 5},
    )
    assert [n["namespace_name"] for n in sorted_desc["results"]] == ["gamma", "beta", "Alpha"]
    paged = api.ok(
        "POST", "/v1/namespaces/list", json={"offset": 1, "limit": 1, "sort": {"field": "namespace_id"}}
    )
    assert [n["namespace_id"] for n in paged["results"]] == ["beta"]
    api.ok("DELETE", "/v1/namespaces/beta")
    assert api.ok("GET", "/v1/namespaces")["total_count"] == 2


def test_total_count_reads_the_counter_not_the_namespaces(api: Api) -> None:
    _standalone(api, "counted")
    # The counter is the one item the count reads: set it aside and the answer says so.
    counter = {"PK": {"S": "ORG#org_a"}, "SK": {"S": "COUNTER#namespaces"}}
    api.store.client.update_item(
        TableName="stratus",
        Key=counter,
        UpdateExpression="SET namespace_count = :n",
        ExpressionAttributeValues={":n": {"N": "41"}},
    )
    assert api.ok("GET", "/v1/namespaces")["total_count"] == 41
    assert api.ok("POST", "/v1/namespaces/list", json={"search": "counted"})["total_count"] == 1  # narrowed


# ---------------------------------------------------------------------------------------------
# PUT, ensure-indexes, DELETE payload index


def test_a_deleted_payload_index_is_gone_from_the_store(api: Api) -> None:
    _standalone(api, "shop", payload_indexes=[{"field_name": "tag", "type": "keyword"}])
    _upsert(api, "shop", [{"tag": "a"}, {"tag": "b"}, {"title": "x"}])
    api.ok("POST", "/v1/namespaces/shop/payload-indexes", json={"field_name": "title", "type": "text"})
    assert _lance_traces(api, "shop", "tag", "keyword")  # built: columns and indexes
    assert _lance_traces(api, "shop", "title", "text")

    dropped = api.ok("DELETE", "/v1/namespaces/shop/payload-indexes/tag")

    assert dropped["deleted"] is True and "tag" not in {i["field_name"] for i in dropped["payload_indexes"]}
    assert _lance_traces(api, "shop", "tag", "keyword") == set()
    assert _lance_traces(api, "shop", "title", "text")  # the other index is untouched
    search = {"namespace_id": "shop", "queries": [{"vector_name": "emb", "vector": [1, 0, 0.5, 0.25]}]}
    hits = api.ok("POST", "/v1/search", json={**search, "filters": {"tag": "b"}})
    assert [hit["document_id"] for hit in hits["results"]] == ["d1"]  # still exact, now with a warning
    assert any("tag" in warning for warning in hits["warnings"])
    again = api.client.delete("/v1/namespaces/shop/payload-indexes/tag")
    assert again.status_code == 404 and again.json()["error"]["details"]["resource"] == "payload_index"
    protected = api.client.delete("/v1/namespaces/shop/payload-indexes/collection_id")
    assert protected.status_code == 400


def test_an_extractor_required_index_cannot_be_dropped(api: Api) -> None:
    created = api.ok(
        "POST",
        "/v1/namespaces",
        json={
            "namespace_name": "managed",
            "feature_extractors": [{"feature_extractor_name": "text_extractor"}],
        },
    )
    response = api.client.delete(f"/v1/namespaces/{created['namespace_id']}/payload-indexes/text")
    assert response.status_code == 400 and response.json()["error"]["details"]["is_protected"] is True


def test_put_renames_and_replaces_the_payload_indexes(api: Api) -> None:
    _standalone(
        api,
        "catalog",
        payload_indexes=[{"field_name": "tag", "type": "keyword"}, {"field_name": "rank", "type": "integer"}],
    )
    _upsert(api, "catalog", [{"tag": "a", "rank": 1, "year": 2020}])

    replaced = api.ok(
        "PUT",
        "/v1/namespaces/catalog",
        json={
            "namespace_name": "Catalog 2",
            "payload_indexes": [
                {"field_name": "rank", "type": "integer", "field_schema": None, "is_protected": False},
                {"field_name": "year", "type": "integer"},
            ],
        },
    )

    own = {i["field_name"]: i["state"] for i in replaced["payload_indexes"] if not i["is_protected"]}
    assert replaced["namespace_name"] == "Catalog 2" and own == {"rank": "ready", "year": "ready"}
    assert _lance_traces(api, "catalog", "tag", "keyword") == set()
    assert _lance_traces(api, "catalog", "year", "integer")
    assert api.ok("GET", "/v1/namespaces/Catalog 2")["namespace_id"] == "catalog"
    unknown = api.client.put(
        "/v1/namespaces/catalog", json={"description": "PUT takes name and indexes only"}
    )
    assert unknown.status_code == 422


def test_ensure_indexes_builds_what_is_missing_and_reports_what_exists(api: Api) -> None:
    _standalone(api, "docs", payload_indexes=[{"field_name": "tag", "type": "keyword"}])
    _upsert(api, "docs", [{"tag": "a", "title": "hello"}])
    # An index the store lost track of: pending in the metadata, absent from the store.
    namespace = api.store.get_namespace("org_a", "docs")
    assert namespace is not None
    from stratus.models.namespaces import PayloadIndexConfig

    pending = PayloadIndexConfig(field_name="title", type="text", state="pending")
    api.store.save_namespace(
        namespace.model_copy(update={"payload_indexes": [*namespace.payload_indexes, pending]}),
        namespace.version,
        namespace.namespace_name,
    )
    assert _lance_traces(api, "docs", "title", "text") == set()

    first = api.ok("POST", "/v1/namespaces/docs/ensure-indexes")

    assert (first["created"], first["skipped"], first["rebuilt"]) == (["title"], ["tag"], [])
    assert first["vector_indexes"] == ["emb"] and sorted(first["ensured"]) == ["tag", "title"]
    assert _lance_traces(api, "docs", "title", "text")
    second = api.ok("POST", "/v1/namespaces/docs/ensure-indexes")
    assert (second["created"], sorted(second["skipped"])) == ([], ["tag", "title"])
    forced = api.ok("POST", "/v1/namespaces/docs/ensure-indexes?force_rebuild=true")
    assert sorted(forced["rebuilt"]) == ["tag", "title"] and forced["failed"] == []


def test_payload_index_field_schemas_keep_only_their_own_options() -> None:
    from stratus.models.namespaces import PayloadIndexConfig

    keyword = PayloadIndexConfig.model_validate(
        {
            "field_name": "k",
            "type": "keyword",
            "field_schema": {"type": "keyword", "min_token_len": 2, "lowercase": True},
        }
    )
    integer = PayloadIndexConfig.model_validate(
        {"field_name": "n", "type": "integer", "field_schema": {"type": "text", "lookup": False, "custom": 1}}
    )
    assert keyword.field_schema == {"type": "keyword"}
    assert integer.field_schema == {"type": "integer", "lookup": False, "custom": 1}
    assert json.loads(keyword.model_dump_json())["field_schema"] == {"type": "keyword"}


def test_byo_fields_of_the_sdk_are_accepted_and_collection_id_is_applied(api: Api) -> None:
    standalone = _standalone(api, "byo", storage={"connection_id": "c1"}, config={"x": 1})
    assert [w.split(":")[0] for w in standalone["warnings"]] == ["storage", "config"]
    managed = api.ok(
        "POST",
        "/v1/namespaces",
        json={
            "namespace_name": "byo-managed",
            "feature_extractors": [
                {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}}
            ],
        },
    )["namespace_id"]
    headers = {"X-Namespace": managed}
    bucket = api.ok("POST", "/v1/buckets", json={"bucket_name": "b"}, headers=headers)["bucket_id"]
    collection = api.ok(
        "POST",
        "/v1/collections",
        json={
            "collection_name": "brought",
            "source": {"type": "bucket", "bucket_ids": [bucket]},
            "feature_extractor": {
                "feature_extractor_name": "text_extractor",
                "params": {"inference_service": "minilm_l6_v2"},
            },
        },
        headers=headers,
    )["collection_id"]
    document = {
        "document_id": "mine",
        "vectors": {"text_extractor_v1_embedding": [1.0] + [0.0] * 383},
        "payload": {"title": "brought along"},
        "acl": {"users": ["u1"]},
        "source_type": "direct_upsert",
    }

    upserted = api.ok(
        "POST",
        f"/v1/namespaces/{managed}/documents/upsert",
        json={"documents": [document], "collection_id": "brought", "options": {"idempotency_key": "k"}},
    )

    assert [w.split(":")[0] for w in upserted["warnings"]] == ["documents[0].acl", "options"]
    listed = api.ok("POST", f"/v1/collections/{collection}/documents/list", headers=headers)
    assert [(d["document_id"], d["title"]) for d in listed["results"]] == [("mine", "brought along")]
    unknown = api.client.post(
        f"/v1/namespaces/{managed}/documents/upsert", json={"documents": [document], "collection_id": "nope"}
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["details"]["field"] == "collection_id"
