"""Evaluation for the mood/energy model: artist-disjoint folds and the metrics of its comparison table.

Folds are artist-disjoint: no artist is on both sides of a split. A model that has seen one of an artist's
tracks predicts the others far better than it predicts an unseen artist, which is what scoring new
listening asks of it. Tracks credit several artists ("A;B"), and collaborations chain artists together:
on the real Spotify file, connected groups would put 45k of 102k tracks in one group, which no fold can
hold. So each track's fold is its first-credited artist's, and a fold's training side leaves out every
track that credits any artist of its test side (featured artists included).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def artist_folds(artist_lists: Sequence[Sequence[str]], n_folds: int = 5,
                 seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) for each of `n_folds` folds. Every track is tested once, in its first-credited
    artist's fold; first artists are dealt largest first, each to the fold with the fewest tracks so far
    (ties in a seeded order), so the folds come out near equal even when an artist has hundreds of tracks.
    A fold's train rows share no artist with its test rows. Artist names are compared as given (callers
    fold them first); a track with no artist is an artist of its own."""
    primaries = [artists[0] if artists else f"\x00track {i}" for i, artists in enumerate(artist_lists)]
    names, first_of = np.unique(np.asarray(primaries, dtype=object), return_inverse=True)
    if len(names) < n_folds:
        raise ValueError(f"{len(names)} first-credited artists cannot fill {n_folds} folds")
    sizes = np.bincount(first_of, minlength=len(names))
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_artist = np.empty(len(names), dtype=np.int64)
    filled = np.zeros(n_folds, dtype=np.int64)
    for a in order:
        fold = int(np.argmin(filled))
        fold_of_artist[a] = fold
        filled[fold] += sizes[a]
    fold_of_row = fold_of_artist[first_of]
    tested_artists: list[set[str]] = [set() for _ in range(n_folds)]
    for i, artists in enumerate(artist_lists):
        tested_artists[fold_of_row[i]].update(artists)
    rows = np.arange(len(primaries))
    folds = []
    for k in range(n_folds):
        test = fold_of_row == k
        # a training track credits no artist of the test side, featured ones included
        shares = np.fromiter((not tested_artists[k].isdisjoint(artists) for artists in artist_lists), bool,
                             len(primaries))
        folds.append((rows[~test & ~shares], rows[test]))
    return folds


def track_artists(artists: Sequence[str]) -> list[list[str]]:
    """Each track's credited artists from "A;B" strings, case- and space-folded for comparison."""
    return [[" ".join(a.casefold().split()) for a in credit.split(";") if a.strip()] for credit in artists]


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


BASELINE_BOUNDS = ("over_genre_mean_bound", "over_constant_bound")


def baseline_ratio_bounds(truth: dict[str, np.ndarray], predictions: dict[str, np.ndarray],
                          artists: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per target, the model's out-of-fold RMSE over each baseline's, as the lower bound of a bootstrap over
    first-credited artists (sample_checks.grouped_bootstrap_ratio): what the blocking check compares with its
    limits, so that a small training set is judged on what it can show."""
    from ..sample_checks import grouped_bootstrap_ratio

    out = {}
    for target, y in truth.items():
        def ratio(baseline: str, y=y, target=target):
            return lambda rows: rmse(y[rows], predictions[target][rows]) / max(
                rmse(y[rows], predictions[f"{target}_{baseline}"][rows]), 1e-12)
        out[target] = {name: grouped_bootstrap_ratio(ratio(baseline), artists, limit=1.0).bound
                       for name, baseline in zip(BASELINE_BOUNDS, ("genre", "const"), strict=True)}
    return out
