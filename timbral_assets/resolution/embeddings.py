"""Sentence embeddings of names and titles, cached by content hash.

The encoders and how they run are in `encoders`: by default the resolver's names go through the packaged
all-MiniLM-L6-v2 as an int8 ONNX network, and track texts through a static encoder distilled from it. Every
vector is also kept in a DuckDB cache keyed by (encoder, text hash): a string is encoded once per encoder, ever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from .encoders import NAME_ENCODER, PACKAGED_MODEL, load_encoder, source_path

DEFAULT_MODEL = NAME_ENCODER  # what the resolver encodes names with unless told otherwise
resolve_model_path = source_path


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


class EmbeddingCache:
    """Vectors by (model, text hash) in a DuckDB file; `None` path keeps them in memory.

    A file is opened for each read or write and closed after it: a cache that a long-lived process (a code
    server, an in-process run) forgets to close must not keep others from the file."""

    def __init__(self, path: Path | str | None):
        self._path = None if path is None else str(path)
        self._memory = duckdb.connect(":memory:") if path is None else None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as con:
            con.execute("CREATE TABLE IF NOT EXISTS embeddings (model VARCHAR, text_hash VARCHAR, "
                        "vector FLOAT[], PRIMARY KEY (model, text_hash))")

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._memory is not None:
            yield self._memory
            return
        con = duckdb.connect(self._path)
        try:
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        wanted = pa.table({"text_hash": pa.array(list(hashes), pa.string())})
        with self._connection() as con:
            con.register("wanted_hashes", wanted)
            try:
                found = con.sql("SELECT e.text_hash, e.vector FROM embeddings e JOIN wanted_hashes w "
                                "USING (text_hash) WHERE e.model = $model", params={"model": model}).to_arrow_table()
            finally:
                con.unregister("wanted_hashes")
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
        flat = np.ascontiguousarray(vectors, dtype=np.float32)
        offsets = pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32))
        table = pa.table({"model": pa.array([model] * len(hashes)), "text_hash": pa.array(list(hashes)),
                          "vector": pa.ListArray.from_arrays(offsets, pa.array(flat.ravel()))})
        with self._connection() as con:
            con.register("new_vectors", table)
            try:
                con.execute("INSERT OR IGNORE INTO embeddings SELECT model, text_hash, vector FROM new_vectors")
            finally:
                con.unregister("new_vectors")

    def size(self) -> int:
        with self._connection() as con:
            return con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()


class TextEncoder:
    """Unit-length embeddings for texts; repeated and cached texts are not re-encoded."""

    PROGRESS_CHUNK = 5_000  # a few seconds of encoding with the default encoders

    def __init__(self, model: str = DEFAULT_MODEL, cache: EmbeddingCache | None = None):
        self.model = model
        self.cache = cache or EmbeddingCache(None)
        self.encoded_count = 0  # how many texts this encoder actually ran through the model
        self.progress = None  # optional callable(done, total), told every PROGRESS_CHUNK uncached texts
        self.log = None  # optional callable(line): said once should the encoder have to be built first

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        known = self.cache.get(self.model, list(set(hashes)))
        missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        todo = list(missing.items())
        for start in range(0, len(todo), self.PROGRESS_CHUNK):
            chunk = todo[start:start + self.PROGRESS_CHUNK]
            vectors = load_encoder(self.model, self.log).encode([t for _, t in chunk])
            self.cache.put(self.model, [h for h, _ in chunk], vectors)  # a crash keeps what was encoded
            known.update(zip((h for h, _ in chunk), vectors, strict=True))
            self.encoded_count += len(chunk)
            if self.progress is not None:
                self.progress(start + len(chunk), len(todo))
        dim = next(iter(known.values())).shape[0] if known else load_encoder(self.model, self.log).dimensions
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = known[h]
        return out


__all__ = ["DEFAULT_MODEL", "PACKAGED_MODEL", "EmbeddingCache", "TextEncoder", "resolve_model_path", "text_hash"]
