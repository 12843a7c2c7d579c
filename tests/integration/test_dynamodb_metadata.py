"""DynamoDBMetadataStore against moto's DynamoDB, with the table built from template.yaml."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.schema import NAMESPACE_COUNTER_SK
from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    MetadataStoreUnavailableError,
    NotFoundError,
)
from stratus.models.namespaces import Namespace, PayloadIndexConfig, VectorConfig
from stratus.ports import ApiKey, PromotionRecord

ORG_A = "org_a"
ORG_B = "org_b"


def make_namespace(
    namespace_id: str = "legal-docs", name: str | None = None, org_id: str = ORG_A
) -> Namespace:
    return Namespace(
        org_id=org_id,
        namespace_id=namespace_id,
        namespace_name=name or f"{namespace_id} name",
        mode="standalone",
        description="contracts",
        vector_configs=[VectorConfig(name="text", dimension=3, metric="dot")],
        payload_indexes=[
            PayloadIndexConfig(
                field_name="metadata.price",
                type="float",
                field_schema={"min": 0.5, "max": 10, "nested": {"ratio": 1.25, "tags": ["a", "b"]}},
            )
        ],
        vector_inference_map={"text": "multilingual-e5-small"},
        storage_key=f"sk-{namespace_id}",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


def raw_items(store: DynamoDBMetadataStore, org_id: str) -> list[dict[str, Any]]:
    response = store.client.query(
        TableName=store.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORG#{org_id}"}},
    )
    items: list[dict[str, Any]] = response["Items"]
    return items


def sort_keys(store: DynamoDBMetadataStore, org_id: str) -> set[str]:
    """The organization's items, but for its namespace counter (checked on its own below)."""
    return {item["SK"]["S"] for item in raw_items(store, org_id)} - {NAMESPACE_COUNTER_SK}


def make_key(key_id: str = "key_0123456789abcdef", org_id: str = ORG_A, key_hash: str = "ab" * 32) -> ApiKey:
    return ApiKey(
        key_id=key_id,
        key_hash=key_hash,
        org_id=org_id,
        name="ci",
        permissions=["read", "write"],
        created_at="2026-01-01T00:00:00.000Z",
    )


# ---------------------------------------------------------------------------------------------
# Client


def test_given_a_new_store_when_nothing_is_called_then_no_client_exists_yet(aws_env: None) -> None:
    store = DynamoDBMetadataStore("stratus")
    assert store._client is None  # created lazily, never at construction or import


# ---------------------------------------------------------------------------------------------
# create / get / find


def test_given_a_namespace_when_created_then_it_reads_back_identical(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace()

    moto_dynamodb.create_namespace(namespace)

    stored = moto_dynamodb.get_namespace(ORG_A, "legal-docs")
    assert stored == namespace
    assert stored is not None and stored.payload_indexes[0].field_schema == {
        "min": 0.5,
        "max": 10,
        "nested": {"ratio": 1.25, "tags": ["a", "b"]},
    }
    assert sort_keys(moto_dynamodb, ORG_A) == {"NS#legal-docs", "NSNAME#legal-docs name"}


def test_given_an_existing_id_when_created_again_then_already_exists_and_original_intact(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    original = make_namespace("legal-docs", "first")
    moto_dynamodb.create_namespace(original)

    with pytest.raises(AlreadyExistsError) as caught:
        moto_dynamodb.create_namespace(make_namespace("legal-docs", "second"))

    assert caught.value.message == "namespace 'legal-docs' already exists"
    assert caught.value.details == {"resource": "namespace", "id": "legal-docs"}
    assert moto_dynamodb.get_namespace(ORG_A, "legal-docs") == original
    assert sort_keys(moto_dynamodb, ORG_A) == {"NS#legal-docs", "NSNAME#first"}  # no stray guard


def test_given_a_taken_name_when_another_id_uses_it_then_already_exists_and_nothing_written(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    original = make_namespace("first-id", "shared name")
    moto_dynamodb.create_namespace(original)

    with pytest.raises(AlreadyExistsError) as caught:
        moto_dynamodb.create_namespace(make_namespace("second-id", "shared name"))

    assert "namespace_name" in caught.value.message
    assert caught.value.details["field"] == "namespace_name"
    assert moto_dynamodb.get_namespace(ORG_A, "second-id") is None
    assert moto_dynamodb.find_namespace(ORG_A, "shared name") == original
    assert sort_keys(moto_dynamodb, ORG_A) == {"NS#first-id", "NSNAME#shared name"}


def test_given_a_namespace_when_found_by_id_or_name_then_both_resolve(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace("legal-docs", "Legal Documents")
    moto_dynamodb.create_namespace(namespace)

    assert moto_dynamodb.find_namespace(ORG_A, "legal-docs") == namespace
    assert moto_dynamodb.find_namespace(ORG_A, "Legal Documents") == namespace
    assert moto_dynamodb.find_namespace(ORG_A, "nope") is None
    assert moto_dynamodb.find_namespace(ORG_A, "x" * 2000) is None  # longer than any sort key
    assert moto_dynamodb.get_namespace(ORG_A, "Legal Documents") is None  # get is by id only


def test_given_org_a_namespace_when_org_b_looks_then_it_sees_nothing(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    moto_dynamodb.create_namespace(make_namespace("legal-docs", "Legal"))

    assert moto_dynamodb.find_namespace(ORG_B, "legal-docs") is None
    assert moto_dynamodb.find_namespace(ORG_B, "Legal") is None
    assert moto_dynamodb.list_namespaces(ORG_B, 10, None).namespaces == []
    assert moto_dynamodb.count_namespaces(ORG_B) == 0


def test_given_the_same_id_in_two_orgs_when_created_then_both_exist(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    moto_dynamodb.create_namespace(make_namespace("legal-docs", "Legal", org_id=ORG_A))
    moto_dynamodb.create_namespace(make_namespace("legal-docs", "Legal", org_id=ORG_B))

    found_a = moto_dynamodb.find_namespace(ORG_A, "Legal")
    found_b = moto_dynamodb.find_namespace(ORG_B, "Legal")
    assert found_a is not None and found_a.org_id == ORG_A
    assert found_b is not None and found_b.org_id == ORG_B


# ---------------------------------------------------------------------------------------------
# list / count


def test_given_25_namespaces_when_listed_10_at_a_time_then_cursor_chain_covers_all_once(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    expected = sorted(f"ns-{i:02d}" for i in range(25))
    for namespace_id in expected:
        moto_dynamodb.create_namespace(make_namespace(namespace_id))
    # Other item types in the same partition must never show up in the listing.
    moto_dynamodb.put_api_key(make_key())

    seen: list[str] = []
    page_sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: a broken cursor must not loop forever
        page = moto_dynamodb.list_namespaces(ORG_A, 10, cursor)
        seen.extend(namespace.namespace_id for namespace in page.namespaces)
        page_sizes.append(len(page.namespaces))
        cursor = page.next_cursor
        if cursor is None:
            break

    assert page_sizes == [10, 10, 5]
    assert seen == expected
    assert moto_dynamodb.count_namespaces(ORG_A) == 25


def test_given_exactly_one_full_page_when_listed_then_no_cursor_to_an_empty_page(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    for i in range(10):
        moto_dynamodb.create_namespace(make_namespace(f"ns-{i:02d}"))

    page = moto_dynamodb.list_namespaces(ORG_A, 10, None)

    assert len(page.namespaces) == 10
    assert page.next_cursor is None


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        _b64(b"\xff\xfe"),
        _b64(b"not json"),
        _b64(json.dumps(["NS#x"]).encode()),
        _b64(json.dumps({"sk": 5}).encode()),
        _b64(json.dumps({"sk": "APIKEY#key_x"}).encode()),
        _b64(json.dumps({"sk": "NS#" + "x" * 1100}).encode()),
        "A" * 5000,
    ],
)
def test_given_a_malformed_cursor_when_listing_then_bad_request_naming_cursor(
    moto_dynamodb: DynamoDBMetadataStore, cursor: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        moto_dynamodb.list_namespaces(ORG_A, 10, cursor)

    assert caught.value.status == 400
    assert caught.value.details == {"field": "cursor"}
    assert "cursor" in caught.value.message


# ---------------------------------------------------------------------------------------------
# save


def test_given_the_current_version_when_saved_then_version_bumps_and_changes_persist(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    moto_dynamodb.create_namespace(make_namespace())
    changed = make_namespace().model_copy(
        update={"description": "updated", "updated_at": "2026-02-02T00:00:00.000Z"}
    )

    saved = moto_dynamodb.save_namespace(changed, expected_version=1, previous_name=changed.namespace_name)

    assert saved.version == 2
    assert saved.updated_at == "2026-02-02T00:00:00.000Z"
    assert moto_dynamodb.get_namespace(ORG_A, "legal-docs") == saved


def test_given_a_stale_version_when_saved_then_conflict_and_stored_item_unchanged(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    original = make_namespace()
    moto_dynamodb.create_namespace(original)
    first = moto_dynamodb.save_namespace(
        original.model_copy(update={"description": "winner"}), 1, original.namespace_name
    )

    with pytest.raises(ConflictError) as caught:
        moto_dynamodb.save_namespace(
            original.model_copy(update={"description": "loser"}), 1, original.namespace_name
        )

    assert caught.value.message == "namespace 'legal-docs' was changed concurrently; retry"
    assert moto_dynamodb.get_namespace(ORG_A, "legal-docs") == first


def test_given_a_deleted_namespace_when_saved_then_not_found(moto_dynamodb: DynamoDBMetadataStore) -> None:
    namespace = make_namespace()
    moto_dynamodb.create_namespace(namespace)
    moto_dynamodb.delete_namespace(namespace)

    with pytest.raises(NotFoundError):
        moto_dynamodb.save_namespace(namespace, 1, namespace.namespace_name)

    assert sort_keys(moto_dynamodb, ORG_A) == set()


def test_given_a_rename_when_saved_then_the_name_guard_moves(moto_dynamodb: DynamoDBMetadataStore) -> None:
    original = make_namespace("legal-docs", "Old Name")
    moto_dynamodb.create_namespace(original)

    saved = moto_dynamodb.save_namespace(
        original.model_copy(update={"namespace_name": "New Name"}), 1, previous_name="Old Name"
    )

    assert moto_dynamodb.find_namespace(ORG_A, "New Name") == saved
    assert moto_dynamodb.find_namespace(ORG_A, "Old Name") is None
    assert sort_keys(moto_dynamodb, ORG_A) == {"NS#legal-docs", "NSNAME#New Name"}
    # The old name is free again.
    moto_dynamodb.create_namespace(make_namespace("other-docs", "Old Name"))


def test_given_a_rename_to_a_taken_name_when_saved_then_already_exists_and_nothing_changed(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    first = make_namespace("first-id", "First")
    second = make_namespace("second-id", "Second")
    moto_dynamodb.create_namespace(first)
    moto_dynamodb.create_namespace(second)

    with pytest.raises(AlreadyExistsError) as caught:
        moto_dynamodb.save_namespace(
            first.model_copy(update={"namespace_name": "Second"}), 1, previous_name="First"
        )

    assert caught.value.details["field"] == "namespace_name"
    assert moto_dynamodb.get_namespace(ORG_A, "first-id") == first
    assert moto_dynamodb.find_namespace(ORG_A, "First") == first
    assert moto_dynamodb.find_namespace(ORG_A, "Second") == second
    assert sort_keys(moto_dynamodb, ORG_A) == {"NS#first-id", "NS#second-id", "NSNAME#First", "NSNAME#Second"}


def test_given_a_wrong_previous_name_when_renaming_then_conflict_and_other_guard_kept(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    first = make_namespace("first-id", "First")
    second = make_namespace("second-id", "Second")
    moto_dynamodb.create_namespace(first)
    moto_dynamodb.create_namespace(second)

    with pytest.raises(ConflictError):
        moto_dynamodb.save_namespace(
            first.model_copy(update={"namespace_name": "Third"}), 1, previous_name="Second"
        )

    assert moto_dynamodb.find_namespace(ORG_A, "Second") == second


# ---------------------------------------------------------------------------------------------
# delete


def test_given_a_namespace_when_deleted_then_item_and_guard_are_gone(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace("legal-docs", "Legal")
    moto_dynamodb.create_namespace(namespace)

    moto_dynamodb.delete_namespace(namespace)

    assert sort_keys(moto_dynamodb, ORG_A) == set()
    assert moto_dynamodb.find_namespace(ORG_A, "Legal") is None
    moto_dynamodb.create_namespace(make_namespace("legal-docs", "Legal"))  # id and name reusable


def test_given_a_stale_copy_when_deleted_then_conflict_and_nothing_removed(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    stale = make_namespace("legal-docs", "Old")
    moto_dynamodb.create_namespace(stale)
    current = moto_dynamodb.save_namespace(stale.model_copy(update={"namespace_name": "New"}), 1, "Old")

    with pytest.raises(ConflictError):
        moto_dynamodb.delete_namespace(stale)

    assert moto_dynamodb.find_namespace(ORG_A, "New") == current


def test_given_a_missing_namespace_when_deleted_then_not_found(moto_dynamodb: DynamoDBMetadataStore) -> None:
    with pytest.raises(NotFoundError):
        moto_dynamodb.delete_namespace(make_namespace())


# ---------------------------------------------------------------------------------------------
# promote


def make_promotion(namespace: Namespace, promotion_id: str = "prm_0000000000000001") -> PromotionRecord:
    return PromotionRecord(
        promotion_id=promotion_id,
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        promoted_by="key_0123456789abcdef",
        promoted_at="2026-03-03T00:00:00.000Z",
        from_version=namespace.version,
        vector_mappings=[{"existing_index": "text", "inference_service": "multilingual-e5-small"}],
        add_vectors=[{"name": "image", "dimension": 512, "metric": "cosine"}],
    )


def promoted_copy(namespace: Namespace) -> Namespace:
    return namespace.model_copy(update={"mode": "managed", "updated_at": "2026-03-03T00:00:00.000Z"})


def test_given_a_standalone_namespace_when_promoted_then_managed_and_audited_in_one_write(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace()
    moto_dynamodb.create_namespace(namespace)

    saved = moto_dynamodb.promote_namespace(promoted_copy(namespace), 1, make_promotion(namespace))

    assert saved.mode == "managed" and saved.version == 2
    assert moto_dynamodb.get_namespace(ORG_A, "legal-docs") == saved
    assert "PROMOTION#legal-docs#prm_0000000000000001" in sort_keys(moto_dynamodb, ORG_A)
    assert moto_dynamodb.count_namespaces(ORG_A) == 1  # the audit item is not a namespace


def test_given_a_lost_race_when_promoted_again_then_conflict_and_nothing_written(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace()
    moto_dynamodb.create_namespace(namespace)
    winner = moto_dynamodb.promote_namespace(promoted_copy(namespace), 1, make_promotion(namespace))

    with pytest.raises(ConflictError) as caught:
        moto_dynamodb.promote_namespace(
            promoted_copy(namespace), 1, make_promotion(namespace, "prm_0000000000000002")
        )

    assert "one-way" in caught.value.message
    assert moto_dynamodb.get_namespace(ORG_A, "legal-docs") == winner
    assert "PROMOTION#legal-docs#prm_0000000000000002" not in sort_keys(moto_dynamodb, ORG_A)


def test_given_a_standalone_namespace_changed_meanwhile_when_promoted_then_conflict(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    namespace = make_namespace()
    moto_dynamodb.create_namespace(namespace)
    current = moto_dynamodb.save_namespace(namespace, 1, namespace.namespace_name)

    with pytest.raises(ConflictError) as caught:
        moto_dynamodb.promote_namespace(promoted_copy(namespace), 1, make_promotion(namespace))

    assert "changed concurrently" in caught.value.message
    assert moto_dynamodb.get_namespace(ORG_A, "legal-docs") == current


def test_given_a_missing_namespace_when_promoted_then_not_found(moto_dynamodb: DynamoDBMetadataStore) -> None:
    namespace = make_namespace()

    with pytest.raises(NotFoundError):
        moto_dynamodb.promote_namespace(promoted_copy(namespace), 1, make_promotion(namespace))

    assert sort_keys(moto_dynamodb, ORG_A) == set()


# ---------------------------------------------------------------------------------------------
# API keys


def test_given_an_api_key_when_put_then_get_by_hash_and_list_by_org(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    key = make_key()

    moto_dynamodb.put_api_key(key)

    assert moto_dynamodb.get_api_key(key.key_hash) == key
    assert moto_dynamodb.get_api_key("cd" * 32) is None
    assert moto_dynamodb.list_api_keys(ORG_A) == [key]
    assert moto_dynamodb.list_api_keys(ORG_B) == []


def test_given_an_api_key_when_revoked_then_both_items_say_revoked(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    key = make_key()
    moto_dynamodb.put_api_key(key)

    assert moto_dynamodb.revoke_api_key(ORG_A, key.key_id) is True
    assert moto_dynamodb.revoke_api_key(ORG_A, key.key_id) is True  # idempotent

    stored = moto_dynamodb.get_api_key(key.key_hash)
    assert stored is not None and stored.revoked
    assert [k.revoked for k in moto_dynamodb.list_api_keys(ORG_A)] == [True]


def test_given_an_unknown_or_foreign_key_id_when_revoked_then_false(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    key = make_key(org_id=ORG_A)
    moto_dynamodb.put_api_key(key)

    assert moto_dynamodb.revoke_api_key(ORG_A, "key_doesnotexist00") is False
    assert moto_dynamodb.revoke_api_key(ORG_B, key.key_id) is False
    stored = moto_dynamodb.get_api_key(key.key_hash)
    assert stored is not None and not stored.revoked


def test_given_api_keys_when_namespaces_are_counted_then_keys_are_not_namespaces(
    moto_dynamodb: DynamoDBMetadataStore,
) -> None:
    moto_dynamodb.put_api_key(make_key())
    moto_dynamodb.create_namespace(make_namespace())

    assert moto_dynamodb.count_namespaces(ORG_A) == 1
    assert [n.namespace_id for n in moto_dynamodb.list_namespaces(ORG_A, 10, None).namespaces] == [
        "legal-docs"
    ]


# ---------------------------------------------------------------------------------------------
# Dependency faults


def test_given_an_unreachable_endpoint_when_called_then_metadata_store_unavailable(aws_env: None) -> None:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 1, "mode": "standard"}),
    )
    store = DynamoDBMetadataStore("stratus", endpoint_url="http://127.0.0.1:1", client=client)

    with pytest.raises(MetadataStoreUnavailableError) as caught:
        store.find_namespace(ORG_A, "legal-docs")

    assert caught.value.status == 503
    assert caught.value.retry_after == 1
    with pytest.raises(MetadataStoreUnavailableError):
        store.create_namespace(make_namespace())


class _FailingClient:
    """Answers every call with one ClientError, as a throttled or broken DynamoDB would."""

    def __init__(self, code: str, reasons: list[dict[str, str]] | None = None) -> None:
        self.response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
        if reasons is not None:
            self.response["CancellationReasons"] = reasons

    def __getattr__(self, operation: str) -> Any:
        def fail(**_: Any) -> None:
            raise ClientError(self.response, operation)  # type: ignore[arg-type]

        return fail


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalServerError",
        "RequestLimitExceeded",
    ],
)
def test_given_throttling_or_server_errors_when_called_then_metadata_store_unavailable(code: str) -> None:
    store = DynamoDBMetadataStore("stratus", client=_FailingClient(code))

    with pytest.raises(MetadataStoreUnavailableError):
        store.get_namespace(ORG_A, "legal-docs")


def test_given_a_transaction_conflict_when_creating_then_metadata_store_unavailable() -> None:
    reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
    store = DynamoDBMetadataStore("stratus", client=_FailingClient("TransactionCanceledException", reasons))

    with pytest.raises(MetadataStoreUnavailableError):
        store.create_namespace(make_namespace())


def test_given_a_request_error_when_called_then_it_propagates_unmapped() -> None:
    store = DynamoDBMetadataStore("stratus", client=_FailingClient("ValidationException"))

    with pytest.raises(ClientError):
        store.get_namespace(ORG_A, "legal-docs")
