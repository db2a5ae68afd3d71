"""Evaluation for the mood/energy model: artist-disjoint folds and the metrics of its comparison table.

Folds are grouped by artist, so that no artist is on both sides of a split: a model that has seen one of
an artist's tracks predicts the others far better than it predicts an unseen artist, which is what scoring
new listening asks of it. Tracks credit several artists ("A;B"), so tracks that share any artist form one
group (connected through shared artists), and groups, never tracks, are dealt to folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def artist_groups(artist_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """One group number per track: tracks that share an artist, directly or through other tracks, share a
    group. Artist names are compared as given (callers fold them first)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for artists in artist_lists:
        for artist in artists:
            parent.setdefault(artist, artist)
        for artist in artists[1:]:
            a, b = find(artists[0]), find(artist)
            if a != b:
                parent[max(a, b)] = min(a, b)
    numbers: dict[str, int] = {}
    out = np.empty(len(artist_lists), dtype=np.int64)
    for i, artists in enumerate(artist_lists):
        # a track with no artist is a group of its own
        root = find(artists[0]) if artists else f"\x00track {i}"
        out[i] = numbers.setdefault(root, len(numbers))
    return out


def grouped_folds(groups: np.ndarray, n_folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) for each of `n_folds` folds; every group's rows fall in one test fold. Groups
    are dealt largest first, each to the fold with the fewest rows so far (ties in a seeded order), so the
    folds come out near equal even when one artist has hundreds of tracks."""
    groups = np.asarray(groups)
    ids, sizes = np.unique(groups, return_counts=True)
    if len(ids) < n_folds:
        raise ValueError(f"{len(ids)} artist groups cannot fill {n_folds} folds")
    order = np.random.default_rng(seed).permutation(len(ids))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_group = np.empty(len(ids), dtype=np.int64)
    filled = np.zeros(n_folds, dtype=np.int64)
    for g in order:
        fold = int(np.argmin(filled))
        fold_of_group[g] = fold
        filled[fold] += sizes[g]
    fold_of_row = fold_of_group[np.searchsorted(ids, groups)]
    rows = np.arange(len(groups))
    return [(rows[fold_of_row != k], rows[fold_of_row == k]) for k in range(n_folds)]


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def r2(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """1 - residual / total sum of squares; 0 for the mean itself, negative for worse than the mean."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    total = float(np.sum((t - t.mean()) ** 2))
    if total == 0.0:
        raise ValueError("R² is undefined when every true value is the same")
    return 1.0 - float(np.sum((t - p) ** 2)) / total


def _counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    if t.shape != p.shape or t.ndim != 2:
        raise ValueError(f"label matrices must be rows x labels of one shape, got {t.shape} and {p.shape}")
    return (t & p).sum(axis=0), (~t & p).sum(axis=0), (t & ~p).sum(axis=0)


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 over every (track, label) decision pooled: 2 TP / (2 TP + FP + FN)."""
    tp, fp, fn = (int(c.sum()) for c in _counts(y_true, y_pred))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The mean of each label's F1. A label that is neither true nor predicted anywhere says nothing and is
    left out of the mean (scikit-learn would count it as 0)."""
    tp, fp, fn = _counts(y_true, y_pred)
    seen = (tp + fp + fn) > 0
    if not seen.any():
        return 1.0
    return float(np.mean(2 * tp[seen] / (2 * tp[seen] + fp[seen] + fn[seen])))
