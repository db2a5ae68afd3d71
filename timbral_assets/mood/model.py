"""The mood/energy model: energy and valence by XGBoost regression, the six mood labels by LightGBM, from
metadata features (features.py), and its artist-disjoint cross-validation against baselines.

Each mood label has its own binary LightGBM classifier and its own decision threshold, chosen on a held-out
fifth of the training artists (then the classifier is refit on all of them), since a rare label's best
threshold is well under 0.5. A track the model knows little of (no tags, no embedding, only a genre) gets
its genre's training means and label rates instead: `Predictions.low_confidence` marks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from .evaluation import grouped_folds, macro_f1, micro_f1, r2, rmse
from .features import MetadataFeaturizer, TrackMeta, with_embeddings
from .labels import MOOD_LABELS

TARGETS = ("energy", "valence")


@dataclass(frozen=True)
class ModelParams:
    n_estimators: int = 400
    learning_rate: float = 0.05
    max_depth: int = 6
    num_leaves: int = 63
    seed: int = 0
    n_jobs: int = 2


@dataclass
class Predictions:
    energy: np.ndarray
    valence: np.ndarray
    probabilities: np.ndarray  # tracks x MOOD_LABELS
    labels: np.ndarray  # tracks x MOOD_LABELS, the probabilities over each label's threshold
    low_confidence: np.ndarray  # the genre's prior, not the model


@dataclass
class GenrePrior:
    """Per genre: the training tracks' mean energy and valence and each label's rate; overall for the rest."""

    means: dict[str, np.ndarray] = field(default_factory=dict)  # genre -> [energy, valence, label rates ...]
    overall: np.ndarray = field(default_factory=lambda: np.zeros(2 + len(MOOD_LABELS)))

    @classmethod
    def fit(cls, genres: Sequence[str], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray) -> GenrePrior:
        values = np.column_stack([energy, valence, labels.astype(float)])
        by_genre: dict[str, list[int]] = {}
        for i, g in enumerate(genres):
            by_genre.setdefault(g, []).append(i)
        return cls({g: values[rows].mean(axis=0) for g, rows in by_genre.items()}, values.mean(axis=0))

    def of(self, genres: Sequence[str]) -> np.ndarray:
        return np.array([self.means.get(g, self.overall) for g in genres]).reshape(len(genres), -1)


def _knows_little(track: TrackMeta, has_embedding: bool) -> bool:
    return not track.tags and not has_embedding and not track.track_name and not track.artists


@dataclass
class MoodModel:
    featurizer: MetadataFeaturizer
    regressors: dict[str, xgb.XGBRegressor]
    classifiers: list[lgb.LGBMClassifier]
    thresholds: np.ndarray
    prior: GenrePrior
    embedding_dim: int = 0

    def features(self, tracks: Sequence[TrackMeta], embeddings: np.ndarray | None) -> sp.csr_matrix:
        matrix, columns = self.featurizer.transform(tracks)
        if self.embedding_dim:
            if embeddings is None:
                embeddings = np.zeros((len(tracks), self.embedding_dim), dtype=np.float32)
            matrix, columns = with_embeddings(matrix, columns, embeddings)
        return matrix

    @property
    def columns(self) -> list[str]:
        return self.featurizer.columns + [f"emb_{i}" for i in range(self.embedding_dim)]

    def predict(self, tracks: Sequence[TrackMeta], embeddings: np.ndarray | None = None) -> Predictions:
        matrix = self.features(tracks, embeddings)
        energy = np.clip(self.regressors["energy"].predict(matrix), 0.0, 1.0)
        valence = np.clip(self.regressors["valence"].predict(matrix), 0.0, 1.0)
        probabilities = np.column_stack([c.predict_proba(matrix)[:, 1] for c in self.classifiers])
        has_embedding = (np.abs(embeddings).sum(axis=1) > 0 if embeddings is not None
                         else np.zeros(len(tracks), dtype=bool))
        low = np.array([_knows_little(t, bool(e)) for t, e in zip(tracks, has_embedding, strict=True)], dtype=bool)
        if low.any():
            prior = self.prior.of([t.genre for t in tracks])
            energy[low], valence[low], probabilities[low] = prior[low, 0], prior[low, 1], prior[low, 2:]
        return Predictions(energy, valence, probabilities, probabilities >= self.thresholds, low)


def _best_threshold(truth: np.ndarray, probability: np.ndarray) -> float:
    """The threshold with the best F1 on held-out tracks (0.5 when the label never occurs there)."""
    if not truth.any():
        return 0.5
    best, best_f1 = 0.5, -1.0
    for threshold in np.arange(0.05, 0.96, 0.05):
        predicted = probability >= threshold
        tp = int((predicted & truth).sum())
        f1 = 2 * tp / (int(predicted.sum()) + int(truth.sum()))
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


def _regressor(params: ModelParams) -> xgb.XGBRegressor:
    return xgb.XGBRegressor(n_estimators=params.n_estimators, learning_rate=params.learning_rate,
                            max_depth=params.max_depth, subsample=0.8, colsample_bytree=0.8, tree_method="hist",
                            random_state=params.seed, n_jobs=params.n_jobs)


def _classifier(params: ModelParams) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=params.n_estimators, learning_rate=params.learning_rate,
                              num_leaves=params.num_leaves, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              random_state=params.seed, n_jobs=params.n_jobs, verbose=-1)


def train_mood_model(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray,
                     groups: np.ndarray, embeddings: np.ndarray | None = None,
                     params: ModelParams = ModelParams()) -> MoodModel:
    """Fit the featurizer, both regressors and the six classifiers with their thresholds. `groups` are the
    tracks' artist groups (evaluation.artist_groups): the thresholds are chosen on held-out artists."""
    energy, valence, labels = np.asarray(energy, float), np.asarray(valence, float), np.asarray(labels, bool)
    featurizer = MetadataFeaturizer().fit(tracks)
    model = MoodModel(featurizer, {}, [], np.full(len(MOOD_LABELS), 0.5), GenrePrior.fit(
        [t.genre for t in tracks], energy, valence, labels), 0 if embeddings is None else embeddings.shape[1])
    matrix = model.features(tracks, embeddings)
    for name, target in zip(TARGETS, (energy, valence), strict=True):
        model.regressors[name] = _regressor(params).fit(matrix, target)
    n_groups = len(np.unique(groups))
    held_out = grouped_folds(groups, 5, params.seed)[0] if n_groups >= 5 else None
    for k in range(len(MOOD_LABELS)):
        y = labels[:, k]
        if y.all() or not y.any():
            raise ValueError(f"the label {MOOD_LABELS[k]} is {'on' if y.all() else 'off'} for every training track")
        if held_out is not None and y[held_out[0]].any() and not y[held_out[0]].all():
            fit_rows, check_rows = held_out
            probe = _classifier(params).fit(matrix[fit_rows], y[fit_rows])
            model.thresholds[k] = _best_threshold(y[check_rows], probe.predict_proba(matrix[check_rows])[:, 1])
        model.classifiers.append(_classifier(params).fit(matrix, y))
    return model


@dataclass
class CrossValidation:
    """Out-of-fold results of the model and its baselines, and the folds' artist groups."""

    rows: list[dict]  # one per (target or moods, predictor): the comparison table
    folds: list[tuple[np.ndarray, np.ndarray]]
    energy_pred: np.ndarray
    valence_pred: np.ndarray

    def table_markdown(self) -> str:
        lines = ["| target | predictor | RMSE | R² | micro-F1 | macro-F1 |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            cells = [f"{r[k]:.4f}" if r.get(k) is not None else "" for k in ("rmse", "r2", "micro_f1", "macro_f1")]
            lines.append(f"| {r['target']} | {r['predictor']} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def cross_validate(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray,
                   groups: np.ndarray, embeddings: np.ndarray | None = None, n_folds: int = 5,
                   params: ModelParams = ModelParams()) -> CrossValidation:
    """Artist-disjoint k-fold: the model, a genre-mean and a constant predictor for energy and valence, and a
    per-label majority predictor for the moods, each scored on the same out-of-fold predictions."""
    energy, valence, labels = np.asarray(energy, float), np.asarray(valence, float), np.asarray(labels, bool)
    n = len(tracks)
    out = {name: np.zeros(n) for name in ("energy", "valence", "energy_genre", "valence_genre", "energy_const",
                                         "valence_const")}
    moods = np.zeros((n, len(MOOD_LABELS)), dtype=bool)
    majority = np.zeros((n, len(MOOD_LABELS)), dtype=bool)
    folds = grouped_folds(groups, n_folds, params.seed)
    genres = [t.genre for t in tracks]
    for train, test in folds:
        train_tracks = [tracks[i] for i in train]
        test_tracks = [tracks[i] for i in test]
        model = train_mood_model(train_tracks, energy[train], valence[train], labels[train], groups[train],
                                 None if embeddings is None else embeddings[train], params)
        predicted = model.predict(test_tracks, None if embeddings is None else embeddings[test])
        out["energy"][test], out["valence"][test], moods[test] = predicted.energy, predicted.valence, predicted.labels
        # the baselines read the training fold's genre means and overall means, which the model holds
        by_genre = model.prior.of([genres[i] for i in test])
        out["energy_genre"][test], out["valence_genre"][test] = by_genre[:, 0], by_genre[:, 1]
        out["energy_const"][test], out["valence_const"][test] = model.prior.overall[0], model.prior.overall[1]
        majority[test] = model.prior.overall[2:] >= 0.5
    rows = []
    for name, truth in (("energy", energy), ("valence", valence)):
        for predictor, key in (("model", name), ("genre mean", f"{name}_genre"), ("constant (training mean)", f"{name}_const")):
            rows.append({"target": name, "predictor": predictor, "rmse": rmse(truth, out[key]),
                         "r2": r2(truth, out[key])})
    for predictor, predicted in (("model", moods), ("majority", majority)):
        rows.append({"target": "moods", "predictor": predictor, "micro_f1": micro_f1(labels, predicted),
                     "macro_f1": macro_f1(labels, predicted)})
    return CrossValidation(rows, folds, out["energy"], out["valence"])
