"""The recommender's registered MLflow models.

als_model           the ALS factors with their user and item ids and settings; predict lists a user's top items
track_vector_index  the FAISS index of track vectors with its track ids and the PCA that makes the vectors;
                    predict lists a track's nearest tracks"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow.pyfunc
import numpy as np

# predict takes a DataFrame or records; MLflow's type-hint validation is not wanted
warnings.filterwarnings("ignore", message="Add type hints to the `predict` method")

ALS_MODEL = "als_model"
ALS_ARTIFACT = "als_factors.npz"
INDEX_MODEL = "track_vector_index"
INDEX_ARTIFACT = "track_vectors.faiss"
INDEX_IDS = "track_ids.npy"
PCA_ARTIFACT = "track_vector_pca.npz"


@dataclass
class AlsFactors:
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    params: dict

    def save(self, path: Path) -> None:
        np.savez(path, user_ids=self.user_ids.astype(str), item_ids=self.item_ids.astype(str),
                 user_factors=self.user_factors, item_factors=self.item_factors,
                 params=np.array(json.dumps(self.params, sort_keys=True)))

    @classmethod
    def load(cls, path: Path) -> AlsFactors:
        with np.load(path, allow_pickle=False) as f:
            return cls(f["user_ids"], f["item_ids"], f["user_factors"], f["item_factors"], json.loads(str(f["params"])))

    def recommend(self, user_id: str, k: int, exclude: set[str] = frozenset()) -> list[tuple[str, float]]:
        rows = np.flatnonzero(self.user_ids == user_id)
        if not len(rows):
            return []
        scores = self.item_factors @ self.user_factors[rows[0]]
        order = np.argsort(-scores, kind="stable")
        return [(str(self.item_ids[i]), float(scores[i])) for i in order
                if str(self.item_ids[i]) not in exclude][:k]


class AlsPyfuncModel(mlflow.pyfunc.PythonModel):
    """predict(DataFrame with user_id [and k]) → user_id, track_id, rank, score rows."""

    def load_context(self, context) -> None:
        self.factors = AlsFactors.load(Path(context.artifacts[ALS_ARTIFACT]))

    def predict(self, context, model_input, params=None):
        import pandas as pd

        records = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        rows = []
        for record in records:
            k = int(record.get("k") or 10)
            rows += [{"user_id": record["user_id"], "track_id": t, "rank": r, "score": s}
                     for r, (t, s) in enumerate(self.factors.recommend(str(record["user_id"]), k), start=1)]
        return pd.DataFrame(rows, columns=["user_id", "track_id", "rank", "score"])


class TrackIndexPyfuncModel(mlflow.pyfunc.PythonModel):
    """predict(DataFrame with track_id [and k]) → track_id, neighbour_id, rank, similarity rows."""

    def load_context(self, context) -> None:
        from .vectors import read_index

        self.index = read_index(Path(context.artifacts[INDEX_ARTIFACT]))
        self.track_ids = np.load(context.artifacts[INDEX_IDS], allow_pickle=False)
        self.position = {t: i for i, t in enumerate(self.track_ids.tolist())}

    def predict(self, context, model_input, params=None):
        import pandas as pd

        records = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        rows = []
        for record in records:
            k, row = int(record.get("k") or 10), self.position.get(str(record["track_id"]))
            if row is None:
                continue
            similarity, found = self.index.search(self.index.reconstruct(row)[None, :], k + 1)
            hits = [(int(i), float(s)) for i, s in zip(found[0], similarity[0], strict=True) if i >= 0 and i != row][:k]
            rows += [{"track_id": record["track_id"], "neighbour_id": str(self.track_ids[i]), "rank": r,
                      "similarity": s} for r, (i, s) in enumerate(hits, start=1)]
        return pd.DataFrame(rows, columns=["track_id", "neighbour_id", "rank", "similarity"])
