"""Promotion: standalone → managed, validated against one read, committed in one transaction.

Every rule of api.md has its own error. Validation reads the namespace once; the state change is
a single `TransactWriteItems` conditioned on the namespace still being standalone at the version
that was validated, so of N concurrent promotions exactly one wins and the rest get 409. Entries
naming a `source` add a backfill task to that transaction (services/backfill)."""

from __future__ import annotations

from typing import Any

from stratus import ids, limits
from stratus.clock import iso_now
from stratus.errors import AlreadyExistsError, BadRequestError, ConflictError
from stratus.inference_catalogue import CATALOGUE, InferenceService
from stratus.models.backfill import BackfillPlan, BackfillTarget
from stratus.models.namespaces import BackfillSource, Namespace, VectorConfig
from stratus.models.promotion import PromoteNamespaceRequest, PromoteNamespaceResponse
from stratus.ports.backfill import BackfillStores, NewBackfill
from stratus.ports.metadata import PromotionRecord
from stratus.ports.stores import Stores
from stratus.services.backfill.tasks import SAMPLE_SIZE, check_source_readable, enqueue_start, new_backfill
from stratus.services.spaces import resolve_namespace, space_for, spaces_of


def promote_namespace(
    stores: BackfillStores,
    org_id: str,
    key_id: str,
    identifier: str,
    request: PromoteNamespaceRequest,
    start_delay_seconds: int = 2,
) -> PromoteNamespaceResponse:
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    promoted = plan_promotion(namespace, request)
    backfill = _backfill(stores, namespace, promoted, request)
    new_indexes = [
        config for config in promoted.vector_configs if namespace.vector_config(config.name) is None
    ]
    # New spaces exist before the commit, so they accept upserts right after the answer; if the
    # store is down we stop here with a 503 and nothing changed. An empty space left behind by a
    # lost race is invisible (no metadata points at it) and is reused by the next attempt.
    for config in new_indexes:
        stores.vectors.ensure_space(space_for(namespace, config))
    record = PromotionRecord(
        promotion_id=ids.new_id("prm_"),
        org_id=org_id,
        namespace_id=namespace.namespace_id,
        promoted_by=key_id,
        promoted_at=promoted.updated_at,
        from_version=namespace.version,
        vector_mappings=[mapping.model_dump() for mapping in request.vector_mappings],
        add_vectors=[vector.model_dump(exclude_none=True) for vector in request.add_vectors],
    )
    if backfill is not None:
        # Queued before the commit (services/backfill/tasks): a lost race leaves a message that
        # finds no task, never a task that nothing runs.
        enqueue_start(stores.backfill_queue, backfill, start_delay_seconds)
    saved = stores.metadata.promote_namespace(promoted, namespace.version, record, backfill)
    return PromoteNamespaceResponse(
        namespace_id=saved.namespace_id,
        previous_mode=namespace.mode,
        mode=saved.mode,
        status=saved.status,
        vector_configs=saved.vector_configs,
        vector_inference_map=saved.vector_inference_map,
        backfill_task_id=backfill.task.task_id if backfill is not None else None,
    )


def _backfill(
    stores: Stores, namespace: Namespace, promoted: Namespace, request: PromoteNamespaceRequest
) -> NewBackfill | None:
    """The task filling the entries that name a `source` (None when none does), after their
    rules: a service to embed with, a payload field (a standalone namespace has no stored
    objects), and a service that reads what the field holds."""
    wanted: list[tuple[str, str, BackfillSource, str]] = []  # (location, index, source, service)
    for position, mapping in enumerate(request.vector_mappings):
        if mapping.source is not None:
            location = f"vector_mappings[{position}].source"
            wanted.append((location, mapping.existing_index, mapping.source, mapping.inference_service))
    for position, vector in enumerate(request.add_vectors):
        if vector.source is None:
            continue
        location = f"add_vectors[{position}].source"
        if vector.inference_service is None:
            raise BadRequestError(
                f"{location}: filling index '{vector.name}' from a source needs an inference_service "
                f"to embed it; add add_vectors[{position}].inference_service",
                {"field": f"add_vectors[{position}].inference_service", "index": vector.name},
            )
        wanted.append((location, vector.name, vector.source, vector.inference_service))
    if not wanted:
        return None
    for location, _, source, _ in wanted:
        if source.field is None:
            raise BadRequestError(
                f"{location}.field: a standalone namespace's documents were not made from stored objects, "
                'so the source must name the payload field to embed, e.g. {"field": "text"}',
                {"field": f"{location}.field", "mode": namespace.mode},
            )
    samples = _sample_payloads(stores, namespace)
    for location, _, source, service in wanted:
        check_source_readable(source, service, samples, location)
    targets = []
    for _, index, source, service in wanted:
        config = promoted.vector_config(index)
        assert config is not None  # plan_promotion checked every name
        targets.append(
            BackfillTarget(
                index=index,
                inference_service=service,
                dimension=config.dimension,
                metric=config.metric,
                generation=promoted.index_generations.get(index, ""),
                source=source,
            )
        )
    plan = BackfillPlan(
        kind="promotion",
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        storage_key=namespace.storage_key,
        targets=targets,
    )
    inputs = {
        "namespace_id": namespace.namespace_id,
        "indexes": [target.index for target in targets],
        "sources": {target.index: target.source.model_dump(exclude_none=True) for target in targets},
    }
    return new_backfill(namespace, plan, inputs)


def _sample_payloads(stores: Stores, namespace: Namespace) -> dict[str, dict[str, Any]]:
    """The first documents of each index: what the modality rule looks at."""
    found: dict[str, dict[str, Any]] = {}
    for space in spaces_of(namespace):
        page = stores.vectors.list(space, None, SAMPLE_SIZE, None, False)
        for record in page.records:
            found.setdefault(record.id, record.payload)
    return found


def plan_promotion(namespace: Namespace, request: PromoteNamespaceRequest) -> Namespace:
    """Pure validation: the managed namespace this request would produce, or the rule it breaks."""
    if namespace.mode != "standalone":
        raise ConflictError(
            f"namespace '{namespace.namespace_id}' is already managed; promotion is one-way",
            {"resource": "namespace", "id": namespace.namespace_id, "mode": namespace.mode},
        )
    inference_map = dict(namespace.vector_inference_map)
    mapped: set[str] = set()
    for position, mapping in enumerate(request.vector_mappings):
        location = f"vector_mappings[{position}]"
        config = namespace.vector_config(mapping.existing_index)
        if config is None:
            raise BadRequestError(
                f"{location}.existing_index: no vector index '{mapping.existing_index}' in namespace "
                f"'{namespace.namespace_id}'; available: {', '.join(namespace.index_names()) or 'none'}",
                {"field": f"{location}.existing_index", "available_indexes": namespace.index_names()},
            )
        if mapping.existing_index in mapped:
            raise BadRequestError(
                f"{location}.existing_index: '{mapping.existing_index}' is mapped twice",
                {"field": f"{location}.existing_index"},
            )
        mapped.add(mapping.existing_index)
        service = _service(mapping.inference_service, f"{location}.inference_service")
        _check_fit(service, config, f"{location}.inference_service")
        inference_map[config.name] = service.name
    new_configs = _new_indexes(namespace, request, inference_map)
    return namespace.model_copy(
        update={
            "mode": "managed",
            "vector_configs": [*namespace.vector_configs, *new_configs],
            "vector_inference_map": inference_map,
            "updated_at": iso_now(),
        }
    )


def _new_indexes(
    namespace: Namespace, request: PromoteNamespaceRequest, inference_map: dict[str, str]
) -> list[VectorConfig]:
    existing = namespace.index_names()
    names = [vector.name for vector in request.add_vectors]
    clashing = sorted({name for name in names if name in existing or names.count(name) > 1})
    if clashing:
        raise AlreadyExistsError(
            f"add_vectors: index name(s) {', '.join(clashing)} already exist or repeat; existing indexes: "
            f"{', '.join(existing) or 'none'}",
            {"field": "add_vectors", "conflicting_names": clashing, "existing_indexes": existing},
        )
    if len(existing) + len(names) > limits.MAX_VECTOR_INDEXES:
        raise BadRequestError(
            f"add_vectors: a namespace holds at most {limits.MAX_VECTOR_INDEXES} vector indexes",
            {"field": "add_vectors"},
        )
    configs: list[VectorConfig] = []
    for position, vector in enumerate(request.add_vectors):
        config = VectorConfig(name=vector.name, dimension=vector.dimension, metric=vector.metric)
        if vector.inference_service is not None:
            location = f"add_vectors[{position}].inference_service"
            service = _service(vector.inference_service, location)
            _check_fit(service, config, location)
            inference_map[config.name] = service.name
        configs.append(config)
    return configs


def _service(name: str, location: str) -> InferenceService:
    service = CATALOGUE.get(name)
    if service is None:
        raise BadRequestError(
            f"{location}: unknown inference service '{name}'; available: {', '.join(CATALOGUE)}",
            {"field": location, "available_services": list(CATALOGUE)},
        )
    return service


def _check_fit(service: InferenceService, config: VectorConfig, location: str) -> None:
    details: dict[str, Any] = {
        "field": location,
        "index": config.name,
        "index_dimension": config.dimension,
        "service": service.name,
        "service_dimension": service.dimension,
    }
    if service.dimension != config.dimension:
        raise BadRequestError(
            f"{location}: '{service.name}' produces {service.dimension}-dimension vectors but index "
            f"'{config.name}' has dimension {config.dimension}",
            details,
        )
    if config.metric not in service.metrics:
        raise BadRequestError(
            f"{location}: '{service.name}' does not support metric '{config.metric}' of index "
            f"'{config.name}'; it supports {', '.join(service.metrics)}",
            {**details, "metric": config.metric, "supported_metrics": list(service.metrics)},
        )
