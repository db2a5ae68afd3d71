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
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from ..threads import cpu_threads
from .evaluation import artist_folds, macro_f1, micro_f1, r2, rmse, track_artists
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
    n_jobs: int = field(default_factory=cpu_threads)
    # the text embedding enters as its top principal components: LightGBM over 384 dense columns took
    # ~5 s per 100 trees on 2,600 tracks here, and a training fits 12 classifiers
    embedding_components: int = 32


@dataclass
class Predictions:
    energy: np.ndarray
    valence: np.ndarray
    probabilities: np.ndarray  # tracks x MOOD_LABELS
    labels: np.ndarray  # tracks x MOOD_LABELS, the probabilities over each label's threshold
    low_confidence: np.ndarray  # the genre's prior, not the model

    @property
    def confidence(self) -> np.ndarray:
        """0-1 per track: how far the label probabilities are from a coin toss, averaged over the labels."""
        return np.abs(self.probabilities - 0.5).mean(axis=1) * 2


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


def knows_little(track: TrackMeta) -> bool:
    """Little to go on: no Spotify metadata (popularity unknown) and no tag beyond the genre. The model was
    trained on Spotify tracks, which all have both; for such a track the genre's prior is the honest guess."""
    return track.popularity is None and not any(t and t.lower() != track.genre.lower() for t in track.tags)


@dataclass
class MoodModel:
    featurizer: MetadataFeaturizer
    regressors: dict[str, xgb.XGBRegressor]
    classifiers: list[lgb.LGBMClassifier]
    thresholds: np.ndarray
    prior: GenrePrior
    embedding_dim: int = 0
    encoder_model: str | None = None  # the sentence encoder behind the emb_* columns
    # the embedding's principal axes (components x dim) and mean, fitted on the training tracks
    projection: tuple[np.ndarray, np.ndarray] | None = None
    trees: dict[str, int] = field(default_factory=dict)  # per target and label, chosen by early stopping

    def save(self, path: Path) -> None:
        joblib.dump(self, path, compress=3)

    @staticmethod
    def load(path: Path) -> MoodModel:
        model = joblib.load(path)
        if not isinstance(model, MoodModel):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a MoodModel")
        return model

    def feature_importances(self, top: int = 25) -> list[dict]:
        """The columns the models lean on most: XGBoost gain for energy and valence, LightGBM split gain
        summed over the mood classifiers, each normalised to sum to 1."""
        columns = self.columns
        out = []
        for name, regressor in self.regressors.items():
            gains = regressor.get_booster().get_score(importance_type="total_gain")
            total = sum(gains.values()) or 1.0
            ranked = sorted(((columns[int(k[1:])], v / total) for k, v in gains.items()), key=lambda kv: -kv[1])
            out += [{"model": name, "feature": f, "importance": round(v, 5)} for f, v in ranked[:top]]
        gains = sum(c.booster_.feature_importance(importance_type="gain") for c in self.classifiers)
        total = float(np.sum(gains)) or 1.0
        order = np.argsort(-gains)[:top]
        out += [{"model": "moods", "feature": columns[i], "importance": round(float(gains[i]) / total, 5)}
                for i in order if gains[i] > 0]
        return out

    def features(self, tracks: Sequence[TrackMeta], embeddings: np.ndarray | None) -> sp.csr_matrix:
        matrix, columns = self.featurizer.transform(tracks)
        if self.embedding_dim:
            if embeddings is None:
                embeddings = np.zeros((len(tracks), self.embedding_dim), dtype=np.float32)
            if embeddings.shape[1] != self.embedding_dim:
                raise ValueError(f"embeddings of {embeddings.shape[1]} dimensions for a model of {self.embedding_dim}")
            components, mean = self.projection
            matrix, columns = with_embeddings(matrix, columns, (embeddings - mean) @ components.T)
        return matrix

    @property
    def columns(self) -> list[str]:
        n = 0 if self.projection is None else self.projection[0].shape[0]
        return self.featurizer.columns + [f"emb_{i}" for i in range(n)]

    def predict(self, tracks: Sequence[TrackMeta], embeddings: np.ndarray | None = None) -> Predictions:
        matrix = self.features(tracks, embeddings)
        prior = self.prior.of([t.genre for t in tracks])
        energy = np.clip(self.regressors["energy"].predict(matrix, base_margin=prior[:, 0]), 0.0, 1.0)
        valence = np.clip(self.regressors["valence"].predict(matrix, base_margin=prior[:, 1]), 0.0, 1.0)
        probabilities = np.column_stack([_sigmoid(c.predict(matrix, raw_score=True) + _logit(prior[:, 2 + k]))
                                         for k, c in enumerate(self.classifiers)])
        low = np.array([knows_little(t) for t in tracks], dtype=bool)
        if low.any():
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


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 0.01, 0.99)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


EARLY_STOPPING_ROUNDS = 30


def _checkpoints(n_estimators: int) -> list[int]:
    """Tree counts to compare on held-out artists: 10, 20, 40 ... doubling, and the maximum."""
    points, n = [], 10
    while n < n_estimators:
        points.append(n)
        n *= 2
    return [*points, n_estimators]


def _regressor(params: ModelParams, n_estimators: int | None = None) -> xgb.XGBRegressor:
    return xgb.XGBRegressor(n_estimators=n_estimators or params.n_estimators, learning_rate=params.learning_rate,
                            max_depth=params.max_depth, subsample=0.8, colsample_bytree=0.8, tree_method="hist",
                            min_child_weight=10, reg_lambda=5.0, random_state=params.seed, n_jobs=params.n_jobs)


def _classifier(params: ModelParams, n_estimators: int | None = None) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=n_estimators or params.n_estimators, learning_rate=params.learning_rate,
                              num_leaves=params.num_leaves, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              min_child_samples=20, reg_lambda=5.0, random_state=params.seed, n_jobs=params.n_jobs,
                              verbose=-1)


@dataclass(frozen=True)
class Tuning:
    """What held-out artists choose for a training set: the tree count of each regressor and classifier, and
    each label's decision threshold. Chosen once per training input (`choose_tuning`) and reused by the
    cross-validation's folds and the final model, rather than searched again in every fold."""

    trees: dict[str, int]
    thresholds: tuple[float, ...]


def _base_scores(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray):
    prior = GenrePrior.fit([t.genre for t in tracks], energy, valence, labels)
    return prior, prior.of([t.genre for t in tracks])


def _fitted_projection(embeddings: np.ndarray | None, params: ModelParams):
    if embeddings is None:
        return None
    from sklearn.decomposition import PCA

    k = max(1, min(params.embedding_components, embeddings.shape[0], embeddings.shape[1]))
    pca = PCA(n_components=k, random_state=params.seed).fit(embeddings)
    return pca.components_.astype(np.float32), pca.mean_.astype(np.float32)


def _empty_model(tracks, energy, valence, labels, embeddings, params, encoder_model) -> MoodModel:
    model = MoodModel(MetadataFeaturizer().fit(tracks), {}, [], np.full(len(MOOD_LABELS), 0.5),
                      _base_scores(tracks, energy, valence, labels)[0],
                      0 if embeddings is None else embeddings.shape[1],
                      encoder_model if embeddings is not None else None)
    model.projection = _fitted_projection(embeddings, params)
    return model


def _as_arrays(energy, valence, labels):
    return np.asarray(energy, float), np.asarray(valence, float), np.asarray(labels, bool)


def choose_tuning(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray,
                  embeddings: np.ndarray | None = None, params: ModelParams = ModelParams()) -> Tuning:
    """Tree counts and thresholds from a fifth of the artists held out (evaluation.artist_folds): each model is
    fit on the rest with the most trees, and the count with the least held-out error among a few checkpoints is
    kept; a label's threshold is the one with the best held-out F1. Too few artists to hold any out: the most
    trees and 0.5."""
    energy, valence, labels = _as_arrays(energy, valence, labels)
    trees = {name: params.n_estimators for name in (*TARGETS, *MOOD_LABELS)}
    thresholds = [0.5] * len(MOOD_LABELS)
    artists = track_artists([t.artists for t in tracks])
    if len({a[0] for a in artists if a}) < 5:
        return Tuning(trees, tuple(thresholds))
    fit, check = artist_folds(artists, 5, params.seed)[0]
    fit_tracks = [tracks[i] for i in fit]
    # the held-out artists are scored by a model of the fitting artists alone: featurizer, projection, prior
    probe_model = _empty_model(fit_tracks, energy[fit], valence[fit], labels[fit],
                               None if embeddings is None else embeddings[fit], params, None)
    fit_matrix = probe_model.features(fit_tracks, None if embeddings is None else embeddings[fit])
    check_matrix = probe_model.features([tracks[i] for i in check], None if embeddings is None else embeddings[check])
    genres = [t.genre for t in tracks]
    fit_base = probe_model.prior.of([genres[i] for i in fit])
    check_base = probe_model.prior.of([genres[i] for i in check])
    for j, (name, target) in enumerate(zip(TARGETS, (energy, valence), strict=True)):
        # the tree count with the least held-out error among a few checkpoints: XGBoost's own early stopping
        # evaluates the held-out set every round, which took most of a training here
        probe = _regressor(params).fit(fit_matrix, target[fit], base_margin=fit_base[:, j])
        errors = {n: rmse(target[check], probe.predict(check_matrix, base_margin=check_base[:, j],
                                                       iteration_range=(0, n)))
                  for n in _checkpoints(params.n_estimators)}
        trees[name] = min(errors, key=lambda n: (errors[n], n))
    for k, label in enumerate(MOOD_LABELS):
        y = labels[:, k]
        if not (y[fit].any() and not y[fit].all() and y[check].any()):
            continue
        probe = _classifier(params).fit(
            fit_matrix, y[fit], init_score=_logit(fit_base[:, 2 + k]), eval_X=(check_matrix,), eval_y=(y[check],),
            eval_init_score=[_logit(check_base[:, 2 + k])],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
        trees[label] = max(probe.best_iteration_ or params.n_estimators, 1)
        held_out = _sigmoid(probe.predict(check_matrix, raw_score=True, num_iteration=trees[label])
                            + _logit(check_base[:, 2 + k]))
        thresholds[k] = _best_threshold(y[check], held_out)
    return Tuning(trees, tuple(thresholds))


def train_mood_model(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray,
                     embeddings: np.ndarray | None = None, params: ModelParams = ModelParams(),
                     encoder_model: str | None = None, tuning: Tuning | None = None) -> MoodModel:
    """Fit the featurizer, both regressors and the six classifiers with the tree counts and thresholds of
    `tuning` (chosen here by `choose_tuning` when not given)."""
    energy, valence, labels = _as_arrays(energy, valence, labels)
    for k, label in enumerate(MOOD_LABELS):
        if labels[:, k].all() or not labels[:, k].any():
            raise ValueError(f"the label {label} is {'on' if labels[:, k].all() else 'off'} for every training track")
    tuning = tuning or choose_tuning(tracks, energy, valence, labels, embeddings, params)
    model = _empty_model(tracks, energy, valence, labels, embeddings, params, encoder_model)
    model.thresholds = np.array(tuning.thresholds)
    matrix = model.features(tracks, embeddings)
    base = model.prior.of([t.genre for t in tracks])
    for j, (name, target) in enumerate(zip(TARGETS, (energy, valence), strict=True)):
        model.regressors[name] = _regressor(params, tuning.trees[name]).fit(matrix, target, base_margin=base[:, j])
        model.trees[name] = tuning.trees[name]
    for k, label in enumerate(MOOD_LABELS):
        model.classifiers.append(_classifier(params, tuning.trees[label]).fit(
            matrix, labels[:, k], init_score=_logit(base[:, 2 + k])))
        model.trees[label] = tuning.trees[label]
    return model


@dataclass
class CrossValidation:
    """Out-of-fold results of the model and its baselines, and the artist-disjoint folds."""

    rows: list[dict]  # one per (target or moods, predictor): the comparison table
    folds: list[tuple[np.ndarray, np.ndarray]]
    energy_pred: np.ndarray
    valence_pred: np.ndarray
    # out-of-fold predictions per track: energy, valence, energy_genre, valence_genre, energy_const, valence_const
    predictions: dict[str, np.ndarray] = field(default_factory=dict)

    def table_markdown(self) -> str:
        return table_markdown(self.rows)


def table_markdown(rows: Sequence[dict]) -> str:
    """The comparison table: one line per (target, predictor)."""
    lines = ["| target | predictor | RMSE | R² | micro-F1 | macro-F1 |", "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[k]:.4f}" if r.get(k) is not None else "" for k in ("rmse", "r2", "micro_f1", "macro_f1")]
        lines.append(f"| {r['target']} | {r['predictor']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def training_fingerprint(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray,
                         embeddings: np.ndarray | None, params: ModelParams, n_folds: int,
                         encoder_model: str | None) -> str:
    """A hash of everything a training reads: the tracks, targets, labels and embeddings, the settings, and
    the source of the code that turns them into a model. Training is seeded, so two trainings with one
    fingerprint give the same model."""
    import dataclasses
    import hashlib
    import inspect
    import json

    from . import features, model, text
    from . import labels as labels_module

    digest = hashlib.blake2b(digest_size=16)
    for module in (features, labels_module, model, text):
        digest.update(inspect.getsource(module).encode())
    digest.update(json.dumps([dataclasses.astuple(t) for t in tracks], default=str).encode())
    for array in (energy, valence, labels, embeddings):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([dataclasses.asdict(params), n_folds, encoder_model]).encode())
    return digest.hexdigest()


def cross_validate(tracks: Sequence[TrackMeta], energy: np.ndarray, valence: np.ndarray, labels: np.ndarray,
                   embeddings: np.ndarray | None = None, n_folds: int = 5,
                   params: ModelParams = ModelParams(), tuning: Tuning | None = None) -> CrossValidation:
    """Artist-disjoint k-fold: the model, a genre-mean and a constant predictor for energy and valence, and a
    per-label majority predictor for the moods, each scored on the same out-of-fold predictions. Every fold
    trains with one `tuning` (tree counts and thresholds), chosen once on the whole set when not given: the
    folds measure the model with its settings fixed, as the final model is trained."""
    energy, valence, labels = _as_arrays(energy, valence, labels)
    tuning = tuning or choose_tuning(tracks, energy, valence, labels, embeddings, params)
    n = len(tracks)
    out = {name: np.zeros(n) for name in ("energy", "valence", "energy_genre", "valence_genre", "energy_const",
                                         "valence_const")}
    moods = np.zeros((n, len(MOOD_LABELS)), dtype=bool)
    majority = np.zeros((n, len(MOOD_LABELS)), dtype=bool)
    folds = artist_folds(track_artists([t.artists for t in tracks]), n_folds, params.seed)
    genres = [t.genre for t in tracks]
    for train, test in folds:
        train_tracks = [tracks[i] for i in train]
        test_tracks = [tracks[i] for i in test]
        model = train_mood_model(train_tracks, energy[train], valence[train], labels[train],
                                 None if embeddings is None else embeddings[train], params, tuning=tuning)
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
    return CrossValidation(rows, folds, out["energy"], out["valence"], out)
