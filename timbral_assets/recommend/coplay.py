"""Session co-play: which tracks people play near each other in one sitting.

A session is a user's run of plays with no gap over 30 minutes. A play cut short (the next play starts before
half the track has passed) is a skip and pairs with nothing. Each play pairs with the next `window` kept plays
of its session; a user adds at most `per_user_cap` to any pair, so one heavy listener cannot make a pair. The
score is the capped count over sqrt(plays_i · plays_j) with a shrink, and same-artist pairs are ranked apart from
cross-artist pairs (an artist's own catalogue would otherwise fill every list)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp


@dataclass(frozen=True)
class CoplayParams:
    session_gap_minutes: float = 30.0
    skip_share: float = 0.5
    window: int = 5
    per_user_cap: int = 3
    shrink: float = 5.0
    neighbours: int = 50
    min_pair_users: int = 1


def mark_sessions(plays: pl.DataFrame, params: CoplayParams = CoplayParams()) -> pl.DataFrame:
    """Adds session (per user, from 0), position (in the session) and skipped to plays with columns user_id,
    played_at (datetime), track_id, artist_id, duration_ms (null: unknown, never a skip)."""
    gap = pl.duration(minutes=params.session_gap_minutes)
    ordered = plays.sort(["user_id", "played_at", "track_id"])
    until_next = pl.col("played_at").shift(-1).over("user_id") - pl.col("played_at")
    return (ordered
            .with_columns(new_session=(pl.col("played_at").diff().over("user_id") > gap).fill_null(True),
                          skipped=(until_next.dt.total_milliseconds()
                                   < pl.col("duration_ms") * params.skip_share).fill_null(False))
            .with_columns(session=pl.col("new_session").cum_sum().over("user_id") - 1)
            .with_columns(position=pl.int_range(pl.len()).over(["user_id", "session"]))
            .drop("new_session"))


def _codes(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Each distinct value of `column`, sorted, with a UInt32 code: joins and group-bys on numbers, not strings."""
    return frame.select(pl.col(column).unique().sort()).with_row_index(f"{column}_code")


def _pair_codes(sessions: pl.DataFrame, params: CoplayParams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs on track codes (x < y: users, count, same_artist) and the code table (track_id, track_id_code)."""
    kept = sessions.filter(~pl.col("skipped"))
    tracks, users, artists = _codes(kept, "track_id"), _codes(kept, "user_id"), _codes(kept, "artist_id")
    kept = (kept.join(tracks, on="track_id").join(users, on="user_id").join(artists, on="artist_id", how="left")
            .sort(["user_id_code", "played_at", "track_id_code"])
            .select(u="user_id_code", s="session", t="track_id_code", a="artist_id_code")
            .with_columns(p=pl.int_range(pl.len()).over(["u", "s"])))
    parts = []
    for offset in range(1, params.window + 1):
        later = kept.with_columns(p=pl.col("p") - offset).rename({"t": "t_b", "a": "a_b"})
        parts.append(kept.join(later, on=["u", "s", "p"], how="inner")
                     .filter(pl.col("t") != pl.col("t_b"))
                     .select("u", pl.min_horizontal("t", "t_b").alias("x"), pl.max_horizontal("t", "t_b").alias("y"),
                             (pl.col("a") == pl.col("a_b")).fill_null(False).alias("same"))
                     .group_by("u", "x", "y").agg(pl.len().alias("n"), pl.col("same").first()))
    schema = {"x": pl.UInt32, "y": pl.UInt32, "users": pl.UInt32, "count": pl.Int64, "same_artist": pl.Boolean}
    if not parts:
        return pl.DataFrame(schema=schema), tracks
    per_user = (pl.concat(parts).group_by("u", "x", "y").agg(pl.col("n").sum(), pl.col("same").first())
                .with_columns(n=pl.min_horizontal("n", pl.lit(params.per_user_cap))))
    del parts
    pairs = (per_user.group_by("x", "y")
             .agg(pl.len().cast(pl.UInt32).alias("users"), pl.col("n").sum().cast(pl.Int64).alias("count"),
                  pl.col("same").first().alias("same_artist"))
             .filter(pl.col("users") >= params.min_pair_users))
    return pairs, tracks


def _decode(frame: pl.DataFrame, tracks: pl.DataFrame, code: str, name: str) -> pl.DataFrame:
    return frame.join(tracks.rename({"track_id_code": code, "track_id": name}), on=code)


def coplay_pairs(sessions: pl.DataFrame, params: CoplayParams = CoplayParams()) -> pl.DataFrame:
    """Undirected pair counts (track_a < track_b in code order) over kept plays: users (distinct), count (capped
    per user), same_artist."""
    pairs, tracks = _pair_codes(sessions, params)
    return (_decode(_decode(pairs, tracks, "x", "track_a"), tracks, "y", "track_b")
            .select("track_a", "track_b", "users", "count", "same_artist"))


def _ranked(pairs: pl.DataFrame, plays: pl.DataFrame, params: CoplayParams) -> pl.DataFrame:
    """Directed, scored and ranked neighbour rows on codes (x: the track, y: its neighbour)."""
    both = pl.concat([pairs, pairs.rename({"x": "y", "y": "x"}).select(pairs.columns)])
    scored = (both.join(plays.rename({"t": "x"}), on="x")
              .join(plays.rename({"t": "y", "plays": "plays_b"}), on="y")
              .with_columns(score=pl.col("count") / ((pl.col("plays") * pl.col("plays_b")).sqrt() + params.shrink)))
    # ties broken by neighbour (codes follow id order), so two runs rank alike whatever order group-bys left
    return (scored.sort(["x", "same_artist", "score", "y"], descending=[False, False, True, False])
            .with_columns(rank=pl.int_range(1, pl.len() + 1).over(["x", "same_artist"]))
            .filter(pl.col("rank") <= params.neighbours))


def _kept_plays(sessions: pl.DataFrame, tracks: pl.DataFrame) -> pl.DataFrame:
    return (sessions.filter(~pl.col("skipped")).group_by("track_id").agg(pl.len().alias("plays"))
            .join(tracks, on="track_id").select(t="track_id_code", plays="plays"))


def _output(ranked: pl.DataFrame, tracks: pl.DataFrame) -> pl.DataFrame:
    return (_decode(_decode(ranked, tracks, "x", "track_id"), tracks, "y", "neighbour_id")
            .sort(["x", "same_artist", "rank"])
            .select("track_id", "neighbour_id", pl.col("score").round(6), "count", "users", "same_artist",
                    pl.col("rank").cast(pl.Int32)))


def coplay_neighbours(sessions: pl.DataFrame, params: CoplayParams = CoplayParams()) -> tuple[pl.DataFrame, int]:
    """Top `neighbours` per track and per kind (same_artist false / true): track_id, neighbour_id, score, count,
    users, same_artist, rank (from 1 within the kind); and how many pairs were counted. Ids are numbers until
    the last step, so a history of millions of plays stays within a few GB."""
    pairs, tracks = _pair_codes(sessions, params)
    n_pairs = len(pairs)
    ranked = _ranked(pairs, _kept_plays(sessions, tracks), params)
    del pairs
    return _output(ranked, tracks), n_pairs


def neighbour_lists(sessions: pl.DataFrame, pairs: pl.DataFrame, params: CoplayParams = CoplayParams()) -> pl.DataFrame:
    """coplay_neighbours' lists from pairs already counted (coplay_pairs' output)."""
    tracks = _codes(sessions.filter(~pl.col("skipped")), "track_id")
    coded = (pairs.join(tracks.rename({"track_id": "track_a", "track_id_code": "x"}), on="track_a")
             .join(tracks.rename({"track_id": "track_b", "track_id_code": "y"}), on="track_b")
             .select("x", "y", "users", "count", "same_artist"))
    return _output(_ranked(coded, _kept_plays(sessions, tracks), params), tracks)


def similarity_matrix(neighbours: pl.DataFrame, item_ids: np.ndarray, include_same_artist: bool = False) -> sp.csr_matrix:
    """The neighbour lists as an items × items matrix in `item_ids`' order (ids not listed are left out)."""
    if not include_same_artist:
        neighbours = neighbours.filter(~pl.col("same_artist"))
    position = {t: i for i, t in enumerate(item_ids.tolist())}
    rows = np.array([position.get(t, -1) for t in neighbours["track_id"].to_list()], dtype=np.int64)
    cols = np.array([position.get(t, -1) for t in neighbours["neighbour_id"].to_list()], dtype=np.int64)
    keep = (rows >= 0) & (cols >= 0)
    values = neighbours["score"].to_numpy()[keep].astype(np.float32)
    return sp.csr_matrix((values, (rows[keep], cols[keep])), shape=(len(item_ids), len(item_ids)))
