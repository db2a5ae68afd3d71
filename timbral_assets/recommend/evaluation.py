"""Offline evaluation: fitted models side by side on one split, full ranking, training items excluded."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

from .fusion import fuse, standardize
from .metrics import ndcg_by_user, ranking_report
from .models import Recommender, top_k

LIST_LENGTH = 50
SCORE_BUDGET = 20_000_000  # scores held at once per model (users × items): bounds memory on a large catalog


def user_batch(n_items: int, budget: int = SCORE_BUDGET) -> int:
    """How many users to score at once so that one dense score block stays near `budget` floats."""
    return max(16, min(4096, budget // max(n_items, 1)))


def evaluated_users(held: list[set[int]], train: sp.csr_matrix) -> np.ndarray:
    """Users with something held out and something to learn from."""
    history = np.diff(train.indptr)
    return np.array([u for u, items in enumerate(held) if items and history[u] > 0], dtype=np.int64)


def evaluate(train: sp.csr_matrix, held: list[set[int]], models: Mapping[str, Recommender],
             hybrid_weights: Mapping[str, float] | None = None, item_vectors: np.ndarray | None = None,
             max_users: int = 20_000, seed: int = 0, progress: Callable[[str], None] = lambda _: None,
             ndcg_per_user: dict[str, np.ndarray] | None = None) -> list[dict]:
    """One row per fitted model (and `hybrid`, their fusion by `hybrid_weights`): the metric set of
    metrics.ranking_report over the users with held-out items (a seeded sample of `max_users` of them when
    there are more). `ndcg_per_user`, when given, receives each model's NDCG@10 per evaluated user, the users
    in one order for every model (for paired comparisons)."""
    users = evaluated_users(held, train)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))
    batch = user_batch(train.shape[1])
    popularity = np.asarray((train > 0).sum(axis=0)).ravel()
    lists: dict[str, list[np.ndarray]] = {name: [] for name in models}
    if hybrid_weights:
        lists["hybrid"] = []
    for start in range(0, len(users), batch):
        chunk = users[start:start + batch]
        seen = train[chunk]
        standardized = {}
        for name, model in models.items():
            scores = model.scores(chunk)
            lists[name].append(top_k(scores, seen, LIST_LENGTH))
            if hybrid_weights and name in hybrid_weights:
                standardized[name] = standardize(scores, seen)
        if hybrid_weights:
            lists["hybrid"].append(top_k(fuse(standardized, hybrid_weights), seen, LIST_LENGTH))
        progress(f"scored {min(start + batch, len(users)):,} of {len(users):,} users")
    relevant = [held[u] for u in users]
    rows = []
    for name, parts in lists.items():
        ranked = [[i for i in row if i >= 0] for row in np.vstack(parts)] if parts else []
        report = ranking_report(ranked, relevant, train.shape[1], popularity, item_vectors)
        if ndcg_per_user is not None:
            ndcg_per_user[name] = ndcg_by_user(ranked, relevant, 10)
        rows.append({"model": name, "users": len(users), **{k: round(v, 6) for k, v in report.items()}})
    return rows


def table_markdown(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k not in ("model", "protocol")] if rows else []
    lines = ["| protocol | model | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for r in rows:
        values = [f"{r[k]:.4f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys]
        lines.append(f"| {r.get('protocol', '')} | {r['model']} | " + " | ".join(values) + " |")
    return "\n".join(lines)
