"""Metadata features for the mood/energy model: what we know of a track without its audio.

`MetadataFeaturizer` learns its vocabularies on the training tracks and turns any tracks into one sparse
matrix with named columns:
  genre=<g>       one-hot genre (a genre unseen in training has no column: all zero)
  tag=<t>         bag-of-tags TF-IDF, at most `max_tags` terms, without the mood label words (labels.py)
  popularity      0-1 (Spotify's 0-100 / 100), missing_popularity when unknown
  log_duration    log of seconds, missing_duration when unknown
  explicit        0/1, missing_explicit when unknown
  year=<bucket>   decade buckets (before 1960, the 60s ... the 2020s) or year=unknown
  cue=<kind>      title cues: the version kind the title names (live, acoustic, remix, instrumental, demo,
                  remaster ...) and feat (a featured artist)
The text embedding of the track's strings joins as dense columns emb_0 ... (see `with_embeddings`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..resolution.versions import parse_title
from .labels import LABEL_TAG_WORDS

if TYPE_CHECKING:  # scikit-learn takes a second and a half to import: loaded when a featurizer is fitted
    from sklearn.feature_extraction.text import TfidfVectorizer

TITLE_CUES = ("live", "acoustic", "remix", "instrumental", "demo", "remaster", "edit", "extended", "cover",
              "reprise", "interlude", "feat")
YEAR_BUCKETS = ("before 1960", "1960s", "1970s", "1980s", "1990s", "2000s", "2010s", "2020s", "unknown")


@dataclass(frozen=True)
class TrackMeta:
    """One track as the model reads it; None where a value is unknown."""

    track_id: str
    artists: str = ""
    album_name: str = ""
    track_name: str = ""
    genre: str = ""
    popularity: float | None = None
    duration_ms: float | None = None
    explicit: bool | None = None
    year: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def year_bucket(year: int | None) -> str:
    if year is None or year <= 0:
        return "unknown"
    if year < 1960:
        return "before 1960"
    return f"{min(year, 2029) // 10 * 10}s"


@functools.lru_cache(maxsize=200_000)
def title_cues(title: str) -> tuple[str, ...]:
    """The cues a title gives: the version kind it names (as TITLE_CUES spells them) and feat."""
    parsed = parse_title(title)
    cues = []
    kind = {"outtake": "demo", "alternate": "demo", "rerecorded": "remaster", "album_version": None,
            "named_version": "edit", "session": "live"}.get(parsed.version, parsed.version)
    if kind in TITLE_CUES:
        cues.append(kind)
    if parsed.featured:
        cues.append("feat")
    return tuple(cues)


def _tag_text(tags: Sequence[str]) -> str:
    """Tags as one document of underscore-joined terms, so that "hip hop" stays one term."""
    return " ".join("_".join(t.lower().split()) for t in tags if t and t.strip())


class MetadataFeaturizer:
    """Fit on training tracks, then `transform` any tracks to (sparse matrix, column names)."""

    def __init__(self, max_tags: int = 20_000):
        self.max_tags = max_tags
        self.genres: list[str] = []
        self._tags: TfidfVectorizer | None = None

    def fit(self, tracks: Sequence[TrackMeta]) -> MetadataFeaturizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.genres = sorted({t.genre for t in tracks if t.genre})
        documents = [_tag_text(t.tags) for t in tracks]
        stop = {"_".join(w.split()) for w in LABEL_TAG_WORDS}  # a label's own words would leak it
        self._tags = TfidfVectorizer(token_pattern=r"\S+", max_features=self.max_tags, stop_words=sorted(stop),
                                     sublinear_tf=True, lowercase=False)
        if any(documents):
            self._tags.fit(documents)
        else:
            self._tags = None  # no track has tags: no tag columns
        return self

    @property
    def columns(self) -> list[str]:
        tag_terms = list(self._tags.get_feature_names_out()) if self._tags is not None else []
        return ([f"genre={g}" for g in self.genres] + [f"tag={t}" for t in tag_terms]
                + ["popularity", "missing_popularity", "log_duration", "missing_duration", "explicit",
                   "missing_explicit"] + [f"year={b}" for b in YEAR_BUCKETS] + [f"cue={c}" for c in TITLE_CUES])

    def transform(self, tracks: Sequence[TrackMeta]) -> tuple[sp.csr_matrix, list[str]]:
        genre_index = {g: i for i, g in enumerate(self.genres)}
        genre_rows, genre_columns = [], []
        plain = np.zeros((len(tracks), 6 + len(YEAR_BUCKETS) + len(TITLE_CUES)), dtype=np.float32)
        cue_index = {c: 6 + len(YEAR_BUCKETS) + i for i, c in enumerate(TITLE_CUES)}
        for row, t in enumerate(tracks):
            if t.genre in genre_index:
                genre_rows.append(row)
                genre_columns.append(genre_index[t.genre])
            if t.popularity is None or math.isnan(t.popularity):
                plain[row, 1] = 1.0
            else:
                plain[row, 0] = min(max(t.popularity / 100.0, 0.0), 1.0)
            if t.duration_ms is None or math.isnan(t.duration_ms) or t.duration_ms <= 0:
                plain[row, 3] = 1.0
            else:
                plain[row, 2] = math.log(t.duration_ms / 1000.0)
            if t.explicit is None:
                plain[row, 5] = 1.0
            else:
                plain[row, 4] = float(t.explicit)
            plain[row, 6 + YEAR_BUCKETS.index(year_bucket(t.year))] = 1.0
            for cue in title_cues(t.track_name):
                plain[row, cue_index[cue]] = 1.0
        genre = sp.csr_matrix((np.ones(len(genre_rows), dtype=np.float32), (genre_rows, genre_columns)),
                              shape=(len(tracks), len(self.genres)))
        parts = [genre]
        if self._tags is not None:
            parts.append(self._tags.transform([_tag_text(t.tags) for t in tracks]).astype(np.float32))
        parts.append(sp.csr_matrix(plain))
        return sp.hstack(parts, format="csr"), self.columns


def with_embeddings(features: sp.csr_matrix, columns: list[str], embeddings: np.ndarray) -> tuple[sp.csr_matrix, list[str]]:
    """The metadata features with the text embedding's dimensions appended as emb_0 ... emb_{d-1}."""
    if embeddings.shape[0] != features.shape[0]:
        raise ValueError(f"{embeddings.shape[0]} embeddings for {features.shape[0]} tracks")
    names = [f"emb_{i}" for i in range(embeddings.shape[1])]
    return sp.hstack([features, sp.csr_matrix(embeddings.astype(np.float32))], format="csr"), columns + names
