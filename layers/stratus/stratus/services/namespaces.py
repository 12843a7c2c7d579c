"""Namespace rules: create (standalone; `provision_namespace` serves managed creation too), describe,
list, update, delete."""

from __future__ import annotations

import contextlib
from typing import Any

from stratus import ids
from stratus.clock import iso_now
from stratus.domain.identifiers import (
    id_is_a_name_error,
    name_is_an_id_error,
    name_taken_error,
    namespace_exists_error,
)
from stratus.errors import NotFoundError
from stratus.models.listing import CountedListResponse
from stratus.models.namespaces import (
    CreateStandaloneNamespaceRequest,
    Namespace,
    NamespaceInfrastructure,
    NamespaceModel,
    ReplaceNamespaceRequest,
    UpdateNamespaceRequest,
)
from stratus.ports.metadata import ManagedContentRepository, NamespaceRepository, RetrieverRepository
from stratus.ports.stores import Stores
from stratus.ports.vectors import VectorStore
from stratus.services import payload_indexes as lifecycle
from stratus.services.listing import Listing, ListQuery, counted_answer, page_in_memory, read_all
from stratus.services.spaces import all_spaces, resolve_namespace, spaces_of

SORTABLE_FIELDS = ("namespace_name", "namespace_id", "created_at", "updated_at", "mode")


def create_standalone_namespace(
    stores: Stores, org_id: str, request: CreateStandaloneNamespaceRequest
) -> Namespace:
    lifecycle.check_payload_indexes(request.payload_indexes, "payload_indexes")
    refuse_identifier_clashes(
        stores.metadata, org_id, request.namespace_name or request.namespace_id, request.namespace_id
    )
    now = iso_now()
    namespace = Namespace(
        org_id=org_id,
        namespace_id=request.namespace_id,
        namespace_name=request.namespace_name or request.namespace_id,
        mode="standalone",
        description=request.description,
        payload_indexes=[lifecycle.as_pending(index) for index in request.payload_indexes],
        auto_create_indexes=request.auto_create_indexes,
        vector_configs=request.vector_configs,
        storage_key=ids.new_id("ns_"),
        created_at=now,
        updated_at=now,
    )
    return provision_namespace(stores, namespace)


def refuse_identifier_clashes(
    metadata: NamespaceRepository, org_id: str, name: str, namespace_id: str | None = None
) -> None:
    """The 409s of a new namespace's id (if the caller chose it) and name: an id or a name in
    use, an id that is another namespace's name, a name that is another namespace's id. Checked
    before any vector space is created, so the common mistakes leave nothing behind; the metadata
    store's transaction still decides a race, with the same answers."""
    if namespace_id is not None:
        found = metadata.find_namespace(org_id, namespace_id)
        if found is not None:
            raise (
                namespace_exists_error(namespace_id)
                if found.namespace_id == namespace_id
                else id_is_a_name_error(namespace_id)
            )
    if name != namespace_id:
        found = metadata.find_namespace(org_id, name)
        if found is not None:
            raise name_taken_error(name) if found.namespace_name == name else name_is_an_id_error(name)


def provision_namespace(stores: Stores, namespace: Namespace) -> Namespace:
    """Store a new namespace (standalone or managed) whose payload indexes are all pending: its
    vector spaces first, so if the vector store is down the caller gets a 503 and no metadata
    exists; then its record; then its indexes, built in every space and saved ready (or failed)."""
    for space in spaces_of(namespace):
        stores.vectors.ensure_space(space)
    stores.metadata.create_namespace(namespace)
    return lifecycle.build_pending(
        stores, namespace, [index.field_name for index in namespace.payload_indexes]
    )


def count_documents(vectors: VectorStore, namespace: Namespace) -> int:
    """Distinct document ids over every vector index of the namespace."""
    spaces = spaces_of(namespace)
    if not spaces:
        return 0
    if len(spaces) == 1:
        return vectors.count(spaces[0])
    every_id: set[str] = set()
    for space in spaces:
        every_id |= vectors.ids(space)
    return len(every_id)


def count_objects(metadata: ManagedContentRepository, namespace: Namespace) -> int:
    """The sum of the buckets' exact counters (objects are counted as they are written)."""
    total, cursor = 0, None
    while True:
        page = metadata.list_buckets(namespace.org_id, namespace.namespace_id, 100, cursor)
        total += sum(bucket.object_count for bucket in page.buckets)
        cursor = page.next_cursor
        if cursor is None:
            return total


def describe_namespace(stores: Stores, namespace: Namespace) -> NamespaceModel:
    return NamespaceModel(
        namespace_id=namespace.namespace_id,
        namespace_name=namespace.namespace_name,
        mode=namespace.mode,
        status=namespace.status,
        description=namespace.description,
        feature_extractors=namespace.feature_extractors,
        payload_indexes=lifecycle.listed_indexes(namespace),
        auto_create_indexes=namespace.auto_create_indexes,
        vector_configs=namespace.vector_configs,
        vector_inference_map=namespace.vector_inference_map,
        infrastructure=NamespaceInfrastructure(
            vector_store=stores.vectors.capabilities.name,
            vector_store_locator=stores.vectors.locator(namespace.storage_key),
        ),
        document_count=count_documents(stores.vectors, namespace),
        bucket_count=stores.metadata.count_buckets(namespace.org_id, namespace.namespace_id),
        collection_count=stores.metadata.count_collections(namespace.org_id, namespace.namespace_id),
        object_count=count_objects(stores.metadata, namespace),
        created_at=namespace.created_at,
        updated_at=namespace.updated_at,
    )


NAMESPACE_LISTING = Listing(
    id_field="namespace_id",
    search_fields=("namespace_name", "namespace_id", "description"),
    sortable=SORTABLE_FIELDS,
    default_sort=(("created_at", False),),
)


def list_namespaces(stores: Stores, org_id: str, query: ListQuery) -> CountedListResponse[NamespaceModel]:
    """Namespaces per organization are few (a product limit, not a data set), so filters, search
    and sort run in memory over the organization's records (`services.listing`). `total_count`
    is the organization's counter (moved in the same transaction as every create and delete)
    unless filters or a search narrow the list: then it counts the matches."""
    page = page_in_memory(_all_namespaces(stores.metadata, org_id), _listed_record, query, NAMESPACE_LISTING)
    total_count = page.matching if query.narrowed else stores.metadata.count_namespaces(org_id)
    return counted_answer(
        CountedListResponse[NamespaceModel],
        page,
        lambda namespace: describe_namespace(stores, namespace),
        query.include_total,
        total_count,
    )


def _listed_record(namespace: Namespace) -> dict[str, Any]:
    return namespace.model_dump(mode="json", exclude={"org_id", "storage_key", "version"})


def _all_namespaces(metadata: NamespaceRepository, org_id: str) -> list[Namespace]:
    def read_page(cursor: str | None) -> tuple[list[Namespace], str | None]:
        page = metadata.list_namespaces(org_id, 100, cursor)
        return page.namespaces, page.next_cursor

    return read_all(read_page)


def update_namespace(
    stores: Stores, org_id: str, identifier: str, request: UpdateNamespaceRequest
) -> Namespace:
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    changes: dict[str, Any] = {}
    to_build: list[str] = []
    fields = request.model_fields_set
    if "namespace_name" in fields and request.namespace_name is not None:
        changes["namespace_name"] = request.namespace_name
    if "description" in fields:
        changes["description"] = request.description
    if "auto_create_indexes" in fields and request.auto_create_indexes is not None:
        changes["auto_create_indexes"] = request.auto_create_indexes
    if "payload_indexes" in fields and request.payload_indexes is not None:
        lifecycle.check_payload_indexes(request.payload_indexes, "payload_indexes")
        # Merged by field_name; new or changed indexes are stored pending, built after the save.
        changes["payload_indexes"], to_build = lifecycle.merge_requested(
            namespace.payload_indexes, [lifecycle.as_pending(index) for index in request.payload_indexes]
        )
    if not changes or changes == {"payload_indexes": namespace.payload_indexes}:
        return namespace
    updated = namespace.model_copy(update={**changes, "updated_at": iso_now()})
    saved = stores.metadata.save_namespace(updated, namespace.version, namespace.namespace_name)
    return lifecycle.build_pending(stores, saved, to_build)


def replace_namespace(
    stores: Stores, org_id: str, identifier: str, request: ReplaceNamespaceRequest
) -> Namespace:
    """`PUT`: a new name, and/or the namespace's whole list of its own payload indexes. Indexes
    left out are dropped from the vector store (`payload_indexes.drop_payload_index`), then the
    rest is saved as a PATCH would (new or changed ones built before the answer)."""
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    fields = request.model_fields_set
    if "payload_indexes" in fields and request.payload_indexes is not None:
        lifecycle.check_payload_indexes(request.payload_indexes, "payload_indexes")
        kept = {index.field_name for index in request.payload_indexes}
        for index in namespace.payload_indexes:
            if not index.is_protected and index.field_name not in kept:
                namespace = lifecycle.drop_payload_index(stores, namespace, index.field_name)
    changes = {name: getattr(request, name) for name in fields if getattr(request, name) is not None}
    patch = UpdateNamespaceRequest(**changes)
    return update_namespace(stores, org_id, namespace.namespace_id, patch)


def delete_namespace(stores: Stores, org_id: str, identifier: str) -> Namespace:
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    # Vectors first: if the store fails, metadata still points at them and a retry finishes the job.
    for space in all_spaces(namespace):  # with the copies migrations are filling
        stores.vectors.drop_space(space)
    # Every bucket of the namespace is a folder under its storage key.
    stores.blobs.delete_prefix(f"{namespace.storage_key}/")
    stores.metadata.delete_objects(namespace.org_id, namespace.namespace_id)
    _delete_managed_content(stores.metadata, namespace)
    _delete_retrievers(stores.metadata, namespace)
    stores.metadata.delete_namespace(namespace)
    return namespace


def _delete_retrievers(metadata: RetrieverRepository, namespace: Namespace) -> None:
    """The namespace's retrievers go with it, so a namespace re-created with the same id starts
    without them. A retriever already gone (a concurrent delete) is skipped: a retry finishes."""
    while True:
        page = metadata.list_retrievers(namespace.org_id, namespace.namespace_id, 100, None)
        for retriever in page.retrievers:
            with contextlib.suppress(NotFoundError):
                metadata.delete_retriever(retriever)
        if not page.retrievers:
            return


def _delete_managed_content(metadata: ManagedContentRepository, namespace: Namespace) -> None:
    """Collections, then buckets (api.md: a namespace delete takes them along), so a namespace
    re-created with the same id starts empty. Each delete is idempotent: a retry finishes it."""
    while True:
        collections = metadata.list_collections(namespace.org_id, namespace.namespace_id, 100, None)
        for collection in collections.collections:
            metadata.delete_collection(collection)
        if not collections.collections:
            break
    while True:
        buckets = metadata.list_buckets(namespace.org_id, namespace.namespace_id, 100, None)
        for bucket in buckets.buckets:
            metadata.delete_bucket(bucket)
        if not buckets.buckets:
            break
