"""Executions of retrievers, saved or ad hoc, and feature search (api.md, "Retrievers and feature
search"), all run by the one retrieval engine (services/retrieval/engine.py).

Executions are not stored: each answer carries a fresh `execution_id` (`exec_` + 24 hex
digits, 96 random bits) that names nothing that can be fetched later."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from stratus.errors import BadRequestError, RequestValidationError
from stratus.models.namespaces import Namespace
from stratus.models.retrievers import (
    AdhocExecuteRequest,
    ExecuteRetrieverRequest,
    ExecutionOptions,
    ExecutionResponse,
    ExecutionStatistics,
    FeatureSearchRequest,
    Retriever,
    StageStatistics,
)
from stratus.ports.stores import Stores
from stratus.services.embedding import EmbeddingCache
from stratus.services.fusion import Fused
from stratus.services.pagination import decode_cursor, encode_cursor
from stratus.services.retrieval import engine
from stratus.services.retrieval.engine import Defer, Outcome, Plan
from stratus.services.retrieval.plan import Execution, compile_feature_search, compile_plan
from stratus.services.retrieval.stages import QueryInput, SearchEntry, StageDef, parse_stages
from stratus.services.retrievers import get_retriever, input_schema_of

# Parsed pipelines of saved retrievers, per (org, namespace, id, version): a warm container
# executing a saved retriever checks its stages once.
MAX_PARSED = 256


class _ParsedPipelines:
    """(org, namespace, retriever id, version) → its parsed stages; the oldest goes first."""

    def __init__(self) -> None:
        self._parsed: OrderedDict[tuple[str, str, str, int, str], list[StageDef]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, retriever: Retriever) -> list[StageDef]:
        key = (
            retriever.org_id,
            retriever.namespace_id,
            retriever.retriever_id,
            retriever.version,
            retriever.updated_at,
        )
        with self._lock:
            found = self._parsed.get(key)
        if found is None:
            found = parse_stages(retriever.stages)
            with self._lock:
                self._parsed[key] = found
                while len(self._parsed) > MAX_PARSED:
                    self._parsed.popitem(last=False)
        return found


_PARSED = _ParsedPipelines()


def execute_retriever(
    stores: Stores,
    namespace: Namespace,
    identifier: str,
    request: ExecuteRetrieverRequest,
    *,
    query_cache: EmbeddingCache | None = None,
    namespace_max_age: float = 0.0,
    defer: Defer | None = None,
    return_vectors: bool = False,
    include_legacy_results: bool = False,
) -> ExecutionResponse:
    """A saved retriever, by id or name. Its definition may come from a recent read
    (`namespace_max_age`, as the namespace's): a PATCH elsewhere shows within that bound."""
    started = time.perf_counter()
    retriever = get_retriever(stores.metadata, namespace, identifier, namespace_max_age)
    stages = _PARSED.get(retriever)
    execution = Execution(
        inputs=dict(request.inputs or {}),
        filters=request.filters,
        collection_identifiers=list(retriever.collection_identifiers),
        input_schema=retriever.input_schema,
    )
    return _execute(
        stores,
        namespace,
        lambda current: compile_plan(stores, current, stages, execution),
        request,
        retriever_id=retriever.retriever_id,
        query_cache=query_cache,
        namespace_max_age=namespace_max_age,
        defer=defer,
        return_vectors=return_vectors or request.return_vectors,
        include_legacy_results=include_legacy_results,
        started=started,
    )


def execute_adhoc(
    stores: Stores,
    namespace: Namespace,
    request: AdhocExecuteRequest,
    *,
    query_cache: EmbeddingCache | None = None,
    namespace_max_age: float = 0.0,
    defer: Defer | None = None,
    return_vectors: bool = False,
    include_legacy_results: bool = False,
) -> ExecutionResponse:
    """The stages come in the request; nothing is saved."""
    started = time.perf_counter()
    stages = parse_stages(request.stages)
    schema = input_schema_of(request.input_schema)
    execution = Execution(
        inputs=dict(request.inputs or {}),
        filters=request.filters,
        collection_identifiers=list(request.collection_identifiers or []),
        input_schema=schema,
    )
    warnings = ["budget_limits: accepted but not applied by Stratus"] if request.budget_limits else []
    return _execute(
        stores,
        namespace,
        lambda current: compile_plan(stores, current, stages, execution),
        request,
        retriever_id=None,
        query_cache=query_cache,
        namespace_max_age=namespace_max_age,
        defer=defer,
        return_vectors=return_vectors or request.return_vectors,
        include_legacy_results=include_legacy_results,
        started=started,
        warnings=warnings,
    )


def feature_search(
    stores: Stores,
    namespace: Namespace,
    request: FeatureSearchRequest,
    *,
    query_cache: EmbeddingCache | None = None,
    namespace_max_age: float = 0.0,
    defer: Defer | None = None,
) -> ExecutionResponse:
    """One search: `feature_uri` (an index name or a feature extractor's output), a query, `top_k`."""
    started = time.perf_counter()
    query = QueryInput.model_validate(request.query.model_dump(exclude_none=True))
    entry = SearchEntry(feature_uri=request.feature_uri, query=query, top_k=request.top_k)
    execution = Execution(
        filters=request.filters, collection_identifiers=list(request.collection_identifiers or [])
    )
    response = _execute(
        stores,
        namespace,
        lambda current: compile_feature_search(stores, current, entry, execution),
        ExecutionOptions(),
        retriever_id=None,
        query_cache=query_cache,
        namespace_max_age=namespace_max_age,
        defer=defer,
        return_vectors=request.return_vectors,
        include_legacy_results=False,
        started=started,
    )
    response.feature_uri = request.feature_uri
    searches = response.stage_statistics.stages["feature_search"].metadata.get("searches") or [{}]
    response.vector_index = searches[0].get("vector_index")
    return response


def _execute(
    stores: Stores,
    namespace: Namespace,
    compile_for: Any,
    options: ExecutionOptions,
    *,
    retriever_id: str | None,
    query_cache: EmbeddingCache | None,
    namespace_max_age: float,
    defer: Defer | None,
    return_vectors: bool,
    include_legacy_results: bool,
    started: float,
    warnings: list[str] | None = None,
) -> ExecutionResponse:
    page = _Page.of(options)
    notes = [*(warnings or []), *_option_warnings(options), *page.warnings]

    def attempt(current: Namespace) -> tuple[Plan, Outcome]:
        plan: Plan = compile_for(current)
        return plan, engine.run(stores, namespace.org_id, current, plan, query_cache=query_cache, defer=defer)

    plan, outcome = engine.with_fresh_namespace(
        stores.metadata, namespace.org_id, namespace, namespace_max_age, attempt
    )
    candidates = outcome.candidates
    if options.limit is not None:
        candidates = candidates[: options.limit]
    shown, pagination = page.slice(candidates)
    vectors = (
        engine.fetch_vectors(stores, engine.searched_spaces(plan), [c.id for c in shown])
        if return_vectors
        else {}
    )
    documents = [_document(c, vectors.get(c.id) if return_vectors else None) for c in shown]
    total_ms = round((time.perf_counter() - started) * 1000, 3)
    return ExecutionResponse(
        retriever_id=retriever_id,
        execution_id="exec_" + secrets.token_hex(12),
        documents=documents,
        results=documents if include_legacy_results else None,
        groups=outcome.groups,
        pagination=pagination,
        stage_statistics=ExecutionStatistics(
            stages={
                report.name: StageStatistics(
                    input_count=report.input_count,
                    output_count=report.output_count,
                    duration_ms=report.duration_ms,
                    efficiency=round(report.output_count / report.input_count, 4)
                    if report.input_count
                    else None,
                    metadata=report.metadata,
                )
                for report in outcome.stages
            },
            total_time_ms=total_ms,
        ),
        warnings=[*notes, *outcome.warnings],
        took_ms=total_ms,
    )


def _document(candidate: Fused, vectors: dict[str, list[float]] | None) -> dict[str, Any]:
    """A document as answered: its payload's fields, then `document_id`, `score` and `scores`
    (which win over payload fields of the same name), and `vectors` when asked."""
    document: dict[str, Any] = {
        **candidate.record.payload,
        "document_id": candidate.id,
        "score": candidate.score,
        "scores": candidate.scores,
    }
    if vectors is not None:
        document["vectors"] = vectors
    return document


def _option_warnings(options: ExecutionOptions) -> list[str]:
    given = options.model_fields_set
    notes: list[str] = []
    for name, default in (
        ("stream", False),
        ("skip_cache", False),
        ("return_presigned_urls", False),
        ("explain", False),
        ("expand", None),
        ("write_token", None),
        ("consistency", None),
        ("target_collection_id", None),
        ("settings", None),
    ):
        value = getattr(options, name)
        if name in given and value not in (default, None, [], {}):
            notes.append(f"{name}: accepted but not applied by Stratus")
    return notes


class _Page:
    """`pagination` (offset, cursor, scroll or keyset) or none: which slice of the results to
    answer. Every page runs the pipeline again (executions are not stored)."""

    def __init__(self, method: str | None, size: int | None, offset: int, warnings: list[str]) -> None:
        self.method = method
        self.size = size
        self.offset = offset
        self.warnings = warnings

    @classmethod
    def of(cls, options: ExecutionOptions) -> _Page:
        raw = options.pagination
        if raw is None:
            return cls(None, None, 0, [])
        method = raw.get("method") or ("cursor" if "cursor" in raw else "offset")
        allowed = {
            "offset": {"method", "page_size", "page_number"},
            "cursor": {"method", "limit", "cursor"},
            "scroll": {"method", "limit", "scroll_id", "scroll_ttl"},
            "keyset": {"method", "limit", "after"},
        }
        if method not in allowed:
            raise RequestValidationError(
                f"pagination.method: must be one of {', '.join(allowed)}",
                [
                    {
                        "type": "enum",
                        "location": "pagination.method",
                        "message": f"one of {', '.join(allowed)}",
                    }
                ],
            )
        extra = sorted(set(raw) - allowed[method])
        if extra:
            raise RequestValidationError(
                f"pagination.{extra[0]}: Extra inputs are not permitted (method '{method}')",
                [
                    {
                        "type": "extra_forbidden",
                        "location": f"pagination.{key}",
                        "message": "Extra inputs are not permitted",
                    }
                    for key in extra
                ],
            )
        if method == "offset":
            size = _int(raw, "page_size", 10, 1, 500)
            number = _int(raw, "page_number", 1, 1, 10_000)
            return cls(method, size, (number - 1) * size, [])
        size = _int(raw, "limit", 100 if method == "scroll" else 10, 1, 1000 if method == "scroll" else 500)
        if method == "keyset":
            notes = (
                ["pagination.after: keyset pagination is not applied by Stratus; the first page was answered"]
                if raw.get("after")
                else []
            )
            return cls(method, size, 0, notes)
        token = raw.get("scroll_id" if method == "scroll" else "cursor")
        return cls(
            method,
            size,
            _offset(token, f"pagination.{'scroll_id' if method == 'scroll' else 'cursor'}") if token else 0,
            [],
        )

    def slice(self, candidates: list[Fused]) -> tuple[list[Fused], dict[str, Any]]:
        total = len(candidates)
        if self.size is None:
            return candidates, {"page_size": total, "total": total, "has_more": False, "next_cursor": None}
        shown = candidates[self.offset : self.offset + self.size]
        more = self.offset + self.size < total
        answer: dict[str, Any] = {
            "method": self.method,
            "page_size": self.size,
            "total": total,
            "has_more": more,
        }
        if self.method == "offset":
            answer.update(page_number=self.offset // self.size + 1, total_pages=-(-total // self.size))
        else:
            token = encode_cursor({"offset": self.offset + self.size}) if more else None
            answer["scroll_id" if self.method == "scroll" else "next_cursor"] = token
        return shown, answer


def _int(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = raw.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestValidationError(
            f"pagination.{name}: an integer from {low} to {high}",
            [
                {
                    "type": "int_type",
                    "location": f"pagination.{name}",
                    "message": f"an integer from {low} to {high}",
                }
            ],
        )
    return value


def _offset(token: Any, location: str) -> int:
    value = decode_cursor(str(token), location) if isinstance(token, str) else None
    if not (isinstance(value, dict) and isinstance(value.get("offset"), int) and value["offset"] >= 0):
        raise BadRequestError(f"{location}: not a cursor this API returned", {"field": location})
    offset: int = value["offset"]
    return offset
