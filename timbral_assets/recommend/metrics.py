"""Offline ranking metrics over top-k lists, each user's list judged against their held-out items.

All functions take `recommended` (one ranked list of item indices per user) and `relevant` (one set of held-out
item indices per user), aligned by position. Users with nothing held out are skipped by the averages."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _pairs(recommended: Sequence[Sequence[int]], relevant: Sequence[set[int]]):
    if len(recommended) != len(relevant):
        raise ValueError(f"{len(recommended)} lists for {len(relevant)} users")
    return [(list(r), s) for r, s in zip(recommended, relevant, strict=True) if s]


def precision_at_k(recommended, relevant, k: int) -> float:
    pairs = _pairs(recommended, relevant)
    return float(np.mean([sum(i in s for i in r[:k]) / k for r, s in pairs])) if pairs else 0.0


def recall_at_k(recommended, relevant, k: int) -> float:
    pairs = _pairs(recommended, relevant)
    return float(np.mean([sum(i in s for i in r[:k]) / len(s) for r, s in pairs])) if pairs else 0.0


def ndcg_by_user(recommended, relevant, k: int) -> np.ndarray:
    """Binary-relevance NDCG per user with something held out: DCG = sum 1/log2(rank + 1) over hits, divided
    by the DCG of an ideal list."""
    values = []
    for r, s in _pairs(recommended, relevant):
        dcg = sum(1.0 / math.log2(rank + 2) for rank, i in enumerate(r[:k]) if i in s)
        ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(s), k)))
        values.append(dcg / ideal)
    return np.array(values, dtype=float)


def ndcg_at_k(recommended, relevant, k: int) -> float:
    values = ndcg_by_user(recommended, relevant, k)
    return float(values.mean()) if len(values) else 0.0


def map_at_k(recommended, relevant, k: int) -> float:
    """Mean average precision: the precision at each hit's rank, summed, over min(|relevant|, k)."""
    pairs = _pairs(recommended, relevant)
    if not pairs:
        return 0.0
    values = []
    for r, s in pairs:
        hits, total = 0, 0.0
        for rank, i in enumerate(r[:k]):
            if i in s:
                hits += 1
                total += hits / (rank + 1)
        values.append(total / min(len(s), k))
    return float(np.mean(values))


def catalog_coverage(recommended, n_items: int, k: int) -> float:
    """Share of the catalog that appears in at least one top-k list."""
    shown = {i for r in recommended for i in list(r)[:k]}
    return len(shown) / n_items if n_items else 0.0


def intra_list_diversity(recommended, item_vectors: np.ndarray, k: int) -> float:
    """Mean pairwise cosine distance within each top-k list, averaged over lists of two or more items."""
    norms = np.linalg.norm(item_vectors, axis=1, keepdims=True)
    unit = item_vectors / np.where(norms > 0, norms, 1.0)
    values = []
    for r in recommended:
        items = list(r)[:k]
        if len(items) < 2:
            continue
        v = unit[items]
        sim = v @ v.T
        n = len(items)
        values.append(1.0 - (sim.sum() - np.trace(sim)) / (n * (n - 1)))
    return float(np.mean(values)) if values else 0.0


def popularity_bias(recommended, item_popularity: np.ndarray, k: int) -> float:
    """Mean popularity percentile (0 = least, 1 = most played item) of the recommended items: 0.5 is what a
    uniform pick over the catalog gives; near 1 means the lists repeat the charts."""
    order = np.argsort(np.argsort(item_popularity, kind="stable"), kind="stable")
    percentile = order / max(len(item_popularity) - 1, 1)
    shown = [percentile[i] for r in recommended for i in list(r)[:k]]
    return float(np.mean(shown)) if shown else 0.0


def ranking_report(recommended, relevant, n_items: int, item_popularity: np.ndarray,
                   item_vectors: np.ndarray | None = None) -> dict[str, float]:
    """The issue's metric set for one model's lists (each list at least 50 long for Recall@50)."""
    report = {"precision@10": precision_at_k(recommended, relevant, 10),
              "recall@50": recall_at_k(recommended, relevant, 50),
              "ndcg@10": ndcg_at_k(recommended, relevant, 10),
              "map@10": map_at_k(recommended, relevant, 10),
              "coverage@10": catalog_coverage(recommended, n_items, 10),
              "popularity_bias@10": popularity_bias(recommended, item_popularity, 10)}
    if item_vectors is not None:
        report["diversity@10"] = intra_list_diversity(recommended, item_vectors, 10)
    return report
