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
        from .dataset import predict_track
        from .scoring import output_rows, predict_tracks

        records = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        # NaN (pandas' missing value) reads as unknown, as an empty CSV field does
        tracks = [predict_track({k: None if v != v else v for k, v in r.items()})[0] for r in records]
        encoder = TextEncoder(self.model.encoder_model) if self.model.embedding_dim else None
        return pd.DataFrame(output_rows(tracks, predict_tracks(self.model, tracks, encoder)))
