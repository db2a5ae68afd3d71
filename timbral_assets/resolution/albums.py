"""Album-level deduplication: many submitted records of one release ("the wall disc 1" twice, "2pac" and
"2 pac", a title typo) become one album, while the discs of a set and different releases stay apart.

An album is known by its track list more than by its name, so the comparison that carries most weight is
the track lists' similarity: TF-IDF over character trigrams of the track text with spaces removed (so
"somethinginthewayshemoves" still meets "something in the way she moves"), reduced to a dense vector that
splink compares by cosine. Candidates are each album's nearest neighbours by that vector plus albums that
share artist and title. A splink 5 model (u by random sampling, m by EM) scores the candidates; disc
numbers must agree, and constrained clustering turns the scores into albums.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from .clustering import ClusterConfig, connected_components, constrained_clusters
from .records import parse_year
from .text import fold, fold_artist

_DISC = re.compile(r"\b(?:disc|disk|cd|volume|vol|part|pt)\s*\.?\s*(\d{1,2}|one|two|three|four|i{1,3}|iv)\b")
_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "i": "1", "ii": "2", "iii": "3", "iv": "4"}
VARIOUS = {"various", "various artists", "va", "v a", "sampler", "compilation"}
DISC_DIFFERENT_M = 1e-4  # two different discs of one set are never one album


@dataclass(frozen=True)
class AlbumRecord:
    record_id: str
    artist: str
    title: str
    tracks: str
    year: int | None = None


_MOJIBAKE = set("ãâåæëœšžÿƒ¹²³¼½¾ªºµ")


def garbled(text: str) -> bool:
    """UTF-8 read as Latin-1 ("ã â ã â"): its character trigrams look alike whatever the words were."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c in _MOJIBAKE for c in letters) / len(letters) > 0.25


def disc_number(title_key: str) -> str | None:
    match = _DISC.search(title_key)
    if not match:
        return None
    value = match.group(1)
    return _NUMBER_WORDS.get(value, value.lstrip("0") or "0")


def album_table(albums: Sequence[AlbumRecord], dimensions: int = 96, seed: int = 7) -> pa.Table:
    """One row per album: folded keys, disc number, year and the track-list vector (unit length)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    # not `fold`: stripping accents turns mis-decoded text ("ã â ã â") into runs of one letter that all look alike
    track_text = [re.sub(r"[\W\d_]+", "", unicodedata.normalize("NFKC", a.tracks or a.title).lower()) for a in albums]
    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), min_df=2, max_df=0.2,
                            sublinear_tf=True).fit_transform(track_text)
    k = max(2, min(dimensions, tfidf.shape[1] - 1, len(albums) - 1))
    vectors = TruncatedSVD(n_components=k, random_state=seed).fit_transform(tfidf)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    artist_keys = [fold_artist(a.artist) for a in albums]
    title_keys = [fold(a.title) for a in albums]
    return pa.table({
        "unique_id": [a.record_id for a in albums],
        "artist_key": [None if not k or k in VARIOUS else k for k in artist_keys],
        "title_key": [t or None for t in title_keys],
        "title_base": [" ".join(_DISC.sub(" ", t).split()) or None for t in title_keys],  # without "disc 1"
        "disc": [disc_number(t) for t in title_keys],
        "year": pa.array([a.year for a in albums], pa.int32()),
        "tracks_vec": pa.FixedSizeListArray.from_arrays(pa.array(vectors.astype(np.float32).ravel()), vectors.shape[1]),
    })


def _name_comparison(name: str, column: str):
    return cl.CustomComparison(output_column_name=name, comparison_levels=[
        cll.NullLevel(column),
        cll.ExactMatchLevel(column).configure(tf_adjustment_column=column),
        cll.JaroWinklerLevel(column, 0.9),
        cll.JaroWinklerLevel(column, 0.7),
        cll.ElseLevel()])


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.CosineSimilarityAtThresholds("tracks_vec", [0.95, 0.85, 0.7, 0.5]),
            _name_comparison("artist", "artist_key"),
            _name_comparison("title", "title_base"),
            cl.CustomComparison(output_column_name="disc", comparison_levels=[
                cll.NullLevel("disc"),
                cll.ExactMatchLevel("disc"),
                cll.ElseLevel().configure(m_probability=DISC_DIFFERENT_M, fix_m_probability=True)]),
            cl.CustomComparison(output_column_name="year", comparison_levels=[
                cll.NullLevel("year"), cll.ExactMatchLevel("year"),
                cll.CustomLevel("abs(year_l - year_r) <= 1", label_for_charts="year within 1"), cll.ElseLevel()]),
        ],
        blocking_rules_to_generate_predictions=[block_on("artist_key", "title_base")],
        retain_intermediate_calculation_columns=True,
    )


def candidate_pairs(table: pa.Table, k: int = 10, min_cosine: float = 0.5) -> pa.Table:
    """Each album's k nearest track lists above a cosine floor, plus albums sharing artist and title."""
    import faiss

    ids = table["unique_id"].to_pylist()
    vectors = np.asarray(table["tracks_vec"].combine_chunks().flatten(), dtype=np.float32).reshape(len(ids), -1)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, neighbours = index.search(vectors, min(k + 1, len(ids)))
    pairs = {(min(ids[i], ids[j]), max(ids[i], ids[j]))
             for i, (row, sims) in enumerate(zip(neighbours, scores, strict=True))
             for j, s in zip(row, sims, strict=True) if j >= 0 and j != i and s >= min_cosine}
    con = duckdb.connect()
    con.register("albums", table.select(["unique_id", "artist_key", "title_base"]))
    pairs |= set(con.sql("""SELECT l.unique_id, r.unique_id FROM albums l JOIN albums r
                            ON l.artist_key = r.artist_key AND l.title_base = r.title_base AND l.unique_id < r.unique_id
                         """).fetchall())
    con.close()
    ordered = sorted(pairs)
    return pa.table({"unique_id_l": [a for a, _ in ordered], "unique_id_r": [b for _, b in ordered]})


@dataclass
class AlbumResolution:
    assignment: dict[str, str]  # record -> album cluster (smallest member id)
    scores: pa.Table  # unique_id_l, unique_id_r, match_probability
    candidates: int
    edges: list[tuple[str, str, float]]  # the scored pairs clustering may use
    disc: dict[str, str]  # record -> disc number, where the title names one

    def recluster(self, threshold: float, clustering: str = "constrained") -> dict[str, str]:
        ids = list(self.assignment)
        if clustering == "connected_components":
            return connected_components(ids, self.edges, threshold)
        return constrained_clusters(ids, self.edges, ClusterConfig(threshold=threshold), version=self.disc)


def resolve_albums(albums: Sequence[AlbumRecord], threshold: float = 0.5) -> AlbumResolution:
    table = album_table(albums)
    candidates = candidate_pairs(table)
    db_api = DuckDBAPI(duckdb.connect())
    linker = Linker(db_api.register(table), _settings(), log_level=None)
    training = linker.training
    training.estimate_probability_two_random_records_match([block_on("artist_key", "title_base")], recall=0.7)
    training.estimate_u_using_random_sampling(max_pairs=5e6, seed=3)
    for rule in (block_on("artist_key"), block_on("title_base")):
        training.estimate_parameters_using_expectation_maximisation(rule, fix_probability_two_random_records_match=True)
    blocked = pa.table({"match_key": pa.array(["0"] * candidates.num_rows), "join_key_l": candidates["unique_id_l"],
                        "join_key_r": candidates["unique_id_r"]})
    linker.table_management.register_blocked_pairs_for_predict(db_api.register(blocked))
    scores = linker.inference.predict().as_duckdbpyrelation().select(
        "unique_id_l, unique_id_r, match_probability").to_arrow_table()
    disc = dict(zip(table["unique_id"].to_pylist(), table["disc"].to_pylist(), strict=True))
    # garbled records are matched only when their garbled names are identical too
    unreadable = {a.record_id for a in albums if garbled(a.tracks + a.title + a.artist)}
    names = {a.record_id: (a.artist.strip(), a.title.strip()) for a in albums}
    edges = [(a, b, p) for a, b, p in zip(scores["unique_id_l"].to_pylist(), scores["unique_id_r"].to_pylist(),
                                          scores["match_probability"].to_pylist(), strict=True)
             if not ({a, b} & unreadable) or names[a][0] == names[b][0]]
    assignment = constrained_clusters(table["unique_id"].to_pylist(), edges, ClusterConfig(threshold=threshold),
                                      version={k: v for k, v in disc.items() if v})
    return AlbumResolution(assignment, scores, candidates.num_rows, edges, {k: v for k, v in disc.items() if v})


def freedb_albums(rows: Sequence[dict[str, str]]) -> list[AlbumRecord]:
    return [AlbumRecord(r["id"], r.get("artist", ""), r.get("title", ""), r.get("tracks", ""), parse_year(r.get("year")))
            for r in rows]


@dataclass(frozen=True)
class PairScores:
    predicted: int
    precision: float
    recall: float
    f1: float


def duplicate_pair_scores(assignment: dict[str, str], gold_pairs: set[tuple[str, str]]) -> PairScores:
    """Pairs put in one album against the true duplicate pairs (each pair sorted)."""
    from itertools import combinations

    from .clustering import clusters_of

    predicted = {tuple(sorted(p)) for members in clusters_of(assignment).values() for p in combinations(members, 2)}
    hits = len(predicted & gold_pairs)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold_pairs) if gold_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(len(predicted), precision, recall, f1)
