"""Collection rules: a collection feeds the objects of its source buckets through one feature
extractor into one vector index of a managed namespace (api.md, "Managed content")."""

from __future__ import annotations

from stratus import ids
from stratus.clock import iso_now
from stratus.domain.identifiers import check_identifier
from stratus.errors import BadRequestError, NotFoundError
from stratus.extractor_catalogue import ResolvedExtractor, resolve_extractor
from stratus.models.common import ListResponse, Pagination
from stratus.models.managed_content import (
    Collection,
    CollectionExtractor,
    CollectionModel,
    CreateCollectionRequest,
)
from stratus.models.namespaces import FeatureExtractorConfig, Namespace
from stratus.ports.metadata import ManagedContentRepository


def create_collection(
    metadata: ManagedContentRepository, namespace: Namespace, request: CreateCollectionRequest
) -> Collection:
    if namespace.mode != "managed":
        # A standalone namespace has no inference map: nothing would say how to embed objects.
        raise BadRequestError(
            f"namespace '{namespace.namespace_id}' is standalone; collections need a managed namespace "
            "(create one with POST /v1/namespaces, or promote this one)",
            {"field": "X-Namespace", "mode": namespace.mode},
        )
    _check_source_buckets(metadata, namespace, request.source.bucket_ids)
    wanted = request.feature_extractor
    resolved = resolve_extractor(
        FeatureExtractorConfig(
            feature_extractor_name=wanted.feature_extractor_name,
            version=wanted.version,
            feature_extractor_id=wanted.feature_extractor_id,
            params=wanted.parameters,
        ),
        "feature_extractor",
    )
    collection = Collection(
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        collection_id=ids.new_id("col_"),
        collection_name=request.collection_name,
        description=request.description,
        source=request.source,
        feature_extractor=CollectionExtractor(
            feature_extractor_name=resolved.spec.name,
            version=resolved.spec.version,
            feature_extractor_id=resolved.spec.feature_extractor_id,
            parameters=dict(resolved.config.params),
            input_mappings=wanted.input_mappings,
            inference_service=resolved.inference_service,
        ),
        vector_index=_target_index(namespace, resolved),
        enabled=True,
        created_at=iso_now(),
    )
    metadata.create_collection(collection)
    return collection


def _check_source_buckets(
    metadata: ManagedContentRepository, namespace: Namespace, bucket_ids: list[str]
) -> None:
    for bucket_id in bucket_ids:
        check_identifier(bucket_id, "source.bucket_ids")
    missing = [
        bucket_id
        for bucket_id in dict.fromkeys(bucket_ids)
        if metadata.get_bucket(namespace.org_id, namespace.namespace_id, bucket_id) is None
    ]
    if missing:
        raise BadRequestError(
            f"source.bucket_ids: no bucket {', '.join(repr(b) for b in missing)} in namespace "
            f"'{namespace.namespace_id}'; create it with POST /v1/buckets first",
            {"field": "source.bucket_ids", "missing_bucket_ids": missing},
        )


def _target_index(namespace: Namespace, resolved: ResolvedExtractor) -> str:
    """The namespace index embedded by the extractor's inference service: the one named after
    the extractor if it qualifies, else the first such index (same service → same vectors)."""
    service = resolved.inference_service
    candidates = [name for name, mapped in namespace.vector_inference_map.items() if mapped == service]
    if resolved.spec.index_name in candidates:
        return resolved.spec.index_name
    if candidates:
        return candidates[0]
    raise BadRequestError(
        f"feature_extractor: {resolved.spec.feature_extractor_id} embeds with '{service}', but no vector "
        f"index of namespace '{namespace.namespace_id}' is embedded by it (vector_inference_map: "
        f"{namespace.vector_inference_map}); choose an extractor or parameters whose inference service "
        "is one of the map's services",
        {
            "field": "feature_extractor",
            "inference_service": service,
            "vector_inference_map": namespace.vector_inference_map,
        },
    )


def get_collection(
    metadata: ManagedContentRepository, namespace: Namespace, collection_id: str
) -> Collection:
    check_identifier(collection_id, "collection_id")
    collection = metadata.get_collection(namespace.org_id, namespace.namespace_id, collection_id)
    if collection is None:
        raise NotFoundError.of("collection", collection_id)
    return collection


def describe_collection(collection: Collection) -> CollectionModel:
    return CollectionModel.model_validate(collection.model_dump(exclude={"org_id"}))


def list_collections(
    metadata: ManagedContentRepository,
    namespace: Namespace,
    limit: int,
    cursor: str | None,
    include_total: bool,
) -> ListResponse[CollectionModel]:
    page = metadata.list_collections(namespace.org_id, namespace.namespace_id, limit, cursor)
    total = metadata.count_collections(namespace.org_id, namespace.namespace_id) if include_total else None
    return ListResponse[CollectionModel](
        results=[describe_collection(collection) for collection in page.collections],
        pagination=Pagination(page_size=len(page.collections), next_cursor=page.next_cursor, total=total),
    )


def delete_collection(
    metadata: ManagedContentRepository, namespace: Namespace, collection_id: str
) -> Collection:
    collection = get_collection(metadata, namespace, collection_id)
    metadata.delete_collection(collection)
    return collection
