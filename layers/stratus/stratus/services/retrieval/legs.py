"""One search of a pipeline turned into a leg of the plan (a vector query): its index and
top_k, its query (a vector, a text or an image to embed with the index's inference service, or a
stored document's vector) and its own filters (the search's `filters` and the collections it is
limited to)."""

from __future__ import annotations

from stratus.errors import BadRequestError
from stratus.filters import FilterNode, parse_filter
from stratus.inference_catalogue import CATALOGUE
from stratus.models.namespaces import Namespace
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space
from stratus.services.retrieval.engine import Leg
from stratus.services.retrieval.queries import (
    URL_SCHEMES,
    image_bytes,
    is_numbers,
    located,
    query_of,
    query_vector,
)
from stratus.services.retrieval.stage_params import QueryInput, SearchEntry, warn_not_applied
from stratus.services.spaces import space_of

# A vector query's top_k in Stratus (api.md limits); the SDK allows more, which is lowered.
MAX_LEG_TOP_K = 1000


class LegBuilder:
    """Builds the legs of one compilation; `warnings` is the compilation's list, appended to."""

    def __init__(
        self, stores: Stores, namespace: Namespace, default_collections: list[str], warnings: list[str]
    ) -> None:
        self.stores = stores
        self.namespace = namespace
        self.default_collections = default_collections  # the execution's (the retriever's, or ad hoc)
        self.warnings = warnings
        self._known: dict[str, str] | None = None  # collection name and id → id

    def leg(
        self, entry: SearchEntry, index: str, location: str, stage_collections: list[str] | None
    ) -> tuple[Leg, list[FilterNode], str]:
        space = space_of(self.namespace, index)
        assert space is not None
        top_k = entry.top_k
        if top_k > MAX_LEG_TOP_K:
            self.warnings.append(
                f"{located(location, 'top_k')}: {top_k} is above Stratus's {MAX_LEG_TOP_K} per vector query; "
                f"{MAX_LEG_TOP_K} was used"
            )
            top_k = MAX_LEG_TOP_K
        warn_not_applied(
            self.warnings, entry, location, {"lexical": False, "on_empty": None, "query_preprocessing": None}
        )
        leg = Leg(space, top_k, location, weight=entry.weight, min_score=entry.min_score)
        mode = self._query_into(leg, entry, location)
        if isinstance(entry.query, QueryInput):
            query_at = located(location, "query")
            warn_not_applied(self.warnings, entry.query, query_at, {"embedding_task": "none"})
            if entry.query.document_ref is not None:
                warn_not_applied(
                    self.warnings,
                    entry.query.document_ref,
                    f"{query_at}.document_ref",
                    {"collection_id": None},
                )
        filters: list[FilterNode] = []
        entry_filter = parse_filter(entry.filters, located(location, "filters"))
        if entry_filter is not None:
            filters.append(entry_filter)
        identifiers = entry.collection_identifiers or stage_collections or self.default_collections
        where = (
            located(location, "collection_identifiers")
            if entry.collection_identifiers
            else "collection_identifiers"
        )
        collection_filter = self._collection_filter(identifiers, where)
        if collection_filter is not None:
            filters.append(collection_filter)
        return leg, filters, mode

    def _query_into(self, leg: Leg, entry: SearchEntry, location: str) -> str:
        mode, value, where = query_of(entry, location)
        if mode == "vector" or (mode == "content" and is_numbers(value)):
            leg.vector = query_vector(value, where, leg.space)
            return "vector"
        if mode == "document":
            if not isinstance(value, str) or not value:
                raise BadRequestError(
                    f"{where}: give the id of a stored document (document_ref.document_id)", {"field": where}
                )
            leg.document_id = value
            leg.input_field = where
            return mode
        if mode == "text":
            if not isinstance(value, str) or not value.strip():
                raise BadRequestError(f"{where}: a text query needs non-empty text", {"field": where})
            if len(value) > 8192:
                raise BadRequestError(f"{where}: a text query is at most 8192 characters", {"field": where})
            leg.service = self._service(leg.space, where, "text")
            leg.text = value
            leg.input_field = where
            return mode
        # content: an image by URL, data URI or base64
        if not isinstance(value, str) or not value:
            raise BadRequestError(
                f"{where}: content is an https URL, a data: URI or base64 (or a list of floats)",
                {"field": where},
            )
        leg.service = self._service(leg.space, where, "image")
        leg.input_field = where
        if value.startswith(URL_SCHEMES):
            leg.image_url = value
        else:
            leg.image = image_bytes(value, where)
        return mode

    def _service(self, space: Space, where: str, kind: str) -> str:
        namespace = self.namespace
        what = "text" if kind == "text" else "content"
        if namespace.mode == "standalone":
            raise BadRequestError(
                f"{where}: namespace '{namespace.namespace_id}' is standalone, so it cannot embed a {what} "
                "query; send input_mode 'vector' (or 'document'), or promote the namespace to managed with a "
                "vector_mappings entry for this index",
                {"field": where, "mode": "standalone", "accepted_input_modes": ["vector", "document"]},
            )
        service_name = namespace.vector_inference_map.get(space.index_name)
        if service_name is None:
            raise BadRequestError(
                f"{where}: index '{space.index_name}' has no inference service in vector_inference_map, so a "
                f"{what} query cannot be embedded; send input_mode 'vector' or 'document'",
                {
                    "field": where,
                    "vector_inference_map": namespace.vector_inference_map,
                    "accepted_input_modes": ["vector", "document"],
                },
            )
        service = CATALOGUE[service_name]
        if kind not in service.inputs:
            accepted = ["vector", "document", *(["text"] if "text" in service.inputs else [])]
            raise BadRequestError(
                f"{where}: index '{space.index_name}' is embedded by '{service_name}', which takes "
                f"{' and '.join(service.inputs)} only; send input_mode "
                f"{', '.join(repr(a) for a in accepted)}",
                {
                    "field": where,
                    "service": service_name,
                    "inputs": list(service.inputs),
                    "accepted_input_modes": accepted,
                },
            )
        return service_name

    def _collection_filter(self, identifiers: list[str], where: str) -> FilterNode | None:
        if not identifiers:
            return None
        known = self._known_collections() if any(not i.startswith("col_") for i in identifiers) else {}
        ids: list[str] = []
        for position, identifier in enumerate(identifiers):
            if identifier.startswith("col_"):
                ids.append(identifier)
                continue
            found = known.get(identifier)
            if found is None:
                available = sorted({name for name in known if not name.startswith("col_")})
                raise BadRequestError(
                    f"{where}[{position}]: no collection '{identifier}' in namespace "
                    f"'{self.namespace.namespace_id}'; available: {', '.join(available) or 'none'}",
                    {"field": f"{where}[{position}]", "available_collections": available},
                )
            ids.append(found)
        return parse_filter({"field": "collection_id", "operator": "in", "value": sorted(set(ids))}, where)

    def _known_collections(self) -> dict[str, str]:
        if self._known is None:
            found: dict[str, str] = {}
            cursor: str | None = None
            namespace = self.namespace
            while True:
                page = self.stores.metadata.list_collections(
                    namespace.org_id, namespace.namespace_id, 100, cursor
                )
                for collection in page.collections:
                    found[collection.collection_name] = collection.collection_id
                    found[collection.collection_id] = collection.collection_id
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            self._known = found
        return self._known
