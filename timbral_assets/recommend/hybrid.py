"""The hybrid recommender: single models fused linearly by tuned weights, then (by default) re-ranked by a
LightGBM LambdaMART model over the fused top candidates.

The re-ranker's features are each model's standardised score for the candidate, the fused score and rank,
the item's log popularity and the user's history length. It learns from a validation split carved out of the
training plays (the models fitted without it, the held-out items as labels); the models are then refitted on
all the training plays to score the lists. Its settings are fixed defaults: nothing is tuned on the input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..threads import cpu_threads
from .evaluation import user_batch
from .fusion import fuse, standardize
from .interactions import split_per_user
from .models import top_k

# chosen by bench/recommend.py's tuning (Optuna, NDCG@10 on a validation split of hetrec lastfm-2k's training side)
DEFAULT_WEIGHTS = {"als": 0.5311, "ease": 0.1717, "item_knn": 0.0094, "popularity": 0.0025, "rp3beta": 0.085,
                   "tag_content": 1.0}
# ALS by the same tuning (30 Optuna trials); out of the box (regularization 0.01, alpha 1, 15 iterations) scores
# 0.160 there against 0.170
TUNED_ALS = {"factors": 64, "regularization": 12.39, "alpha": 1.067, "iterations": 18}


@dataclass
class RankerParams:
    candidates: int = 150
    trees: int = 300
    learning_rate: float = 0.05
    leaves: int = 31
    min_child_samples: int = 50
    validation_share: float = 0.2
    max_users: int = 5000  # a seeded sample of the validation users teaches the re-ranker
    seed: int = 0


@dataclass
class HybridRecommender:
    """`components` maps a model name to a factory of an unfitted model; `weights` gives each its fusion weight."""

    components: dict[str, Callable[[], object]]
    weights: dict[str, float]
    ranker: RankerParams | None = field(default_factory=RankerParams)

    def fit(self, train: sp.csr_matrix, progress: Callable[[str], None] = lambda _: None) -> HybridRecommender:
        self.train = train.tocsr()
        self.popularity = np.log1p(np.asarray((self.train > 0).sum(axis=0)).ravel()).astype(np.float32)
        self.ranker_model = None
        if self.ranker is not None:
            self.ranker_model = self._fit_ranker(progress)
        self.models = {}
        for name, factory in self.components.items():
            progress(f"fitting {name}")
            self.models[name] = factory().fit(self.train)
        return self

    def _fit_ranker(self, progress):
        import lightgbm as lgb

        p = self.ranker
        inner, held = split_per_user(self.train, p.validation_share, seed=p.seed + 101)
        users = np.array([u for u, items in enumerate(held) if items], dtype=np.int64)
        if len(users) < 10:
            progress("too few users to learn a re-ranker: fused scores only")
            return None
        models = {}
        for name, factory in self.components.items():
            progress(f"fitting {name} on the re-ranker's validation split")
            models[name] = factory().fit(inner)
        if len(users) > p.max_users:
            users = np.sort(np.random.default_rng(p.seed).choice(users, size=p.max_users, replace=False))
        step = user_batch(inner.shape[1])
        parts = [self._candidate_features(models, inner, users[start:start + step])
                 for start in range(0, len(users), step)]
        features = np.vstack([f for f, _ in parts])
        candidates = np.vstack([c for _, c in parts])
        labels = np.array([[int(i in held[u]) for i in row] for u, row in zip(users, candidates, strict=True)]).ravel()
        if labels.sum() == 0:
            return None
        progress(f"learning the re-ranker on {len(users):,} users × {candidates.shape[1]} candidates")
        ranker = lgb.LGBMRanker(n_estimators=p.trees, learning_rate=p.learning_rate, num_leaves=p.leaves,
                                min_child_samples=p.min_child_samples, subsample=0.8, subsample_freq=1,
                                colsample_bytree=0.8, random_state=p.seed, verbose=-1, n_jobs=cpu_threads())
        ranker.fit(features, labels, group=[candidates.shape[1]] * len(users))
        return ranker

    def feature_names(self) -> list[str]:
        return [*sorted(self.components), "fused", "fused_rank", "item_log_popularity", "user_history"]

    def _candidate_features(self, models, train, users, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
        seen = train[users]
        standardized = {name: standardize(m.scores(users), seen) for name, m in models.items()}
        fused = fuse(standardized, self.weights)
        n = min(max(self.ranker.candidates, k), train.shape[1])
        candidates = top_k(fused, seen, n)
        safe = np.where(candidates >= 0, candidates, 0)
        columns = [np.take_along_axis(standardized[name], safe, 1) for name in sorted(standardized)]
        columns += [np.take_along_axis(fused, safe, 1), np.tile(np.arange(n, dtype=np.float32), (len(users), 1)),
                    self._popularity_of(train)[safe],
                    np.tile(np.diff(seen.indptr).astype(np.float32)[:, None], (1, n))]
        return np.stack(columns, axis=2).reshape(-1, len(columns)), candidates

    @staticmethod
    def _popularity_of(train):
        return np.log1p(np.asarray((train > 0).sum(axis=0)).ravel()).astype(np.float32)

    def component_scores(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Each fitted model's standardised scores for `users` (rows of the training matrix)."""
        seen = self.train[users]
        return {name: standardize(m.scores(users), seen) for name, m in self.models.items()}

    def recommend(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items and scores per user (training items excluded, -1 padding when the catalog runs out).
        Scores are the re-ranker's (or the fused score) and only order a user's own list."""
        users = np.asarray(users, dtype=np.int64)
        items_out = np.full((len(users), k), -1, dtype=np.int64)
        scores_out = np.full((len(users), k), np.nan, dtype=np.float32)
        step = user_batch(self.train.shape[1])
        for start in range(0, len(users), step):
            batch = users[start:start + step]
            if self.ranker_model is None:
                seen = self.train[batch]
                fused = fuse(self.component_scores(batch), self.weights)
                best = top_k(fused, seen, k)
                values = np.take_along_axis(fused, np.where(best >= 0, best, 0), 1)
            else:
                features, candidates = self._candidate_features(self.models, self.train, batch, k)
                predicted = self.ranker_model.predict(features).reshape(candidates.shape)
                predicted[candidates < 0] = -np.inf
                order = np.argsort(-predicted, axis=1, kind="stable")[:, :k]
                best = np.take_along_axis(candidates, order, 1)
                values = np.take_along_axis(predicted, order, 1)
            width = best.shape[1]
            items_out[start:start + len(batch), :width] = best
            scores_out[start:start + len(batch), :width] = np.where(best >= 0, values, np.nan)
        return items_out, scores_out
