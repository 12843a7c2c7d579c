"""Collections (part of `ManagedContentRepository`): one item each, under their namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import plain_record, record_item, serialize
from stratus.adapters.dynamodb.faults import error_code, maps_dependency_faults
from stratus.adapters.dynamodb.schema import collection_prefix, key, org_pk
from stratus.errors import AlreadyExistsError, NotFoundError
from stratus.ports import CollectionPage

if TYPE_CHECKING:
    from stratus.models.managed_content import Collection

_CONDITION_FAILED_EXCEPTION = "ConditionalCheckFailedException"


class DynamoDBCollections(DynamoDBTable):
    @maps_dependency_faults
    def create_collection(self, collection: Collection) -> None:
        sk = collection_prefix(collection.namespace_id) + collection.collection_id
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(record_item(org_pk(collection.org_id), sk, "collection", collection)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error_code(error) != _CONDITION_FAILED_EXCEPTION:
                raise
            raise AlreadyExistsError(
                f"collection '{collection.collection_id}' already exists",
                {"resource": "collection", "id": collection.collection_id},
            ) from error

    @maps_dependency_faults
    def get_collection(self, org_id: str, namespace_id: str, collection_id: str) -> Collection | None:
        item = self._get(org_pk(org_id), collection_prefix(namespace_id) + collection_id, "collection")
        from stratus.models.managed_content import Collection

        return Collection.model_validate(plain_record(item)) if item else None

    @maps_dependency_faults
    def list_collections(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> CollectionPage:
        page, next_cursor = self._paged_query(
            org_pk(org_id), collection_prefix(namespace_id), "collection", limit, cursor
        )
        from stratus.models.managed_content import Collection

        return CollectionPage([Collection.model_validate(plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_collections(self, org_id: str, namespace_id: str) -> int:
        return self._count(org_pk(org_id), collection_prefix(namespace_id), "collection")

    @maps_dependency_faults
    def delete_collection(self, collection: Collection) -> None:
        sk = collection_prefix(collection.namespace_id) + collection.collection_id
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=key(org_pk(collection.org_id), sk),
                ConditionExpression="attribute_exists(PK)",
            )
        except ClientError as error:
            if error_code(error) != _CONDITION_FAILED_EXCEPTION:
                raise
            raise NotFoundError.of("collection", collection.collection_id) from error
