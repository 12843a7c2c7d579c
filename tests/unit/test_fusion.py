"""Fusion arithmetic (api.md: rrf is Σ weight/(60 + rank); scores are higher-is-better)."""

from __future__ import annotations

import pytest

from stratus.ports import ScoredRecord
from stratus.services.fusion import RankedList, fuse


def _ranked(index: str, weight: float, *pairs: tuple[str, float]) -> RankedList:
    return RankedList(index, weight, [ScoredRecord(doc_id, score, {}) for doc_id, score in pairs])


def test_given_one_query_when_fused_then_its_own_similarity_is_kept() -> None:
    fused = fuse([_ranked("a", 3.0, ("x", 0.9), ("y", 0.5))], "rrf", 10)
    assert [(f.id, f.score) for f in fused] == [("x", 0.9), ("y", 0.5)]


def test_given_two_queries_when_rrf_then_score_is_sum_of_weight_over_60_plus_rank() -> None:
    lists = [_ranked("a", 1.0, ("x", 0.9), ("y", 0.8)), _ranked("b", 2.0, ("y", 0.7), ("z", 0.1))]
    fused = {f.id: f for f in fuse(lists, "rrf", 10)}
    assert fused["y"].score == pytest.approx(1 / 62 + 2 / 61)
    assert fused["x"].score == pytest.approx(1 / 61)
    assert fused["z"].score == pytest.approx(2 / 62)
    assert fused["y"].scores == {"a": 0.8, "b": 0.7}
    assert [f.id for f in fuse(lists, "rrf", 10)] == ["y", "z", "x"]


def test_given_two_queries_when_weighted_then_missing_documents_contribute_zero() -> None:
    lists = [_ranked("a", 1.0, ("x", 0.9)), _ranked("b", 3.0, ("x", 0.5), ("y", 1.0))]
    fused = {f.id: f.score for f in fuse(lists, "weighted", 10)}
    assert fused["x"] == pytest.approx((0.9 + 3 * 0.5) / 4)
    assert fused["y"] == pytest.approx(3 * 1.0 / 4)


def test_given_two_queries_when_max_then_best_weighted_similarity_wins() -> None:
    lists = [_ranked("a", 1.0, ("x", 0.9), ("y", 0.2)), _ranked("b", 0.5, ("y", 0.8))]
    fused = fuse(lists, "max", 10)
    assert [(f.id, round(f.score, 6)) for f in fused] == [("x", 0.9), ("y", 0.4)]


def test_given_many_results_when_fused_then_top_k_is_applied_after_fusion() -> None:
    lists = [_ranked("a", 1.0, *[(f"d{i}", 1 - i / 100) for i in range(20)]), _ranked("b", 1.0, ("d19", 1.0))]
    fused = fuse(lists, "rrf", 3)
    assert len(fused) == 3
    assert fused[0].id == "d19"
