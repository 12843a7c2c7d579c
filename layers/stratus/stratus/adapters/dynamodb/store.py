"""`MetadataStore` on one DynamoDB table: the aggregates composed into one store."""

from __future__ import annotations

from stratus.adapters.dynamodb.api_keys import DynamoDBApiKeys
from stratus.adapters.dynamodb.backfill import DynamoDBBackfill
from stratus.adapters.dynamodb.buckets import DynamoDBBuckets
from stratus.adapters.dynamodb.collections import DynamoDBCollections
from stratus.adapters.dynamodb.filter_usage import DynamoDBFilterUsage
from stratus.adapters.dynamodb.namespaces import DynamoDBNamespaces
from stratus.adapters.dynamodb.objects import DynamoDBObjects
from stratus.adapters.dynamodb.rate_limits import DynamoDBRateLimits
from stratus.adapters.dynamodb.retrievers import DynamoDBRetrievers
from stratus.adapters.dynamodb.tasks import DynamoDBTasks


class DynamoDBManagedContent(DynamoDBBuckets, DynamoDBCollections, DynamoDBObjects, DynamoDBTasks):
    """`ManagedContentRepository`: buckets (and their S3 routes), collections, objects, tasks."""


class DynamoDBMetadataStore(
    DynamoDBBackfill,
    DynamoDBNamespaces,
    DynamoDBApiKeys,
    DynamoDBManagedContent,
    DynamoDBRetrievers,
    DynamoDBFilterUsage,
    DynamoDBRateLimits,
):
    """Namespaces, API keys, managed content, retrievers, filter usage and rate limits in one
    table (`DynamoDBTable`: one per container, thread-safe). Every write that touches more than
    one item is a single `TransactWriteItems`, so a record never exists without its guard and a
    key is never half revoked. It is the `BackfillRepository` too (`DynamoDBBackfill`: backfill
    task items).

    With `http_reads`, reads go over the HTTP point reader when the environment allows it, so a
    request that only reads (the API key, a namespace, its counts) never builds a boto3 client.
    Off by default: moto's in-process mock intercepts boto3 only. The API turns it on from
    settings (`STRATUS_DYNAMODB_HTTP_READS`)."""
