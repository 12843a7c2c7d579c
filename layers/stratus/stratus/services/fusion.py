"""Fusing the ranked lists of several queries into one (api.md: `rrf`, `weighted`, `max`; and
`dbsf`, which retriever stages may ask for)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from stratus.ports.vectors import ScoredRecord

RRF_K = 60


@dataclass
class RankedList:
    index_name: str
    weight: float
    records: list[ScoredRecord]  # best first


@dataclass
class Fused:
    id: str
    score: float
    scores: dict[str, float]  # per vector index: the best similarity the document had there
    record: ScoredRecord


def fuse(lists: Sequence[RankedList], method: str, top_k: int) -> list[Fused]:
    """One list keeps its own similarity. Several are fused:
    - rrf: Σ weight / (60 + rank), rank starting at 1 (Cormack et al.; Mixpeek's default);
    - weighted: Σ weight · similarity / Σ weight, a document missing from a list adds 0;
    - max: the best weight · similarity over the lists;
    - dbsf: Σ weight · normalised similarity, each list's similarities scaled to [0, 1] between
      its mean ± 3 standard deviations (distribution-based score fusion, Qdrant's)."""
    fused: dict[str, Fused] = {}
    scaled = [_dbsf_scale(ranked) for ranked in lists] if method == "dbsf" and len(lists) > 1 else []
    total_weight = sum(ranked.weight for ranked in lists) or 1.0
    for position, ranked in enumerate(lists):
        for rank, record in enumerate(ranked.records, start=1):
            entry = fused.get(record.id)
            if entry is None:
                entry = fused[record.id] = Fused(
                    record.id, 0.0 if method != "max" else float("-inf"), {}, record
                )
            best = entry.scores.get(ranked.index_name)
            entry.scores[ranked.index_name] = record.score if best is None else max(best, record.score)
            if entry.record.vector is None and record.vector is not None:
                entry.record = record
            if len(lists) == 1:
                entry.score = record.score
            elif method == "rrf":
                entry.score += ranked.weight / (RRF_K + rank)
            elif method == "weighted":
                entry.score += ranked.weight * record.score / total_weight
            elif method == "dbsf":
                entry.score += ranked.weight * scaled[position][rank - 1]
            else:
                entry.score = max(entry.score, ranked.weight * record.score)
    ordered = sorted(fused.values(), key=lambda item: (-item.score, item.id))
    return ordered[:top_k]


def _dbsf_scale(ranked: RankedList) -> list[float]:
    scores = [record.score for record in ranked.records]
    if not scores:
        return []
    mean = sum(scores) / len(scores)
    spread = math.sqrt(sum((score - mean) ** 2 for score in scores) / len(scores))
    if spread == 0:
        return [0.5] * len(scores)
    low, high = mean - 3 * spread, mean + 3 * spread
    return [min(1.0, max(0.0, (score - low) / (high - low))) for score in scores]
