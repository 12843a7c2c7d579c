"""Bucket rules: a bucket is a named prefix of the data S3 bucket inside one namespace."""

from __future__ import annotations

from stratus import ids
from stratus.clock import iso_now
from stratus.domain.identifiers import check_identifier
from stratus.domain.object_keys import staging_prefix
from stratus.errors import NotFoundError
from stratus.filters import FilterNode, parse_filter
from stratus.models.listing import CountedListResponse
from stratus.models.managed_content import Bucket, BucketModel, CreateBucketRequest
from stratus.models.namespaces import Namespace
from stratus.ports.metadata import ManagedContentRepository
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space, VectorStore
from stratus.services.listing import Listing, ListQuery, counted_answer, page_in_memory, read_all
from stratus.services.spaces import all_spaces


def create_bucket(
    metadata: ManagedContentRepository, namespace: Namespace, request: CreateBucketRequest, data_bucket: str
) -> Bucket:
    bucket_id = ids.new_id("bkt_")
    bucket = Bucket(
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        bucket_id=bucket_id,
        bucket_name=request.bucket_name,
        description=request.description,
        bucket_schema=request.bucket_schema,
        metadata=request.metadata or {},
        # Under the namespace's storage key (never reused), so a re-created namespace with the
        # same id never sees a deleted namespace's objects.
        s3_uri=f"s3://{data_bucket}/{namespace.storage_key}/{bucket_id}/",
        created_at=iso_now(),
    )
    metadata.create_bucket(bucket)  # AlreadyExistsError (409) on a taken bucket_name
    return bucket


def get_bucket(metadata: ManagedContentRepository, namespace: Namespace, identifier: str) -> Bucket:
    """By id or by name (the SDK's `bucket_identifier`; names are unique in a namespace)."""
    check_identifier(identifier, "bucket_id")
    bucket = metadata.find_bucket(namespace.org_id, namespace.namespace_id, identifier)
    if bucket is None:
        raise NotFoundError.of("bucket", identifier)
    return bucket


def describe_bucket(bucket: Bucket) -> BucketModel:
    return BucketModel.model_validate(bucket.model_dump(exclude={"org_id"}))


BUCKET_LISTING = Listing(
    id_field="bucket_id",
    search_fields=("bucket_name", "bucket_id", "description"),
    sortable=("bucket_id", "bucket_name", "created_at", "object_count", "total_size_bytes"),
    default_sort=(("bucket_id", False),),
)


def list_buckets(
    metadata: ManagedContentRepository, namespace: Namespace, query: ListQuery
) -> CountedListResponse[BucketModel]:
    """A namespace's buckets are few: filters, search and sort run in memory over all of them
    (`services.listing`); `total_count` is how many match."""
    every = read_all(lambda cursor: _bucket_page(metadata, namespace, cursor))
    page = page_in_memory(
        every, lambda b: b.model_dump(mode="json", exclude={"org_id"}), query, BUCKET_LISTING
    )
    return counted_answer(CountedListResponse[BucketModel], page, describe_bucket, query.include_total)


def _bucket_page(
    metadata: ManagedContentRepository, namespace: Namespace, cursor: str | None
) -> tuple[list[Bucket], str | None]:
    page = metadata.list_buckets(namespace.org_id, namespace.namespace_id, 100, cursor)
    return page.buckets, page.next_cursor


def delete_bucket(stores: Stores, namespace: Namespace, bucket_id: str) -> Bucket:
    """The bucket, its objects (S3 and records) and the documents made from them. Documents and
    files go first: if anything fails, the bucket still exists and a retry finishes the job."""
    bucket = get_bucket(stores.metadata, namespace, bucket_id)
    made_here = parse_filter({"bucket_id": bucket.bucket_id}, "filters")
    assert made_here is not None
    for space in all_spaces(namespace):  # a migrating index's shadow copy too
        delete_matching(stores.vectors, space, made_here)
    stores.blobs.delete_prefix(bucket.key_prefix)
    stores.blobs.delete_prefix(staging_prefix(namespace.storage_key, bucket.bucket_id))
    stores.metadata.delete_objects(bucket.org_id, bucket.namespace_id, bucket.bucket_id)
    stores.metadata.delete_bucket(bucket)
    return bucket


def delete_matching(vectors: VectorStore, space: Space, node: FilterNode) -> int:
    """Delete every record of `space` matching `node`, a page of ids at a time."""
    deleted = 0
    while True:
        page = vectors.list(space, node, 1000, None, include_vectors=False)
        if not page.records:
            return deleted
        vectors.delete(space, [record.id for record in page.records])
        deleted += len(page.records)
