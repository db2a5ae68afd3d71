"""Scoring tracks with a trained mood model: the text embedding when the model reads one, the predictions,
and the output rows of `timbral mood-predict` (one per input track, in input order)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .features import TrackMeta
from .labels import MOOD_LABELS
from .model import MoodModel, Predictions
from .text import text_of

OUTPUT_COLUMNS = ("track_id", "pred_energy", "pred_valence", *(f"prob_{m}" for m in MOOD_LABELS))


def predict_tracks(model: MoodModel, tracks: Sequence[TrackMeta], encoder=None,
                   embeddings: np.ndarray | None = None) -> Predictions:
    """Predictions for `tracks`. A model that reads text embeddings gets them from `embeddings` (one row per
    track, already computed) or else from `encoder` (a resolution.embeddings.TextEncoder of the model's
    encoder), which encodes each track's text (text.text_of) through its cache."""
    if model.embedding_dim and embeddings is None:
        if encoder is None:
            raise ValueError(f"this model reads text embeddings of {model.encoder_model}: pass an encoder")
        if encoder.model != model.encoder_model:
            raise ValueError(f"this model was trained on embeddings of {model.encoder_model}, not {encoder.model}")
        embeddings = encoder.encode([text_of(t) for t in tracks]) if tracks else np.zeros((0, model.embedding_dim))
    if not tracks:
        empty = np.zeros(0)
        shape = np.zeros((0, len(MOOD_LABELS)))
        return Predictions(empty, empty, shape, shape.astype(bool), empty.astype(bool))
    return model.predict(tracks, embeddings)


def output_rows(tracks: Sequence[TrackMeta], predicted: Predictions) -> list[dict]:
    rows = []
    for i, track in enumerate(tracks):
        row = {"track_id": track.track_id, "pred_energy": round(float(predicted.energy[i]), 6),
               "pred_valence": round(float(predicted.valence[i]), 6)}
        row.update({f"prob_{m}": round(float(predicted.probabilities[i, k]), 6) for k, m in enumerate(MOOD_LABELS)})
        rows.append(row)
    return rows


def write_predictions(path: Path, tracks: Sequence[TrackMeta], predicted: Predictions) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        rows = output_rows(tracks, predicted)
        writer.writerows(rows)
    return len(rows)
