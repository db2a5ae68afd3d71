"""Track vectors and their FAISS index.

A track's vector joins three blocks, each standardised and scaled so that it weighs by its share of the whole
rather than by its width: the text embedding, the mood predictions (energy, valence, six probabilities), and the
audio features where Spotify has them (zeros and a missing flag where not). PCA reduces the join to 256
dimensions; vectors are L2-normalised so inner product is cosine.

The index follows size: exact (IndexFlatIP) below `exact_limit` vectors, HNSW above. Recall@10 against exact
search is measured on sampled queries whenever an approximate index is built."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AUDIO_FEATURES = ("danceability", "energy", "valence", "tempo", "loudness", "acousticness", "instrumentalness",
                  "speechiness", "liveness")
MOOD_COLUMNS = ("pred_energy", "pred_valence", "prob_upbeat", "prob_chill", "prob_dark", "prob_happy", "prob_sad",
                "prob_aggressive")


@dataclass(frozen=True)
class VectorParams:
    dimensions: int = 256
    text_weight: float = 0.6
    mood_weight: float = 0.25
    audio_weight: float = 0.15
    exact_limit: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    seed: int = 0


def _block(values: np.ndarray, weight: float) -> np.ndarray:
    """Standardised columns scaled so the block's total variance is `weight` (times the column count of 1)."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape[1] == 0:
        return values
    centred = values - values.mean(axis=0)
    deviation = centred.std(axis=0)
    scaled = centred / np.where(deviation > 0, deviation, 1.0)
    return scaled * np.sqrt(weight / values.shape[1])


def join_blocks(text: np.ndarray, mood: np.ndarray, audio: np.ndarray, params: VectorParams = VectorParams()) -> np.ndarray:
    """text (n × d), mood (n × 8), audio (n × 9 with NaN where missing) → one weighted matrix."""
    audio = np.asarray(audio, dtype=np.float32)
    missing = np.isnan(audio).any(axis=1, keepdims=True)
    filled = np.where(np.isnan(audio), np.nanmean(np.where(missing, np.nan, audio), axis=0) if (~missing).any()
                      else 0.0, audio)
    filled = np.nan_to_num(filled)
    return np.hstack([_block(text, params.text_weight), _block(mood, params.mood_weight),
                      _block(np.hstack([filled, missing.astype(np.float32)]), params.audio_weight)])


@dataclass
class TrackVectorModel:
    """The fitted PCA (mean and components) that maps a joined row to the track vector."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: float

    @classmethod
    def fit(cls, joined: np.ndarray, params: VectorParams = VectorParams()) -> TrackVectorModel:
        joined = np.asarray(joined, dtype=np.float32)
        mean = joined.mean(axis=0)
        centred = joined - mean
        k = max(1, min(params.dimensions, joined.shape[0] - 1, joined.shape[1]))
        _, singular, vt = np.linalg.svd(centred if len(centred) <= 20_000 else
                                        centred[np.random.default_rng(params.seed).choice(len(centred), 20_000,
                                                                                          replace=False)],
                                        full_matrices=False)
        share = float((singular[:k] ** 2).sum() / max((singular ** 2).sum(), 1e-12))
        return cls(mean, vt[:k].astype(np.float32), share)

    def transform(self, joined: np.ndarray) -> np.ndarray:
        reduced = (np.asarray(joined, dtype=np.float32) - self.mean) @ self.components.T
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        return (reduced / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, components=self.components, explained=self.explained_variance_ratio)

    @classmethod
    def load(cls, path: Path) -> TrackVectorModel:
        with np.load(path) as f:
            return cls(f["mean"], f["components"], float(f["explained"]))


def build_index(vectors: np.ndarray, params: VectorParams = VectorParams()):
    """Exact inner-product search below the size limit, HNSW above."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) < params.exact_limit:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = params.hnsw_ef_search
    index.add(vectors)
    return index


def index_kind(index) -> str:
    import faiss

    return "exact (IndexFlatIP)" if isinstance(index, faiss.IndexFlat) else f"HNSW (M={index.hnsw.nb_neighbors(1)})"


def recall_at_10(index, vectors: np.ndarray, queries: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Recall@10 of `index` against exact search on sampled queries, and its queries per second."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.random.default_rng(seed).choice(len(vectors), size=min(queries, len(vectors)), replace=False)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(vectors[rows], 10)
    started = time.perf_counter()
    _, found = index.search(vectors[rows], 10)
    seconds = time.perf_counter() - started
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(truth, found, strict=True))
    return hits / (10 * len(rows)), len(rows) / seconds if seconds > 0 else float("inf")


def write_index(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_index(path: Path):
    import faiss

    return faiss.read_index(str(path))
