"""The stages that run over the fused candidates (after `feature_search`), in memory: each takes
the candidates best first and returns the ones it keeps, in their new order.

A field (`sort_attribute`, `group_by`, `sort_relevance.score_field`...) is a dot path over the
document as answered: `document_id`, `score` and `scores.<index>` first, then the payload
(`category`, `metadata.year`)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stratus.adapters.text_tokens import evaluate_indexed, text_indexes
from stratus.filters import FilterNode
from stratus.ports.vectors import Space
from stratus.services.fusion import Fused
from stratus.services.retrieval.engine import StepContext

_MISSING = object()


def value_of(candidate: Fused, path: tuple[str, ...]) -> Any:
    """The value at `path`, or `_MISSING`."""
    head = path[0]
    if len(path) == 1 and head == "document_id":
        return candidate.id
    if len(path) == 1 and head == "score":
        return candidate.score
    if head == "scores" and len(path) == 2 and path[1] in candidate.scores:
        return candidate.scores[path[1]]
    current: Any = candidate.record.payload
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return _MISSING if current is None else current


def _path(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def _order_key(value: Any) -> tuple[int, Any]:
    """Values of mixed types still sort: numbers, then strings, then booleans, then the rest."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, repr(value))


def _sort_key(pair: tuple[Any, Fused]) -> tuple[int, Any]:
    return _order_key(pair[0])


@dataclass
class FilterStep:
    """`attribute_filter` after the search: keeps the candidates whose payload matches (the
    reference evaluator every vector store is tested against; `text` follows text indexes)."""

    name: str
    node: FilterNode
    stage_id: str = "attribute_filter"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        texts = text_indexes(ctx.namespace.payload_indexes)
        return [c for c in candidates if evaluate_indexed(self.node, c.record.payload, texts)]


@dataclass
class SortStep:
    """`sort_attribute`: by each key in turn; documents without the field go last (or first)."""

    name: str
    keys: list[tuple[str, Literal["asc", "desc"]]]
    nulls_last: bool = True
    stage_id: str = "sort_attribute"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        ordered = list(candidates)
        for dotted, direction in reversed(self.keys):  # stable sorts, least significant key first
            path = _path(dotted)
            keyed = [(value_of(c, path), c) for c in ordered]
            present = [(value, c) for value, c in keyed if value is not _MISSING]
            missing = [c for value, c in keyed if value is _MISSING]
            present.sort(key=_sort_key, reverse=direction == "desc")
            ordered = (
                [c for _, c in present] + missing if self.nulls_last else missing + [c for _, c in present]
            )
        ctx.metadata["sorted_by"] = [
            {"field": field, "direction": direction} for field, direction in self.keys
        ]
        return ordered


@dataclass
class RelevanceStep:
    """`sort_relevance`: by the score (or another score field), best first by default."""

    name: str
    score_field: str
    direction: Literal["asc", "desc"] = "desc"
    missing_score: Literal["bottom", "top", "preserve"] = "bottom"
    stage_id: str = "sort_relevance"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        path = _path(self.score_field)
        values = [_number(value_of(c, path)) for c in candidates]
        numeric = [i for i, value in enumerate(values) if value is not None]
        order = sorted(numeric, key=lambda i: values[i] or 0.0, reverse=self.direction == "desc")
        if self.missing_score == "preserve":
            # Documents without a score keep their places; the others are sorted among themselves.
            result = list(candidates)
            for slot, i in zip(numeric, order, strict=True):
                result[slot] = candidates[i]
            return result
        ranked = [candidates[i] for i in order]
        rest = [c for c, value in zip(candidates, values, strict=True) if value is None]
        return rest + ranked if self.missing_score == "top" else ranked + rest


@dataclass
class LimitStep:
    name: str
    limit: int
    offset: int = 0
    stage_id: str = "limit"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        return candidates[self.offset : self.offset + self.limit]


@dataclass
class SampleStep:
    """`sample`: `count` documents drawn at random (the same draw for the same `seed`), after
    keeping the best `preserve_top_k`; `stratified` draws from each value of `stratify_by` in
    proportion, at least `min_per_stratum` each. The sample keeps the candidates' order."""

    name: str
    count: int
    seed: int | None
    strategy: Literal["random", "stratified", "reservoir"] = "random"
    stratify_by: str | None = None
    min_per_stratum: int = 1
    preserve_top_k: int = 0
    stage_id: str = "sample"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        rng = random.Random(self.seed)
        kept = candidates[: min(self.preserve_top_k, self.count)]
        pool = candidates[len(kept) :]
        wanted = min(self.count - len(kept), len(pool))
        if self.strategy == "stratified" and self.stratify_by:
            chosen = self._stratified(rng, pool, wanted)
        else:
            chosen = set(rng.sample(range(len(pool)), wanted))
        ctx.metadata["seed"] = self.seed
        return kept + [c for i, c in enumerate(pool) if i in chosen]

    def _stratified(self, rng: random.Random, pool: list[Fused], wanted: int) -> set[int]:
        """`min_per_stratum` from each stratum first (strata in the order of their best
        document, while there is room), then the rest in proportion to what each has left."""
        assert self.stratify_by is not None
        path = _path(self.stratify_by)
        strata: dict[str, list[int]] = {}
        for i, c in enumerate(pool):
            strata.setdefault(repr(value_of(c, path)), []).append(i)
        shares = {key: 0 for key in strata}
        room = wanted
        for key, members in strata.items():
            take = min(self.min_per_stratum, len(members), room)
            shares[key], room = take, room - take
        left = {key: len(members) - shares[key] for key, members in strata.items()}
        total_left = sum(left.values())
        if room > 0 and total_left > 0:
            exact = {key: room * count / total_left for key, count in left.items()}
            extra = {key: int(value) for key, value in exact.items()}
            by_remainder = sorted(exact, key=lambda key: exact[key] - extra[key], reverse=True)
            for key in by_remainder[: room - sum(extra.values())]:
                extra[key] += 1
            for key in shares:
                shares[key] += min(extra[key], left[key])
        chosen: set[int] = set()
        for key, members in strata.items():
            chosen.update(rng.sample(members, shares[key]))
        return chosen


@dataclass
class GroupStep:
    """`group_by`: groups in the order of their best document, at most `max_per_group` each (1
    with `output_mode: first`), at most `max_groups` groups; the documents stay one flat list and
    the answer's `groups` says which went where. Documents without the field form one group
    (key null). `source_object_id` falls back to `object_id`, its name in Stratus payloads."""

    name: str
    field: str
    max_per_group: int
    output_mode: Literal["first", "all", "flatten"] = "all"
    max_groups: int | None = None
    stage_id: str = "group_by"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        path = _path(self.field)
        per_group = 1 if self.output_mode == "first" else self.max_per_group
        groups: dict[str, tuple[Any, list[Fused], int]] = {}
        for c in candidates:
            key = value_of(c, path)
            if key is _MISSING and self.field == "source_object_id":
                key = value_of(c, ("object_id",))
            key = None if key is _MISSING else key
            marker = repr(key)
            if marker not in groups:
                if self.max_groups is not None and len(groups) >= self.max_groups:
                    continue
                groups[marker] = (key, [], 0)
            value, members, total = groups[marker]
            if len(members) < per_group:
                members.append(c)
            groups[marker] = (value, members, total + 1)
        ctx.groups = [
            {"group_key": value, "count": total, "document_ids": [m.id for m in members]}
            for value, members, total in groups.values()
        ]
        ctx.metadata["groups"] = len(groups)
        return [m for _, members, _ in groups.values() for m in members]


@dataclass
class MmrStep:
    """`mmr`: maximal marginal relevance over the documents' stored vectors in `space`: each pick
    maximises lambda · relevance - (1 - lambda) · (highest similarity to a document already
    picked). Relevance is the score field scaled to [0, 1] over the candidates (fused scores and
    similarities live on different scales); a document without a vector there counts as unlike
    every other. The pick's MMR value goes to `mmr_score_field` (`scores.mmr`)."""

    name: str
    space: Space
    lambda_: float
    top_k: int
    score_field: str = "score"
    mmr_score_field: str = "scores.mmr"
    metric: Literal["cosine", "dot", "euclidean"] = "cosine"
    stage_id: str = "mmr"

    def apply(self, ctx: StepContext, candidates: list[Fused]) -> list[Fused]:
        if not candidates:
            return []
        ids = [c.id for c in candidates]
        stored = ctx.stores.vectors.fetch(self.space, ids, include_vectors=True)
        vectors = {doc_id: record.vector for doc_id, record in stored.items() if record.vector is not None}
        relevance = _scaled([_number(value_of(c, _path(self.score_field))) for c in candidates])
        remaining = list(range(len(candidates)))
        picked: list[int] = []
        values: dict[int, float] = {}
        while remaining and len(picked) < self.top_k:
            best, best_value = remaining[0], -math.inf
            for i in remaining:
                penalty = max((self._similarity(vectors, ids[i], ids[j]) for j in picked), default=0.0)
                value = self.lambda_ * relevance[i] - (1 - self.lambda_) * penalty
                if value > best_value:
                    best, best_value = i, value
            picked.append(best)
            values[best] = best_value
            remaining.remove(best)
        target = self.mmr_score_field.removeprefix("scores.")
        for i in picked:
            candidates[i].scores[target] = round(values[i], 6)
        ctx.metadata.update({"vector_index": self.space.index_name, "with_vectors": len(vectors)})
        return [candidates[i] for i in picked]

    def _similarity(self, vectors: Mapping[str, Sequence[float]], a: str, b: str) -> float:
        va, vb = vectors.get(a), vectors.get(b)
        if va is None or vb is None or len(va) != len(vb):
            return 0.0
        dot = sum(x * y for x, y in zip(va, vb, strict=True))
        if self.metric == "dot":
            return dot
        if self.metric == "euclidean":
            return 1.0 / (1.0 + math.sqrt(sum((x - y) ** 2 for x, y in zip(va, vb, strict=True))))
        norm = math.sqrt(sum(x * x for x in va)) * math.sqrt(sum(y * y for y in vb))
        return dot / norm if norm else 0.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _scaled(values: list[float | None]) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [0.0] * len(values)
    low, high = min(known), max(known)
    if high == low:
        return [1.0 if v is not None else 0.0 for v in values]
    return [(v - low) / (high - low) if v is not None else 0.0 for v in values]
