"""The table every aggregate of the store reads and writes: the boto3 client (built lazily), the
HTTP point reader, and the request shapes they share (gets, queries, pages, counts, puts,
transactions)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.codec import decode_cursor, encode_cursor, serialize
from stratus.adapters.dynamodb.faults import (
    CONDITION_FAILED,
    cancellation_codes,
    is_cancelled_transaction,
    raise_if_transient,
    unavailable_error,
)
from stratus.adapters.dynamodb.point_reads import DynamoDBPointReader
from stratus.adapters.dynamodb.schema import is_entity, key, org_pk, too_long
from stratus.adapters.retry import backoff_delay
from stratus.errors import BadRequestError

if TYPE_CHECKING:
    from botocore.config import Config

# Requests per BatchWriteItem (DynamoDB's limit), and tries for the unprocessed ones.
BATCH_WRITE_LIMIT = 25
BATCH_WRITE_ATTEMPTS = 8


# Short timeouts: an API Gateway request has ~29 s in total, and standard-mode retries (3 attempts
# unless AWS_MAX_ATTEMPTS says otherwise) must fit inside it with room for the rest of the work.
def default_client_config() -> Config:
    from botocore.config import Config

    return Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard"},
        tcp_keepalive=True,
    )


class DynamoDBTable:
    """One table, thread-safe. With `http_reads`, reads (`GetItem`, `Query`) and the rate-limit
    counter's `UpdateItem` go over `DynamoDBPointReader` when the environment allows it, so a
    request that only reads never builds a boto3 client; other writes and scans always use boto3.
    An injected `client` serves every call."""

    def __init__(
        self,
        table_name: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any | None = None,
        config: Config | None = None,
        http_reads: bool = False,
    ) -> None:
        self.table_name = table_name
        self.endpoint_url = endpoint_url
        self.region = region
        self._config = config
        # Typed as Any: the boto3 stubs are a dev-only dependency and their TypedDicts add little
        # over the tests for hand-built request shapes.
        self._client: Any | None = client
        self._client_lock = threading.Lock()
        self._http_reads = http_reads and client is None
        self._point_reader: DynamoDBPointReader | None = None

    @property
    def client(self) -> Any:
        """Created on first use, never at import, so moto's mocks can start before it exists."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3

                    # A private session: the default one is not safe to share across threads.
                    session = boto3.session.Session()
                    self._client = session.client(
                        "dynamodb",
                        region_name=self.region,
                        endpoint_url=self.endpoint_url,
                        config=self._config or default_client_config(),
                    )
        return self._client

    def _reader(self) -> DynamoDBPointReader | None:
        """The HTTP point reader, built once on first use; None where boto3 must serve reads."""
        if self._http_reads and self._point_reader is None:
            with self._client_lock:
                if self._http_reads and self._point_reader is None:
                    self._point_reader = DynamoDBPointReader.from_environment(self.region, self.endpoint_url)
                    self._http_reads = self._point_reader is not None
        return self._point_reader

    # -- reads -------------------------------------------------------------------------------------

    def _get(self, pk: str, sk: str, entity: str) -> dict[str, Any] | None:
        """The item at (pk, sk) if it is an `entity`, else None. Every read names the type it
        expects: a key built from client data can then never hand back another type's item
        (stratus.domain.identifiers refuses the separator first; this holds even if it did not)."""
        if too_long(sk):
            return None
        reader = self._reader()
        if reader is not None:
            item = reader.get_item(self.table_name, key(pk, sk), consistent_read=True)
        else:
            response = self.client.get_item(TableName=self.table_name, Key=key(pk, sk), ConsistentRead=True)
            item = response.get("Item")
        return item if item is not None and is_entity(item, entity) else None

    def _query_page(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One page of a Query, over the HTTP reader when there is one. Items come back in
        DynamoDB's JSON either way (binary values base64 text over HTTP, bytes from boto3); every
        reader of them goes through `plain_value`, which takes both."""
        reader = self._reader()
        if reader is not None:
            return reader.query(request)
        response: dict[str, Any] = self.client.query(**request)
        return response

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        start_key: dict[str, Any] | None = None
        while True:
            page_args = {"TableName": self.table_name, "ConsistentRead": True, **kwargs}
            if start_key:
                page_args["ExclusiveStartKey"] = start_key
            response = self._query_page(page_args)
            yield from response.get("Items", [])
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return

    def _org_prefix_query(self, org_id: str, prefix: str, entity: str | None = None) -> dict[str, Any]:
        return self._prefix_query(org_pk(org_id), prefix, entity)

    def _prefix_query(self, pk: str, prefix: str, entity: str | None = None) -> dict[str, Any]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        }
        if not prefix:  # the whole partition (DynamoDB refuses an empty begins_with operand)
            query = {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": {"S": pk}}}
        if entity is not None:
            # Other item types share the prefix (a namespace's buckets sit under `NS#{ns}#`).
            query["FilterExpression"] = "#entity = :entity"
            query["ExpressionAttributeNames"] = {"#entity": "entity"}
            query["ExpressionAttributeValues"][":entity"] = {"S": entity}
        return query

    def _paged_query(
        self, pk: str, prefix: str, entity: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Items of one type under `prefix` of partition `pk`, ordered by sort key. Reads one item
        past `limit` so the last page never hands out a cursor that leads to an empty page."""
        if limit < 1:
            raise BadRequestError("limit must be at least 1", {"field": "limit"})
        query = self._prefix_query(pk, prefix, entity)
        start_key = key(pk, decode_cursor(cursor, prefix)) if cursor else None
        items: list[dict[str, Any]] = []
        while len(items) <= limit:
            page_args = {
                "TableName": self.table_name,
                "ConsistentRead": True,
                "Limit": limit + 1 - len(items),
            }
            if start_key:
                page_args["ExclusiveStartKey"] = start_key
            response = self._query_page({**query, **page_args})
            items.extend(response.get("Items", []))
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                break
        page = items[:limit]
        next_cursor = encode_cursor(page[-1]["SK"]["S"]) if len(items) > limit else None
        return page, next_cursor

    def _count(self, pk: str, prefix: str, entity: str) -> int:
        query = self._prefix_query(pk, prefix, entity)
        total = 0
        start_key: dict[str, Any] | None = None
        while True:
            page_args = {"TableName": self.table_name, "Select": "COUNT", "ConsistentRead": True}
            if start_key:
                page_args["ExclusiveStartKey"] = start_key
            response = self._query_page({**query, **page_args})
            total += int(response.get("Count", 0))
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return total

    # -- writes ------------------------------------------------------------------------------------

    def _update_item(self, request: Mapping[str, Any], max_attempts: int | None = None) -> dict[str, Any]:
        """One `UpdateItem` (the request without `TableName`), over the HTTP reader when there
        is one; `max_attempts` bounds its retries (boto3's own config governs the other path)."""
        reader = self._reader()
        if reader is not None:
            return reader.update_item({"TableName": self.table_name, **request}, max_attempts)
        response: dict[str, Any] = self.client.update_item(TableName=self.table_name, **request)
        return response

    def _put(self, item: Mapping[str, Any], condition: str | None = None, **extra: Any) -> dict[str, Any]:
        """One `Put` of a transaction."""
        put: dict[str, Any] = {"TableName": self.table_name, "Item": serialize(item), **extra}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def _delete(self, pk: str, sk: str, condition: str | None = None, **extra: Any) -> dict[str, Any]:
        """One `Delete` of a transaction."""
        delete: dict[str, Any] = {"TableName": self.table_name, "Key": key(pk, sk), **extra}
        if condition:
            delete["ConditionExpression"] = condition
        return {"Delete": delete}

    def _transact(self, items: list[dict[str, Any]]) -> None:
        self.client.transact_write_items(TransactItems=items)

    def _cancelled(self, items: list[dict[str, Any]]) -> ClientError | None:
        """Write `items` in ONE transaction: None once written, DynamoDB's error when it cancelled
        the transaction (a condition failed; `cancellation_codes` says which). A transient
        cancellation is a retryable 503; any other failure propagates."""
        try:
            self._transact(items)
        except ClientError as error:
            if not is_cancelled_transaction(error):
                raise
            raise_if_transient(error)
            return error
        return None

    def _put_all_new(self, items: Sequence[Mapping[str, Any]]) -> set[int]:
        """Put every item where none exists yet, in ONE transaction (a record never exists
        without its guard). Returns the positions of the items that already existed, with nothing
        written; empty when all were written. Transient cancellations become a 503."""
        error = self._cancelled([self._put(item, "attribute_not_exists(PK)") for item in items])
        if error is None:
            return set()
        clashes = {i for i, code in enumerate(cancellation_codes(error)) if code == CONDITION_FAILED}
        if not clashes:
            raise error
        return clashes

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """One BatchWriteItem of at most BATCH_WRITE_LIMIT requests, retrying the unprocessed
        ones with backoff; a 503 if some stay unprocessed."""
        pending = requests
        for attempt in range(1, BATCH_WRITE_ATTEMPTS + 1):
            response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            time.sleep(backoff_delay(attempt, base=0.05, cap=1.0, jitter="none"))
        raise unavailable_error(RuntimeError("unprocessed writes"))
