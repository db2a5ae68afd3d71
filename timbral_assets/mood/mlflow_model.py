"""The mood model as a registered MLflow model.

`mood_model` trains it and registers each training as a version of the MLflow model `mood_model`;
`track_mood_pred` and `timbral mood-predict` load a named version. The version is an MLflow pyfunc whose
artifact is the pickled MoodModel; `predict` takes mood-predict's input columns (track_id, artists,
album_name, track_name, popularity, duration_ms, explicit, track_genre) and returns its output columns,
so the model in the MLflow UI is usable on its own.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow.pyfunc

# predict takes a DataFrame or records, as the CLI does; MLflow's type-hint validation is not wanted
warnings.filterwarnings("ignore", message="Add type hints to the `predict` method")

MODEL_NAME = "mood_model"
ARTIFACT = "mood_model.joblib"


class MoodPyfuncModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from .model import MoodModel

        self.model = MoodModel.load(Path(context.artifacts[ARTIFACT]))

    def predict(self, context, model_input, params=None):
        import pandas as pd

        from ..resolution.embeddings import TextEncoder
        from .dataset import split_artists
        from .features import TrackMeta
        from .scoring import output_rows, predict_tracks

        records = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)

        def number(value):
            try:
                return None if value is None or value != value else float(value)  # NaN != NaN
            except (TypeError, ValueError):
                return None

        tracks = [TrackMeta(track_id=str(r.get("track_id", "")), artists=";".join(split_artists(str(r.get("artists") or ""))),
                            album_name=str(r.get("album_name") or ""), track_name=str(r.get("track_name") or ""),
                            genre=str(r.get("track_genre") or "").lower(), popularity=number(r.get("popularity")),
                            duration_ms=number(r.get("duration_ms")),
                            explicit=None if r.get("explicit") is None else str(r["explicit"]).lower() in ("true", "1"))
                  for r in records]
        encoder = TextEncoder(self.model.encoder_model) if self.model.embedding_dim else None
        return pd.DataFrame(output_rows(tracks, predict_tracks(self.model, tracks, encoder)))
