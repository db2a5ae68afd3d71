"""`timbral match-pairs` and `timbral train-pair-model`: score given record pairs.

Two models, each scoring every pair exactly as given (no blocking):
- the supervised pair model (default): LightGBM over `pair_features`, trained on labelled pairs (and,
  optionally, a dirtied copy of each: fields moved into the title), with monotone constraints (more similar never
  lowers the score; a larger length gap or a version conflict never raises it), which keeps a model
  trained on a few hundred pairs from learning noise; the decision threshold is tuned on a validation
  file. Pairs that `never_one_recording` rules out (karaoke, other parts of a work, another remixer, a
  remix and its original: the catalog's recording rules) are capped low. The
  packaged default is built by `bench/eval_itunes_amazon.py`.
- the splink model: trained unsupervised on the records of the input itself (u by random sampling, m by
  EM), or loaded from a saved splink model JSON.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sources.delimited import DelimitedRows
from ..sources.errors import RowIssue
from .matcher import MatcherConfig, TrackMatcher
from .pair_features import FEATURE_NAMES, PAIR_FIELDS, Side, never_one_recording, pair_features
from .pipeline import records_table
from .records import standardise

DEFAULT_PAIR_MODEL = Path(__file__).with_name("models") / "pair_model.json"
PAIR_COLUMNS = tuple(f"{side}_{f}" for side in ("left", "right") for f in PAIR_FIELDS)


LINE = "_line"  # the input line a row was read from, kept beside its fields


def read_pairs(path: Path, labelled: bool = False) -> tuple[list[str], list[dict[str, str]], list[RowIssue]]:
    """Rows of a pair CSV. With `labelled`, a `label` column (0/1) is required too; a row whose label is
    not 0 or 1 is rejected with its file, line and field, and the other rows are kept."""
    columns = (*PAIR_COLUMNS, "label") if labelled else PAIR_COLUMNS
    reader = DelimitedRows(str(path), columns={c: (c,) for c in columns}, required=frozenset(columns))
    rows, issues = [], []
    for line, fields in reader:
        row = {name: (fields[i] if i < len(fields) else "") for i, name in enumerate(reader.header or [])}
        row[LINE] = str(line)
        if labelled and row["label"].strip() not in ("0", "1"):
            issues.append(RowIssue(str(path), line, "label", f"label must be 0 or 1, got {row['label'][:40]!r}"))
            continue
        rows.append(row)
    return list(reader.header or []), rows, reader.issues + issues


MONOTONE_DECREASING = frozenset({"duration_gap_s", "year_gap", "version_conflict"})
NEVER_ONE_CAP = 0.02  # the score of a pair that `never_one_recording` rules out
LGBM_PARAMS = {"num_leaves": 4, "n_estimators": 300, "learning_rate": 0.05, "min_child_samples": 5,
               "random_state": 0, "verbose": -1, "deterministic": True, "force_row_wise": True}


@dataclass
class PairModel:
    """A trained supervised pair model: the LightGBM booster, its features and the decision threshold."""

    booster_text: str
    threshold: float
    feature_names: tuple[str, ...]
    metadata: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"kind": "timbral_pair_model", "threshold": self.threshold, "feature_names": list(self.feature_names),
                "metadata": self.metadata, "booster": self.booster_text}

    @classmethod
    def from_json(cls, data: dict) -> PairModel:
        if data.get("kind") != "timbral_pair_model":
            raise ValueError("not a timbral pair model (expected kind 'timbral_pair_model')")
        if tuple(data["feature_names"]) != FEATURE_NAMES:
            raise ValueError(f"pair model features {data['feature_names']} differ from this version's {FEATURE_NAMES}")
        return cls(data["booster"], float(data["threshold"]), tuple(data["feature_names"]), data.get("metadata", {}))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: Path) -> PairModel:
        return cls.from_json(json.loads(Path(path).read_text()))

    def predict(self, rows: list[dict[str, str]]) -> list[float]:
        import lightgbm as lgb

        if not rows:
            return []
        booster = lgb.Booster(model_str=self.booster_text)
        sides = _sides(rows)  # once: features and the cap read the same parsed records
        return [min(float(p), NEVER_ONE_CAP) if never_one_recording(a, b) else float(p)
                for p, (a, b) in zip(booster.predict(_matrix(sides)), sides, strict=True)]


def _sides(rows: list[dict[str, str]]) -> list[tuple[Side, Side]]:
    return [(Side.from_row(r, "left_"), Side.from_row(r, "right_")) for r in rows]


def _matrix(sides: list[tuple[Side, Side]]) -> np.ndarray:
    return np.array([pair_features(a, b) for a, b in sides], dtype=np.float64).reshape(len(sides), len(FEATURE_NAMES))


def feature_matrix(rows: list[dict[str, str]]) -> np.ndarray:
    return _matrix(_sides(rows))


def best_threshold(labels: list[int], probabilities: list[float], tolerance: float = 0.01) -> tuple[float, float]:
    """The decision threshold for labelled pairs -> (threshold, its F1): nearest 0.5 among those whose F1 is
    within `tolerance` of the best. A validation split of ~100 pairs moves F1 by ~0.02 per pair, so
    chasing the exact maximum would pick an extreme threshold on the strength of one noisy label."""
    y, p = np.asarray(labels), np.asarray(probabilities)
    curve = []
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        predicted = p >= t
        tp = float(np.sum(predicted & (y == 1)))
        curve.append((float(t), 2 * tp / (predicted.sum() + (y == 1).sum()) if tp else 0.0))
    best = max(f1 for _, f1 in curve)
    return min(((t, f1) for t, f1 in curve if f1 >= best - tolerance), key=lambda tf: (abs(tf[0] - 0.5), tf[0]))


MOVABLE_FIELDS = ("artist", "album", "genre", "price", "label", "duration_s", "released")


def dirtied(row: dict[str, str], rng: random.Random) -> dict[str, str]:
    """A copy of a labelled pair with, on each side, about half of the filled fields moved into the title
    (and emptied), as stores' "dirty" listings do; the label stays (Ditto's data augmentation, in kind)."""
    out = dict(row)
    for side in ("left_", "right_"):
        for name in MOVABLE_FIELDS:
            if out.get(side + name) and rng.random() < 0.5:
                out[side + "title"] = f"{out.get(side + 'title', '')} {out[side + name]}".strip()
                out[side + name] = ""
    return out


def train_pair_model(rows: list[dict[str, str]], valid_rows: list[dict[str, str]] | None = None,
                     metadata: dict | None = None, augment: bool = False, seed: int = 0) -> PairModel:
    """Fit on labelled rows (a `label` column), plus a dirtied copy of each with `augment`; tune the
    threshold on `valid_rows` when given, else keep 0.5. (On iTunes-Amazon the dirtied copies change
    cross-validated F1 by less than its noise, so they are off by default; bench/eval_itunes_amazon.py.)"""
    import lightgbm as lgb

    labels = [int(r["label"]) for r in rows]
    if len(set(labels)) < 2:
        raise ValueError("training pairs need both matches (label 1) and non-matches (label 0)")
    rng = random.Random(seed)
    fitted = rows + ([dirtied(r, rng) for r in rows] if augment else [])
    monotone = [-1 if name in MONOTONE_DECREASING else 1 for name in FEATURE_NAMES]
    classifier = lgb.LGBMClassifier(monotone_constraints=monotone, **LGBM_PARAMS)
    classifier.fit(feature_matrix(fitted), np.array([int(r["label"]) for r in fitted]))
    model = PairModel(classifier.booster_.model_to_string(), 0.5, FEATURE_NAMES,
                      {**(metadata or {}), "train_pairs": len(rows), "train_matches": sum(labels),
                       "augmented_pairs": len(fitted) - len(rows)})
    if valid_rows:
        valid_labels = [int(r["label"]) for r in valid_rows]
        model.threshold, valid_f1 = best_threshold(valid_labels, model.predict(valid_rows))
        model.metadata.update(valid_pairs=len(valid_rows), valid_f1_at_threshold=round(valid_f1, 4))
    return model


def score_pairs(rows: list[dict[str, str]], model: PairModel | dict | None = None) -> list[float]:
    """Match probabilities: a `PairModel` scores with its features; a splink model JSON (or None, which
    trains splink on the input's own records) scores with the Fellegi-Sunter model."""
    if isinstance(model, PairModel):
        return model.predict(rows)
    return splink_pair_scores(rows, model)


def splink_pair_scores(rows: list[dict[str, str]], model_json: dict | None) -> list[float]:
    left = [standardise(f"L{i}", r["left_title"], r["left_artist"], r["left_album"], r["left_duration_s"],
                        r["left_released"]) for i, r in enumerate(rows)]
    right = [standardise(f"R{i}", r["right_title"], r["right_artist"], r["right_album"], r["right_duration_s"],
                         r["right_released"]) for i, r in enumerate(rows)]
    if not rows:
        return []
    import pyarrow as pa

    config = MatcherConfig(use_embeddings=False, u_max_pairs=min(1e6, max(1e4, len(rows) ** 2)), prior=None)
    matcher = TrackMatcher(records_table(left + right, None), config, model_json=model_json)
    if not matcher.trained:
        matcher.train()
    scored = matcher.score(pa.table({"unique_id_l": [f"L{i}" for i in range(len(rows))],
                                     "unique_id_r": [f"R{i}" for i in range(len(rows))]}))
    by_pair = {}
    for a, b, p in zip(scored["unique_id_l"].to_pylist(), scored["unique_id_r"].to_pylist(),
                       scored["match_probability"].to_pylist(), strict=True):
        by_pair[(a, b) if a.startswith("L") else (b, a)] = p
    return [by_pair.get((f"L{i}", f"R{i}"), 0.0) for i in range(len(rows))]


def write_pairs(path: Path, header: list[str], rows: list[dict[str, str]], probabilities: list[float],
                threshold: float, unreadable: Sequence[RowIssue] = ()) -> None:
    """One output row per input record, in file order: the scored rows, and each record that could not be
    read with its line and problem and no score."""
    out = [(int(row.get(LINE, 0)), [*(row.get(h, "") for h in header), f"{p:.6f}", int(p >= threshold), ""])
           for row, p in zip(rows, probabilities, strict=True)]
    out += [(i.line, [*([""] * len(header)), "", "", f"unreadable record: {i.field}: {i.message}"])
            for i in unreadable]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", *header, "match_probability", "is_match", "problem"])
        for line, values in sorted(out, key=lambda item: item[0]):
            writer.writerow([line, *values])
