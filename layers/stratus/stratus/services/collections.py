"""Collection rules: a collection feeds the objects of its source buckets through one feature
extractor into one vector index of a managed namespace (api.md, "Managed content")."""

from __future__ import annotations

from typing import Any

from stratus import ids
from stratus.clock import iso_now
from stratus.domain.identifiers import check_identifier
from stratus.errors import BadRequestError, NotFoundError
from stratus.extractor_catalogue import EXTRACTORS
from stratus.extractor_resolution import resolve_extractor
from stratus.extractor_specs import ResolvedExtractor
from stratus.models.listing import CountedListResponse
from stratus.models.managed_content import (
    Collection,
    CollectionExtractor,
    CollectionModel,
    CollectionSource,
    CreateCollectionRequest,
    FieldPassthrough,
    SourceOfBuckets,
)
from stratus.models.namespaces import FeatureExtractorConfig, Namespace
from stratus.models.sdk_fields import not_applied_warning
from stratus.ports.metadata import ManagedContentRepository
from stratus.services.listing import Listing, ListQuery, counted_answer, page_in_memory, read_all


def create_collection(
    metadata: ManagedContentRepository, namespace: Namespace, request: CreateCollectionRequest
) -> tuple[Collection, list[str]]:
    """The collection and the request's warnings (fields accepted but not applied)."""
    if namespace.mode != "managed":
        # A standalone namespace has no inference map: nothing would say how to embed objects.
        raise BadRequestError(
            f"namespace '{namespace.namespace_id}' is standalone; collections need a managed namespace "
            "(create one with POST /v1/namespaces, or promote this one)",
            {"field": "X-Namespace", "mode": namespace.mode},
        )
    warnings = request.unapplied()
    source = _bucket_source(metadata, namespace, request.source)
    wanted = request.feature_extractor
    parameters, dropped = _sdk_parameters(
        wanted.feature_extractor_name, wanted.version, wanted.given_parameters()
    )
    warnings.extend(dropped)
    resolved = resolve_extractor(
        FeatureExtractorConfig(
            feature_extractor_name=wanted.feature_extractor_name,
            version=wanted.version,
            feature_extractor_id=wanted.feature_extractor_id,
            params=parameters,
        ),
        "feature_extractor",
    )
    collection = Collection(
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        collection_id=ids.new_id("col_"),
        collection_name=request.collection_name,
        description=request.description,
        source=source,
        feature_extractor=CollectionExtractor(
            feature_extractor_name=resolved.spec.name,
            version=resolved.spec.version,
            feature_extractor_id=resolved.spec.feature_extractor_id,
            parameters=dict(resolved.config.params),
            input_mappings=wanted.input_mappings or {},
            inference_service=resolved.inference_service,
            field_passthrough=wanted.field_passthrough or [],
            include_all_source_fields=wanted.include_all_source_fields,
        ),
        vector_index=_target_index(namespace, resolved),
        enabled=request.enabled,
        metadata=request.metadata or {},
        created_at=iso_now(),
    )
    metadata.create_collection(collection)
    return collection, warnings


def _sdk_parameters(name: str, version: str, given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The typed SDK fills `parameters` with the first of its ~20 extractor parameter models that
    validates, tagged by `extractor_type`: then the keys the extractor does not know are another
    extractor's defaults, dropped with a warning. Without `extractor_type` an unknown key stays
    (and is a 400 naming it: a typo must not silently lock a default in)."""
    if "extractor_type" not in given:
        return given, []
    spec = EXTRACTORS.get(f"{name}_{version}")
    known = {param.name for param in spec.params} if spec is not None else set(given)
    kept = {key: value for key, value in given.items() if key in known}
    dropped = sorted(key for key in given if key not in known)
    warnings = [
        not_applied_warning(f"feature_extractor.parameters.{key}", f"not a parameter of {name} {version}")
        for key in dropped
    ]
    return kept, warnings


def _bucket_source(
    metadata: ManagedContentRepository, namespace: Namespace, source: CollectionSource
) -> SourceOfBuckets:
    """The source with bucket names resolved to ids (the SDK names them either way)."""
    if source.type != "bucket":
        raise BadRequestError(
            f"source.type: '{source.type}' is not supported; a Stratus collection reads buckets "
            "(source.type 'bucket' with source.bucket_ids)",
            {"field": "source.type", "supported": ["bucket"]},
        )
    if not source.bucket_ids:
        raise BadRequestError(
            "source.bucket_ids: name at least one bucket of the namespace", {"field": "source.bucket_ids"}
        )
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for identifier in dict.fromkeys(source.bucket_ids):
        check_identifier(identifier, "source.bucket_ids")
        bucket = metadata.find_bucket(namespace.org_id, namespace.namespace_id, identifier)
        if bucket is None:
            missing.append(identifier)
        else:
            resolved[identifier] = bucket.bucket_id
    if missing:
        raise BadRequestError(
            f"source.bucket_ids: no bucket {', '.join(repr(b) for b in missing)} in namespace "
            f"'{namespace.namespace_id}'; create it with POST /v1/buckets first",
            {"field": "source.bucket_ids", "missing_bucket_ids": missing},
        )
    field_map: dict[str, list[FieldPassthrough]] = {}
    if source.field_map:
        for identifier, passthroughs in source.field_map.items():
            if identifier not in resolved and identifier not in resolved.values():
                raise BadRequestError(
                    f"source.field_map: '{identifier}' is not one of source.bucket_ids",
                    {"field": f"source.field_map.{identifier}", "bucket_ids": list(resolved.values())},
                )
            field_map[resolved.get(identifier, identifier)] = passthroughs
    return SourceOfBuckets(bucket_ids=list(dict.fromkeys(resolved.values())), field_map=field_map)


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


def get_collection(metadata: ManagedContentRepository, namespace: Namespace, identifier: str) -> Collection:
    """By id, else by name (the SDK's `collection_identifier`). Collection names are not unique:
    a name two collections share is a 400 asking for the id."""
    check_identifier(identifier, "collection_id")
    collection = metadata.get_collection(namespace.org_id, namespace.namespace_id, identifier)
    if collection is not None:
        return collection
    named = [c for c in all_collections(metadata, namespace) if c.collection_name == identifier]
    if len(named) > 1:
        raise BadRequestError(
            f"{len(named)} collections are named '{identifier}'; name the collection by its id",
            {"field": "collection_id", "collection_ids": [c.collection_id for c in named]},
        )
    if not named:
        raise NotFoundError.of("collection", identifier)
    return named[0]


def describe_collection(collection: Collection) -> CollectionModel:
    return CollectionModel.model_validate(collection.model_dump(exclude={"org_id"}))


COLLECTION_LISTING = Listing(
    id_field="collection_id",
    search_fields=("collection_name", "collection_id", "description"),
    sortable=("collection_id", "collection_name", "created_at", "enabled"),
    default_sort=(("collection_id", False),),
)


def list_collections(
    metadata: ManagedContentRepository, namespace: Namespace, query: ListQuery
) -> CountedListResponse[CollectionModel]:
    """A namespace's collections are few: filters, search and sort run in memory over all of them
    (`services.listing`); `total_count` is how many match."""
    page = page_in_memory(
        all_collections(metadata, namespace),
        lambda c: c.model_dump(mode="json", exclude={"org_id"}),
        query,
        COLLECTION_LISTING,
    )
    return counted_answer(
        CountedListResponse[CollectionModel], page, describe_collection, query.include_total
    )


def all_collections(metadata: ManagedContentRepository, namespace: Namespace) -> list[Collection]:
    def read_page(cursor: str | None) -> tuple[list[Collection], str | None]:
        page = metadata.list_collections(namespace.org_id, namespace.namespace_id, 100, cursor)
        return page.collections, page.next_cursor

    return read_all(read_page)


def delete_collection(
    metadata: ManagedContentRepository, namespace: Namespace, identifier: str
) -> Collection:
    collection = get_collection(metadata, namespace, identifier)
    metadata.delete_collection(collection)
    return collection
