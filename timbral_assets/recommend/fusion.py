"""Linear fusion of the single models' scores, and its offline tuning.

Each model's scores are standardised per user over the unseen catalog (mean 0, deviation 1), so that a weight
means the same whatever a model's scale; the hybrid score is the weighted sum. Weights are tuned by Optuna on a
validation split carved out of the training plays, by NDCG@10, never on the test side."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from .metrics import ndcg_at_k
from .models import top_k


def standardize(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """Per row: (score − mean) / deviation over the row's unseen items; seen items get −inf-safe 0."""
    scores = np.asarray(scores, dtype=np.float32)
    if seen.nnz == 0:  # nothing to leave out: plain row statistics, without the mask's extra passes
        centred = scores - scores.mean(axis=1, keepdims=True)
        deviation = centred.std(axis=1, keepdims=True)
        centred /= np.where(deviation > 0, deviation, 1.0)
        return centred
    mask = np.ones(scores.shape, dtype=bool)
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    mask[rows, seen.indices] = False
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    mean = np.where(mask, scores, 0).sum(axis=1, keepdims=True) / count
    centred = np.where(mask, scores - mean, 0)
    deviation = np.sqrt((centred ** 2).sum(axis=1, keepdims=True) / count)
    return (centred / np.where(deviation > 0, deviation, 1.0)).astype(np.float32)


def fuse(standardized: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    total = None
    for name, weight in weights.items():
        if weight == 0 or name not in standardized:
            continue
        part = weight * standardized[name]
        total = part if total is None else total + part
    if total is None:
        raise ValueError("every fusion weight is zero")
    return total


def tune_weights(standardized: Mapping[str, np.ndarray], seen: sp.csr_matrix, relevant: list[set[int]],
                 n_trials: int = 60, seed: int = 0, k: int = 10) -> tuple[dict[str, float], float]:
    """Optuna (TPE, seeded) over one weight in [0, 1] per model, maximising NDCG@k of the fused lists on the
    validation users. Returns the best weights (the largest scaled to 1) and their NDCG."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = sorted(standardized)

    def ndcg(weights: Mapping[str, float]) -> float:
        if not any(weights.values()):
            return 0.0
        return ndcg_at_k(list(top_k(fuse(standardized, weights), seen, k)), relevant, k)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    for name in names:  # each model alone first, so the hybrid starts from its best member
        study.enqueue_trial({n: float(n == name) for n in names})
    study.enqueue_trial(dict.fromkeys(names, 0.5))
    study.optimize(lambda trial: ndcg({n: trial.suggest_float(n, 0.0, 1.0) for n in names}), n_trials=n_trials)
    best = study.best_params
    top = max(best.values())
    return {n: round(best[n] / top, 4) for n in names}, float(study.best_value)
