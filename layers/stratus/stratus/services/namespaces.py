"""Namespace rules: create (standalone; `provision_namespace` serves managed creation too), describe,
list, update, delete."""

from __future__ import annotations

import contextlib
from typing import Any

from stratus import ids
from stratus.clock import iso_now
from stratus.errors import BadRequestError, NotFoundError
from stratus.filters import evaluate, parse_filter
from stratus.models.common import ListRequest, ListResponse, Pagination
from stratus.models.namespaces import (
    CreateStandaloneNamespaceRequest,
    Namespace,
    NamespaceInfrastructure,
    NamespaceModel,
    UpdateNamespaceRequest,
)
from stratus.ports.metadata import ManagedContentRepository, NamespaceRepository, RetrieverRepository
from stratus.ports.stores import Stores
from stratus.ports.vectors import VectorStore
from stratus.services import payload_indexes as lifecycle
from stratus.services.pagination import decode_cursor, encode_cursor
from stratus.services.spaces import resolve_namespace, spaces_of

SORTABLE_FIELDS = ("namespace_name", "namespace_id", "created_at", "updated_at", "mode")


def create_standalone_namespace(
    stores: Stores, org_id: str, request: CreateStandaloneNamespaceRequest
) -> Namespace:
    lifecycle.check_payload_indexes(request.payload_indexes, "payload_indexes")
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


def list_namespaces(stores: Stores, org_id: str, request: ListRequest) -> ListResponse[NamespaceModel]:
    """Namespaces per organization are few (a product limit, not a data set), so filters, search
    and sort run in memory over the organization's records, with a keyset cursor."""
    matching = _matching_namespaces(stores.metadata, org_id, request)
    sort_field = request.sort.field if request.sort else "created_at"
    descending = bool(request.sort and request.sort.direction == "desc")
    if sort_field not in SORTABLE_FIELDS:
        raise BadRequestError(
            f"sort.field {sort_field!r} is not sortable; use one of {', '.join(SORTABLE_FIELDS)}",
            {"field": "sort.field", "allowed": list(SORTABLE_FIELDS)},
        )
    keyed = sorted(
        ((str(getattr(ns, sort_field)), ns.namespace_id, ns) for ns in matching),
        key=lambda item: (item[0], item[1]),
        reverse=descending,
    )
    if request.cursor:
        after = _cursor_key(request.cursor)
        keyed = [
            item
            for item in keyed
            if ((item[0], item[1]) < after if descending else (item[0], item[1]) > after)
        ]
    page = keyed[: request.limit]
    next_cursor = encode_cursor([page[-1][0], page[-1][1]]) if len(keyed) > request.limit else None
    return ListResponse[NamespaceModel](
        results=[describe_namespace(stores, item[2]) for item in page],
        pagination=Pagination(
            page_size=len(page),
            next_cursor=next_cursor,
            total=len(matching) if request.include_total else None,
        ),
    )


def _matching_namespaces(metadata: NamespaceRepository, org_id: str, request: ListRequest) -> list[Namespace]:
    node = parse_filter(request.filters, "filters")
    needle = request.search.lower() if request.search else None
    matching: list[Namespace] = []
    for namespace in _all_namespaces(metadata, org_id):
        record: dict[str, Any] = namespace.model_dump(
            mode="json", exclude={"org_id", "storage_key", "version"}
        )
        if node is not None and not evaluate(node, record):
            continue
        if (
            needle
            and needle not in namespace.namespace_name.lower()
            and needle not in (namespace.description or "").lower()
        ):
            continue
        matching.append(namespace)
    return matching


def _all_namespaces(metadata: NamespaceRepository, org_id: str) -> list[Namespace]:
    found: list[Namespace] = []
    cursor: str | None = None
    while True:
        page = metadata.list_namespaces(org_id, 100, cursor)
        found.extend(page.namespaces)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _cursor_key(cursor: str) -> tuple[str, str]:
    value = decode_cursor(cursor)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)):
        raise BadRequestError("cursor is not a cursor this API returned", {"field": "cursor"})
    return value[0], value[1]


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


def delete_namespace(stores: Stores, org_id: str, identifier: str) -> Namespace:
    namespace = resolve_namespace(stores.metadata, org_id, identifier)
    # Vectors first: if the store fails, metadata still points at them and a retry finishes the job.
    for space in spaces_of(namespace):
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
