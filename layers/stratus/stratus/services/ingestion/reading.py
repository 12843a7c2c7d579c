"""Reading the batch's objects: each object read from S3 and split into its collections' drafts
on the pool's threads, within the time budget; then a presigned upload's file gets its object
(as confirm would make it) and a plain file's blob the property its object names."""

from __future__ import annotations

import hashlib
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from stratus.domain.content import blobs_of
from stratus.domain.object_keys import upload_id_of_key
from stratus.models.managed_content import Collection
from stratus.models.objects import UploadRecord
from stratus.ports.blobs import StoredBlob
from stratus.ports.metadata import BucketRoute
from stratus.ports.stores import Stores
from stratus.services.ingestion.batch_state import IngestLimits, Item, Prepared, already_done, live
from stratus.services.ingestion.budget import TimeBudget
from stratus.services.ingestion.extraction import drafts_for
from stratus.services.uploads import upload_arrival


def prepare(
    stores: Stores, limits: IngestLimits, items: list[Item], budget: TimeBudget, pool: ThreadPoolExecutor
) -> None:
    """Read and split every object on the pool's threads; an object not done when the time for
    it is over is failed (its thread is left to finish on its own)."""
    futures: dict[Future[Prepared], Item] = {
        pool.submit(read_and_split, stores, limits, item.key, item.collections): item for item in live(items)
    }
    pending = set(futures)
    while pending:
        left = budget.prepare_seconds_left()
        if left <= 0:
            break
        done, pending = wait(pending, timeout=min(left, 1.0), return_when=FIRST_COMPLETED)
        for future in done:
            futures[future].prepared = future.result()
    # The objects still being read are the slow ones, unless none was read at all: then the
    # whole batch was slow (S3, the machine), and its objects are retried, not failed.
    error = budget.out_of_time("be read") if len(pending) == len(futures) else None
    for future in pending:
        future.cancel()
        item = futures[future]
        item.prepared = Prepared(error=error or budget.overrun("be read and split"))
    for item in live(items):
        prepared = item.prepared
        assert prepared is not None
        if prepared.stored is None and prepared.error is None:
            item.skip("the object was deleted before it was processed")
        elif prepared.stored is not None and already_done(item.record, prepared.stored.etag):
            item.skip("this version was already processed")


def read_and_split(stores: Stores, limits: IngestLimits, key: str, collections: list[Collection]) -> Prepared:
    """Errors are the object's own: too big, undecodable, unsupported (a 4xx, final), or S3 down
    (a 503) or a bug (both retried); its batch-mates go on either way."""
    try:
        stored = stores.blobs.get(key, limits.max_object_bytes)
    except Exception as error:
        return Prepared(error=error)
    if stored is None:
        return Prepared()
    content_hash = hashlib.sha256(stored.data).hexdigest()
    try:
        blobs, metadata = blobs_of(stored)
        drafts = {c.collection_id: drafts_for(c, blobs) for c in collections}
    except Exception as error:
        return Prepared(stored, error, content_hash=content_hash)
    return Prepared(stored, None, blobs, metadata, drafts, content_hash)


def arrive(stores: Stores, items: list[Item]) -> None:
    """A presigned upload's file with no object yet: its object as confirm would make it (or
    already did); a duplicate (`skip_duplicates`) makes none and is skipped. Then each plain
    file's blob takes the property its object names."""
    for item in live(items):
        stored = item.prepared.stored if item.prepared is not None else None
        if stored is None:
            continue
        if item.record is None:
            try:
                _arrival(stores, item, stored)
            except Exception as error:  # the metadata store: the object comes back
                item.fail(error)
                continue
        if item.record is not None and len(item.record.blobs) == 1 and item.prepared is not None:
            item.prepared.named(item.record.blobs[0].property)


def _arrival(stores: Stores, item: Item, stored: StoredBlob) -> None:
    upload = _upload_of(stores, item.route, item.key)
    if upload is None:
        return
    if upload.status == "SKIPPED":
        item.skip("a duplicate upload (skip_duplicates)")
        return
    arrival = upload_arrival(stores.metadata, upload, stored, stores.blobs.bucket)
    if arrival.duplicate_of is not None:
        item.skip(f"the bucket holds this file as '{arrival.duplicate_of}' (skip_duplicates)")
        return
    item.record = arrival.record


def _upload_of(stores: Stores, route: BucketRoute, key: str) -> UploadRecord | None:
    upload_id = upload_id_of_key(key)
    if upload_id is None:
        return None
    upload = stores.metadata.get_upload(route.org_id, route.namespace_id, route.bucket_id, upload_id)
    return upload if upload is not None and upload.s3_key == key else None
