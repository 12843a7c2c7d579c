"""One contract for the `MetadataStore` port, run against every implementation:

- `dynamodb`: `DynamoDBMetadataStore` on moto's in-process DynamoDB, with the table of template.yaml;
- `memory`: `tests.fakes.InMemoryMetadataStore`, which the service unit tests run on.

Every repository method's documented behaviour (stratus.ports): conditional creates and the
`AlreadyExistsError` of a taken id or name, optimistic versions (`ConflictError`, `NotFoundError`),
what one transaction writes or leaves untouched, opaque cursors that never lead to an empty page,
counts, and isolation between organizations and namespaces. The DynamoDB-only details (item
layout, fault mapping, point reads) stay in tests/integration/test_dynamodb_*.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from stratus.errors import AlreadyExistsError, BadRequestError, ConflictError, NotFoundError
from stratus.models.managed_content import Bucket, Collection, Task
from stratus.models.namespaces import Namespace, PayloadIndexConfig, VectorConfig
from stratus.models.objects import ObjectRecord
from stratus.models.retrievers import Retriever
from stratus.ports import ApiKey, FieldUsage, MetadataStore, PromotionRecord
from tests.fakes import InMemoryMetadataStore

ORG_A = "org_a"
ORG_B = "org_b"
NS = "legal-docs"
T = TypeVar("T")


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[MetadataStore]:
    if request.param == "memory":
        yield InMemoryMetadataStore()
    else:
        yield request.getfixturevalue("moto_dynamodb")


# ---------------------------------------------------------------------------------------------
# Records


def namespace(
    namespace_id: str = NS, name: str | None = None, org_id: str = ORG_A, **changes: Any
) -> Namespace:
    return Namespace(
        org_id=org_id,
        namespace_id=namespace_id,
        namespace_name=name or f"{namespace_id} name",
        mode="standalone",
        description="contracts",
        vector_configs=[VectorConfig(name="text", dimension=3, metric="dot")],
        payload_indexes=[
            PayloadIndexConfig(field_name="metadata.price", type="float", field_schema={"min": 0.5})
        ],
        storage_key=f"sk-{namespace_id}",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        **changes,
    )


def promotion(ns: Namespace, promotion_id: str = "prm_0000000000000001") -> PromotionRecord:
    return PromotionRecord(
        promotion_id=promotion_id,
        org_id=ns.org_id,
        namespace_id=ns.namespace_id,
        promoted_by="key_0123456789abcdef",
        promoted_at="2026-03-03T00:00:00.000Z",
        from_version=ns.version,
        vector_mappings=[{"existing_index": "text", "inference_service": "multilingual-e5-small"}],
        add_vectors=[{"name": "image", "dimension": 512, "metric": "cosine"}],
    )


def managed(ns: Namespace) -> Namespace:
    return ns.model_copy(
        update={
            "mode": "managed",
            "vector_inference_map": {"text": "multilingual-e5-small"},
            "updated_at": "2026-03-03T00:00:00.000Z",
        }
    )


def api_key(key_id: str = "key_0123456789abcdef", org_id: str = ORG_A, key_hash: str = "ab" * 32) -> ApiKey:
    return ApiKey(
        key_id=key_id,
        key_hash=key_hash,
        org_id=org_id,
        name="ci",
        permissions=["read", "write"],
        created_at="2026-01-01T00:00:00.000Z",
    )


def bucket(
    bucket_id: str = "bkt_1", name: str | None = None, namespace_id: str = NS, org_id: str = ORG_A
) -> Bucket:
    return Bucket(
        org_id=org_id,
        namespace_id=namespace_id,
        bucket_id=bucket_id,
        bucket_name=name or f"{bucket_id} name",
        bucket_schema={"properties": {"title": {"type": "text"}}},
        s3_uri=f"s3://data/sk-{namespace_id}/{bucket_id}/",
        created_at="2026-01-01T00:00:00.000Z",
    )


def collection(collection_id: str = "col_1", namespace_id: str = NS, org_id: str = ORG_A) -> Collection:
    return Collection.model_validate(
        {
            "org_id": org_id,
            "namespace_id": namespace_id,
            "collection_id": collection_id,
            "collection_name": f"{collection_id} name",
            "source": {"type": "bucket", "bucket_ids": ["bkt_1"]},
            "feature_extractor": {
                "feature_extractor_name": "text_extractor",
                "version": "v1",
                "feature_extractor_id": "text_extractor_v1",
                "parameters": {},
                "inference_service": "multilingual-e5-small",
            },
            "vector_index": "text",
            "created_at": "2026-01-01T00:00:00.000Z",
        }
    )


def obj(
    object_id: str = "obj_1", bucket_id: str = "bkt_1", namespace_id: str = NS, org_id: str = ORG_A
) -> ObjectRecord:
    return ObjectRecord(
        org_id=org_id,
        namespace_id=namespace_id,
        bucket_id=bucket_id,
        object_id=object_id,
        key=f"sk-{namespace_id}/{bucket_id}/{object_id}",
        s3_uri=f"s3://data/sk-{namespace_id}/{bucket_id}/{object_id}",
        source="api",
        metadata={"title": "a contract", "pages": 3, "ratio": 0.5},
        status="PENDING",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def task(task_id: str = "tsk_1", org_id: str = ORG_A, status: str = "PENDING") -> Task:
    return Task.model_validate(
        {
            "org_id": org_id,
            "namespace_id": NS,
            "task_id": task_id,
            "task_type": "extraction",
            "status": status,
            "inputs": {"object_id": "obj_1"},
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z",
        }
    )


def every_page(
    list_page: Callable[[int, str | None], tuple[list[T], str | None]], limit: int
) -> list[list[T]]:
    """Every page of a listing, following `next_cursor` until there is none."""
    pages: list[list[T]] = []
    cursor: str | None = None
    while True:
        items, cursor = list_page(limit, cursor)
        pages.append(items)
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor chain does not end"


# ---------------------------------------------------------------------------------------------
# Namespaces: create, read, find


def test_a_created_namespace_reads_back_identical(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)

    assert store.get_namespace(ORG_A, NS) == created
    assert store.get_namespace(ORG_A, NS) is not created  # a copy, never the caller's object


def test_an_existing_id_is_already_exists_and_the_original_is_intact(store: MetadataStore) -> None:
    original = namespace(name="First")
    store.create_namespace(original)

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_namespace(namespace(name="Second"))

    assert caught.value.details == {"resource": "namespace", "id": NS}
    assert store.get_namespace(ORG_A, NS) == original
    assert store.find_namespace(ORG_A, "Second") is None


def test_a_taken_name_is_already_exists_naming_the_field_and_nothing_is_written(store: MetadataStore) -> None:
    store.create_namespace(namespace("first-id", "Shared"))

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_namespace(namespace("second-id", "Shared"))

    assert caught.value.details["field"] == "namespace_name"
    assert caught.value.details["value"] == "Shared"
    assert store.get_namespace(ORG_A, "second-id") is None


def test_ids_and_names_are_per_organization(store: MetadataStore) -> None:
    store.create_namespace(namespace(NS, "Same", org_id=ORG_A))
    store.create_namespace(namespace(NS, "Same", org_id=ORG_B))

    assert store.get_namespace(ORG_B, NS) == namespace(NS, "Same", org_id=ORG_B)
    store.delete_namespace(namespace(NS, "Same", org_id=ORG_A))
    assert store.get_namespace(ORG_A, NS) is None
    assert store.find_namespace(ORG_B, "Same") is not None


def test_find_resolves_an_id_or_a_name(store: MetadataStore) -> None:
    first = namespace("first-id", "Some name")
    second = namespace("other-id", "Other name")
    store.create_namespace(first)
    store.create_namespace(second)

    assert store.find_namespace(ORG_A, "first-id") == first
    assert store.find_namespace(ORG_A, "Some name") == first
    assert store.find_namespace(ORG_A, "other-id") == second
    assert store.find_namespace(ORG_A, "Other name") == second
    assert store.find_namespace(ORG_A, "nothing") is None
    assert store.find_namespace(ORG_B, "first-id") is None


# Ids and names are looked up alike (ids first), so neither may be the other kind of another
# namespace of the organization: a decoy would take over the lookups of a name, or hide a name.


def test_a_new_id_equal_to_another_namespaces_name_is_already_exists(store: MetadataStore) -> None:
    store.create_namespace(namespace("real-id", "prod"))

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_namespace(namespace("prod", "decoy"))

    assert caught.value.details == {"resource": "namespace", "field": "namespace_id", "value": "prod"}
    assert store.get_namespace(ORG_A, "prod") is None
    assert store.find_namespace(ORG_A, "decoy") is None  # its name guard was not written either
    assert store.find_namespace(ORG_A, "prod") == namespace("real-id", "prod")


def test_a_new_name_equal_to_another_namespaces_id_is_already_exists(store: MetadataStore) -> None:
    store.create_namespace(namespace("real-id", "Real"))

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_namespace(namespace("decoy-id", "real-id"))

    assert caught.value.details == {"resource": "namespace", "field": "namespace_name", "value": "real-id"}
    assert store.get_namespace(ORG_A, "decoy-id") is None


def test_a_rename_to_another_namespaces_id_is_already_exists_and_changes_nothing(
    store: MetadataStore,
) -> None:
    store.create_namespace(namespace("real-id", "Real"))
    other = namespace("other-id", "Other")
    store.create_namespace(other)

    with pytest.raises(AlreadyExistsError) as caught:
        store.save_namespace(other.model_copy(update={"namespace_name": "real-id"}), 1, "Other")

    assert caught.value.details == {"resource": "namespace", "field": "namespace_name", "value": "real-id"}
    assert store.find_namespace(ORG_A, "Other") == other
    assert store.find_namespace(ORG_A, "real-id") == namespace("real-id", "Real")


def test_a_namespace_may_carry_its_own_id_as_its_name(store: MetadataStore) -> None:
    own = namespace("own-id", "own-id")
    store.create_namespace(own)
    renamed = store.save_namespace(own.model_copy(update={"namespace_name": "Own"}), 1, "own-id")
    back = store.save_namespace(renamed.model_copy(update={"namespace_name": "own-id"}), 2, "Own")

    assert back.version == 3 and store.find_namespace(ORG_A, "own-id") == back
    # Other organizations' ids and names never collide with these.
    store.create_namespace(namespace("b-id", "own-id", org_id=ORG_B))
    store.create_namespace(namespace("Own", "b-name", org_id=ORG_B))


def test_a_deleted_namespace_frees_its_id_to_be_a_name(store: MetadataStore) -> None:
    gone = namespace("gone-id", "Gone")
    store.create_namespace(gone)
    store.delete_namespace(gone)

    store.create_namespace(namespace("heir-id", "gone-id"))
    store.create_namespace(namespace("Gone", "Heir two"))


def test_a_recent_copy_never_hides_a_write_through_the_store(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)
    assert store.find_namespace(ORG_A, NS, max_age_seconds=60) == created

    saved = store.save_namespace(
        created.model_copy(update={"description": "changed"}), 1, created.namespace_name
    )

    assert store.find_namespace(ORG_A, NS, max_age_seconds=60) == saved
    store.delete_namespace(saved)
    assert store.find_namespace(ORG_A, NS, max_age_seconds=60) is None


def test_identifiers_longer_than_any_key_are_simply_not_found(store: MetadataStore) -> None:
    long = "x" * 2000
    assert store.get_namespace(ORG_A, long) is None
    assert store.find_namespace(ORG_A, long) is None
    assert store.get_bucket(ORG_A, NS, long) is None
    assert store.get_collection(ORG_A, NS, long) is None
    assert store.get_object(ORG_A, NS, "bkt_1", long) is None
    assert store.get_task(long) is None
    assert store.find_bucket_route(long) is None


# ---------------------------------------------------------------------------------------------
# Namespaces: listing


def list_namespace_ids(store: MetadataStore, org_id: str, limit: int) -> list[list[str]]:
    def list_page(page_limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        page = store.list_namespaces(org_id, page_limit, cursor)
        return [ns.namespace_id for ns in page.namespaces], page.next_cursor

    return every_page(list_page, limit)


def test_namespaces_are_listed_by_id_and_the_cursor_chain_covers_each_once(store: MetadataStore) -> None:
    ids = [f"ns-{i:02d}" for i in range(25)]
    for namespace_id in reversed(ids):
        store.create_namespace(namespace(namespace_id))
    store.create_namespace(namespace("elsewhere", org_id=ORG_B))
    store.create_bucket(bucket(namespace_id="ns-03"))  # other items under a namespace are not namespaces
    store.create_collection(collection(namespace_id="ns-03"))

    pages = list_namespace_ids(store, ORG_A, 10)

    assert [len(page) for page in pages] == [10, 10, 5]
    assert [namespace_id for page in pages for namespace_id in page] == ids


def test_a_last_full_page_hands_out_no_cursor(store: MetadataStore) -> None:
    for i in range(4):
        store.create_namespace(namespace(f"ns-{i}"))

    assert list_namespace_ids(store, ORG_A, 2) == [["ns-0", "ns-1"], ["ns-2", "ns-3"]]
    assert list_namespace_ids(store, ORG_A, 4) == [["ns-0", "ns-1", "ns-2", "ns-3"]]
    assert list_namespace_ids(store, ORG_B, 4) == [[]]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "e30", "!!!", "x" * 5000])
def test_a_cursor_the_store_did_not_hand_out_is_a_bad_request(store: MetadataStore, cursor: str) -> None:
    store.create_namespace(namespace())

    with pytest.raises(BadRequestError) as caught:
        store.list_namespaces(ORG_A, 10, cursor)

    assert caught.value.details["field"] == "cursor"


def test_a_limit_below_one_is_a_bad_request(store: MetadataStore) -> None:
    for list_page in (
        lambda: store.list_namespaces(ORG_A, 0, None),
        lambda: store.list_buckets(ORG_A, NS, 0, None),
        lambda: store.list_collections(ORG_A, NS, 0, None),
        lambda: store.list_objects(ORG_A, NS, "bkt_1", 0, None),
    ):
        with pytest.raises(BadRequestError) as caught:
            list_page()
        assert caught.value.details["field"] == "limit"


# ---------------------------------------------------------------------------------------------
# Namespaces: save (optimistic version, name guard)


def test_a_save_at_the_current_version_bumps_it_and_persists_the_changes(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)

    saved = store.save_namespace(created.model_copy(update={"description": "new"}), 1, created.namespace_name)

    assert saved.version == 2 and saved.description == "new"
    assert store.get_namespace(ORG_A, NS) == saved
    again = store.save_namespace(saved.model_copy(update={"description": "newer"}), 2, saved.namespace_name)
    assert again.version == 3


def test_a_save_at_a_stale_version_is_a_conflict_and_changes_nothing(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)
    current = store.save_namespace(created, 1, created.namespace_name)

    with pytest.raises(ConflictError):
        store.save_namespace(created.model_copy(update={"description": "lost"}), 1, created.namespace_name)

    assert store.get_namespace(ORG_A, NS) == current


def test_saving_a_deleted_namespace_is_not_found(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)
    store.delete_namespace(created)

    with pytest.raises(NotFoundError):
        store.save_namespace(created, 1, created.namespace_name)

    assert store.get_namespace(ORG_A, NS) is None


def test_a_rename_moves_the_name_and_frees_the_old_one(store: MetadataStore) -> None:
    created = namespace(name="Old Name")
    store.create_namespace(created)

    saved = store.save_namespace(created.model_copy(update={"namespace_name": "New Name"}), 1, "Old Name")

    assert store.find_namespace(ORG_A, "New Name") == saved
    assert store.find_namespace(ORG_A, "Old Name") is None
    store.create_namespace(namespace("other-id", "Old Name"))


def test_a_rename_to_a_taken_name_is_already_exists_and_changes_nothing(store: MetadataStore) -> None:
    first, second = namespace("first-id", "First"), namespace("second-id", "Second")
    store.create_namespace(first)
    store.create_namespace(second)

    with pytest.raises(AlreadyExistsError) as caught:
        store.save_namespace(first.model_copy(update={"namespace_name": "Second"}), 1, "First")

    assert caught.value.details["field"] == "namespace_name"
    assert store.get_namespace(ORG_A, "first-id") == first
    assert store.find_namespace(ORG_A, "First") == first
    assert store.find_namespace(ORG_A, "Second") == second


def test_a_rename_from_a_name_that_is_not_its_own_is_a_conflict_and_frees_nothing(
    store: MetadataStore,
) -> None:
    first, second = namespace("first-id", "First"), namespace("second-id", "Second")
    store.create_namespace(first)
    store.create_namespace(second)

    with pytest.raises(ConflictError):
        store.save_namespace(first.model_copy(update={"namespace_name": "Third"}), 1, previous_name="Second")

    assert store.find_namespace(ORG_A, "Second") == second
    assert store.find_namespace(ORG_A, "First") == first
    assert store.find_namespace(ORG_A, "Third") is None


# ---------------------------------------------------------------------------------------------
# Namespaces: delete


def test_a_deleted_namespace_frees_its_id_and_its_name(store: MetadataStore) -> None:
    created = namespace(name="Legal")
    store.create_namespace(created)

    store.delete_namespace(created)

    assert store.get_namespace(ORG_A, NS) is None
    assert store.find_namespace(ORG_A, "Legal") is None
    store.create_namespace(namespace(name="Legal"))


def test_deleting_a_stale_copy_is_a_conflict_and_removes_nothing(store: MetadataStore) -> None:
    stale = namespace(name="Old")
    store.create_namespace(stale)
    current = store.save_namespace(stale.model_copy(update={"namespace_name": "New"}), 1, "Old")

    with pytest.raises(ConflictError):
        store.delete_namespace(stale)

    assert store.find_namespace(ORG_A, "New") == current
    store.delete_namespace(current)
    assert store.get_namespace(ORG_A, NS) is None


def test_deleting_a_missing_namespace_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError):
        store.delete_namespace(namespace())


# ---------------------------------------------------------------------------------------------
# Namespaces: promote (one transaction)


def test_a_standalone_namespace_is_promoted_with_its_version_bumped(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)

    saved = store.promote_namespace(managed(created), 1, promotion(created))

    assert saved.mode == "managed" and saved.version == 2
    assert saved.vector_inference_map == {"text": "multilingual-e5-small"}
    assert store.get_namespace(ORG_A, NS) == saved
    assert list_namespace_ids(store, ORG_A, 10) == [[NS]]  # the audit record is not a namespace


def test_promoting_an_already_managed_namespace_is_a_conflict_naming_the_mode(store: MetadataStore) -> None:
    created = namespace()
    store.create_namespace(created)
    winner = store.promote_namespace(managed(created), 1, promotion(created))

    for version in (1, 2):  # the racing loser, and a caller who read the managed namespace
        with pytest.raises(ConflictError) as caught:
            store.promote_namespace(managed(created), version, promotion(created, f"prm_{version}"))
        assert caught.value.details["mode"] == "managed"

    assert store.get_namespace(ORG_A, NS) == winner


def test_promoting_a_namespace_changed_meanwhile_is_a_conflict_and_writes_nothing(
    store: MetadataStore,
) -> None:
    created = namespace()
    store.create_namespace(created)
    current = store.save_namespace(created, 1, created.namespace_name)

    with pytest.raises(ConflictError) as caught:
        store.promote_namespace(managed(created), 1, promotion(created))

    assert "mode" not in caught.value.details
    assert store.get_namespace(ORG_A, NS) == current
    # The audit record was not written either: the same promotion id goes through now.
    assert store.promote_namespace(managed(current), 2, promotion(created)).version == 3


def test_a_reused_promotion_id_is_a_conflict_and_the_namespace_stays_standalone(store: MetadataStore) -> None:
    # The audit outlives its namespace: a namespace created again under the same id cannot reuse it.
    first = namespace()
    store.create_namespace(first)
    store.delete_namespace(store.promote_namespace(managed(first), 1, promotion(first, "prm_same")))
    again = namespace()
    store.create_namespace(again)

    with pytest.raises(ConflictError):
        store.promote_namespace(managed(again), 1, promotion(again, "prm_same"))

    assert store.get_namespace(ORG_A, NS) == again
    assert store.promote_namespace(managed(again), 1, promotion(again, "prm_new")).version == 2
    other = namespace("other-id")
    store.create_namespace(other)
    assert store.promote_namespace(managed(other), 1, promotion(other, "prm_same")).mode == "managed"


def test_promoting_a_missing_namespace_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError):
        store.promote_namespace(managed(namespace()), 1, promotion(namespace()))

    assert store.get_namespace(ORG_A, NS) is None


# ---------------------------------------------------------------------------------------------
# Namespaces: auto_create_indexes scan


def test_every_auto_index_namespace_of_every_organization_is_listed_once(store: MetadataStore) -> None:
    wanted = set()
    for org_id in (ORG_A, ORG_B):
        for i in range(7):
            auto = i % 2 == 0
            store.create_namespace(namespace(f"ns-{i}", org_id=org_id, auto_create_indexes=auto))
            if auto:
                wanted.add((org_id, f"ns-{i}"))
    store.create_bucket(bucket(namespace_id="ns-0"))

    def list_page(limit: int, cursor: str | None) -> tuple[list[tuple[str, str]], str | None]:
        page = store.list_auto_index_namespaces(limit, cursor)
        return [(ns.org_id, ns.namespace_id) for ns in page.namespaces], page.next_cursor

    found = [key for page in every_page(list_page, 3) for key in page]

    assert sorted(found) == sorted(wanted)
    with pytest.raises(BadRequestError):
        store.list_auto_index_namespaces(3, "not-a-cursor")


# ---------------------------------------------------------------------------------------------
# API keys


def test_a_key_reads_back_by_hash_and_is_listed_in_its_organization_only(store: MetadataStore) -> None:
    key = api_key()
    other = api_key("key_other0000000000", ORG_B, "cd" * 32)
    store.put_api_key(key)
    store.put_api_key(other)
    store.put_api_key(api_key("key_000000000000000a", key_hash="ef" * 32))

    assert store.get_api_key(key.key_hash) == key
    assert store.get_api_key("00" * 32) is None
    assert sorted(k.key_id for k in store.list_api_keys(ORG_A)) == ["key_000000000000000a", key.key_id]
    assert store.list_api_keys(ORG_B) == [other]


def test_a_key_hash_or_key_id_already_stored_is_already_exists(store: MetadataStore) -> None:
    store.put_api_key(api_key())

    with pytest.raises(AlreadyExistsError):
        store.put_api_key(api_key("key_another000000000"))  # the same hash
    with pytest.raises(AlreadyExistsError):
        store.put_api_key(api_key(key_hash="ee" * 32))  # the same key id in the organization

    assert [k.key_id for k in store.list_api_keys(ORG_A)] == ["key_0123456789abcdef"]
    assert store.get_api_key("ee" * 32) is None


def test_a_revoked_key_reads_revoked_both_ways(store: MetadataStore) -> None:
    key = api_key()
    store.put_api_key(key)

    assert store.revoke_api_key(ORG_A, key.key_id) is True

    stored = store.get_api_key(key.key_hash)
    assert stored is not None and stored.revoked
    assert [k.revoked for k in store.list_api_keys(ORG_A)] == [True]
    assert key.revoked is False  # the caller's object is not the stored one


def test_revoking_an_unknown_or_foreign_key_is_false_and_changes_nothing(store: MetadataStore) -> None:
    key = api_key()
    store.put_api_key(key)

    assert store.revoke_api_key(ORG_A, "key_unknown000000000") is False
    assert store.revoke_api_key(ORG_B, key.key_id) is False
    assert store.get_api_key(key.key_hash) == key


# ---------------------------------------------------------------------------------------------
# Filter usage


def test_usage_adds_up_per_hour_and_reads_back_by_an_inclusive_range(store: MetadataStore) -> None:
    store.add_filter_usage(ORG_A, NS, "2026010100", {"genre": FieldUsage(1, {"keyword": 1})}, 1)
    store.add_filter_usage(ORG_A, NS, "2026010100", {"genre": FieldUsage(2, {"keyword": 1, "integer": 1})}, 1)
    store.add_filter_usage(ORG_A, NS, "2026010101", {"year": FieldUsage(1, {"integer": 1})}, 1)
    store.add_filter_usage(ORG_A, NS, "2026010102", {"year": FieldUsage(5)}, 1)
    store.add_filter_usage(ORG_A, "other-ns", "2026010101", {"genre": FieldUsage(9)}, 1)
    store.add_filter_usage(ORG_B, NS, "2026010101", {"genre": FieldUsage(9)}, 1)

    found = store.get_filter_usage(ORG_A, NS, "2026010100", "2026010101")

    assert found == {
        "2026010100": {"genre": FieldUsage(3, {"keyword": 2, "integer": 1})},
        "2026010101": {"year": FieldUsage(1, {"integer": 1})},
    }
    assert store.get_filter_usage(ORG_A, NS, "2026010102", "2026010102") == {
        "2026010102": {"year": FieldUsage(5)}
    }
    assert store.get_filter_usage(ORG_A, NS, "2026010200", "2026010223") == {}


def test_usage_keeps_any_field_name_and_writes_no_zero(store: MetadataStore) -> None:
    odd = ["metadata.title", "a b#c", "ünïcödé", "size", "$gt", "x" * 300]
    store.add_filter_usage(ORG_A, NS, "2026010100", {name: FieldUsage(1, {"text": 1}) for name in odd}, 1)
    store.add_filter_usage(ORG_A, NS, "2026010100", {"only_types": FieldUsage(0, {"bool": 2, "float": 0})}, 1)
    store.add_filter_usage(ORG_A, NS, "2026010101", {"nothing": FieldUsage(0, {"keyword": 0})}, 1)

    found = store.get_filter_usage(ORG_A, NS, "2026010100", "2026010101")

    assert found == {
        "2026010100": {
            **{name: FieldUsage(1, {"text": 1}) for name in odd},
            "only_types": FieldUsage(0, {"bool": 2}),
        }
    }


# ---------------------------------------------------------------------------------------------
# Buckets and their S3 routes


def test_a_bucket_reads_back_and_its_prefix_routes_to_it(store: MetadataStore) -> None:
    created = bucket()
    store.create_bucket(created)

    assert store.get_bucket(ORG_A, NS, "bkt_1") == created
    route = store.find_bucket_route(created.key_prefix)
    assert route is not None and (route.org_id, route.namespace_id, route.bucket_id) == (ORG_A, NS, "bkt_1")
    assert store.find_bucket_route("sk-legal-docs/bkt_2/") is None
    assert store.get_bucket(ORG_B, NS, "bkt_1") is None
    assert store.get_bucket(ORG_A, "other-ns", "bkt_1") is None


def test_a_bucket_name_is_unique_in_its_namespace_only(store: MetadataStore) -> None:
    store.create_bucket(bucket("bkt_1", "Invoices"))

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_bucket(bucket("bkt_2", "Invoices"))

    assert caught.value.details["field"] == "bucket_name"
    assert store.get_bucket(ORG_A, NS, "bkt_2") is None
    assert store.find_bucket_route("sk-legal-docs/bkt_2/") is None
    store.create_bucket(bucket("bkt_2", "Invoices", namespace_id="other-ns"))
    store.create_bucket(bucket("bkt_3", "Invoices", org_id=ORG_B))


def test_an_existing_bucket_id_is_already_exists_and_the_original_is_intact(store: MetadataStore) -> None:
    original = bucket("bkt_1", "First")
    store.create_bucket(original)

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_bucket(bucket("bkt_1", "Second"))

    assert caught.value.details == {"resource": "bucket", "id": "bkt_1"}
    assert store.get_bucket(ORG_A, NS, "bkt_1") == original
    store.create_bucket(bucket("bkt_9", "Second"))  # the refused bucket's name was not kept


def test_a_deleted_bucket_frees_its_name_and_its_route(store: MetadataStore) -> None:
    created = bucket("bkt_1", "Invoices")
    store.create_bucket(created)

    store.delete_bucket(created)

    assert store.get_bucket(ORG_A, NS, "bkt_1") is None
    assert store.find_bucket_route(created.key_prefix) is None
    assert store.count_buckets(ORG_A, NS) == 0
    store.create_bucket(bucket("bkt_2", "Invoices"))
    with pytest.raises(NotFoundError):
        store.delete_bucket(created)
    assert store.get_bucket(ORG_A, NS, "bkt_2") is not None


def test_buckets_are_listed_by_id_and_counted_per_namespace(store: MetadataStore) -> None:
    ids = [f"bkt_{i:02d}" for i in range(7)]
    for bucket_id in reversed(ids):
        store.create_bucket(bucket(bucket_id))
    store.create_bucket(bucket("bkt_x", namespace_id="other-ns"))
    store.create_namespace(namespace())
    store.create_collection(collection())

    def list_page(limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        page = store.list_buckets(ORG_A, NS, limit, cursor)
        return [b.bucket_id for b in page.buckets], page.next_cursor

    pages = every_page(list_page, 3)

    assert [b for page in pages for b in page] == ids and [len(page) for page in pages] == [3, 3, 1]
    assert store.count_buckets(ORG_A, NS) == 7
    assert store.count_buckets(ORG_A, "other-ns") == 1
    assert store.count_buckets(ORG_B, NS) == 0


def test_a_cursor_of_another_listing_is_a_bad_request(store: MetadataStore) -> None:
    for i in range(3):
        store.create_bucket(bucket(f"bkt_{i}"))
        store.create_bucket(bucket(f"bkt_o{i}", namespace_id="other-ns"))
    cursor = store.list_buckets(ORG_A, NS, 1, None).next_cursor
    assert cursor is not None

    with pytest.raises(BadRequestError):
        store.list_buckets(ORG_A, "other-ns", 1, cursor)
    with pytest.raises(BadRequestError):
        store.list_collections(ORG_A, NS, 1, cursor)


# ---------------------------------------------------------------------------------------------
# Collections


def test_a_collection_reads_back_lists_counts_and_deletes(store: MetadataStore) -> None:
    ids = [f"col_{i}" for i in range(5)]
    for collection_id in reversed(ids):
        store.create_collection(collection(collection_id))
    store.create_collection(collection("col_x", namespace_id="other-ns"))
    store.create_bucket(bucket())

    def list_page(limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        page = store.list_collections(ORG_A, NS, limit, cursor)
        return [c.collection_id for c in page.collections], page.next_cursor

    assert store.get_collection(ORG_A, NS, "col_0") == collection("col_0")
    assert [c for page in every_page(list_page, 2) for c in page] == ids
    assert store.count_collections(ORG_A, NS) == 5

    store.delete_collection(collection("col_0"))

    assert store.get_collection(ORG_A, NS, "col_0") is None
    assert store.count_collections(ORG_A, NS) == 4
    with pytest.raises(NotFoundError):
        store.delete_collection(collection("col_0"))


def test_an_existing_collection_id_is_already_exists(store: MetadataStore) -> None:
    original = collection()
    store.create_collection(original)

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_collection(collection().model_copy(update={"collection_name": "another"}))

    assert caught.value.details == {"resource": "collection", "id": "col_1"}
    assert store.get_collection(ORG_A, NS, "col_1") == original


# ---------------------------------------------------------------------------------------------
# Objects and tasks


def object_count(store: MetadataStore, bucket_id: str = "bkt_1") -> int:
    found = store.get_bucket(ORG_A, NS, bucket_id)
    assert found is not None
    return found.object_count


def test_an_object_is_created_once_and_moves_its_buckets_count(store: MetadataStore) -> None:
    store.create_bucket(bucket())

    assert store.create_object(obj("obj_1")) is True
    assert store.create_object(obj("obj_2")) is True
    assert store.create_object(obj("obj_1").model_copy(update={"status": "FAILED"})) is False

    assert store.get_object(ORG_A, NS, "bkt_1", "obj_1") == obj("obj_1")
    assert object_count(store) == 2


def test_an_object_in_a_missing_bucket_is_not_found_and_not_written(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError) as caught:
        store.create_object(obj())

    assert caught.value.details["resource"] == "bucket"
    assert store.get_object(ORG_A, NS, "bkt_1", "obj_1") is None


def test_put_and_save_overwrite_an_object_without_moving_the_count(store: MetadataStore) -> None:
    store.create_bucket(bucket())
    store.create_object(obj())
    processing = obj().model_copy(update={"status": "PROCESSING", "task_id": "tsk_1"})

    store.put_object(processing)
    assert store.get_object(ORG_A, NS, "bkt_1", "obj_1") == processing

    done = processing.model_copy(update={"status": "COMPLETED", "document_count": 4})
    store.save_object(done, task("tsk_1", status="COMPLETED"))

    assert store.get_object(ORG_A, NS, "bkt_1", "obj_1") == done
    assert store.get_task("tsk_1") == task("tsk_1", status="COMPLETED")
    assert object_count(store) == 1


def test_objects_are_listed_by_id_within_their_bucket_and_counted(store: MetadataStore) -> None:
    store.create_bucket(bucket("bkt_1"))
    store.create_bucket(bucket("bkt_2"))
    ids = [f"obj_{i:02d}" for i in range(7)]
    for object_id in reversed(ids):
        store.create_object(obj(object_id, "bkt_1"))
    store.create_object(obj("obj_00", "bkt_2"))
    store.create_bucket(bucket("bkt_3", namespace_id="other-ns"))
    store.create_object(obj("obj_00", "bkt_3", namespace_id="other-ns"))

    def list_page(limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        page = store.list_objects(ORG_A, NS, "bkt_1", limit, cursor)
        return [o.object_id for o in page.objects], page.next_cursor

    pages = every_page(list_page, 3)

    assert [o for page in pages for o in page] == ids and [len(page) for page in pages] == [3, 3, 1]
    assert store.count_objects(ORG_A, NS, "bkt_1") == 7
    assert store.count_objects(ORG_A, NS, "bkt_2") == 1
    assert store.count_objects(ORG_A, NS) == 8
    assert store.count_objects(ORG_B, NS) == 0
    cursor = store.list_objects(ORG_A, NS, "bkt_1", 3, None).next_cursor
    assert cursor is not None
    with pytest.raises(BadRequestError):
        store.list_objects(ORG_A, NS, "bkt_2", 3, cursor)


def test_a_deleted_object_moves_the_count_back_and_a_second_delete_is_quiet(store: MetadataStore) -> None:
    store.create_bucket(bucket())
    store.create_object(obj("obj_1"))
    store.create_object(obj("obj_2"))

    store.delete_object(ORG_A, NS, "bkt_1", "obj_1")
    store.delete_object(ORG_A, NS, "bkt_1", "obj_1")
    store.delete_object(ORG_A, NS, "bkt_1", "never")

    assert store.get_object(ORG_A, NS, "bkt_1", "obj_1") is None
    assert object_count(store) == 1


def test_an_object_outliving_its_bucket_can_still_be_deleted(store: MetadataStore) -> None:
    created = bucket()
    store.create_bucket(created)
    store.create_object(obj())
    store.delete_bucket(created)

    store.delete_object(ORG_A, NS, "bkt_1", "obj_1")

    assert store.get_object(ORG_A, NS, "bkt_1", "obj_1") is None


def test_deleting_the_objects_of_a_bucket_or_a_namespace_returns_how_many(store: MetadataStore) -> None:
    for bucket_id in ("bkt_1", "bkt_2"):
        store.create_bucket(bucket(bucket_id))
        for i in range(3):
            store.create_object(obj(f"obj_{i}", bucket_id))
    store.create_bucket(bucket("bkt_1", namespace_id="other-ns"))
    store.create_object(obj("obj_0", "bkt_1", namespace_id="other-ns"))

    assert store.delete_objects(ORG_A, NS, "bkt_1") == 3
    assert store.count_objects(ORG_A, NS, "bkt_1") == 0
    assert store.count_objects(ORG_A, NS, "bkt_2") == 3
    assert store.delete_objects(ORG_A, NS) == 3
    assert store.count_objects(ORG_A, NS) == 0
    assert store.count_objects(ORG_A, "other-ns") == 1
    assert store.delete_objects(ORG_A, NS) == 0


def test_a_task_is_readable_by_id_alone_and_overwritten_by_put(store: MetadataStore) -> None:
    store.put_task(task("tsk_1", org_id=ORG_B))
    assert store.get_task("tsk_1") == task("tsk_1", org_id=ORG_B)  # the caller checks the org

    store.put_task(task("tsk_1", org_id=ORG_B, status="FAILED"))

    assert store.get_task("tsk_1") == task("tsk_1", org_id=ORG_B, status="FAILED")
    assert store.get_task("tsk_2") is None


# ---------------------------------------------------------------------------------------------
# Retrievers


def retriever(
    retriever_id: str = "ret_1", name: str | None = None, namespace_id: str = NS, org_id: str = ORG_A
) -> Retriever:
    return Retriever(
        org_id=org_id,
        namespace_id=namespace_id,
        retriever_id=retriever_id,
        retriever_name=name or f"{retriever_id} name",
        description="contracts",
        stages=[
            {
                "stage_name": "search",
                "stage_type": "filter",
                "config": {
                    "stage_id": "feature_search",
                    "parameters": {
                        "searches": [
                            {
                                "feature_uri": "text",
                                "query": {"input_mode": "vector", "value": [0.5, -1.25, 3]},
                            }
                        ],
                        "final_top_k": 5,
                    },
                },
            }
        ],
        input_schema={"query": {"type": "text", "required": True}},
        tags=["a"],
        metadata={"owner": "contracts", "nested": {"n": 1.5}},
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def test_a_created_retriever_reads_back_identical_by_id_and_by_name(store: MetadataStore) -> None:
    created = retriever()
    store.create_retriever(created)

    assert store.get_retriever(ORG_A, NS, "ret_1") == created
    assert store.find_retriever(ORG_A, NS, "ret_1") == created
    assert store.find_retriever(ORG_A, NS, "ret_1 name") == created
    assert store.find_retriever(ORG_A, NS, "nothing") is None
    assert store.find_retriever(ORG_A, "other-ns", "ret_1") is None
    assert store.find_retriever(ORG_B, NS, "ret_1 name") is None
    assert store.get_retriever(ORG_A, NS, "x" * 2000) is None


def test_a_retriever_name_is_unique_in_its_namespace_only(store: MetadataStore) -> None:
    store.create_retriever(retriever("ret_1", "Shared"))

    with pytest.raises(AlreadyExistsError) as caught:
        store.create_retriever(retriever("ret_2", "Shared"))

    assert caught.value.details["field"] == "retriever_name"
    assert store.get_retriever(ORG_A, NS, "ret_2") is None
    store.create_retriever(retriever("ret_2", "Shared", namespace_id="other-ns"))
    store.create_retriever(retriever("ret_3", "Shared", org_id=ORG_B))
    with pytest.raises(AlreadyExistsError) as again:
        store.create_retriever(retriever("ret_1", "Other"))
    assert again.value.details == {"resource": "retriever", "id": "ret_1"}
    assert store.find_retriever(ORG_A, NS, "Other") is None


def test_a_retriever_save_bumps_the_version_and_a_stale_one_is_a_conflict(store: MetadataStore) -> None:
    created = retriever()
    store.create_retriever(created)

    saved = store.save_retriever(created.model_copy(update={"description": "v2"}), 1, created.retriever_name)

    assert saved.version == 2
    assert store.get_retriever(ORG_A, NS, "ret_1") == saved
    with pytest.raises(ConflictError):
        store.save_retriever(created.model_copy(update={"description": "lost"}), 1, created.retriever_name)
    assert store.get_retriever(ORG_A, NS, "ret_1") == saved
    store.delete_retriever(saved)
    with pytest.raises(NotFoundError):
        store.save_retriever(saved, 2, saved.retriever_name)


def test_a_retriever_rename_moves_the_name_and_a_taken_name_changes_nothing(store: MetadataStore) -> None:
    first, second = retriever("ret_1", "First"), retriever("ret_2", "Second")
    store.create_retriever(first)
    store.create_retriever(second)

    with pytest.raises(AlreadyExistsError):
        store.save_retriever(first.model_copy(update={"retriever_name": "Second"}), 1, "First")
    renamed = store.save_retriever(first.model_copy(update={"retriever_name": "Renamed"}), 1, "First")

    assert store.find_retriever(ORG_A, NS, "Renamed") == renamed
    assert store.find_retriever(ORG_A, NS, "First") is None
    assert store.find_retriever(ORG_A, NS, "Second") == second
    store.create_retriever(retriever("ret_3", "First"))  # the old name is free again


def test_a_recent_retriever_copy_never_hides_a_write_through_the_store(store: MetadataStore) -> None:
    created = retriever()
    store.create_retriever(created)
    assert store.find_retriever(ORG_A, NS, "ret_1", max_age_seconds=60) == created

    saved = store.save_retriever(created.model_copy(update={"description": "new"}), 1, created.retriever_name)

    assert store.find_retriever(ORG_A, NS, "ret_1", max_age_seconds=60) == saved
    store.delete_retriever(saved)
    assert store.find_retriever(ORG_A, NS, "ret_1", max_age_seconds=60) is None


def test_a_deleted_retriever_frees_its_name_and_a_stale_delete_is_a_conflict(store: MetadataStore) -> None:
    created = retriever("ret_1", "Name")
    store.create_retriever(created)
    saved = store.save_retriever(created.model_copy(update={"retriever_name": "Renamed"}), 1, "Name")

    with pytest.raises(ConflictError):
        store.delete_retriever(created)
    assert store.get_retriever(ORG_A, NS, "ret_1") == saved

    store.delete_retriever(saved)

    assert store.get_retriever(ORG_A, NS, "ret_1") is None
    with pytest.raises(NotFoundError):
        store.delete_retriever(saved)
    store.create_retriever(retriever("ret_2", "Renamed"))


def test_retrievers_are_listed_by_id_per_namespace(store: MetadataStore) -> None:
    ids = [f"ret_{i:02d}" for i in range(5)]
    for retriever_id in reversed(ids):
        store.create_retriever(retriever(retriever_id))
    store.create_retriever(retriever("ret_x", namespace_id="other-ns"))
    store.create_namespace(namespace())
    store.create_bucket(bucket())

    def list_page(limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        page = store.list_retrievers(ORG_A, NS, limit, cursor)
        return [r.retriever_id for r in page.retrievers], page.next_cursor

    pages = every_page(list_page, 2)

    assert [r for page in pages for r in page] == ids and [len(page) for page in pages] == [2, 2, 1]
    assert store.list_retrievers(ORG_B, NS, 10, None).retrievers == []
    assert [n.namespace_id for n in store.list_namespaces(ORG_A, 10, None).namespaces] == [NS]
    assert store.count_buckets(ORG_A, NS) == 1


# ---------------------------------------------------------------------------------------------
# Counters, content hashes and uploads (the Mixpeek SDK's total_count, total_size_bytes,
# skip_duplicates and upload records)


def test_the_namespace_counter_moves_with_each_create_and_delete_only(store: MetadataStore) -> None:
    assert store.count_namespaces(ORG_A) == 0
    store.create_namespace(namespace("one"))
    store.create_namespace(namespace("two"))
    store.create_namespace(namespace("three", org_id=ORG_B))
    with pytest.raises(AlreadyExistsError):
        store.create_namespace(namespace("one", name="another name"))  # refused: not counted
    with pytest.raises(AlreadyExistsError):
        store.create_namespace(namespace("four", name="two name"))
    assert (store.count_namespaces(ORG_A), store.count_namespaces(ORG_B)) == (2, 1)

    stale = store.get_namespace(ORG_A, "one")
    assert stale is not None
    store.save_namespace(
        stale.model_copy(update={"description": "changed"}), stale.version, stale.namespace_name
    )
    with pytest.raises(ConflictError):
        store.delete_namespace(stale)  # refused: not counted
    current = store.get_namespace(ORG_A, "one")
    assert current is not None
    store.delete_namespace(current)

    assert store.count_namespaces(ORG_A) == 1


def test_a_bucket_is_found_by_id_or_by_name_within_its_namespace(store: MetadataStore) -> None:
    store.create_bucket(bucket("bkt_1", name="photos"))
    store.create_bucket(bucket("bkt_2", name="photos", namespace_id="other-ns"))

    assert store.find_bucket(ORG_A, NS, "bkt_1") == bucket("bkt_1", name="photos")
    assert store.find_bucket(ORG_A, NS, "photos") == bucket("bkt_1", name="photos")
    assert store.find_bucket(ORG_A, "other-ns", "photos") == bucket(
        "bkt_2", name="photos", namespace_id="other-ns"
    )
    assert store.find_bucket(ORG_B, NS, "photos") is None
    assert store.find_bucket(ORG_A, NS, "x" * 2000) is None


def total_size(store: MetadataStore, bucket_id: str = "bkt_1") -> int:
    found = store.get_bucket(ORG_A, NS, bucket_id)
    assert found is not None
    return found.total_size_bytes


def sized(object_id: str, size: int, content_hash: str | None = None) -> ObjectRecord:
    return obj(object_id).model_copy(update={"size_bytes": size, "content_hash": content_hash})


def test_total_size_bytes_moves_with_creates_new_versions_and_deletes(store: MetadataStore) -> None:
    store.create_bucket(bucket())
    store.create_object(sized("obj_1", 100))
    store.create_object(sized("obj_2", 50))
    assert store.create_object(sized("obj_1", 999)) is False  # not created: not counted
    assert (object_count(store), total_size(store)) == (2, 150)

    store.save_object(sized("obj_2", 80), task("tsk_2"), size_delta=30)  # a new version of its file
    assert total_size(store) == 180
    store.delete_object(ORG_A, NS, "bkt_1", "obj_1")
    assert (object_count(store), total_size(store)) == (1, 80)


def test_saving_an_object_whose_bucket_is_gone_still_saves_it(store: MetadataStore) -> None:
    created = bucket()
    store.create_bucket(created)
    store.create_object(sized("obj_1", 10))
    store.delete_bucket(created)

    store.save_object(sized("obj_1", 20).model_copy(update={"status": "COMPLETED"}), task(), size_delta=10)

    saved = store.get_object(ORG_A, NS, "bkt_1", "obj_1")
    assert saved is not None and saved.status == "COMPLETED"


def test_a_held_content_hash_makes_no_second_unique_object(store: MetadataStore) -> None:
    store.create_bucket(bucket("bkt_1"))
    store.create_bucket(bucket("bkt_2"))
    assert store.create_unique_object(sized("obj_1", 10, "h1")) is None
    assert store.object_holding(ORG_A, NS, "bkt_1", "h1") == "obj_1"

    assert store.create_unique_object(sized("obj_2", 10, "h1")) == "obj_1"  # nothing written
    assert store.get_object(ORG_A, NS, "bkt_1", "obj_2") is None
    assert (object_count(store, "bkt_1"), total_size(store, "bkt_1")) == (1, 10)
    # Per bucket; and a plain create of the same content is an object of its own.
    assert (
        store.create_unique_object(sized("obj_2", 10, "h1").model_copy(update={"bucket_id": "bkt_2"})) is None
    )
    assert store.create_object(sized("obj_3", 10, "h1")) is True
    assert store.object_holding(ORG_A, NS, "bkt_1", "h1") == "obj_1"  # the first keeps the claim
    assert object_count(store, "bkt_1") == 2


def test_a_deleted_or_changed_holder_releases_its_content_hash(store: MetadataStore) -> None:
    store.create_bucket(bucket())
    store.create_unique_object(sized("obj_1", 10, "h1"))
    store.create_unique_object(sized("obj_2", 10, "h2"))

    store.delete_object(ORG_A, NS, "bkt_1", "obj_1")
    store.put_object(sized("obj_2", 10, "h3"))  # a new version: other content now

    assert store.object_holding(ORG_A, NS, "bkt_1", "h1") is None
    assert store.object_holding(ORG_A, NS, "bkt_1", "h2") is None
    assert store.create_unique_object(sized("obj_4", 10, "h1")) is None
    assert store.create_unique_object(sized("obj_5", 10, "h2")) is None


def test_an_upload_record_reads_back_and_goes_with_its_bucket(store: MetadataStore) -> None:
    from stratus.models.objects import UploadRecord

    upload = UploadRecord(
        org_id=ORG_A,
        namespace_id=NS,
        upload_id="upl_1",
        bucket_id="bkt_1",
        filename="a.txt",
        content_type="text/plain",
        presigned_url_expiration=900,
        s3_key="sk/bkt_1/upl_1/a.txt",
        s3_uri="s3://data/sk/bkt_1/upl_1/a.txt",
        status="PENDING",
        create_object_on_confirm=True,
        blob_property="file",
        blob_type="text",
        object_metadata={"n": 1},
        created_at="2026-01-01T00:00:00.000Z",
        expires_at="2026-01-01T00:15:00.000Z",
    )
    store.create_bucket(bucket())
    store.put_upload(upload)
    store.create_unique_object(sized("obj_1", 10, "h1"))
    assert store.get_upload(ORG_A, NS, "bkt_1", "upl_1") == upload
    assert store.get_upload(ORG_B, NS, "bkt_1", "upl_1") is None
    store.put_upload(upload.model_copy(update={"status": "COMPLETED"}))
    stored = store.get_upload(ORG_A, NS, "bkt_1", "upl_1")
    assert stored is not None and stored.status == "COMPLETED"

    assert store.delete_objects(ORG_A, NS, "bkt_1") == 1  # objects are what is counted

    assert store.get_upload(ORG_A, NS, "bkt_1", "upl_1") is None
    assert store.object_holding(ORG_A, NS, "bkt_1", "h1") is None
