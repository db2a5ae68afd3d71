"""The catalog's splink track matcher as a registered MLflow model.

`track_matcher_model` trains it on the catalog (u by random sampling, m by EM, term frequencies) and
registers each training as a version of the MLflow model `track_matcher`; `entity_match_scores` loads a
named version. The version is an MLflow pyfunc: the splink settings JSON is its artifact, and `predict`
scores record pairs given as `left_*` / `right_*` columns (title, artist, album, duration_s, released), the
format of `timbral match-pairs`, so the MLflow UI's model is usable on its own.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mlflow.pyfunc

# predict takes a DataFrame or records, as the CLI does; MLflow's type-hint validation is not wanted
warnings.filterwarnings("ignore", message="Add type hints to the `predict` method")

MODEL_NAME = "track_matcher"
ARTIFACT = "track_matcher.json"


class TrackMatcherModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model_json = json.loads(Path(context.artifacts[ARTIFACT]).read_text())

    def predict(self, context, model_input, params=None) -> list[float]:
        from .pair_matching import splink_pair_scores

        rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        return splink_pair_scores([{k: str(v) for k, v in row.items()} for row in rows], self.model_json)
