"""`POST /v1/buckets/{id}/objects/batch`: up to 100 objects in one call, each as
`POST .../objects` takes it (docs/api.md, "Bulk objects")."""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor

from stratus.domain.object_keys import MANIFEST_METADATA
from stratus.domain.object_records import task_of
from stratus.errors import StratusError
from stratus.models.managed_content import Bucket
from stratus.models.objects import (
    BatchObjectModel,
    CreateObjectsBatchRequest,
    CreateObjectsBatchResponse,
    FailedObject,
    ObjectRecord,
)
from stratus.ports.metadata import ObjectWrite
from stratus.ports.stores import Stores
from stratus.services.objects import (
    PreparedObject,
    describe_object,
    get_object,
    prepare_object,
    register,
    unregister,
)
from stratus.settings import Settings

logger = logging.getLogger(__name__)


# Objects prepared (URLs fetched) and manifests stored at once by one batch.
BATCH_THREADS = 8


def create_objects(
    stores: Stores, bucket: Bucket, request: CreateObjectsBatchRequest, settings: Settings
) -> CreateObjectsBatchResponse:
    """Up to 100 objects in one call (docs/api.md, "Bulk objects"): every object is checked first
    (a 4xx naming `objects[i]...`, nothing written), then their records are written with the
    bucket's totals in as few transactions as DynamoDB allows, their tasks in batched writes, and
    their manifests stored at once. An object with `skip_duplicates` is registered on its own (a
    conditional claim of its content hash): one whose content the bucket holds is answered as the
    object holding it (`replayed`). An object whose manifest could not be stored is removed again
    and listed in `failed`; if none could be, the answer is the retryable 503 itself."""
    with ThreadPoolExecutor(max_workers=BATCH_THREADS, thread_name_prefix="stratus-objects") as pool:
        prepared = _prepare_all(stores, bucket, request, settings, pool)
        replayed = _register_all(stores, bucket, request, prepared)
        fresh = [item for index, item in enumerate(prepared) if index not in replayed]
        stored = dict(
            zip(
                [index for index in range(len(prepared)) if index not in replayed],
                pool.map(functools.partial(_store_manifest, stores), fresh),
                strict=True,
            )
        )
    errors = {index: error for index, error in stored.items() if error is not None}
    for index in errors:
        unregister(stores.metadata, prepared[index].record)
    if errors and not replayed and len(errors) == len(prepared):
        raise errors[0]
    failed = [
        FailedObject(object_index=index, error=_failure(error), error_type=_type_of(error))
        for index, error in sorted(errors.items())
    ]
    succeeded: list[BatchObjectModel] = []
    for index, item in enumerate(prepared):
        if index in replayed:
            succeeded.append(
                BatchObjectModel(
                    object_index=index,
                    replayed=True,
                    replayed_by="skip_duplicates",
                    **describe_object(replayed[index]).model_dump(),
                )
            )
        elif index not in errors:
            succeeded.append(
                BatchObjectModel(object_index=index, **describe_object(item.record).model_dump())
            )
    return CreateObjectsBatchResponse(
        succeeded=succeeded,
        failed=failed,
        total_requested=len(prepared),
        succeeded_count=len(succeeded),
        failed_count=len(failed),
    )


def _register_all(
    stores: Stores, bucket: Bucket, request: CreateObjectsBatchRequest, prepared: list[PreparedObject]
) -> dict[int, ObjectRecord]:
    """Write the records (and their tasks): the `skip_duplicates` ones one at a time, the others
    with the bucket's totals in batched transactions. Returns, by position, the objects already
    holding a `skip_duplicates` object's content. If a write fails, every record this call wrote
    is removed again and the error raised."""
    replayed: dict[int, ObjectRecord] = {}
    registered: list[ObjectRecord] = []
    batched = [
        item.record
        for item, wanted in zip(prepared, request.objects, strict=True)
        if not wanted.skip_duplicates
    ]
    try:
        for index, (item, wanted) in enumerate(zip(prepared, request.objects, strict=True)):
            if wanted.skip_duplicates:
                holder = register(stores.metadata, item.record, unique=True)
                if holder is None:
                    registered.append(item.record)
                else:
                    replayed[index] = get_object(stores.metadata, bucket, holder)
        # The records and the bucket's totals, one transaction per ~99 objects (DynamoDB's limit
        # is 100 items); their tasks after them, in batched writes.
        stores.metadata.save_objects([ObjectWrite(record, None, create=True) for record in batched])
        stores.metadata.put_tasks([task_of(record) for record in batched])
    except Exception:
        for record in [*registered, *batched]:  # a transaction that went through before one that did not
            unregister(stores.metadata, record)
        raise
    return replayed


def _prepare_all(
    stores: Stores,
    bucket: Bucket,
    request: CreateObjectsBatchRequest,
    settings: Settings,
    pool: ThreadPoolExecutor,
) -> list[PreparedObject]:
    """Every object prepared (URL blobs fetched concurrently); the first object in order that is
    wrong raises its 4xx."""
    futures = [
        pool.submit(prepare_object, stores, bucket, item, settings, f"objects[{index}].")
        for index, item in enumerate(request.objects)
    ]
    return [future.result() for future in futures]


def _store_manifest(stores: Stores, prepared: PreparedObject) -> Exception | None:
    try:
        stores.blobs.put(prepared.key, prepared.manifest, "application/json", {MANIFEST_METADATA: "1"})
    except Exception as error:
        if not isinstance(error, StratusError):
            logger.exception("storing the manifest of object %s failed", prepared.record.object_id)
        return error
    return None


def _failure(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message
    return "internal error; retry the object"


def _type_of(error: Exception) -> str:
    return error.type if isinstance(error, StratusError) else "InternalServerError"
