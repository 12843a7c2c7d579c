"""`MetadataStore` on one DynamoDB table (items keyed `PK`/`SK`, see template.yaml).

Item layout (single-table design):

| item                 | PK                  | SK                    | other attributes             |
|----------------------|---------------------|-----------------------|------------------------------|
| namespace            | `ORG#{org_id}`      | `NS#{namespace_id}`   | the `Namespace` record       |
| namespace name guard | `ORG#{org_id}`      | `NSNAME#{name}`       | namespace_id                 |
| API key (by hash)    | `APIKEY#{key_hash}` | `APIKEY`              | org_id, key_id, name, ...    |
| API key (org index)  | `ORG#{org_id}`      | `APIKEY#{key_id}`     | key_hash, name, ...          |
| promotion (audit)    | `ORG#{org_id}`      | `PROMOTION#{ns}#{id}` | the `PromotionRecord`        |
| filter usage (hour)  | `ORG#{org_id}`      | `USAGE#{ns}#{yyyymmddhh}` | counters, `expires_at` TTL |
| bucket               | `ORG#{org_id}`      | `NS#{ns}#BKT#{bucket_id}` | the `Bucket` record      |
| bucket name guard    | `ORG#{org_id}`      | `NS#{ns}#BKTNAME#{name}` | bucket_id                 |
| collection           | `ORG#{org_id}`      | `NS#{ns}#COL#{collection_id}` | the `Collection` record |
| task                 | `TASK#{task_id}`    | `TASK`                | the `Task` record (org_id inside) |
| bucket route         | `S3PREFIX#{prefix}` | `ROUTE`               | org_id, namespace_id, bucket_id |
| object               | `OBJECTS#{org}#{ns}` | `{bucket_id}#{object_id}` | the `ObjectRecord`       |

Objects get a partition per namespace, apart from `ORG#`: a namespace may hold millions, and
listing an organization's namespaces or buckets must never page through them. The bucket route
lets the extractor map an S3 key (`<storage_key>/<bucket_id>/...`) to its organization,
namespace and bucket with one read; it is written and deleted with the bucket.

Bucket and collection sort keys start with `NS#` too (they live under their namespace), so every
namespace query filters on `entity = namespace`.

Every write that touches more than one item is a single `TransactWriteItems`, so a namespace
never exists without its name guard (and vice versa) and a key is never half revoked.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

# boto3 and botocore.config are imported where a client is built: point reads go over
# `dynamodb_point_reads` without them (cold start; see that module). botocore.exceptions is light.
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from stratus.adapters.dynamodb_point_reads import DynamoDBPointReader, plain_value
from stratus.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    MetadataStoreUnavailableError,
    NotFoundError,
)
from stratus.models.namespaces import Namespace
from stratus.ports import (
    ApiKey,
    BucketPage,
    BucketRoute,
    CollectionPage,
    FieldUsage,
    NamespacePage,
    ObjectPage,
    Permission,
    PromotionRecord,
)

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeSerializer
    from botocore.config import Config

    # Imported where a record is read (the bucket, collection, object and task methods): a
    # function that never reads one does not build those models (cold start).
    from stratus.models.managed_content import Bucket, Collection, ObjectRecord, Task

P = ParamSpec("P")
R = TypeVar("R")


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


# Error codes that mean "DynamoDB is overloaded or down", not "your request is wrong".
_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
# Per-item reasons inside a cancelled transaction that are transient (retry will likely pass).
_TRANSIENT_CANCELLATION_CODES = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
_CONDITION_FAILED = "ConditionalCheckFailed"

_KEY_ATTRIBUTES = frozenset({"PK", "SK", "entity"})
_NAMESPACE_PREFIX = "NS#"
_NAME_GUARD_PREFIX = "NSNAME#"
_API_KEY_PREFIX = "APIKEY#"
_API_KEY_SK = "APIKEY"
_PROMOTION_PREFIX = "PROMOTION#"
_TASK_PREFIX = "TASK#"
_TASK_SK = "TASK"
_MAX_CURSOR_LENGTH = 2048
# Namespaces a store keeps recently read copies of (`find_namespace(max_age_seconds=...)`).
_MAX_RECENT_NAMESPACES = 1024
# DynamoDB rejects sort keys over 1024 bytes with a ValidationException; an identifier that long
# (e.g. from a URL path) cannot name anything we stored, so it is simply not found.
_MAX_SORT_KEY_BYTES = 1024


@functools.cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


# ---------------------------------------------------------------------------------------------
# Dependency faults: the one place where SDK failures become `MetadataStoreUnavailableError`.


def _unavailable(cause: Exception) -> MetadataStoreUnavailableError:
    # The message must not leak endpoints or request details to API clients.
    return MetadataStoreUnavailableError(
        "the metadata store is temporarily unavailable; retry the request",
        {"dependency": "dynamodb", "reason": type(cause).__name__},
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def maps_dependency_faults(method: Callable[P, R]) -> Callable[P, R]:
    """Turn connection failures, timeouts and throttling into a retryable 503; anything else
    (validation errors, a missing table, ...) is a bug or a misconfiguration and propagates."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (BotocoreConnectionError, HTTPClientError) as error:
            # Covers EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, closed sockets.
            raise _unavailable(error) from error
        except ClientError as error:
            if _error_code(error) in _UNAVAILABLE_CODES:
                raise _unavailable(error) from error
            raise

    return wrapper


def _cancellation_reasons(error: ClientError) -> list[dict[str, Any]]:
    """One entry per transaction item, in request order (`Code` is "None" for items that passed)."""
    return [dict(reason) for reason in error.response.get("CancellationReasons") or []]


def _cancellation_codes(error: ClientError) -> list[str]:
    return [str(reason.get("Code", "None")) for reason in _cancellation_reasons(error)]


def _is_cancelled_transaction(error: ClientError) -> bool:
    return _error_code(error) == "TransactionCanceledException"


def _raise_if_transient(error: ClientError) -> None:
    if any(code in _TRANSIENT_CANCELLATION_CODES for code in _cancellation_codes(error)):
        raise _unavailable(error) from error


def forgets_recent_namespaces(method: Callable[P, R]) -> Callable[P, R]:
    """For namespace writes: drop the store's recently read copies before and after the write
    (after too: a concurrent search may have re-read the old one meanwhile), even if it fails."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        assert isinstance(store, DynamoDBMetadataStore)
        store._recent.clear()
        try:
            return method(*args, **kwargs)
        finally:
            store._recent.clear()

    return wrapper


# ---------------------------------------------------------------------------------------------
# Keys and (de)serialization


def _org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def _namespace_sk(namespace_id: str) -> str:
    return f"{_NAMESPACE_PREFIX}{namespace_id}"


def _name_guard_sk(namespace_name: str) -> str:
    return f"{_NAME_GUARD_PREFIX}{namespace_name}"


def _key_pk(key_hash: str) -> str:
    return f"{_API_KEY_PREFIX}{key_hash}"


def _key_index_sk(key_id: str) -> str:
    return f"{_API_KEY_PREFIX}{key_id}"


def _to_dynamo_value(value: Any) -> Any:
    """DynamoDB numbers must be Decimal; `str()` keeps the float's shortest exact repr."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: _to_dynamo_value(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo_value(inner) for inner in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A number written without a fractional part (every int we store) comes back as int.
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, Mapping):
        return {key: _from_dynamo_value(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_from_dynamo_value(inner) for inner in value]
    return value


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer().serialize(_to_dynamo_value(value)) for key, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo_value(plain_value(value)) for key, value in item.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _namespace_item(namespace: Namespace) -> dict[str, Any]:
    return {
        "PK": _org_pk(namespace.org_id),
        "SK": _namespace_sk(namespace.namespace_id),
        "entity": "namespace",
        **namespace.model_dump(mode="json"),
    }


def _namespace_from_item(item: Mapping[str, Any]) -> Namespace:
    plain = _deserialize(item)
    return Namespace.model_validate({k: v for k, v in plain.items() if k not in _KEY_ATTRIBUTES})


def _name_guard_item(namespace: Namespace) -> dict[str, Any]:
    return {
        "PK": _org_pk(namespace.org_id),
        "SK": _name_guard_sk(namespace.namespace_name),
        "entity": "namespace_name",
        "namespace_id": namespace.namespace_id,
    }


def _promotion_item(record: PromotionRecord) -> dict[str, Any]:
    # Append-only audit, kept after the namespace is deleted; `NS#` queries never see it.
    return {
        "PK": _org_pk(record.org_id),
        "SK": f"{_PROMOTION_PREFIX}{record.namespace_id}#{record.promotion_id}",
        "entity": "promotion",
        **dataclasses.asdict(record),
    }


def _api_key_items(key: ApiKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """(lookup-by-hash item, org index item). Permissions are a list: string sets cannot be empty
    and lists read back the same on every emulator."""
    shared = {
        "name": key.name,
        "permissions": list(key.permissions),
        "created_at": key.created_at,
        "revoked": key.revoked,
    }
    by_hash = {
        "PK": _key_pk(key.key_hash),
        "SK": _API_KEY_SK,
        "entity": "api_key",
        "org_id": key.org_id,
        "key_id": key.key_id,
        **shared,
    }
    org_index = {
        "PK": _org_pk(key.org_id),
        "SK": _key_index_sk(key.key_id),
        "entity": "api_key_index",
        "key_hash": key.key_hash,
        **shared,
    }
    return by_hash, org_index


def _permissions(value: Any) -> list[Permission]:
    allowed: tuple[Permission, ...] = ("read", "write", "admin")
    return [permission for permission in allowed if permission in set(value or [])]


def _api_key_from_hash_item(item: Mapping[str, Any]) -> ApiKey:
    plain = _deserialize(item)
    return ApiKey(
        key_id=str(plain["key_id"]),
        key_hash=str(plain["PK"]).removeprefix(_API_KEY_PREFIX),
        org_id=str(plain["org_id"]),
        name=str(plain.get("name", "")),
        permissions=_permissions(plain.get("permissions")),
        created_at=str(plain.get("created_at", "")),
        revoked=bool(plain.get("revoked", False)),
    )


def _api_key_from_index_item(org_id: str, item: Mapping[str, Any]) -> ApiKey:
    plain = _deserialize(item)
    return ApiKey(
        key_id=str(plain["SK"]).removeprefix(_API_KEY_PREFIX),
        key_hash=str(plain["key_hash"]),
        org_id=org_id,
        name=str(plain.get("name", "")),
        permissions=_permissions(plain.get("permissions")),
        created_at=str(plain.get("created_at", "")),
        revoked=bool(plain.get("revoked", False)),
    )


# ---------------------------------------------------------------------------------------------
# Cursors: opaque to clients, validated on the way back in.


def _encode_cursor(sort_key: str) -> str:
    raw = json.dumps({"sk": sort_key}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _malformed_cursor() -> BadRequestError:
    return BadRequestError(
        "cursor is malformed; pass the next_cursor of a previous page unchanged, or omit it",
        {"field": "cursor"},
    )


def _decode_cursor(cursor: str, prefix: str = _NAMESPACE_PREFIX) -> str:
    """The sort key to resume after. Only sort keys under the queried `prefix` are accepted, so a
    cursor can never steer the query elsewhere (and the partition always comes from the caller)."""
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise _malformed_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise _malformed_cursor() from error
    sort_key = decoded.get("sk") if isinstance(decoded, dict) else None
    if not isinstance(sort_key, str) or not sort_key.startswith(prefix):
        raise _malformed_cursor()
    if len(sort_key.encode("utf-8")) > _MAX_SORT_KEY_BYTES:
        raise _malformed_cursor()
    return sort_key


# ---------------------------------------------------------------------------------------------
# Managed content items: under their namespace's sort-key prefix, so a namespace's buckets and
# collections are one Query each.


def _bucket_prefix(namespace_id: str) -> str:
    return f"{_NAMESPACE_PREFIX}{namespace_id}#BKT#"


def _bucket_name_sk(namespace_id: str, bucket_name: str) -> str:
    return f"{_NAMESPACE_PREFIX}{namespace_id}#BKTNAME#{bucket_name}"


def _collection_prefix(namespace_id: str) -> str:
    return f"{_NAMESPACE_PREFIX}{namespace_id}#COL#"


_ROUTE_PREFIX = "S3PREFIX#"
_ROUTE_SK = "ROUTE"
_OBJECTS_PREFIX = "OBJECTS#"


def _route_item(bucket: Bucket) -> dict[str, Any]:
    return {
        "PK": f"{_ROUTE_PREFIX}{bucket.key_prefix}",
        "SK": _ROUTE_SK,
        "entity": "bucket_route",
        "org_id": bucket.org_id,
        "namespace_id": bucket.namespace_id,
        "bucket_id": bucket.bucket_id,
    }


def _objects_pk(org_id: str, namespace_id: str) -> str:
    return f"{_OBJECTS_PREFIX}{org_id}#{namespace_id}"


def _object_sk(bucket_id: str, object_id: str) -> str:
    return f"{bucket_id}#{object_id}"


def _record_item(pk: str, sk: str, entity: str, record: Any) -> dict[str, Any]:
    return {"PK": pk, "SK": sk, "entity": entity, **record.model_dump(mode="json")}


def _plain_record(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _deserialize(item).items() if k not in _KEY_ATTRIBUTES}


def _bucket_name_taken_error(bucket: Bucket) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"bucket_name '{bucket.bucket_name}' is already used by another bucket in namespace "
        f"'{bucket.namespace_id}'; choose a different bucket_name",
        {"resource": "bucket", "field": "bucket_name", "value": bucket.bucket_name},
    )


# ---------------------------------------------------------------------------------------------
# Errors of namespace writes


def _namespace_exists_error(namespace_id: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"namespace '{namespace_id}' already exists",
        {"resource": "namespace", "id": namespace_id},
    )


def _name_taken_error(namespace_name: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"namespace_name '{namespace_name}' is already used by another namespace in this "
        "organization; choose a different namespace_name",
        {"resource": "namespace", "field": "namespace_name", "value": namespace_name},
    )


def _concurrent_change_error(namespace_id: str) -> ConflictError:
    return ConflictError(
        f"namespace '{namespace_id}' was changed concurrently; retry",
        {"resource": "namespace", "id": namespace_id},
    )


class DynamoDBMetadataStore:
    """Namespaces and API keys in one DynamoDB table. Thread-safe; create one per container.

    With `http_reads`, reads (`GetItem`, `Query`) go over `DynamoDBPointReader` when the
    environment allows it, so a request that only reads (the API key, a namespace, its counts)
    never builds a boto3 client; writes and scans always use boto3. Off by default: moto's in-process mock
    intercepts boto3 only. The API turns it on from settings (`STRATUS_DYNAMODB_HTTP_READS`).
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
        # (org, id or name) → (monotonic time read, namespace); see `find_namespace`.
        self._recent: dict[tuple[str, str], tuple[float, Namespace]] = {}

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

    # -- low-level helpers ------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        if len(sk.encode("utf-8")) > _MAX_SORT_KEY_BYTES:
            return None
        reader = self._reader()
        if reader is not None:
            return reader.get_item(self.table_name, _key(pk, sk), consistent_read=True)
        response = self.client.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query_page(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One page of a Query, over the HTTP reader when there is one. Items come back in
        DynamoDB's JSON either way (binary values base64 text over HTTP, bytes from boto3); every
        reader of them goes through `plain_value`, which takes both."""
        reader = self._reader()
        if reader is not None:
            return reader.query(request)
        response: dict[str, Any] = self.client.query(**request)
        return response

    def _put(self, item: Mapping[str, Any], condition: str | None = None, **extra: Any) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": _serialize(item), **extra}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def _transact(self, items: list[dict[str, Any]]) -> None:
        self.client.transact_write_items(TransactItems=items)

    def _put_all_new(self, items: Sequence[Mapping[str, Any]]) -> set[int]:
        """Put every item where none exists yet, in ONE transaction (a record never exists
        without its guard). Returns the positions of the items that already existed, with nothing
        written; empty when all were written. Transient cancellations become a 503."""
        try:
            self._transact([self._put(item, "attribute_not_exists(PK)") for item in items])
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            _raise_if_transient(error)
            clashes = {i for i, code in enumerate(_cancellation_codes(error)) if code == _CONDITION_FAILED}
            if not clashes:
                raise
            return clashes
        return set()

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
        return self._prefix_query(_org_pk(org_id), prefix, entity)

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
        start_key = _key(pk, _decode_cursor(cursor, prefix)) if cursor else None
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
        next_cursor = _encode_cursor(page[-1]["SK"]["S"]) if len(items) > limit else None
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

    # -- namespaces -------------------------------------------------------------------------

    @forgets_recent_namespaces
    @maps_dependency_faults
    def create_namespace(self, namespace: Namespace) -> None:
        clashes = self._put_all_new([_namespace_item(namespace), _name_guard_item(namespace)])
        if 0 in clashes:
            raise _namespace_exists_error(namespace.namespace_id)
        if 1 in clashes:
            raise _name_taken_error(namespace.namespace_name)

    @maps_dependency_faults
    def get_namespace(self, org_id: str, namespace_id: str) -> Namespace | None:
        item = self._get(_org_pk(org_id), _namespace_sk(namespace_id))
        return _namespace_from_item(item) if item else None

    def find_namespace(self, org_id: str, identifier: str, max_age_seconds: float = 0.0) -> Namespace | None:
        """By id, else by name (ids win: they are what a client got back at creation). With
        `max_age_seconds`, a copy read that recently by this store may answer instead (searches
        use it: one DynamoDB read less per query); any namespace write through this store drops
        every copy, so a process always reads its own writes."""
        key = (org_id, identifier)
        if max_age_seconds > 0:
            recent = self._recent.get(key)
            if recent is not None and time.monotonic() - recent[0] <= max_age_seconds:
                return recent[1]
        found = self._find_namespace(org_id, identifier)
        if found is not None:
            if len(self._recent) >= _MAX_RECENT_NAMESPACES:
                self._recent.pop(next(iter(self._recent)), None)  # the oldest entry
            self._recent[key] = (time.monotonic(), found)
        return found

    @maps_dependency_faults
    def _find_namespace(self, org_id: str, identifier: str) -> Namespace | None:
        by_id = self.get_namespace(org_id, identifier)
        if by_id is not None:
            return by_id
        guard = self._get(_org_pk(org_id), _name_guard_sk(identifier))
        if guard is None:
            return None
        namespace_id = _deserialize(guard).get("namespace_id")
        return self.get_namespace(org_id, str(namespace_id)) if namespace_id else None

    @maps_dependency_faults
    def list_namespaces(self, org_id: str, limit: int, cursor: str | None) -> NamespacePage:
        """Namespaces ordered by id. Reads one item past `limit` so the last page never hands out
        a cursor that leads to an empty page."""
        page, next_cursor = self._paged_query(_org_pk(org_id), _NAMESPACE_PREFIX, "namespace", limit, cursor)
        return NamespacePage(
            namespaces=[_namespace_from_item(item) for item in page], next_cursor=next_cursor
        )

    @maps_dependency_faults
    def count_namespaces(self, org_id: str) -> int:
        return self._count(_org_pk(org_id), _NAMESPACE_PREFIX, "namespace")

    @forgets_recent_namespaces
    @maps_dependency_faults
    def save_namespace(self, namespace: Namespace, expected_version: int, previous_name: str) -> Namespace:
        saved = namespace.model_copy(update={"version": expected_version + 1})
        renamed = saved.namespace_name != previous_name
        items = [
            self._put(
                _namespace_item(saved),
                "version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        ]
        if renamed:
            items.append(self._delete_guard_of(saved, previous_name))
            items.append(self._put(_name_guard_item(saved), "attribute_not_exists(PK)"))
        try:
            self._transact(items)
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            self._raise_save_failure(error, saved)
        return saved

    def _delete_guard_of(self, namespace: Namespace, name: str) -> dict[str, Any]:
        # Conditioned on the owner, so a stale `previous_name` can never free another
        # namespace's name.
        return {
            "Delete": {
                "TableName": self.table_name,
                "Key": _key(_org_pk(namespace.org_id), _name_guard_sk(name)),
                "ConditionExpression": "namespace_id = :id",
                "ExpressionAttributeValues": {":id": {"S": namespace.namespace_id}},
            }
        }

    def _raise_save_failure(self, error: ClientError, namespace: Namespace) -> NoReturn:
        _raise_if_transient(error)
        codes = _cancellation_codes(error)
        if codes and codes[0] == _CONDITION_FAILED:
            if self._namespace_still_exists(error, namespace):
                raise _concurrent_change_error(namespace.namespace_id) from error
            raise NotFoundError.of("namespace", namespace.namespace_id) from error
        if len(codes) > 2 and codes[2] == _CONDITION_FAILED:
            raise _name_taken_error(namespace.namespace_name) from error
        if len(codes) > 1 and codes[1] == _CONDITION_FAILED:
            # The old guard is not ours any more: someone renamed in between.
            raise _concurrent_change_error(namespace.namespace_id) from error
        raise error

    def _namespace_still_exists(self, error: ClientError, namespace: Namespace) -> bool:
        return self._stored_namespace(error, namespace) is not None

    @forgets_recent_namespaces
    @maps_dependency_faults
    def delete_namespace(self, namespace: Namespace) -> None:
        """Delete the namespace and its name guard. Conditioned on `namespace.version`, so a
        stale copy (renamed meanwhile) cannot delete the wrong guard: `ConflictError` then, and
        `NotFoundError` if it is already gone."""
        pk = _org_pk(namespace.org_id)
        items = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": _key(pk, _namespace_sk(namespace.namespace_id)),
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeValues": {":version": {"N": str(namespace.version)}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": _key(pk, _name_guard_sk(namespace.namespace_name)),
                }
            },
        ]
        try:
            self._transact(items)
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            _raise_if_transient(error)
            if _cancellation_codes(error)[:1] != [_CONDITION_FAILED]:
                raise
            if self._namespace_still_exists(error, namespace):
                raise _concurrent_change_error(namespace.namespace_id) from error
            raise NotFoundError.of("namespace", namespace.namespace_id) from error

    @forgets_recent_namespaces
    @maps_dependency_faults
    def promote_namespace(
        self, promoted: Namespace, expected_version: int, record: PromotionRecord
    ) -> Namespace:
        """One transaction: the managed namespace (version bumped), conditioned on the stored one
        still being standalone at `expected_version`, plus the audit record. Losers of a race get
        `ConflictError`; nothing is written unless everything is."""
        saved = promoted.model_copy(update={"version": expected_version + 1})
        items = [
            self._put(
                _namespace_item(saved),
                "version = :expected AND #mode = :standalone",
                ExpressionAttributeNames={"#mode": "mode"},  # MODE is a DynamoDB reserved word
                ExpressionAttributeValues={
                    ":expected": {"N": str(expected_version)},
                    ":standalone": {"S": "standalone"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            self._put(_promotion_item(record), "attribute_not_exists(PK)"),
        ]
        try:
            self._transact(items)
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            self._raise_promotion_failure(error, saved)
        return saved

    def _raise_promotion_failure(self, error: ClientError, namespace: Namespace) -> NoReturn:
        codes = _cancellation_codes(error)
        if "TransactionConflict" in codes:
            # Real DynamoDB cancels colliding transactions on one item with TransactionConflict.
            # If the other one promoted the namespace, this caller lost the race: 409, as api.md
            # says for every loser. Otherwise the conflict was transient: a retryable 503.
            stored = self._get(_org_pk(namespace.org_id), _namespace_sk(namespace.namespace_id))
            if stored is not None and _deserialize(stored).get("mode") == "managed":
                raise ConflictError(
                    f"namespace '{namespace.namespace_id}' is already managed; promotion is one-way",
                    {"resource": "namespace", "id": namespace.namespace_id, "mode": "managed"},
                ) from error
        _raise_if_transient(error)
        if codes and codes[0] == _CONDITION_FAILED:
            stored = self._stored_namespace(error, namespace)
            if stored is None:
                raise NotFoundError.of("namespace", namespace.namespace_id) from error
            if stored.get("mode") == "managed":
                raise ConflictError(
                    f"namespace '{namespace.namespace_id}' is already managed; promotion is one-way",
                    {"resource": "namespace", "id": namespace.namespace_id, "mode": "managed"},
                ) from error
            raise _concurrent_change_error(namespace.namespace_id) from error
        # Only a promotion-id collision is left: retrying with a new id is all it takes.
        raise _concurrent_change_error(namespace.namespace_id) from error

    def _stored_namespace(self, error: ClientError, namespace: Namespace) -> dict[str, Any] | None:
        """The namespace item as it was when the condition failed (plain values), or None."""
        reasons = _cancellation_reasons(error)
        item = reasons[0].get("Item") if reasons else None
        if not item:
            item = self._get(_org_pk(namespace.org_id), _namespace_sk(namespace.namespace_id))
        return _deserialize(item) if item else None

    # -- managed content: buckets, collections, tasks ---------------------------------------

    @maps_dependency_faults
    def create_bucket(self, bucket: Bucket) -> None:
        pk = _org_pk(bucket.org_id)
        guard = {
            "PK": pk,
            "SK": _bucket_name_sk(bucket.namespace_id, bucket.bucket_name),
            "entity": "bucket_name",
            "bucket_id": bucket.bucket_id,
        }
        record = _record_item(pk, _bucket_prefix(bucket.namespace_id) + bucket.bucket_id, "bucket", bucket)
        clashes = self._put_all_new([record, guard, _route_item(bucket)])
        if 1 in clashes:
            raise _bucket_name_taken_error(bucket)
        if clashes:
            raise AlreadyExistsError(
                f"bucket '{bucket.bucket_id}' already exists", {"resource": "bucket", "id": bucket.bucket_id}
            )

    @maps_dependency_faults
    def get_bucket(self, org_id: str, namespace_id: str, bucket_id: str) -> Bucket | None:
        item = self._get(_org_pk(org_id), _bucket_prefix(namespace_id) + bucket_id)
        from stratus.models.managed_content import Bucket

        return Bucket.model_validate(_plain_record(item)) if item else None

    @maps_dependency_faults
    def list_buckets(self, org_id: str, namespace_id: str, limit: int, cursor: str | None) -> BucketPage:
        page, next_cursor = self._paged_query(
            _org_pk(org_id), _bucket_prefix(namespace_id), "bucket", limit, cursor
        )
        from stratus.models.managed_content import Bucket

        return BucketPage([Bucket.model_validate(_plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_buckets(self, org_id: str, namespace_id: str) -> int:
        return self._count(_org_pk(org_id), _bucket_prefix(namespace_id), "bucket")

    @maps_dependency_faults
    def delete_bucket(self, bucket: Bucket) -> None:
        pk = _org_pk(bucket.org_id)
        items = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": _key(pk, _bucket_prefix(bucket.namespace_id) + bucket.bucket_id),
                    "ConditionExpression": "attribute_exists(PK)",
                }
            },
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": _key(pk, _bucket_name_sk(bucket.namespace_id, bucket.bucket_name)),
                    # Only our own guard: never free a name another bucket holds.
                    "ConditionExpression": "attribute_not_exists(PK) OR bucket_id = :id",
                    "ExpressionAttributeValues": {":id": {"S": bucket.bucket_id}},
                }
            },
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": _key(f"{_ROUTE_PREFIX}{bucket.key_prefix}", _ROUTE_SK),
                }
            },
        ]
        try:
            self._transact(items)
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            _raise_if_transient(error)
            raise NotFoundError.of("bucket", bucket.bucket_id) from error

    @maps_dependency_faults
    def create_collection(self, collection: Collection) -> None:
        sk = _collection_prefix(collection.namespace_id) + collection.collection_id
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_serialize(_record_item(_org_pk(collection.org_id), sk, "collection", collection)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            raise AlreadyExistsError(
                f"collection '{collection.collection_id}' already exists",
                {"resource": "collection", "id": collection.collection_id},
            ) from error

    @maps_dependency_faults
    def get_collection(self, org_id: str, namespace_id: str, collection_id: str) -> Collection | None:
        item = self._get(_org_pk(org_id), _collection_prefix(namespace_id) + collection_id)
        from stratus.models.managed_content import Collection

        return Collection.model_validate(_plain_record(item)) if item else None

    @maps_dependency_faults
    def list_collections(
        self, org_id: str, namespace_id: str, limit: int, cursor: str | None
    ) -> CollectionPage:
        page, next_cursor = self._paged_query(
            _org_pk(org_id), _collection_prefix(namespace_id), "collection", limit, cursor
        )
        from stratus.models.managed_content import Collection

        return CollectionPage([Collection.model_validate(_plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_collections(self, org_id: str, namespace_id: str) -> int:
        return self._count(_org_pk(org_id), _collection_prefix(namespace_id), "collection")

    @maps_dependency_faults
    def delete_collection(self, collection: Collection) -> None:
        sk = _collection_prefix(collection.namespace_id) + collection.collection_id
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=_key(_org_pk(collection.org_id), sk),
                ConditionExpression="attribute_exists(PK)",
            )
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            raise NotFoundError.of("collection", collection.collection_id) from error

    @maps_dependency_faults
    def find_bucket_route(self, prefix: str) -> BucketRoute | None:
        if len(prefix.encode("utf-8")) > _MAX_SORT_KEY_BYTES:
            return None
        item = self._get(f"{_ROUTE_PREFIX}{prefix}", _ROUTE_SK)
        if item is None:
            return None
        plain = _deserialize(item)
        return BucketRoute(
            org_id=str(plain["org_id"]),
            namespace_id=str(plain["namespace_id"]),
            bucket_id=str(plain["bucket_id"]),
        )

    # -- objects ----------------------------------------------------------------------------

    def _object_item(self, record: ObjectRecord) -> dict[str, Any]:
        return _record_item(
            _objects_pk(record.org_id, record.namespace_id),
            _object_sk(record.bucket_id, record.object_id),
            "object",
            record,
        )

    def _object_count_update(self, record: ObjectRecord, delta: int) -> dict[str, Any]:
        """The bucket's `object_count`, moved in the same transaction as the object item, so
        the count is exact without ever counting (a bucket may hold millions of objects)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(_org_pk(record.org_id), _bucket_prefix(record.namespace_id) + record.bucket_id),
                "UpdateExpression": "ADD object_count :delta",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
            }
        }

    @maps_dependency_faults
    def create_object(self, record: ObjectRecord) -> bool:
        try:
            self._transact(
                [
                    self._put(self._object_item(record), "attribute_not_exists(PK)"),
                    self._object_count_update(record, 1),
                ]
            )
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            _raise_if_transient(error)
            codes = _cancellation_codes(error)
            if codes[1:2] == [_CONDITION_FAILED]:
                raise NotFoundError.of("bucket", record.bucket_id) from error
            if codes[:1] == [_CONDITION_FAILED]:
                return False
            raise
        return True

    @maps_dependency_faults
    def save_object(self, record: ObjectRecord, task: Task) -> None:
        task_item = _record_item(f"{_TASK_PREFIX}{task.task_id}", _TASK_SK, "task", task)
        try:
            self._transact([self._put(self._object_item(record)), self._put(task_item)])
        except ClientError as error:
            if _is_cancelled_transaction(error):
                _raise_if_transient(error)
            raise

    @maps_dependency_faults
    def put_object(self, record: ObjectRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=_serialize(self._object_item(record)))

    @maps_dependency_faults
    def get_object(
        self, org_id: str, namespace_id: str, bucket_id: str, object_id: str
    ) -> ObjectRecord | None:
        item = self._get(_objects_pk(org_id, namespace_id), _object_sk(bucket_id, object_id))
        from stratus.models.managed_content import ObjectRecord

        return ObjectRecord.model_validate(_plain_record(item)) if item else None

    @maps_dependency_faults
    def list_objects(
        self, org_id: str, namespace_id: str, bucket_id: str, limit: int, cursor: str | None
    ) -> ObjectPage:
        page, next_cursor = self._paged_query(
            _objects_pk(org_id, namespace_id), f"{bucket_id}#", "object", limit, cursor
        )
        from stratus.models.managed_content import ObjectRecord

        return ObjectPage([ObjectRecord.model_validate(_plain_record(item)) for item in page], next_cursor)

    @maps_dependency_faults
    def count_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        prefix = f"{bucket_id}#" if bucket_id is not None else ""
        return self._count(_objects_pk(org_id, namespace_id), prefix, "object")

    @maps_dependency_faults
    def delete_object(self, org_id: str, namespace_id: str, bucket_id: str, object_id: str) -> None:
        record = self.get_object(org_id, namespace_id, bucket_id, object_id)
        if record is None:
            return
        delete = {
            "Delete": {
                "TableName": self.table_name,
                "Key": _key(_objects_pk(org_id, namespace_id), _object_sk(bucket_id, object_id)),
                "ConditionExpression": "attribute_exists(PK)",
            }
        }
        try:
            self._transact([delete, self._object_count_update(record, -1)])
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            _raise_if_transient(error)
            codes = _cancellation_codes(error)
            if codes[1:2] == [_CONDITION_FAILED]:  # the bucket is gone: only the object is left
                self.client.delete_item(TableName=self.table_name, Key=delete["Delete"]["Key"])
            elif codes[:1] != [_CONDITION_FAILED]:  # deleted meanwhile: nothing to do
                raise

    @maps_dependency_faults
    def delete_objects(self, org_id: str, namespace_id: str, bucket_id: str | None = None) -> int:
        """For a bucket or namespace being deleted: its counts go with it, so they are not moved."""
        prefix = f"{bucket_id}#" if bucket_id is not None else ""
        keys = [
            {"PK": item["PK"], "SK": item["SK"]}
            for item in self._query_all(
                **self._prefix_query(_objects_pk(org_id, namespace_id), prefix),
                ProjectionExpression="PK, SK",
            )
        ]
        for start in range(0, len(keys), 25):  # BatchWriteItem's limit
            pending: list[dict[str, Any]] = [
                {"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]
            ]
            for attempt in range(8):
                response = self.client.batch_write_item(RequestItems={self.table_name: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            if pending:
                raise _unavailable(RuntimeError("unprocessed deletes"))
        return len(keys)

    @maps_dependency_faults
    def put_task(self, task: Task) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=_serialize(_record_item(f"{_TASK_PREFIX}{task.task_id}", _TASK_SK, "task", task)),
        )

    @maps_dependency_faults
    def get_task(self, task_id: str) -> Task | None:
        if len(task_id.encode("utf-8")) > _MAX_SORT_KEY_BYTES:  # a partition key's limit is 2048
            return None
        item = self._get(f"{_TASK_PREFIX}{task_id}", _TASK_SK)
        from stratus.models.managed_content import Task

        return Task.model_validate(_plain_record(item)) if item else None

    # -- API keys ---------------------------------------------------------------------------

    @maps_dependency_faults
    def put_api_key(self, key: ApiKey) -> None:
        if self._put_all_new(_api_key_items(key)):
            # Only reachable on a hash or key-id collision (2^-190 / 36^-16): never expected.
            raise AlreadyExistsError(
                f"api key '{key.key_id}' already exists", {"resource": "api_key", "id": key.key_id}
            )

    @maps_dependency_faults
    def get_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._get(_key_pk(key_hash), _API_KEY_SK)
        return _api_key_from_hash_item(item) if item else None

    @maps_dependency_faults
    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        index_item = self._get(_org_pk(org_id), _key_index_sk(key_id))
        if index_item is None:
            return False
        key_hash = _deserialize(index_item)["key_hash"]
        revoke = {
            "UpdateExpression": "SET revoked = :true",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":true": {"BOOL": True}},
        }
        try:
            self._transact(
                [
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": _key(_key_pk(key_hash), _API_KEY_SK),
                            **revoke,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": _key(_org_pk(org_id), _key_index_sk(key_id)),
                            **revoke,
                        }
                    },
                ]
            )
        except ClientError as error:
            if not _is_cancelled_transaction(error):
                raise
            _raise_if_transient(error)
            return False  # deleted between the read and the write
        return True

    @maps_dependency_faults
    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        items = self._query_all(**self._org_prefix_query(org_id, _API_KEY_PREFIX))
        return [_api_key_from_index_item(org_id, item) for item in items]

    # -- filter usage (auto_create_indexes) ----------------------------------------------------

    @maps_dependency_faults
    def add_filter_usage(
        self,
        org_id: str,
        namespace_id: str,
        hour: str,
        usage: Mapping[str, FieldUsage],
        expires_at: int,
    ) -> None:
        """One UpdateItem with ADD: atomic under any concurrency, and the item is created on the
        first search of the hour. Field names are client data, so they never appear in the
        expression: each becomes an encoded attribute name behind a placeholder."""
        names: dict[str, str] = {
            "#entity": "entity",
            "#ns": "namespace_id",
            "#hour": "hour",
            "#exp": "expires_at",
        }
        values: dict[str, Any] = {
            ":entity": {"S": "filter_usage"},
            ":ns": {"S": namespace_id},
            ":hour": {"S": hour},
            ":exp": {"N": str(expires_at)},
        }
        additions: list[str] = []
        for attribute, count in _usage_attributes(usage).items():
            position = len(additions)
            names[f"#a{position}"] = attribute
            values[f":a{position}"] = {"N": str(count)}
            additions.append(f"#a{position} :a{position}")
        if not additions:
            return
        self.client.update_item(
            TableName=self.table_name,
            Key=_key(_org_pk(org_id), _usage_sk(namespace_id, hour)),
            UpdateExpression="SET #entity = :entity, #ns = :ns, #hour = :hour, #exp = :exp ADD "
            + ", ".join(additions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    @maps_dependency_faults
    def get_filter_usage(
        self, org_id: str, namespace_id: str, first_hour: str, last_hour: str
    ) -> dict[str, dict[str, FieldUsage]]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": {"S": _org_pk(org_id)},
                ":first": {"S": _usage_sk(namespace_id, first_hour)},
                ":last": {"S": _usage_sk(namespace_id, last_hour)},
            },
        )
        found: dict[str, dict[str, FieldUsage]] = {}
        for item in items:
            plain = _deserialize(item)
            found[str(plain.get("hour", ""))] = _usage_from_attributes(plain)
        return found

    @maps_dependency_faults
    def list_auto_index_namespaces(self, limit: int, cursor: str | None) -> NamespacePage:
        """A filtered Scan: the job runs every few hours over every organization, and a sparse
        GSI for one boolean is not worth its write cost on every namespace save."""
        scan: dict[str, Any] = {
            "TableName": self.table_name,
            "ConsistentRead": True,
            "Limit": max(1, limit),
            "FilterExpression": "#entity = :namespace AND #auto = :true",
            "ExpressionAttributeNames": {"#entity": "entity", "#auto": "auto_create_indexes"},
            "ExpressionAttributeValues": {":namespace": {"S": "namespace"}, ":true": {"BOOL": True}},
        }
        if cursor:
            scan["ExclusiveStartKey"] = _decode_scan_cursor(cursor)
        response = self.client.scan(**scan)
        last_key = response.get("LastEvaluatedKey")
        return NamespacePage(
            namespaces=[_namespace_from_item(item) for item in response.get("Items", [])],
            next_cursor=_encode_scan_cursor(last_key) if last_key else None,
        )


# ---------------------------------------------------------------------------------------------
# Filter-usage items: one counter attribute per field (`q_<b64 field>`) and per (field, value
# type) (`t_<type>_<b64 field>`). Field names are client data (any characters, reserved words),
# so they are base64url-encoded into attribute names that are always valid and never collide.

_USAGE_PREFIX = "USAGE#"
_QUERIES_ATTRIBUTE = "q_"
_TYPE_ATTRIBUTE = "t_"


def _usage_sk(namespace_id: str, hour: str) -> str:
    return f"{_USAGE_PREFIX}{namespace_id}#{hour}"


def _encode_field(field_name: str) -> str:
    return base64.urlsafe_b64encode(field_name.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_field(encoded: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _usage_attributes(usage: Mapping[str, FieldUsage]) -> dict[str, int]:
    attributes: dict[str, int] = {}
    for field_name, field_usage in usage.items():
        encoded = _encode_field(field_name)
        if field_usage.queries:
            attributes[f"{_QUERIES_ATTRIBUTE}{encoded}"] = field_usage.queries
        for value_type, count in field_usage.value_types.items():
            if count and value_type.isalpha():  # the separator below must stay unambiguous
                attributes[f"{_TYPE_ATTRIBUTE}{value_type}_{encoded}"] = count
    return attributes


def _usage_from_attributes(plain: Mapping[str, Any]) -> dict[str, FieldUsage]:
    usage: dict[str, FieldUsage] = {}
    for attribute, value in plain.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if attribute.startswith(_QUERIES_ATTRIBUTE):
            field_name = _decode_field(attribute.removeprefix(_QUERIES_ATTRIBUTE))
            if field_name is not None:
                usage.setdefault(field_name, FieldUsage()).queries += value
        elif attribute.startswith(_TYPE_ATTRIBUTE):
            value_type, _, encoded = attribute.removeprefix(_TYPE_ATTRIBUTE).partition("_")
            field_name = _decode_field(encoded)
            if field_name is not None and value_type:
                types = usage.setdefault(field_name, FieldUsage()).value_types
                types[value_type] = types.get(value_type, 0) + value
    return usage


def _encode_scan_cursor(last_key: Mapping[str, Any]) -> str:
    raw = json.dumps({"pk": last_key["PK"]["S"], "sk": last_key["SK"]["S"]}, separators=(",", ":")).encode(
        "utf-8"
    )
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_scan_cursor(cursor: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8"))
        return _key(str(decoded["pk"]), str(decoded["sk"]))
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise _malformed_cursor() from error
