"""The `resolution` schema: its tables, the catalog's variants, and the state of the current batch.

Tables (DuckDB schema `resolution`; this module is the one place that declares them):
  variants            one row per distinct raw (artist, title): standardised keys, modal album, median
                      duration, MusicBrainz ids, plays, listeners, first seen
  entity_candidates   candidate pairs found for the current batch (blocking + semantic)
  entity_match_scores splink scores of those pairs
  entity_clusters     variant -> canonical track / artist, tier, method, confidence, quality level
  overrides           manual (artist, title) -> track_id; always win, never written by the resolver
  semantic_index      catalog variants the semantic tier searches against
  window_queries      the current batch's query; `batch` says how far the assets have taken it
  rules               every rules file the resolver has run under, by version

A variant is resolved when, and only when, its entity_clusters row exists: a batch's query is every variant
without one (new or left by a run that died), so a run killed between the assets is redone by the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import duckdb
import pyarrow as pa

from .records import TrackRecord, content_hash, standardise
from .rules_file import ResolutionRules
from .text import fold, fold_artist

DDL = [
    "CREATE SCHEMA IF NOT EXISTS resolution",
    """CREATE TABLE IF NOT EXISTS resolution.variants (
        variant_id VARCHAR PRIMARY KEY, artist_raw VARCHAR, track_raw VARCHAR, album_raw VARCHAR,
        duration_s DOUBLE, track_mbid VARCHAR, artist_mbid VARCHAR,
        artist_key VARCHAR, title_key VARCHAR, title_head VARCHAR, title_sorted VARCHAR, version VARCHAR,
        album_key VARCHAR, exact_key VARCHAR, play_count BIGINT, listener_count BIGINT,
        top_users VARCHAR[], first_seen DATE, rules_version VARCHAR, markers VARCHAR)""",
    # catalogs made before recording markers existed (their rules version differs, so they are re-standardised)
    "ALTER TABLE resolution.variants ADD COLUMN IF NOT EXISTS markers VARCHAR",
    """CREATE TABLE IF NOT EXISTS resolution.entity_candidates (
        window_start DATE, unique_id_l VARCHAR, unique_id_r VARCHAR, found_by VARCHAR, cosine FLOAT)""",
    """CREATE TABLE IF NOT EXISTS resolution.entity_match_scores (
        window_start DATE, unique_id_l VARCHAR, unique_id_r VARCHAR, found_by VARCHAR, cosine FLOAT,
        match_weight DOUBLE, match_probability DOUBLE, comparison_levels JSON)""",
    """CREATE TABLE IF NOT EXISTS resolution.entity_clusters (
        variant_id VARCHAR PRIMARY KEY, track_id VARCHAR, artist_id VARCHAR, tier VARCHAR, method VARCHAR,
        confidence DOUBLE, quality VARCHAR, suggested_track_id VARCHAR, resolved_in DATE)""",
    # catalog variants whose strings the semantic tier searches: which ones is warehouse state, written in the
    # candidates' transaction, so that the choice never depends on what the embedding cache happens to hold
    "CREATE TABLE IF NOT EXISTS resolution.semantic_index (variant_id VARCHAR PRIMARY KEY, added_in DATE)",
    # the current batch: its query, and how far the assets have taken it (each flag set in the transaction
    # that does the work, so a rerun skips what is done and redoes what is not)
    "CREATE TABLE IF NOT EXISTS resolution.window_queries (window_start DATE, variant_id VARCHAR)",
    "CREATE TABLE IF NOT EXISTS resolution.batch (batch_date DATE, scored BOOLEAN, clustered BOOLEAN)",
    """CREATE TABLE IF NOT EXISTS resolution.overrides (
        artist_raw VARCHAR, track_raw VARCHAR, track_id VARCHAR, note VARCHAR,
        created_at TIMESTAMPTZ DEFAULT current_timestamp, PRIMARY KEY (artist_raw, track_raw))""",
    """CREATE TABLE IF NOT EXISTS resolution.rules (
        version VARCHAR PRIMARY KEY, body JSON, loaded_at TIMESTAMPTZ DEFAULT current_timestamp)""",
]

# the variants as the candidate passes and key tiers read records: unique_id plus the standardised keys
CATALOG_RECORDS = """(SELECT variant_id AS unique_id, artist_key, title_key, title_head, title_sorted, version,
                             album_key, exact_key, markers, track_mbid, duration_s, NULL::INTEGER AS year
                      FROM resolution.variants)"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def variant_id(artist_raw: str, track_raw: str) -> str:
    return "var_" + content_hash(artist_raw, track_raw)


def standardised_row(vid: str, artist_raw: str, track_raw: str, album_raw: str | None, duration_s: float | None,
                     rules: ResolutionRules, known: frozenset[str]) -> tuple:
    """(artist_key, title_key, title_head, title_sorted, version, album_key, exact_key, markers, duration_s)."""
    artist, title = rules.prepare(artist_raw, track_raw)
    rec = standardise(vid, title, artist, album_raw, duration_s, None, rules=rules.credit_rules(), known_artists=known)
    return (rec.artist_key, rec.title_key, rec.title_head, rec.title_sorted, rec.version, rec.album_key,
            fold_artist(artist) + "|" + fold(title), rec.markers, rec.duration_s)


# what dbt_like_sql's tb_is_placeholder reads as a name that says it is missing ("ID", "[unknown]", "?")
PLACEHOLDER_WORDS = ("", "id", "unknown", "unknown artist", "unknown track", "unknown title", "?", "??", "???")


def placeholder_sql(column: str, words: tuple[str, ...] = PLACEHOLDER_WORDS) -> str:
    """SQL for tb_is_placeholder(column), for connections without the project's macros; `words` widens it
    (an album that says "N/A")."""
    listed = ", ".join("'" + w.replace("'", "''") + "'" for w in words)
    return (f"regexp_replace(regexp_replace(lower(trim(coalesce({column}, ''))), '\\s+', ' ', 'g'), "
            f"'^[\\[(<\\s]+|[\\])>\\s]+$', '', 'g') IN ({listed})")


def most_common(column: str) -> str:
    """SQL for the most common non-null value of a column in a GROUP BY, ties to the greater value. Unlike
    mode() and any_value(), the answer does not depend on how DuckDB's threads split the rows. The SQL models
    have the same expression as the macro tb_most_common (dbt_like_sql/macros/normalise.sql)."""
    return (f"(list_sort(list_transform(map_entries(histogram({column})), "
            "lambda e: {'n': e.value, 'v': e.key}), 'DESC')[1]).v")


def known_artist_keys(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Artist keys already in the catalog: credit parsing keeps "X & Y" whole when it is a known artist."""
    return frozenset(r[0] for r in con.sql("SELECT DISTINCT artist_key FROM resolution.variants").fetchall())


def add_variants(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, batch_date: str,
                 rules: ResolutionRules) -> list[str]:
    """Insert the plays' unseen (artist, title) variants, standardised; return their ids.
    `scrobbles_sql` selects artist_raw, track_raw, album_raw, duration_ms, track_mbid, artist_mbid, user_id."""
    rows = con.sql(f"""
        WITH plays AS ({scrobbles_sql})
        SELECT artist_raw, track_raw, {most_common('album_raw')} AS album_raw,
               median(duration_ms) / 1000.0 AS duration_s, {most_common('track_mbid')} AS track_mbid,
               {most_common('artist_mbid')} AS artist_mbid, count(*) AS play_count,
               count(DISTINCT user_id) AS listener_count,
               list(user_id ORDER BY user_id)[1:5] AS top_users
        FROM plays p
        WHERE NOT EXISTS (SELECT 1 FROM resolution.variants v
                          WHERE v.artist_raw = p.artist_raw AND v.track_raw = p.track_raw)
        GROUP BY artist_raw, track_raw""").fetchall()
    known = known_artist_keys(con)
    out = []
    for artist_raw, track_raw, album_raw, duration_s, track_mbid, artist_mbid, plays, listeners, users in rows:
        vid = variant_id(artist_raw, track_raw)
        *keys, duration = standardised_row(vid, artist_raw, track_raw, album_raw, duration_s, rules, known)
        out.append((vid, artist_raw, track_raw, album_raw, duration, track_mbid, artist_mbid, *keys,
                    plays, listeners, users, batch_date, rules.version))
    if out:
        columns = ["variant_id", "artist_raw", "track_raw", "album_raw", "duration_s", "track_mbid", "artist_mbid",
                   "artist_key", "title_key", "title_head", "title_sorted", "version", "album_key", "exact_key",
                   "markers", "play_count", "listener_count", "top_users", "first_seen", "rules_version"]
        table = pa.table({c: [r[i] for r in out] for i, c in enumerate(columns)})
        con.register("new_variant_rows", table)
        con.execute("INSERT INTO resolution.variants BY NAME SELECT * REPLACE (first_seen::DATE AS first_seen) "
                    "FROM new_variant_rows")
        con.unregister("new_variant_rows")
    return [r[0] for r in out]


def reapply_rules(con: duckdb.DuckDBPyConnection, rules: ResolutionRules) -> list[str]:
    """Re-standardise every variant made under other rules; return their ids, which must be re-resolved."""
    rows = con.sql("SELECT variant_id, artist_raw, track_raw, album_raw, duration_s FROM resolution.variants "
                   "WHERE rules_version IS DISTINCT FROM ?", params=[rules.version]).fetchall()
    if not rows:
        return []
    known = known_artist_keys(con)
    columns = ["variant_id", "artist_key", "title_key", "title_head", "title_sorted", "version", "album_key", "exact_key",
               "markers"]
    updated = [(r[0], *standardised_row(r[0], r[1], r[2], r[3], r[4], rules, known)[:8]) for r in rows]
    con.register("restandardised", pa.table({c: [u[i] for u in updated] for i, c in enumerate(columns)}))
    con.execute(f"""UPDATE resolution.variants v SET {", ".join(f"{c} = n.{c}" for c in columns[1:])},
                    rules_version = ? FROM restandardised n WHERE v.variant_id = n.variant_id""", [rules.version])
    con.unregister("restandardised")
    return [r[0] for r in rows]


def unresolved_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Variants without a cluster row: the batch's new ones, and any that a run which died left behind."""
    return [r[0] for r in con.sql("""
        SELECT v.variant_id FROM resolution.variants v
        WHERE NOT EXISTS (SELECT 1 FROM resolution.entity_clusters c WHERE c.variant_id = v.variant_id)
        ORDER BY v.variant_id""").fetchall()]


def retry_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Unmatched founders are re-resolved as the catalog grows, unless other variants joined them."""
    return [r[0] for r in con.sql("""
        SELECT c.variant_id FROM resolution.entity_clusters c
        WHERE c.quality IN ('low', 'none') AND c.tier <> 'manual'
          AND (SELECT count(*) FROM resolution.entity_clusters c2 WHERE c2.track_id = c.track_id) = 1
        ORDER BY c.variant_id""").fetchall()]


class BatchQuery(NamedTuple):
    """What a batch resolves: `query` is every unresolved variant, those whose rules changed and, when
    either exists, the unmatched queue; `new`, `changed` and `queue` say where they came from."""

    query: list[str]
    new: list[str]
    changed: list[str]
    queue: list[str]


def batch_query(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, batch_date: str,
                rules: ResolutionRules) -> BatchQuery:
    """Add the plays' new variants and return the batch's query. With nothing new the query is empty: a
    rerun on the same input changes nothing."""
    changed = reapply_rules(con, rules)
    new = add_variants(con, scrobbles_sql, batch_date, rules)
    unresolved = unresolved_ids(con)
    queue = retry_ids(con) if unresolved or changed else []
    return BatchQuery(sorted(set(unresolved) | set(changed) | set(queue)), new, changed, queue)


class Batch(NamedTuple):
    date: str
    scored: bool
    clustered: bool
    query: list[str]


def start_batch(con: duckdb.DuckDBPyConnection, batch_date: str, query_ids: Sequence[str]) -> None:
    """Make `query_ids` the current batch (window_queries), neither scored nor clustered yet."""
    con.execute("DELETE FROM resolution.window_queries")
    con.register("batch_query_arrow", pa.table({"variant_id": pa.array(list(query_ids), pa.string())}))
    con.execute("INSERT INTO resolution.window_queries SELECT ?::DATE, variant_id FROM batch_query_arrow",
                [batch_date])
    con.unregister("batch_query_arrow")
    con.execute("DELETE FROM resolution.batch")
    con.execute("INSERT INTO resolution.batch VALUES (?::DATE, false, false)", [batch_date])


def batch_state(con: duckdb.DuckDBPyConnection) -> Batch | None:
    """The current batch, its query and how far the assets have taken it; None before the first."""
    row = con.sql("SELECT batch_date::VARCHAR, scored, clustered FROM resolution.batch").fetchall()
    if not row:
        return None
    query = [r[0] for r in con.sql("SELECT variant_id FROM resolution.window_queries ORDER BY variant_id").fetchall()]
    return Batch(*row[0], query)


def mark_batch(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    if stage not in ("scored", "clustered"):
        raise ValueError(stage)
    con.execute(f"UPDATE resolution.batch SET {stage} = true")


def variant_records(con: duckdb.DuckDBPyConnection, ids: Sequence[str] | None = None) -> list[TrackRecord]:
    """The variants as standardised records, all of them or those in `ids`."""
    where = "true"
    if ids is not None:
        con.register("record_ids_arrow", pa.table({"variant_id": pa.array(sorted(set(ids)), pa.string())}))
        where = "variant_id IN (SELECT variant_id FROM record_ids_arrow)"
    rows = con.sql(f"""SELECT variant_id, artist_raw, track_raw, coalesce(album_raw, ''), duration_s, artist_key,
                              title_key, title_head, title_sorted, version, album_key, coalesce(markers, '')
                       FROM resolution.variants WHERE {where} ORDER BY variant_id""").fetchall()
    if ids is not None:
        con.unregister("record_ids_arrow")
    return [TrackRecord(r[0], r[1], r[2], r[3], r[4], None, r[5], r[6], r[7], r[8], r[9], r[10], markers=r[11])
            for r in rows]


def apply_overrides(con: duckdb.DuckDBPyConnection) -> int:
    """Manual overrides win over every tier, on every run."""
    con.execute("""
        UPDATE resolution.entity_clusters c
        SET track_id = o.track_id, tier = 'manual', method = 'override', confidence = 1.0, quality = 'exact',
            artist_id = coalesce((SELECT min(c2.artist_id) FROM resolution.entity_clusters c2
                                  WHERE c2.track_id = o.track_id AND c2.tier <> 'manual'), c.artist_id)
        FROM resolution.overrides o JOIN resolution.variants v
          ON v.artist_raw = o.artist_raw AND v.track_raw = o.track_raw
        WHERE c.variant_id = v.variant_id""")
    return con.sql("SELECT count(*) FROM resolution.entity_clusters WHERE tier = 'manual'").fetchall()[0][0]


def unmatched_queue(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql("""
        SELECT v.variant_id, v.artist_raw, v.track_raw, v.play_count, c.quality, c.suggested_track_id
        FROM resolution.entity_clusters c JOIN resolution.variants v USING (variant_id)
        WHERE c.quality IN ('low', 'none')
        ORDER BY v.play_count DESC, v.variant_id""").to_arrow_table()
