"""Managed namespaces: `POST /v1/namespaces` (api.md, "Namespaces"; create-namespace.txt).

A managed namespace is defined by its feature extractors. Each one, resolved against
`stratus.extractor_catalogue`, brings one vector index (dimension from its inference service),
an entry of `vector_inference_map` (index → service, what embeds raw queries) and the payload
indexes its documents need. Extractor parameters are locked at creation: they decide dimensions,
so changing them later would orphan every vector already written.
"""

from __future__ import annotations

from collections.abc import Sequence

from stratus import ids
from stratus.clock import iso_now
from stratus.errors import BadRequestError
from stratus.extractor_catalogue import ResolvedExtractor, resolve_extractor
from stratus.models.managed import CreateNamespaceRequest
from stratus.models.namespaces import FeatureExtractorConfig, Namespace, PayloadIndexConfig
from stratus.ports.stores import Stores
from stratus.services import payload_indexes as lifecycle
from stratus.services.namespaces import provision_namespace, refuse_identifier_clashes


def create_managed_namespace(stores: Stores, org_id: str, request: CreateNamespaceRequest) -> Namespace:
    resolved = resolve_extractors(request.feature_extractors)
    requested = request.requested_indexes()
    lifecycle.check_payload_indexes(requested, "payload_indexes")
    indexes = merge_required_indexes(requested, resolved)
    refuse_identifier_clashes(stores.metadata, org_id, request.namespace_name, request.namespace_id)
    now = iso_now()
    namespace = Namespace(
        org_id=org_id,
        namespace_id=request.namespace_id or ids.new_id("ns_"),
        namespace_name=request.namespace_name,
        mode="managed",
        description=request.description,
        feature_extractors=[extractor.config for extractor in resolved],
        payload_indexes=indexes,
        auto_create_indexes=bool(request.auto_create_indexes),
        vector_configs=[extractor.vector_config for extractor in resolved],
        vector_inference_map={
            extractor.vector_config.name: extractor.inference_service for extractor in resolved
        },
        storage_key=ids.new_id("ns_"),
        created_at=now,
        updated_at=now,
    )
    return provision_namespace(stores, namespace)


def resolve_extractors(configs: Sequence[FeatureExtractorConfig]) -> list[ResolvedExtractor]:
    """Every extractor resolved; two producing the same vector index (the same extractor twice,
    whatever its params) are refused: a namespace has one index per name."""
    resolved: list[ResolvedExtractor] = []
    producers: dict[str, int] = {}
    for position, config in enumerate(configs):
        location = f"feature_extractors[{position}]"
        extractor = resolve_extractor(config, location)
        index_name = extractor.vector_config.name
        if index_name in producers:
            first = producers[index_name]
            raise BadRequestError(
                f"{location}: {extractor.spec.feature_extractor_id} is already configured by "
                f"feature_extractors[{first}] (both would produce the vector index '{index_name}'); "
                "list each extractor once",
                {"field": location, "duplicate_of": f"feature_extractors[{first}]", "index": index_name},
            )
        producers[index_name] = position
        resolved.append(extractor)
    return resolved


def merge_required_indexes(
    requested: Sequence[PayloadIndexConfig], resolved: Sequence[ResolvedExtractor]
) -> list[PayloadIndexConfig]:
    """The requested indexes (in their order, stored pending) followed by those the extractors
    require. An extractor-required field is marked `is_protected`: its documents depend on it.

    A requested index on a required field must keep the required type (the extractor filters
    and searches that field with it); with the same type the request's `field_schema` wins, so a
    client may tune e.g. the tokenizer of `text`."""
    required = _required_by_field(resolved)
    merged: list[PayloadIndexConfig] = []
    for position, index in enumerate(requested):
        need = required.pop(index.field_name, None)
        if need is not None:
            _check_same_type(index, need, f"payload_indexes[{position}]")
        merged.append(_stored(index, protected=need is not None))
    merged.extend(_stored(index, protected=True) for index, _ in required.values())
    return merged


def _required_by_field(
    resolved: Sequence[ResolvedExtractor],
) -> dict[str, tuple[PayloadIndexConfig, str]]:
    """field → (required index, id of the first extractor requiring it). The catalogue gives one
    definition per field, so a second extractor asking for it asks for the same index."""
    required: dict[str, tuple[PayloadIndexConfig, str]] = {}
    for extractor in resolved:
        for index in extractor.required_indexes:
            required.setdefault(index.field_name, (index, extractor.spec.feature_extractor_id))
    return required


def _check_same_type(index: PayloadIndexConfig, need: tuple[PayloadIndexConfig, str], location: str) -> None:
    required, extractor_id = need
    if index.type != required.type:
        raise BadRequestError(
            f"{location}.type: '{index.field_name}' is required by {extractor_id} as a "
            f"{required.type} index; requesting it as {index.type} would break the extractor. "
            f"Use type {required.type} or leave the field out (it is added automatically)",
            {
                "field": f"{location}.type",
                "required_type": required.type,
                "required_by": extractor_id,
            },
        )


def _stored(index: PayloadIndexConfig, protected: bool) -> PayloadIndexConfig:
    pending = lifecycle.as_pending(index)
    return pending.model_copy(update={"is_protected": True}) if protected else pending
