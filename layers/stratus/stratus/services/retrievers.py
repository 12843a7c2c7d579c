"""Saved retrievers (api.md, "Retrievers and feature search"): pipelines of stages, per
namespace, with unique names and an optimistic `version`. Running them: services/retrieval/
executions.py."""

from __future__ import annotations

from typing import Any

from stratus import ids
from stratus.clock import iso_now
from stratus.domain.identifiers import check_identifier
from stratus.errors import BadRequestError, NotFoundError, RequestValidationError
from stratus.filters import evaluate, parse_filter
from stratus.models.namespaces import Namespace
from stratus.models.retrievers import (
    CreateRetrieverRequest,
    InputSchemaField,
    ListRetrieversRequest,
    ListRetrieversResponse,
    PatchRetrieverRequest,
    Retriever,
    RetrieverModel,
    RetrieverPagination,
    StageModel,
)
from stratus.models.stored_json import storage_problem
from stratus.ports.metadata import RetrieverRepository
from stratus.services.pagination import decode_cursor, encode_cursor
from stratus.services.retrieval.stages import parse_stages

# Words of the retriever routes: a retriever so named could not be reached by name everywhere
# (`GET /v1/retrievers/stages` is the catalogue).
RESERVED_NAMES = frozenset({"stages", "execute", "list"})
ID_PREFIX = "ret_"
SORTABLE_FIELDS = ("retriever_name", "retriever_id", "created_at", "updated_at")


# ---------------------------------------------------------------------------------------------
# Saved retrievers


def create_retriever(
    metadata: RetrieverRepository, namespace: Namespace, request: CreateRetrieverRequest
) -> Retriever:
    stages = parse_stages(request.stages)
    _check_name(request.retriever_name, "retriever_name")
    now = iso_now()
    retriever = Retriever(
        org_id=namespace.org_id,
        namespace_id=namespace.namespace_id,
        retriever_id=ids.new_id(ID_PREFIX),
        retriever_name=request.retriever_name,
        description=request.description,
        collection_identifiers=list(request.collection_identifiers or []),
        stages=[stage.stored for stage in stages],
        input_schema=input_schema_of(request.input_schema),
        budget_limits=request.budget_limits.model_dump(exclude_none=True) if request.budget_limits else None,
        tags=list(request.tags or []),
        metadata=dict(request.metadata or {}),
        display_config=request.display_config,
        visibility=request.visibility or "private",
        marketplace_listing_id=request.marketplace_listing_id,
        requires_subscription=bool(request.requires_subscription),
        created_at=now,
        updated_at=now,
    )
    metadata.create_retriever(retriever)
    return retriever


def get_retriever(
    metadata: RetrieverRepository, namespace: Namespace, identifier: str, max_age_seconds: float = 0.0
) -> Retriever:
    """By id or name, in the namespace; anything else (another namespace's, another
    organization's) is simply not found."""
    check_identifier(identifier, "retriever_id")
    found = metadata.find_retriever(namespace.org_id, namespace.namespace_id, identifier, max_age_seconds)
    if found is None:
        raise NotFoundError.of("retriever", identifier)
    return found


def update_retriever(
    metadata: RetrieverRepository, namespace: Namespace, identifier: str, request: PatchRetrieverRequest
) -> Retriever:
    current = get_retriever(metadata, namespace, identifier)
    given = request.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(request, name)
        for name in ("description", "marketplace_listing_id", "display_config")
        if name in given  # may be set to null
    }
    changes.update(
        (name, getattr(request, name))
        for name in ("retriever_name", "tags", "metadata", "visibility", "requires_subscription")
        if getattr(request, name) is not None
    )
    if request.stages is not None:
        changes["stages"] = [stage.stored for stage in parse_stages(request.stages)]
    if changes.get("retriever_name", current.retriever_name) != current.retriever_name:
        _check_name(changes["retriever_name"], "retriever_name")
    if "input_schema" in given:
        changes["input_schema"] = input_schema_of(request.input_schema)
    if "collection_identifiers" in given:
        changes["collection_identifiers"] = list(request.collection_identifiers or [])
    if not changes:
        return current
    changes["updated_at"] = iso_now()
    updated = current.model_copy(update=changes)
    return metadata.save_retriever(updated, current.version, current.retriever_name)


def delete_retriever(metadata: RetrieverRepository, namespace: Namespace, identifier: str) -> Retriever:
    retriever = get_retriever(metadata, namespace, identifier)
    metadata.delete_retriever(retriever)
    return retriever


def list_retrievers(
    metadata: RetrieverRepository, namespace: Namespace, request: ListRetrieversRequest
) -> ListRetrieversResponse:
    """A namespace's retrievers are few (they are written by hand): filters, search and sort run
    in memory over its records, with a keyset cursor."""
    sort = request.sort or (request.sorts[0] if request.sorts else None)
    sort_field = sort.field if sort else "created_at"
    if sort_field not in SORTABLE_FIELDS:
        raise BadRequestError(
            f"sort.field {sort_field!r} is not sortable; use one of {', '.join(SORTABLE_FIELDS)}",
            {"field": "sort.field", "allowed": list(SORTABLE_FIELDS)},
        )
    descending = bool(sort and sort.direction == "desc")
    matching = _matching(metadata, namespace, request)
    keyed = sorted(
        ((str(getattr(r, sort_field)), r.retriever_id, r) for r in matching),
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
    limit = request.limit or request.page_size or 10
    skip = request.offset if request.offset is not None else ((request.page or 1) - 1) * limit
    keyed = keyed[skip:]
    page = keyed[:limit]
    next_cursor = encode_cursor([page[-1][0], page[-1][1]]) if len(keyed) > limit else None
    total = len(matching) if request.include_total else None
    return ListRetrieversResponse(
        results=[describe_retriever(item[2]) for item in page],
        pagination=RetrieverPagination(page_size=len(page), next_cursor=next_cursor, total=total),
        total=total,
    )


def _matching(
    metadata: RetrieverRepository, namespace: Namespace, request: ListRetrieversRequest
) -> list[Retriever]:
    node = parse_filter(request.filters, "filters")
    needle = request.search if request.case_sensitive else (request.search or "").lower()
    found: list[Retriever] = []
    cursor: str | None = None
    while True:
        page = metadata.list_retrievers(namespace.org_id, namespace.namespace_id, 100, cursor)
        for retriever in page.retrievers:
            record = retriever.model_dump(mode="json", exclude={"org_id"})
            if node is not None and not evaluate(node, record):
                continue
            if needle:
                haystack = f"{retriever.retriever_name}\n{retriever.description or ''}"
                if needle not in (haystack if request.case_sensitive else haystack.lower()):
                    continue
            found.append(retriever)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _cursor_key(cursor: str) -> tuple[str, str]:
    value = decode_cursor(cursor)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)):
        raise BadRequestError("cursor is not a cursor this API returned", {"field": "cursor"})
    return value[0], value[1]


def describe_retriever(retriever: Retriever) -> RetrieverModel:
    stages = [
        StageModel.model_validate({**stage, "parameters": stage["config"].get("parameters", {})})
        for stage in retriever.stages
    ]
    fusion = next(
        (
            str(stage["config"]["parameters"].get("fusion") or "rrf")
            for stage in retriever.stages
            if stage["config"].get("stage_id") == "feature_search"
        ),
        None,
    )
    return RetrieverModel(
        retriever_id=retriever.retriever_id,
        retriever_name=retriever.retriever_name,
        description=retriever.description,
        namespace_id=retriever.namespace_id,
        collection_identifiers=retriever.collection_identifiers,
        collection_ids=retriever.collection_identifiers,
        stages=stages,
        input_schema=retriever.input_schema,
        budget_limits=retriever.budget_limits,
        tags=retriever.tags,
        metadata=retriever.metadata,
        display_config=retriever.display_config,
        visibility=retriever.visibility,
        marketplace_listing_id=retriever.marketplace_listing_id,
        requires_subscription=retriever.requires_subscription,
        fusion=fusion,
        version=retriever.version,
        created_at=retriever.created_at,
        updated_at=retriever.updated_at,
    )


def _check_name(name: str, field: str) -> None:
    """A name is looked up like an id (routes take either): it may hold no key separator, be no
    word of the routes, and never look like an id, so no name can shadow a retriever's id."""
    check_identifier(name, field)
    if name in RESERVED_NAMES:
        raise BadRequestError(
            f"{field}: '{name}' is a word of the retriever routes (/v1/retrievers/{name}); "
            "choose another name",
            {"field": field, "reserved": sorted(RESERVED_NAMES)},
        )
    if name.startswith(ID_PREFIX):
        raise BadRequestError(
            f"{field}: '{name}' starts with '{ID_PREFIX}', the prefix of retriever ids (routes take an "
            "id or a name, an id first); choose another name",
            {"field": field, "reserved_prefix": ID_PREFIX},
        )


def input_schema_of(schema: dict[str, InputSchemaField] | None) -> dict[str, dict[str, Any]] | None:
    if schema is None:
        return None
    dumped = {name: field.model_dump(exclude_none=True) for name, field in schema.items()}
    problem = storage_problem(dumped, "input_schema")
    if problem is not None:
        raise RequestValidationError(
            problem, [{"type": "value_error", "location": "input_schema", "message": problem}]
        )
    return dumped
