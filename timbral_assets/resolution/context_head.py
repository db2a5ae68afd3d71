"""A learned head over the resolver's scores: splink's match weight, the sentence-embedding cosine and
listening context, combined by a small LightGBM model trained on a synthetic world's truth.

Listening context is what the strings cannot say: two spellings of one song are played by the same
people, in sessions next to the same artists. For every variant the head reads, from the scrobbles,
  - its listeners (up to 200 user ids), and
  - the artists played right before and after it in the same listening session (within 30 minutes).
A candidate pair's context features are the overlap of those sets and how alike the two variants'
audiences are in size. Trained twice, with and without the context features, the head shows what
context adds on top of splink and the semantic tier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..threads import cpu_threads
from .embeddings import TextEncoder
from .records import embedding_text

SCORE_FEATURES = ["match_weight", "cosine", "found_by_semantic", "found_by_swapped"]
CONTEXT_FEATURES = ["shared_listeners", "listener_jaccard", "neighbour_jaccard", "listener_ratio", "log_min_plays"]
_MORE_IS_LIKELIER = {"match_weight", "cosine", "shared_listeners", "listener_jaccard", "neighbour_jaccard"}
SESSION_GAP_MINUTES = 30


def world_plays_sql(world_dir: Path) -> str:
    """A synthetic world's scrobbles in the shape build_variant_context reads."""
    return f"""SELECT artist_name AS artist_raw, track_name AS track_raw, user_id, played_at
               FROM read_parquet('{Path(world_dir) / "scrobbles" / "*.parquet"}')"""


def build_variant_context(con: duckdb.DuckDBPyConnection, plays_sql: str) -> None:
    """TEMP TABLE variant_context(variant_id, listeners, neighbours, plays) from scrobbles selecting
    artist_raw, track_raw, user_id, played_at; variant ids as the catalog makes them."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE variant_context AS
        WITH plays AS (SELECT artist_raw, track_raw, user_id, played_at FROM ({plays_sql})),
        ordered AS (
            SELECT artist_raw, track_raw, user_id,
                   CASE WHEN played_at - lag(played_at) OVER w <= INTERVAL {SESSION_GAP_MINUTES} MINUTE
                        THEN lower(trim(lag(artist_raw) OVER w)) END AS previous_artist,
                   CASE WHEN lead(played_at) OVER w - played_at <= INTERVAL {SESSION_GAP_MINUTES} MINUTE
                        THEN lower(trim(lead(artist_raw) OVER w)) END AS next_artist
            FROM plays WINDOW w AS (PARTITION BY user_id ORDER BY played_at))
        SELECT artist_raw, track_raw,
               list_distinct(list(user_id))[1:200] AS listeners,
               list_distinct(list(previous_artist) || list(next_artist)) AS neighbours,
               count(*) AS plays
        FROM ordered GROUP BY artist_raw, track_raw""")


def pair_features(con: duckdb.DuckDBPyConnection, scores: pa.Table, encoder: TextEncoder) -> pa.Table:
    """Features of scored candidate pairs (unique_id_l, unique_id_r, found_by, match_weight), in their
    order, over the catalog's resolution.variants, with variant_context built first."""
    con.register("head_scores", scores.select(["unique_id_l", "unique_id_r", "found_by", "match_weight"])
                 .append_column("pair_row", pa.array(np.arange(scores.num_rows), pa.int64())))
    pairs = con.sql("""
        WITH ctx AS (SELECT v.variant_id, v.artist_raw, v.track_raw, c.listeners, c.neighbours, c.plays
                     FROM resolution.variants v
                     LEFT JOIN variant_context c USING (artist_raw, track_raw))
        SELECT s.unique_id_l, s.unique_id_r, l.artist_raw AS artist_l, l.track_raw AS track_l,
               r.artist_raw AS artist_r, r.track_raw AS track_r,
               greatest(least(s.match_weight, 40), -40) AS match_weight,
               CASE WHEN s.found_by LIKE '%semantic%' THEN 1.0 ELSE 0.0 END AS found_by_semantic,
               CASE WHEN s.found_by LIKE '%swapped%' THEN 1.0 ELSE 0.0 END AS found_by_swapped,
               len(list_intersect(l.listeners, r.listeners))::DOUBLE AS shared_listeners,
               len(list_intersect(l.listeners, r.listeners))::DOUBLE
                 / nullif(len(list_distinct(l.listeners || r.listeners)), 0) AS listener_jaccard,
               len(list_intersect(l.neighbours, r.neighbours))::DOUBLE
                 / nullif(len(list_distinct(l.neighbours || r.neighbours)), 0) AS neighbour_jaccard,
               least(len(l.listeners), len(r.listeners))::DOUBLE
                 / nullif(greatest(len(l.listeners), len(r.listeners)), 0) AS listener_ratio,
               ln(1 + least(coalesce(l.plays, 0), coalesce(r.plays, 0))) AS log_min_plays
        FROM head_scores s JOIN ctx l ON l.variant_id = s.unique_id_l JOIN ctx r ON r.variant_id = s.unique_id_r
        ORDER BY s.pair_row""").to_arrow_table()
    con.unregister("head_scores")
    left = encoder.encode([embedding_text(a, t) for a, t in zip(pairs["artist_l"].to_pylist(),
                                                                 pairs["track_l"].to_pylist(), strict=True)])
    right = encoder.encode([embedding_text(a, t) for a, t in zip(pairs["artist_r"].to_pylist(),
                                                                  pairs["track_r"].to_pylist(), strict=True)])
    cosine = (left * right).sum(axis=1) if len(left) else np.zeros(0, dtype=np.float32)
    return pairs.append_column("cosine", pa.array(cosine.astype(np.float64)))


@dataclass
class WorldPairs:
    """A synthetic world resolved by the catalog, with every scored candidate pair's features and label."""

    run: object  # catalog.WindowRun
    features: pa.Table
    labels: np.ndarray


def resolve_world_pairs(con: duckdb.DuckDBPyConnection, world_dir: Path, encoder: TextEncoder,
                        window_start: str = "2025-01-01") -> WorldPairs:
    """Resolve all of a world's scrobbles into the catalog in `con`, then build the head's training data."""
    from . import catalog
    from .evaluation import world_scrobbles_sql
    from .rules_file import load_rules

    run = catalog.resolve_window(con, world_scrobbles_sql(world_dir), window_start, load_rules())
    build_variant_context(con, world_plays_sql(world_dir))
    features = pair_features(con, run.scores, encoder)
    return WorldPairs(run, features, truth_labels(con, features, Path(world_dir) / "truth"))


def truth_labels(con: duckdb.DuckDBPyConnection, features: pa.Table, truth_dir: Path) -> np.ndarray:
    """1 where both variants are strings of the same true track of the world, else 0."""
    con.register("head_pairs", features.select(["unique_id_l", "unique_id_r"])
                 .append_column("pair_row", pa.array(np.arange(features.num_rows), pa.int64())))
    rows = con.sql(f"""
        WITH truth AS (SELECT artist, title, min(true_track_id) AS track
                       FROM read_parquet('{Path(truth_dir) / "variants.parquet"}') GROUP BY ALL),
        tracks AS (SELECT v.variant_id, t.track FROM resolution.variants v
                   JOIN truth t ON t.artist = v.artist_raw AND t.title = v.track_raw)
        SELECT coalesce(l.track = r.track, false)
        FROM head_pairs p LEFT JOIN tracks l ON l.variant_id = p.unique_id_l
        LEFT JOIN tracks r ON r.variant_id = p.unique_id_r
        ORDER BY p.pair_row""").fetchall()
    con.unregister("head_pairs")
    return np.array([int(r[0]) for r in rows], dtype=np.int8)


def adjust_scores(con: duckdb.DuckDBPyConnection, scores: pa.Table, head: ContextHead, encoder: TextEncoder,
                  plays_sql: str) -> pa.Table:
    """The scores with match_probability replaced by the head's; splink's own stays in match_weight."""
    if scores.num_rows == 0:
        return scores
    if head.uses_context:
        build_variant_context(con, plays_sql)
    else:
        con.execute("""CREATE OR REPLACE TEMP TABLE variant_context AS SELECT NULL::VARCHAR AS artist_raw,
                       NULL::VARCHAR AS track_raw, NULL::VARCHAR[] AS listeners, NULL::VARCHAR[] AS neighbours,
                       NULL::BIGINT AS plays WHERE false""")
    probability = head.predict(pair_features(con, scores, encoder))
    return scores.set_column(scores.column_names.index("match_probability"), "match_probability",
                             pa.array(probability, pa.float64()))


def _matrix(features: pa.Table, names: list[str]) -> np.ndarray:
    return np.column_stack([np.asarray(features[n].to_numpy(zero_copy_only=False), dtype=np.float64)
                            for n in names])


@dataclass
class ContextHead:
    feature_names: list[str]
    booster: object

    @property
    def uses_context(self) -> bool:
        return any(n in CONTEXT_FEATURES for n in self.feature_names)

    def predict(self, features: pa.Table) -> np.ndarray:
        if features.num_rows == 0:
            return np.zeros(0)
        return self.booster.predict(_matrix(features, self.feature_names))

    def to_json(self) -> dict:
        return {"kind": "timbral_context_head", "features": self.feature_names,
                "booster": self.booster.model_to_string()}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: Path) -> ContextHead:
        import lightgbm as lgb

        data = json.loads(Path(path).read_text())
        return cls(data["features"], lgb.Booster(model_str=data["booster"]))


def train_head(features: pa.Table, labels: np.ndarray, with_context: bool, seed: int = 0) -> ContextHead:
    import lightgbm as lgb

    if labels.sum() == 0 or labels.sum() == len(labels):
        raise ValueError("the head needs both matching and non-matching pairs to learn from")
    names = SCORE_FEATURES + (CONTEXT_FEATURES if with_context else [])
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
              "feature_fraction": 1.0, "verbose": -1, "seed": seed, "deterministic": True, "num_threads": cpu_threads(),
              # more evidence for a match can never lower the probability
              "monotone_constraints": [1 if n in _MORE_IS_LIKELIER else 0 for n in names]}
    booster = lgb.train(params, lgb.Dataset(_matrix(features, names), label=labels), num_boost_round=200)
    return ContextHead(names, booster)
