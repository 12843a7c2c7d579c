"""Model migration of one vector index (api.md, "Backfill and model migration"): the rules of
`POST .../vectors/{index}/migrate` and of its cancel. Starting writes the migration onto the
namespace and creates its task in ONE transaction; the worker fills the shadow copy, reconciles it
and swaps it in. Cancel removes the migration and ends the task in ONE transaction; the old index
was never touched."""

from __future__ import annotations

from stratus import ids
from stratus.clock import iso_now
from stratus.errors import BadRequestError, ConflictError, NotFoundError
from stratus.inference_catalogue import CATALOGUE
from stratus.models.backfill import BackfillPlan, BackfillTarget, MigrateIndexRequest, MigrateIndexResponse
from stratus.models.managed_content import TaskModel
from stratus.models.namespaces import IndexMigration, Namespace
from stratus.ports.backfill import BackfillStores
from stratus.services.backfill import messages
from stratus.services.backfill.messages import BackfillConfig
from stratus.services.backfill.sources import object_modalities
from stratus.services.backfill.tasks import SAMPLE_SIZE, check_source_readable, enqueue_start, new_backfill
from stratus.services.spaces import resolve_namespace, shadow_spaces, space_of

SAVE_ATTEMPTS = 5


def start_migration(
    stores: BackfillStores,
    config: BackfillConfig,
    org_id: str,
    identifier: str,
    index_name: str,
    request: MigrateIndexRequest,
) -> MigrateIndexResponse:
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    plan, migration = _plan(stores, namespace, index_name, request)
    backfill = new_backfill(
        namespace,
        plan,
        {
            "namespace_id": namespace.namespace_id,
            "index": index_name,
            "from_inference_service": namespace.vector_inference_map.get(index_name),
            "to_inference_service": request.inference_service,
            "source": request.source.model_dump(exclude_none=True),
        },
    )
    migrating = namespace.model_copy(
        update={
            "migrations": {
                **namespace.migrations,
                index_name: migration.model_copy(update={"task_id": backfill.task.task_id}),
            },
            "updated_at": iso_now(),
        }
    )
    # Before the commit: see services/backfill/tasks.
    enqueue_start(stores.backfill_queue, backfill, config.start_delay_seconds)
    stores.backfill.start_migration(migrating, namespace.version, backfill)
    retiring = plan.retiring
    assert retiring is not None
    return MigrateIndexResponse(
        task_id=backfill.task.task_id,
        namespace_id=namespace.namespace_id,
        index=index_name,
        status=backfill.task.status,
        from_inference_service=retiring.inference_service,
        to_inference_service=request.inference_service,
        from_dimension=retiring.dimension,
        to_dimension=migration.dimension,
    )


def _plan(
    stores: BackfillStores, namespace: Namespace, index_name: str, request: MigrateIndexRequest
) -> tuple[BackfillPlan, IndexMigration]:
    """The rules, each with its own error, and what the migration will do."""
    if namespace.mode != "managed":
        raise ConflictError(
            f"namespace '{namespace.namespace_id}' is standalone: only a managed namespace's index has "
            "an inference service to migrate; promote the namespace first",
            {"field": "mode", "mode": namespace.mode, "namespace_id": namespace.namespace_id},
        )
    config = namespace.vector_config(index_name)
    if config is None:
        raise NotFoundError(
            f"index_name: no vector index '{index_name}' in namespace '{namespace.namespace_id}'; "
            f"available: {', '.join(namespace.index_names()) or 'none'}",
            {"resource": "vector index", "id": index_name, "field": "index_name",
             "available_indexes": namespace.index_names()},
        )  # fmt: skip
    running = namespace.migrations.get(index_name)
    if running is not None:
        raise ConflictError(
            f"index_name: index '{index_name}' is already being migrated (task '{running.task_id}'); "
            "wait for it to end or cancel it",
            {"field": "index_name", "task_id": running.task_id},
        )
    service = CATALOGUE.get(request.inference_service)
    if service is None:
        raise BadRequestError(
            f"inference_service: unknown inference service '{request.inference_service}'; "
            f"available: {', '.join(CATALOGUE)}",
            {"field": "inference_service", "available_services": list(CATALOGUE)},
        )
    current = namespace.vector_inference_map.get(index_name)
    if current == service.name:
        raise BadRequestError(
            f"inference_service: index '{index_name}' is already embedded by '{service.name}'",
            {"field": "inference_service", "service": service.name},
        )
    if config.metric not in service.metrics:
        raise BadRequestError(
            f"inference_service: '{service.name}' does not support metric '{config.metric}' of index "
            f"'{index_name}'; it supports {', '.join(service.metrics)}",
            {
                "field": "inference_service",
                "metric": config.metric,
                "supported_metrics": list(service.metrics),
            },
        )
    source = request.source
    if (source.field is None) == (source.object is not True):
        raise BadRequestError(
            'source: name exactly one of a payload field ({"field": "text"}) or the stored object '
            '({"object": true})',
            {"field": "source"},
        )
    space = space_of(namespace, index_name)
    assert space is not None
    if source.reads_objects:
        inputs = object_modalities(stores, namespace.org_id, namespace.namespace_id, index_name)
        if inputs is None:
            raise BadRequestError(
                f"source.object: no collection writes into index '{index_name}', so its documents were "
                'not made from stored objects; name the payload field to embed, e.g. {"field": "text"}',
                {"field": "source.object", "index": index_name},
            )
        check_source_readable(source, service.name, {}, "source", inputs)
    else:
        page = stores.vectors.list(space, None, SAMPLE_SIZE, None, False)
        check_source_readable(source, service.name, {r.id: r.payload for r in page.records}, "source")
    now = iso_now()
    migration = IndexMigration(
        task_id="",  # set with the task
        inference_service=service.name,
        dimension=service.dimension,
        metric=config.metric,
        generation=ids.new_id("m", 10),
        source=source,
        started_at=now,
    )
    plan = BackfillPlan(
        kind="migration",
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        storage_key=namespace.storage_key,
        targets=[
            BackfillTarget(
                index=index_name,
                inference_service=service.name,
                dimension=service.dimension,
                metric=config.metric,
                generation=migration.generation,
                source=source,
            )
        ],
        retiring=BackfillTarget(
            index=index_name,
            inference_service=current,
            dimension=config.dimension,
            metric=config.metric,
            generation=space.generation,
            source=source,
        ),
    )
    return plan, migration


def cancel_migration(
    stores: BackfillStores, config: BackfillConfig, org_id: str, identifier: str, index_name: str
) -> TaskModel:
    """End the running migration of `index_name` as CANCELED: its shadow copy is dropped (after
    the writers that may still hold it are done), the index as it was keeps serving."""
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    for _ in range(SAVE_ATTEMPTS):
        migration = namespace.migrations.get(index_name)
        if migration is None:
            raise ConflictError(
                f"index_name: no migration of index '{index_name}' is running in namespace "
                f"'{namespace.namespace_id}'",
                {"field": "index_name", "namespace_id": namespace.namespace_id},
            )
        shadow = next(space for space in shadow_spaces(namespace) if space.index_name == index_name)
        # Queued first: the drop checks that nothing uses the copy any more, so a cancel that
        # loses its race below leaves a message that drops nothing.
        stores.backfill_queue.send(
            [messages.drop(migration.task_id, shadow)], delay_seconds=config.drop_grace_seconds
        )
        remaining = {name: m for name, m in namespace.migrations.items() if name != index_name}
        try:
            stores.backfill.end_migration(
                namespace.model_copy(update={"migrations": remaining, "updated_at": iso_now()}),
                namespace.version,
                migration.task_id,
                "CANCELED",
                error="canceled; the index keeps its previous inference service and vectors",
            )
        except ConflictError:
            namespace = resolve_namespace(stores.metadata, org_id, identifier)
            continue
        task = stores.metadata.get_task(migration.task_id)
        if task is None:
            raise NotFoundError.of("task", migration.task_id)
        return task.answer()
    raise ConflictError(
        f"namespace '{namespace.namespace_id}' is changing concurrently; retry the cancel",
        {"resource": "namespace", "id": namespace.namespace_id},
    )
