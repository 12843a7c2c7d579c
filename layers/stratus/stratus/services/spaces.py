"""A namespace's vector spaces, and finding a namespace by id or name: what the namespace rules,
the payload-index lifecycle, documents, search and ingestion all start from."""

from __future__ import annotations

from stratus.domain.identifiers import check_identifier
from stratus.errors import NotFoundError
from stratus.models.namespaces import Namespace, VectorConfig
from stratus.ports.metadata import NamespaceRepository
from stratus.ports.vectors import Space


def resolve_namespace(
    metadata: NamespaceRepository,
    org_id: str,
    identifier: str,
    max_age_seconds: float = 0.0,
    field: str = "namespace_identifier",
) -> Namespace:
    """By id or by name; another organization's namespace is simply not found (no existence leak).
    `max_age_seconds` > 0 accepts a copy read that recently (see `find_namespace`). An identifier
    holding the key separator is a 400 naming `field`, where it came from."""
    check_identifier(identifier, field)
    namespace = metadata.find_namespace(org_id, identifier, max_age_seconds)
    if namespace is None:
        raise NotFoundError.of("namespace", identifier)
    return namespace


def space_for(namespace: Namespace, config: VectorConfig) -> Space:
    """The space of one vector index of `namespace` (which may not list `config` yet: an index
    being added by schema-on-write or promotion), in the copy a model migration swapped in."""
    return Space(
        namespace.storage_key,
        config.name,
        config.dimension,
        config.metric,
        tuple(namespace.payload_indexes),
        namespace.index_generations.get(config.name, ""),
    )


def spaces_of(namespace: Namespace) -> list[Space]:
    return [space_for(namespace, config) for config in namespace.vector_configs]


def shadow_spaces(namespace: Namespace) -> list[Space]:
    """The copies model migrations are filling now: not searched, but written and deleted with
    their index (services/backfill), so the swap loses nothing."""
    return [
        Space(
            namespace.storage_key,
            index_name,
            migration.dimension,
            migration.metric,
            tuple(namespace.payload_indexes),
            migration.generation,
        )
        for index_name, migration in namespace.migrations.items()
    ]


def all_spaces(namespace: Namespace) -> list[Space]:
    """Every space holding the namespace's documents now: what deletes must reach. The live
    indexes first, shadow copies after: a copy never holds a write its index has not had, so
    the migration's reconciliation can take what the index holds for the truth, however long a
    writer stalls between the two (services/backfill/mirror)."""
    return [*spaces_of(namespace), *shadow_spaces(namespace)]


def space_of(namespace: Namespace, index_name: str) -> Space | None:
    config = namespace.vector_config(index_name)
    return None if config is None else space_for(namespace, config)
