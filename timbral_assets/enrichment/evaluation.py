"""Enrichment against a synthetic world's truth: label coverage and precision by source, and unknown-artist
identification's resolution rate and precision per confidence tier. Reads the warehouse (read-only is
enough) and the world's truth/ folder."""

from __future__ import annotations

from pathlib import Path

import duckdb


def _true_tracks(con: duckdb.DuckDBPyConnection, world: Path) -> None:
    """Temp tables: canonical track -> its majority true track; canonical artist -> its majority true artist."""
    truth = Path(world) / "truth"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _play_truth AS
        SELECT i.track_id, i.artist_id, v.true_track_id, t.true_artist_id
        FROM intermediate.int_scrobble_tracks i
        JOIN read_parquet('{truth}/scrobble_truth/*.parquet') st USING (scrobble_id)
        JOIN read_parquet('{truth}/variants.parquet') v USING (variant_id)
        JOIN read_parquet('{truth}/tracks.parquet') t USING (true_track_id)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _track_truth AS
                   SELECT track_id, arg_max(true_track_id, (n, true_track_id)) AS true_track_id
                   FROM (SELECT track_id, true_track_id, count(*) AS n FROM _play_truth GROUP BY ALL) GROUP BY track_id""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _artist_truth AS
                   SELECT artist_id, arg_max(true_artist_id, (n, true_artist_id)) AS true_artist_id
                   FROM (SELECT artist_id, true_artist_id, count(*) AS n FROM _play_truth GROUP BY ALL) GROUP BY artist_id""")


def _norm(sql_value: str) -> str:
    return f"regexp_replace(lower(strip_accents({sql_value})), '[^a-z0-9]+', ' ', 'g')"


def label_report(con: duckdb.DuckDBPyConnection, world: Path) -> list[dict]:
    """One row per label source (and 'none'): tracks, share of the catalog, and the precision of its labels
    against the true label of the track's majority true recording."""
    _true_tracks(con, world)
    truth = Path(world) / "truth"
    rows = con.execute(f"""
        WITH judged AS (
            SELECT coalesce(e.label_source, 'none') AS source, e.label IS NOT NULL AS labelled,
                   {_norm('e.label')} = {_norm('t.label')} AS is_right
            FROM enrichment.enrichment_status e
            LEFT JOIN _track_truth tt USING (track_id)
            LEFT JOIN read_parquet('{truth}/tracks.parquet') t USING (true_track_id))
        SELECT source, count(*) AS tracks, count(*) / sum(count(*)) OVER () AS share,
               count(*) FILTER (WHERE is_right) AS is_right, count(*) FILTER (WHERE labelled) AS labelled
        FROM judged GROUP BY source ORDER BY source""").fetchall()
    return [{"source": s, "tracks": int(n), "share": round(float(share), 4),
             "precision": round(right / labelled, 4) if labelled else None} for s, n, share, right, labelled in rows]


def identification_report(con: duckdb.DuckDBPyConnection, world: Path) -> list[dict]:
    """Per (source, tier): plays, and how many of the answers name the true artist. The accepted tiers'
    precision is what a user relies on; the rejected tier's is the best guess that was held back."""
    _true_tracks(con, world)
    truth = Path(world) / "truth"
    rows = con.execute(f"""
        WITH truth AS (
            SELECT 'dj:' || set_id || '#' || position AS occurrence_id, true_artist_id, artist AS true_name
            FROM read_parquet('{truth}/dj_tracklists.parquet') WHERE is_id
            UNION ALL
            SELECT 'scrobble:' || st.scrobble_id, t.true_artist_id, t.artist
            FROM read_parquet('{truth}/scrobble_truth/*.parquet') st
            JOIN read_parquet('{truth}/variants.parquet') v USING (variant_id)
            JOIN read_parquet('{truth}/tracks.parquet') t USING (true_track_id)
            WHERE v.variant_kind = 'unknown_id'),
        judged AS (
            SELECT a.source, a.tier,
                   coalesce(art.true_artist_id = tr.true_artist_id,
                            {_norm('a.best_artist_name')} = {_norm('tr.true_name')}, false) AS is_right
            FROM enrichment.artist_identifications a
            JOIN truth tr USING (occurrence_id)
            LEFT JOIN _artist_truth art ON art.artist_id = a.best_artist_id)
        SELECT source, tier, count(*), count(*) FILTER (WHERE is_right) FROM judged GROUP BY ALL ORDER BY 1, 2""").fetchall()
    return [{"source": s, "tier": t, "plays": int(n), "right": int(r), "precision": round(r / n, 4) if n else None}
            for s, t, n, r in rows]
