"""Planning a batch: which objects its messages carry (each once), their records, the namespace
and enabled collections reading their buckets, and, once the objects are started, one job per
(object, collection) with its vector space."""

from __future__ import annotations

from stratus.domain.object_keys import bucket_prefix_of, object_id_for_key
from stratus.errors import BadRequestError
from stratus.models.managed_content import Collection
from stratus.models.namespaces import Namespace
from stratus.ports.metadata import BucketRoute, MetadataStore, ObjectKey
from stratus.services.ingestion.batch_state import (
    IngestJob,
    Item,
    Job,
    Message,
    Outcome,
    already_done,
    live,
)
from stratus.services.spaces import space_of


class BatchLookups:
    """What the objects of one batch share, read once per batch: a batch's objects mostly come
    from one bucket, so its route, namespace and collections are one read each, not one per
    object. Scoped to one invocation, so a change is seen by the next batch."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata
        self._routes: dict[str, BucketRoute | None] = {}
        self._namespaces: dict[tuple[str, str], Namespace | None] = {}
        self._collections: dict[tuple[str, str], list[Collection]] = {}

    def route(self, prefix: str) -> BucketRoute | None:
        if prefix not in self._routes:
            self._routes[prefix] = self._metadata.find_bucket_route(prefix)
        return self._routes[prefix]

    def namespace(self, route: BucketRoute) -> Namespace | None:
        key = (route.org_id, route.namespace_id)
        if key not in self._namespaces:
            self._namespaces[key] = self._metadata.get_namespace(route.org_id, route.namespace_id)
        return self._namespaces[key]

    def collections(self, route: BucketRoute) -> list[Collection]:
        """Every enabled collection of the route's namespace that reads its bucket (a disabled
        one, `enabled: false`, is not run)."""
        key = (route.org_id, route.namespace_id)
        if key not in self._collections:
            found: list[Collection] = []
            cursor: str | None = None
            while True:
                page = self._metadata.list_collections(route.org_id, route.namespace_id, 100, cursor)
                found.extend(c for c in page.collections if c.enabled)
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._collections[key] = found
        return [c for c in self._collections[key] if route.bucket_id in c.source.bucket_ids]


def items_of(
    message: Message, lookups: BatchLookups, items: dict[ObjectKey, Item]
) -> list[Item | Outcome | Exception]:
    """The objects a message carries, each object once per batch (two events for one key share
    its work and its outcome); keys outside any bucket are skipped outcomes, and a route that
    could not be read is the message's error."""
    carried: list[Item | Outcome | Exception] = []
    for event in message.events:
        prefix = bucket_prefix_of(event.key)
        try:
            route = lookups.route(prefix) if prefix else None
        except Exception as error:  # the metadata store: the message comes back
            carried.append(error)
            continue
        if route is None:
            # Not under any live bucket (deleted, or a stray key): nothing to do, nothing to retry.
            carried.append(Outcome("skipped", "no Stratus bucket owns this key"))
            continue
        object_id = object_id_for_key(event.key)
        key = (route.org_id, route.namespace_id, route.bucket_id, object_id)
        item = items.get(key)
        if item is None:
            item = items[key] = Item(route, object_id, event.key, event.etag, message.receive_count)
        item.receive_count = max(item.receive_count, message.receive_count)
        carried.append(item)
    return carried


def read_records(metadata: MetadataStore, items: list[Item]) -> None:
    """Every object's record in one batched read; an object already COMPLETED at the event's
    ETag is skipped."""
    try:
        records = metadata.get_objects([item.object_key for item in items])
    except Exception as error:
        for item in items:
            item.fail(error)
        return
    for item in items:
        item.record = records.get(item.object_key)
        if already_done(item.record, item.event_etag):
            item.skip("this version was already processed")


def look_up(items: list[Item], lookups: BatchLookups) -> None:
    for item in live(items):
        try:
            item.namespace = lookups.namespace(item.route)
            item.collections = lookups.collections(item.route) if item.namespace is not None else []
        except Exception as error:
            item.fail(error)


def jobs_of(items: list[Item]) -> list[Job]:
    """One job per (started object, collection), its space resolved; none for a namespace that
    is gone (the object completes with no documents, as before it had collections)."""
    jobs: list[Job] = []
    for item in items:
        if not item.live or item.started is None or item.namespace is None:
            continue
        assert item.prepared is not None
        for collection in item.collections:
            job = Job(item, collection, item.prepared.drafts.get(collection.collection_id, []))
            job.job = IngestJob(
                item.route.org_id, item.route.namespace_id, item.route.bucket_id, item.object_id,
                item.started.etag or "", collection.collection_id,
            )  # fmt: skip
            job.space = space_of(item.namespace, collection.vector_index)
            if job.space is None:
                job.fail(
                    BadRequestError(
                        f"collection '{collection.collection_id}' writes into vector index "
                        f"'{collection.vector_index}', which namespace "
                        f"'{item.namespace.namespace_id}' no longer has",
                        {"collection_id": collection.collection_id},
                    )
                )
            item.jobs.append(job)
            jobs.append(job)
    return jobs
