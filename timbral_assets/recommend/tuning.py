"""The project's own tuning: each model's settings, then the fusion weights, by NDCG@10 on a validation split
carved out of the training side (never the test side). bench/recommend.py --tune runs it; its results are the
code's defaults."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .fusion import standardize, tune_weights
from .metrics import ndcg_at_k
from .models import ALS, EASE, RP3beta, top_k


def validation_ndcg(model, train: sp.csr_matrix, held: list[set[int]], k: int = 10, max_users: int = 20_000,
                    seed: int = 0) -> float:
    """NDCG@k of `model` fitted on `train`, over the users with held-out items (a seeded sample of `max_users`),
    scored a batch at a time."""
    from .evaluation import user_batch

    users = np.array([u for u, items in enumerate(held) if items], dtype=np.int64)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))
    model.fit(train)
    step = user_batch(train.shape[1])
    ranked = [row for start in range(0, len(users), step)
              for row in top_k(model.scores(users[start:start + step]), train[users[start:start + step]], k)]
    return ndcg_at_k(ranked, [held[u] for u in users], k)


def tune_als(train, held, n_trials: int = 25, seed: int = 0, log: Callable[[str], None] = print) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        params = {"factors": trial.suggest_categorical("factors", [32, 64, 128]),
                  "regularization": trial.suggest_float("regularization", 0.001, 20.0, log=True),
                  "alpha": trial.suggest_float("alpha", 0.1, 20.0, log=True),
                  "iterations": trial.suggest_int("iterations", 5, 30)}
        value = validation_ndcg(ALS(**params, seed=seed), train, held)
        log(f"  ALS {params}: NDCG@10 {value:.4f}")
        return value

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({"factors": 64, "regularization": 0.01, "alpha": 1.0, "iterations": 15})
    study.optimize(objective, n_trials=n_trials)
    return {**study.best_params, "ndcg@10": study.best_value}


def tune_grid(make: Callable[..., object], grid: list[dict], train, held, log: Callable[[str], None] = print) -> dict:
    best, best_value = grid[0], -1.0
    for params in grid:
        value = validation_ndcg(make(**params), train, held)
        log(f"  {make.__name__} {params}: NDCG@10 {value:.4f}")
        if value > best_value:
            best, best_value = params, value
    return {**best, "ndcg@10": best_value}


def tune_all(train, held, item_tags=None, als_trials: int = 25, weight_trials: int = 60,
             log: Callable[[str], None] = print) -> dict:
    from .batch import default_components

    result = {"als": tune_als(train, held, als_trials, log=log),
              "ease": tune_grid(EASE, [{"l2": v} for v in (250.0, 500.0, 1000.0, 2000.0, 4000.0)], train, held, log),
              "rp3beta": tune_grid(RP3beta, [{"alpha": a, "beta": b} for a in (0.8, 1.0) for b in (0.2, 0.3, 0.4, 0.5)],
                                   train, held, log)}
    components = default_components(item_tags)
    components["als"] = lambda: ALS(**{k: v for k, v in result["als"].items() if k != "ndcg@10"})
    components["ease"] = lambda: EASE(l2=result["ease"]["l2"])
    components["rp3beta"] = lambda: RP3beta(alpha=result["rp3beta"]["alpha"], beta=result["rp3beta"]["beta"])
    users = np.array([u for u, items in enumerate(held) if items], dtype=np.int64)
    standardized = {name: standardize(factory().fit(train).scores(users), train[users])
                    for name, factory in components.items()}
    weights, value = tune_weights(standardized, train[users], [held[u] for u in users], n_trials=weight_trials)
    log(f"  fusion weights {weights}: NDCG@10 {value:.4f}")
    result["weights"] = {**weights, "ndcg@10": value}
    return result
