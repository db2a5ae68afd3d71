"""The incremental resolver over the warehouse: new (artist, title) variants against the existing catalog.

Tables (DuckDB schema `resolution`):
  variants          one row per distinct raw (artist, title): standardised keys, modal album, median
                    duration, MusicBrainz ids, plays, listeners, first seen
  entity_candidates candidate pairs found for a window's new variants (blocking + semantic)
  entity_match_scores splink scores of those pairs
  entity_clusters   variant -> canonical track / artist, tier, method, confidence, quality level
  overrides         manual (artist, title) -> track_id; always win, never written by the resolver
  unmatched_queue   variants with no medium-or-better mapping, by play count; retried every run
  semantic_index    catalog variants the semantic tier searches against

A variant is resolved when, and only when, its entity_clusters row exists: a window's query is every variant
without one (new or left by a run that died), so a run killed between the assets is redone by the next.

Canonical ids are stable: an existing variant keeps its track_id, a new variant joins an existing entity
or founds a new one whose id hashes the founder's keys. Two existing entities are never merged silently.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .candidates import SWAPPED_PASS, all_candidates, blocked_pairs, semantic_pairs
from .clustering import ClusterConfig, constrained_clusters
from .embeddings import TextEncoder
from .matcher import TF_COLUMNS, MatcherConfig, TrackMatcher
from .pipeline import misoriented_edges, records_table, score_with_swaps, swapped_copies
from .records import TrackRecord, content_hash, embedding_text, standardise
from .rules_file import ResolutionRules
from .text import fold, fold_artist

QUALITY_ORDER = ("exact", "high", "medium", "low", "none")
FEEDS_AGGREGATES = ("exact", "high", "medium")

DDL = [
    "CREATE SCHEMA IF NOT EXISTS resolution",
    """CREATE TABLE IF NOT EXISTS resolution.variants (
        variant_id VARCHAR PRIMARY KEY, artist_raw VARCHAR, track_raw VARCHAR, album_raw VARCHAR,
        duration_s DOUBLE, track_mbid VARCHAR, artist_mbid VARCHAR,
        artist_key VARCHAR, title_key VARCHAR, title_head VARCHAR, title_sorted VARCHAR, version VARCHAR,
        album_key VARCHAR, exact_key VARCHAR, play_count BIGINT, listener_count BIGINT,
        top_users VARCHAR[], first_seen DATE, rules_version VARCHAR)""",
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
]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def variant_id(artist_raw: str, track_raw: str) -> str:
    return "var_" + content_hash(artist_raw, track_raw)


def track_id_for(artist_key: str, title_key: str) -> str:
    return "trk_" + content_hash(artist_key, title_key)


def artist_id_for(artist_key: str) -> str:
    return "art_" + content_hash(artist_key)


@dataclass(frozen=True)
class WindowResult:
    tiers: dict[str, int]
    qualities: dict[str, int]


def _standardised_row(vid: str, artist_raw: str, track_raw: str, album_raw: str | None, duration_s: float | None,
                      rules: ResolutionRules, known: frozenset[str]) -> tuple:
    artist, title = rules.prepare(artist_raw, track_raw)
    rec = standardise(vid, title, artist, album_raw, duration_s, None, rules=rules.credit_rules(), known_artists=known)
    return (rec.artist_key, rec.title_key, rec.title_head, rec.title_sorted, rec.version, rec.album_key,
            fold_artist(artist) + "|" + fold(title), rec.duration_s)


def most_common(column: str) -> str:
    """SQL for the most common non-null value of a column in a GROUP BY, ties to the greater value. Unlike
    mode() and any_value(), the answer does not depend on how DuckDB's threads split the rows. The SQL models
    have the same expression as the macro tb_most_common (dbt_like_sql/macros/normalise.sql)."""
    return (f"(list_sort(list_transform(map_entries(histogram({column})), "
            "lambda e: {'n': e.value, 'v': e.key}), 'DESC')[1]).v")


def known_artist_keys(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Artist keys already in the catalog: credit parsing keeps "X & Y" whole when it is a known artist."""
    return frozenset(r[0] for r in con.sql("SELECT DISTINCT artist_key FROM resolution.variants").fetchall())


def add_variants(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, window_start: str,
                 rules: ResolutionRules) -> list[str]:
    """Insert the window's unseen (artist, title) variants, standardised; return their ids.
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
        *keys, duration = _standardised_row(vid, artist_raw, track_raw, album_raw, duration_s, rules, known)
        out.append((vid, artist_raw, track_raw, album_raw, duration, track_mbid, artist_mbid, *keys,
                    plays, listeners, users, window_start, rules.version))
    if out:
        columns = ["variant_id", "artist_raw", "track_raw", "album_raw", "duration_s", "track_mbid", "artist_mbid",
                   "artist_key", "title_key", "title_head", "title_sorted", "version", "album_key", "exact_key",
                   "play_count", "listener_count", "top_users", "first_seen", "rules_version"]
        table = pa.table({c: [r[i] for r in out] for i, c in enumerate(columns)})
        con.register("new_variant_rows", table)
        con.execute("INSERT INTO resolution.variants SELECT * REPLACE (first_seen::DATE AS first_seen) "
                    "FROM new_variant_rows")
        con.unregister("new_variant_rows")
    return [r[0] for r in out]


def unresolved_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Variants without a cluster row: this window's new ones, and any that a run which died left behind."""
    return [r[0] for r in con.sql("""
        SELECT v.variant_id FROM resolution.variants v
        WHERE NOT EXISTS (SELECT 1 FROM resolution.entity_clusters c WHERE c.variant_id = v.variant_id)
        ORDER BY v.variant_id""").fetchall()]


def window_query(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, window_start: str,
                 rules: ResolutionRules) -> tuple[list[str], list[str], list[str], list[str]]:
    """What a window resolves: (query, new, changed, queue). New variants are added; the query is every
    unresolved variant, those whose rules changed and, when either exists, the unmatched queue. With
    nothing new the query is empty: a rerun on the same input changes nothing."""
    changed = reapply_rules(con, rules)
    new = add_variants(con, scrobbles_sql, window_start, rules)
    unresolved = unresolved_ids(con)
    queue = retry_ids(con) if unresolved or changed else []
    return sorted(set(unresolved) | set(changed) | set(queue)), new, changed, queue


def start_batch(con: duckdb.DuckDBPyConnection, batch_date: str, query_ids: Sequence[str]) -> None:
    """Make `query_ids` the current batch (window_queries), neither scored nor clustered yet."""
    con.execute("DELETE FROM resolution.window_queries")
    con.register("batch_query_arrow", pa.table({"variant_id": pa.array(list(query_ids), pa.string())}))
    con.execute("INSERT INTO resolution.window_queries SELECT ?::DATE, variant_id FROM batch_query_arrow",
                [batch_date])
    con.unregister("batch_query_arrow")
    con.execute("DELETE FROM resolution.batch")
    con.execute("INSERT INTO resolution.batch VALUES (?::DATE, false, false)", [batch_date])


class Batch(NamedTuple):
    date: str
    scored: bool
    clustered: bool


def batch_state(con: duckdb.DuckDBPyConnection) -> Batch | None:
    """The current batch and how far the assets have taken it; None before the first."""
    row = con.sql("SELECT batch_date::VARCHAR, scored, clustered FROM resolution.batch").fetchall()
    return Batch(*row[0]) if row else None


def mark_batch(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    if stage not in ("scored", "clustered"):
        raise ValueError(stage)
    con.execute(f"UPDATE resolution.batch SET {stage} = true")


def reapply_rules(con: duckdb.DuckDBPyConnection, rules: ResolutionRules) -> list[str]:
    """Re-standardise every variant made under other rules; return their ids, which must be re-resolved."""
    rows = con.sql("SELECT variant_id, artist_raw, track_raw, album_raw, duration_s FROM resolution.variants "
                   "WHERE rules_version IS DISTINCT FROM ?", params=[rules.version]).fetchall()
    if not rows:
        return []
    known = known_artist_keys(con)
    columns = ["variant_id", "artist_key", "title_key", "title_head", "title_sorted", "version", "album_key", "exact_key"]
    updated = [(r[0], *_standardised_row(r[0], r[1], r[2], r[3], r[4], rules, known)[:7]) for r in rows]
    con.register("restandardised", pa.table({c: [u[i] for u in updated] for i, c in enumerate(columns)}))
    con.execute(f"""UPDATE resolution.variants v SET {", ".join(f"{c} = n.{c}" for c in columns[1:])},
                    rules_version = ? FROM restandardised n WHERE v.variant_id = n.variant_id""", [rules.version])
    con.unregister("restandardised")
    return [r[0] for r in rows]


def _records(con: duckdb.DuckDBPyConnection, where: str) -> list[TrackRecord]:
    rows = con.sql(f"""SELECT variant_id, artist_raw, track_raw, coalesce(album_raw, ''), duration_s, artist_key,
                              title_key, title_head, title_sorted, version, album_key
                       FROM resolution.variants WHERE {where} ORDER BY variant_id""").fetchall()
    return [TrackRecord(r[0], r[1], r[2], r[3], r[4], None, r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows]


SEMANTIC_ENCODE_BUDGET = 2_000  # uncached catalog strings a window may encode (~10 s on this CPU)
# residual strings a batch may search: ~45 s of encoding here. Daily batches stay far below it; a first
# import of a long history (30,000 residual strings in two real exports) searches the likeliest first.
SEMANTIC_QUERY_BUDGET = 8_000


@dataclass
class SemanticSearch:
    """What the semantic tier did in one batch."""

    residual: int = 0  # query variants that no key tier or blocking pass paired with anything
    searched: int = 0  # of them, searched by embedding (the rest were over the query budget)
    indexed_now: int = 0  # catalog strings added to resolution.semantic_index
    embedding_s: float = 0.0


def find_candidates(con: duckdb.DuckDBPyConnection, query_ids: Sequence[str], encoder: TextEncoder | None,
                    semantic_k: int = 8, semantic_min_cosine: float = 0.8,
                    search: SemanticSearch | None = None, encode_budget: int = SEMANTIC_ENCODE_BUDGET,
                    query_budget: int = SEMANTIC_QUERY_BUDGET, window_start: str | None = None) -> pa.Table:
    """Pairs between the query variants and every variant (including each other). `search`, when given,
    receives what the semantic tier did. Catalog strings newly searched by the semantic tier are added to
    resolution.semantic_index (as of `window_start`)."""
    search = search if search is not None else SemanticSearch()
    con.register("query_ids_arrow", pa.table({"unique_id": pa.array(list(query_ids), pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE query_ids AS SELECT * FROM query_ids_arrow")
    con.unregister("query_ids_arrow")
    con.execute("""CREATE OR REPLACE TEMP TABLE variant_records AS
        SELECT variant_id AS unique_id, artist_key, title_key, title_head, title_sorted, version, album_key,
               duration_s, NULL::INTEGER AS year FROM resolution.variants""")
    blocked = blocked_pairs(con, "variant_records", new_ids="query_ids")
    semantic = None
    if encoder is not None and query_ids:
        # The semantic tier is for what blocking missed: only variants that neither a key tier nor any
        # blocking pass pairs with anything are searched, against one string per existing entity (its
        # most played) and each other. Encoding costs ~5 ms a string here, so both sides are budgeted:
        # - queries: at most `query_budget` a batch, those whose artist key is rarest first. A string whose
        #   artist spelling the catalog knows well was already compared with all of that artist's titles
        #   by blocking; a lone artist spelling ("Owiny Sigome Band", "Band on a Can") is what blocking
        #   cannot place. Then the most played.
        # - the catalog: at most `encode_budget` new strings a batch, most played first, so that a day's
        #   cost stays flat while the index of a large catalog fills over the first batches. Which strings
        #   are in is recorded in resolution.semantic_index; the embedding cache only saves encoding time.
        keyed = key_edges(con)
        paired = (set(keyed["unique_id_l"].to_pylist()) | set(keyed["unique_id_r"].to_pylist())
                  | set(blocked["unique_id_l"].to_pylist()) | set(blocked["unique_id_r"].to_pylist()))
        con.register("residual_arrow", pa.table({"variant_id": pa.array(
            [q for q in query_ids if q not in paired], pa.string())}))
        residual = [r[0] for r in con.sql("""
            WITH artist_spellings AS (
                SELECT artist_key, count(*) AS variants FROM resolution.variants GROUP BY artist_key)
            SELECT v.variant_id FROM resolution.variants v JOIN residual_arrow USING (variant_id)
            LEFT JOIN artist_spellings a ON a.artist_key IS NOT DISTINCT FROM v.artist_key
            ORDER BY a.variants, v.play_count DESC, v.variant_id""").fetchall()]
        search.residual, search.searched = len(residual), min(len(residual), query_budget)
        con.unregister("residual_arrow")
        con.register("searched_arrow", pa.table({"variant_id": pa.array(residual[:query_budget], pa.string())}))
        reps = con.sql("""
            WITH entities AS (
                SELECT arg_max(v.variant_id, (v.play_count, v.variant_id)) AS variant_id
                FROM resolution.entity_clusters c JOIN resolution.variants v USING (variant_id)
                WHERE c.variant_id NOT IN (SELECT variant_id FROM searched_arrow)
                GROUP BY c.track_id)
            SELECT variant_id, artist_raw, track_raw, variant_id IN (SELECT variant_id FROM searched_arrow),
                   variant_id IN (SELECT variant_id FROM resolution.semantic_index)
            FROM resolution.variants
            WHERE variant_id IN (SELECT variant_id FROM searched_arrow)
               OR variant_id IN (SELECT variant_id FROM entities)
            ORDER BY play_count DESC, variant_id""").fetchall()
        con.unregister("searched_arrow")
        budget = encode_budget
        chosen, indexed_now = [], []
        for variant, artist_raw, track_raw, is_query, indexed in reps:
            if is_query or indexed or budget > 0:
                chosen.append((variant, embedding_text(artist_raw, track_raw)))
                if not (is_query or indexed):
                    budget -= 1
                    indexed_now.append(variant)
        if indexed_now:
            con.register("indexed_now_arrow", pa.table({"variant_id": pa.array(indexed_now, pa.string())}))
            con.execute("INSERT OR IGNORE INTO resolution.semantic_index SELECT variant_id, ?::DATE "
                        "FROM indexed_now_arrow", [window_start])
            con.unregister("indexed_now_arrow")
        search.indexed_now = len(indexed_now)
        reps = sorted(chosen)
        ids = [r[0] for r in reps]
        started = time.perf_counter()
        vectors = encoder.encode([text for _, text in reps])
        search.embedding_s = time.perf_counter() - started
        wanted = set(residual[:query_budget])
        semantic = semantic_pairs(ids, vectors, k=semantic_k, min_cosine=semantic_min_cosine,
                                  query_mask=np.array([i in wanted for i in ids], dtype=bool))
    return all_candidates(con, "variant_records", semantic, new_ids="query_ids", blocked=blocked)


def term_frequencies(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Each adjusted column's value frequencies over the whole catalog, as splink computes them."""
    return {column: con.sql(f"""
        SELECT {column}, count(*) / sum(count(*)) OVER () AS tf_{column}
        FROM resolution.variants WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY {column}""").to_arrow_table()
        for column in TF_COLUMNS}


def _catalog_matcher_config(matcher_config: MatcherConfig) -> MatcherConfig:
    return dataclasses.replace(matcher_config, use_embeddings=False, use_context=False)


def train_matcher(con: duckdb.DuckDBPyConnection, candidates: pa.Table,
                  matcher_config: MatcherConfig) -> tuple[dict, list[dict]]:
    """Train splink on the whole variants table (plus swapped copies of the candidates' swapped-pass records);
    return the model JSON and its m/u table. Same catalog, same model, bit for bit."""
    records = _records(con, "true")
    copies = swapped_copies({r.record_id: r for r in records}, candidates)
    matcher = TrackMatcher(records_table([*records, *copies], None), _catalog_matcher_config(matcher_config))
    matcher.train()
    return matcher.model_json(), matcher.m_u_table()


def score_candidates(con: duckdb.DuckDBPyConnection, candidates: pa.Table, model_json: dict | None,
                     matcher_config: MatcherConfig) -> tuple[pa.Table, dict, list[dict]]:
    """splink scores for the candidate pairs, with `model_json`, or with a model trained on the whole
    variants table when there is none yet. Either way the pairs are scored by a loaded model against the
    catalog's term frequencies, so a window scores the same whether or not its run trained the model."""
    m_u: list[dict] = []
    if model_json is None:
        model_json, m_u = train_matcher(con, candidates, matcher_config)
    involved = set(candidates["unique_id_l"].to_pylist()) | set(candidates["unique_id_r"].to_pylist())
    con.register("involved_ids", pa.table({"variant_id": pa.array(sorted(involved), pa.string())}))
    records = _records(con, "variant_id IN (SELECT variant_id FROM involved_ids)")
    con.unregister("involved_ids")
    copies = swapped_copies({r.record_id: r for r in records}, candidates)
    # a loaded model scores a few records against the catalog: term frequencies must be the catalog's
    matcher = TrackMatcher(records_table([*records, *copies], None), _catalog_matcher_config(matcher_config),
                           model_json=model_json, term_frequencies=term_frequencies(con))
    scored = score_with_swaps(matcher, candidates)
    gamma_columns = [c for c in scored.column_names if c.startswith("gamma_")]
    con.register("scored_pairs", scored)
    con.register("candidate_pairs", candidates)
    levels = "json_object(" + ", ".join(f"'{c[6:]}', s.{c}" for c in gamma_columns) + ")" if gamma_columns else "NULL"
    out = con.sql(f"""
        SELECT c.unique_id_l, c.unique_id_r, c.found_by, c.cosine, s.match_weight, s.match_probability,
               {levels}::JSON AS comparison_levels
        FROM candidate_pairs c JOIN scored_pairs s USING (unique_id_l, unique_id_r)""").to_arrow_table()
    con.unregister("scored_pairs")
    con.unregister("candidate_pairs")
    return out, model_json, m_u or matcher.m_u_table()


TIER_RANK = {"manual": 0, "exact_id": 1, "deterministic": 2, "rules": 3, "probabilistic": 4, "semantic": 5}


def key_edges(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Pairs that the exact-id, deterministic and rules tiers decide, between query and other variants."""
    return con.sql("""
        WITH q AS (SELECT v.* FROM resolution.variants v JOIN query_ids ON unique_id = variant_id),
        pairs AS (
            SELECT q.variant_id AS a, v.variant_id AS b, 'exact_id' AS tier
            FROM q JOIN resolution.variants v ON v.track_mbid = q.track_mbid AND v.variant_id <> q.variant_id
            WHERE q.track_mbid IS NOT NULL AND q.track_mbid <> ''
            UNION ALL
            SELECT q.variant_id, v.variant_id, 'deterministic'
            FROM q JOIN resolution.variants v ON v.exact_key = q.exact_key AND v.variant_id <> q.variant_id
            WHERE q.artist_key <> '' AND q.title_key <> ''
            UNION ALL
            SELECT q.variant_id, v.variant_id, 'rules'
            FROM q JOIN resolution.variants v
              ON v.artist_key = q.artist_key AND v.title_key = q.title_key AND v.variant_id <> q.variant_id
            WHERE q.artist_key <> '' AND q.title_key <> ''
        )
        SELECT least(a, b) AS unique_id_l, greatest(a, b) AS unique_id_r,
               arg_min(tier, CASE tier WHEN 'exact_id' THEN 1 WHEN 'deterministic' THEN 2 ELSE 3 END) AS tier
        FROM pairs GROUP BY ALL""").to_arrow_table()


def _quality(tier: str, confidence: float) -> str:
    if tier in ("manual", "exact_id"):
        return "exact"
    if tier in ("deterministic", "rules") or confidence >= 0.95:
        return "high"
    if confidence >= 0.8:
        return "medium"
    return "low"


def _misoriented(con: duckdb.DuckDBPyConnection, scores: pa.Table) -> set[tuple[str, str]]:
    swapped = pc.filter(scores, pc.fill_null(pc.match_substring(scores["found_by"], SWAPPED_PASS), False))
    if swapped.num_rows == 0:
        return set()
    con.register("swapped_pair_ids", pa.table({"variant_id": pa.concat_arrays(
        [swapped["unique_id_l"].combine_chunks(), swapped["unique_id_r"].combine_chunks()])}))
    rows = con.sql("""
        SELECT v.variant_id, v.artist_key, (SELECT count(*) FROM resolution.variants w WHERE w.artist_key = v.artist_key)
        FROM resolution.variants v WHERE v.variant_id IN (SELECT variant_id FROM swapped_pair_ids)""").fetchall()
    con.unregister("swapped_pair_ids")
    return misoriented_edges(scores, {r[0]: r[1] for r in rows}, {r[1]: r[2] for r in rows})


def assign_clusters(con: duckdb.DuckDBPyConnection, window_start: str, query_ids: Sequence[str],
                    scores: pa.Table, config: ClusterConfig = ClusterConfig(threshold=0.5)) -> WindowResult:
    """Cluster the query variants into the catalog and write their entity_clusters rows."""
    keyed = key_edges(con)
    edges: dict[tuple[str, str], tuple[float, str]] = {}
    dropped = _misoriented(con, scores)
    for a, b, p, found_by in zip(scores["unique_id_l"].to_pylist(), scores["unique_id_r"].to_pylist(),
                                 scores["match_probability"].to_pylist(), scores["found_by"].to_pylist(), strict=True):
        if (a, b) not in dropped:
            edges[(a, b)] = (p, "semantic" if found_by == "semantic" else "probabilistic")
    for a, b, tier in zip(keyed["unique_id_l"].to_pylist(), keyed["unique_id_r"].to_pylist(), keyed["tier"].to_pylist(), strict=True):
        edges[(a, b)] = (1.0, tier)
    neighbours: dict[str, list[tuple[str, float, str]]] = {}
    for (a, b), (p, tier) in edges.items():
        neighbours.setdefault(a, []).append((b, p, tier))
        neighbours.setdefault(b, []).append((a, p, tier))
    query = set(query_ids)
    involved = query | set(neighbours)
    con.register("involved_arrow", pa.table({"variant_id": pa.array(sorted(involved), pa.string())}))
    info = {r[0]: r[1:] for r in con.sql("""
        SELECT v.variant_id, v.artist_key, v.title_key, v.version, c.track_id, c.artist_id
        FROM resolution.variants v JOIN involved_arrow USING (variant_id)
        LEFT JOIN resolution.entity_clusters c USING (variant_id)""").fetchall()}
    con.unregister("involved_arrow")
    anchors = {v: row[3] for v, row in info.items() if v not in query and row[3] is not None}
    artist_of_track = {row[3]: row[4] for v, row in info.items() if v not in query and row[3] is not None}
    nodes = [v for v in sorted(involved) if v in query or v in anchors]
    assignment = constrained_clusters(nodes, [(a, b, p) for (a, b), (p, _) in edges.items()
                                              if a in info and b in info], config,
                                      version={v: info[v][2] for v in nodes}, anchors=anchors)
    clusters: dict[str, list[str]] = {}
    for v, root in assignment.items():
        clusters.setdefault(root, []).append(v)
    # ids held by variants outside this window's query; the query's own old rows are being replaced
    taken = set(r[0] for r in con.sql("SELECT DISTINCT track_id FROM resolution.entity_clusters "
                                      "WHERE variant_id NOT IN (SELECT unique_id FROM query_ids)").fetchall())
    # re-resolved variants (queue retries, rules changes) keep their id when their entity still stands alone
    previous = {v: row[3] for v, row in info.items() if v in query and row[3] is not None}
    rows = []
    for root, group in sorted(clusters.items()):
        anchor = next((anchors[v] for v in group if v in anchors), None)
        if anchor is not None:
            track, artist = anchor, artist_of_track[anchor]
        else:
            # the founder names the entity: its most common spelling of keys, so that one swapped or
            # misspelt string cannot give the track a wrong artist
            key_count = Counter((info[v][0], info[v][1]) for v in group)
            founder = min(group, key=lambda v: (info[v][0] == "", -key_count[(info[v][0], info[v][1])],
                                                info[v][0], info[v][1], v))
            kept = sorted(previous[v] for v in group if v in previous and previous[v] not in taken)
            track = kept[0] if kept else track_id_for(info[founder][0], info[founder][1])
            if track in taken:  # same keys as another entity that the constraints kept apart
                track = track_id_for(info[founder][0], info[founder][1] + "|" + founder)
            taken.add(track)
            artist = artist_id_for(info[founder][0])
        for v in group:
            if v not in query:
                continue
            best_p, best_tier, suggested = 0.0, None, None
            rejected: tuple[float, str | None] = (0.0, None)
            for other, p, tier in neighbours.get(v, ()):
                if other not in info:
                    continue
                if assignment.get(other) == root:
                    if best_tier is None or (TIER_RANK[tier], -p) < (TIER_RANK[best_tier], -best_p):
                        best_p, best_tier = p, tier
                elif info[other][2] == info[v][2] and (p, other) > (rejected[0], rejected[1] or ""):
                    rejected = (p, other)
            if best_tier is None:
                # a founder: its own entity; a rejected link elsewhere makes it ambiguous
                if not info[v][0] or not info[v][1]:
                    quality, confidence = "none", 0.0
                elif rejected[0] >= 0.2:
                    quality, confidence = "low", 1.0 - rejected[0]
                    suggested = anchors.get(rejected[1]) or rejected[1]
                else:
                    quality, confidence = "high", 1.0
                rows.append((v, track, artist, "deterministic", "new_entity", confidence, quality, suggested))
            else:
                method = {"exact_id": "musicbrainz_id", "deterministic": "normalised_hash", "rules": "rules_key",
                          "probabilistic": "splink", "semantic": "embedding_neighbours"}[best_tier]
                rows.append((v, track, artist, best_tier, method, best_p, _quality(best_tier, best_p), None))
    columns = ["variant_id", "track_id", "artist_id", "tier", "method", "confidence", "quality", "suggested_track_id"]
    table = pa.table({c: pa.array([r[i] for r in rows], pa.float64() if c == "confidence" else pa.string())
                      for i, c in enumerate(columns)})
    con.register("new_cluster_rows", table)
    con.execute("DELETE FROM resolution.entity_clusters WHERE variant_id IN (SELECT variant_id FROM new_cluster_rows)")
    con.execute("INSERT INTO resolution.entity_clusters SELECT *, ?::DATE FROM new_cluster_rows", [window_start])
    con.unregister("new_cluster_rows")
    tiers: dict[str, int] = {}
    qualities: dict[str, int] = {}
    for r in rows:
        tiers[r[3]] = tiers.get(r[3], 0) + 1
        qualities[r[6]] = qualities.get(r[6], 0) + 1
    return WindowResult(tiers, qualities)


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


def retry_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Unmatched founders are re-resolved as the catalog grows, unless other variants joined them."""
    return [r[0] for r in con.sql("""
        SELECT c.variant_id FROM resolution.entity_clusters c
        WHERE c.quality IN ('low', 'none') AND c.tier <> 'manual'
          AND (SELECT count(*) FROM resolution.entity_clusters c2 WHERE c2.track_id = c.track_id) = 1""").fetchall()]


@dataclass
class WindowRun:
    """One window resolved end to end (what the three entity_* assets do in turn), with stage times."""

    query_ids: list[str]
    candidates: int
    scores: pa.Table
    result: WindowResult
    model_json: dict
    m_u: list[dict]
    timings_s: dict[str, float]


def resolve_window(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, window_start: str, rules: ResolutionRules,
                   encoder: TextEncoder | None = None, model_json: dict | None = None,
                   matcher_config: MatcherConfig | None = None) -> WindowRun:
    """Variants -> candidates -> splink scores -> clusters for one window, for benchmarks and evaluations
    outside Dagster. The assets call the same functions one per asset."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ensure_tables(con)
    query, _, _, _ = window_query(con, scrobbles_sql, window_start, rules)
    timings["variants"] = time.perf_counter() - started
    started = time.perf_counter()
    search = SemanticSearch()
    candidates = find_candidates(con, query, encoder, search=search, window_start=window_start)
    timings["embedding"] = search.embedding_s
    timings["blocking"] = time.perf_counter() - started - search.embedding_s
    started = time.perf_counter()
    scores, trained_json, m_u = score_candidates(con, candidates, model_json, matcher_config or MatcherConfig())
    timings["scoring"] = time.perf_counter() - started
    started = time.perf_counter()
    result = assign_clusters(con, window_start, query, scores)
    apply_overrides(con)
    timings["clustering"] = time.perf_counter() - started
    return WindowRun(query, candidates.num_rows, scores, result, trained_json, m_u, timings)
