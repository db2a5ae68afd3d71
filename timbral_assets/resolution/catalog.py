"""The incremental resolver, one batch at a time: new (artist, title) variants against the catalog.

One window API, which the Dagster assets, the CLI, the benchmarks and the tests all call:
  open_batch     adds the plays' new variants, picks the batch's query (store.batch_query) and writes its
                 candidate pairs (blocking passes + the semantic tier)       -> entity_candidates
  score_batch    scores the batch's pairs with a trained splink model       -> entity_match_scores
  cluster_batch  assigns the query to entities (assignment.assign_clusters) -> entity_clusters
  resolve_window all three in turn, training a model first when none is given (benchmarks, evaluations)
Each stage does its work and marks it done in the caller's transaction (resolution.batch), so a run killed
between stages is picked up where it stopped. The tables live in `store`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from . import store
from .assignment import CATALOG_CLUSTERING, WindowResult, assign_clusters, key_edges
from .candidates import all_candidates, blocked_pairs, semantic_pairs
from .clustering import ClusterConfig
from .embeddings import TextEncoder
from .matcher import TF_COLUMNS, MatcherConfig, TrackMatcher
from .pipeline import records_table, score_with_swaps, swapped_copies
from .records import embedding_text
from .rules_file import ResolutionRules
from .store import CATALOG_RECORDS, variant_records

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
                    query_budget: int = SEMANTIC_QUERY_BUDGET, batch_date: str | None = None) -> pa.Table:
    """Pairs between the query variants and every variant (including each other). `search`, when given,
    receives what the semantic tier did. Catalog strings newly searched by the semantic tier are added to
    resolution.semantic_index (as of `batch_date`)."""
    search = search if search is not None else SemanticSearch()
    blocked = blocked_pairs(con, CATALOG_RECORDS, query_ids)
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
        keyed = key_edges(con, query_ids)
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
                        "FROM indexed_now_arrow", [batch_date])
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
    return all_candidates(con, CATALOG_RECORDS, semantic, query_ids, blocked=blocked)


def term_frequencies(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Each adjusted column's value frequencies over the whole catalog, as splink computes them."""
    return {column: con.sql(f"""
        SELECT {column}, count(*) / sum(count(*)) OVER () AS tf_{column}
        FROM resolution.variants WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY {column}""").to_arrow_table()
        for column in TF_COLUMNS}


def _catalog_matcher_config(matcher_config: MatcherConfig) -> MatcherConfig:
    return dataclasses.replace(matcher_config, use_embeddings=False, use_context=False)


def train_matcher(con: duckdb.DuckDBPyConnection, candidates: pa.Table,
                  matcher_config: MatcherConfig = MatcherConfig()) -> tuple[dict, list[dict]]:
    """Train splink on the whole variants table (plus swapped copies of the candidates' swapped-pass records);
    return the model JSON and its m/u table. Same catalog, same model, bit for bit."""
    records = variant_records(con)
    copies = swapped_copies({r.record_id: r for r in records}, candidates)
    matcher = TrackMatcher(records_table([*records, *copies], None), _catalog_matcher_config(matcher_config))
    matcher.train()
    return matcher.model_json(), matcher.m_u_table()


def score_candidates(con: duckdb.DuckDBPyConnection, candidates: pa.Table, model_json: dict,
                     matcher_config: MatcherConfig = MatcherConfig()) -> pa.Table:
    """splink scores for the candidate pairs by a trained model. The pairs are scored against the catalog's
    term frequencies, so a batch scores the same whichever run trained the model."""
    involved = set(candidates["unique_id_l"].to_pylist()) | set(candidates["unique_id_r"].to_pylist())
    records = variant_records(con, involved)
    copies = swapped_copies({r.record_id: r for r in records}, candidates)
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
        FROM candidate_pairs c JOIN scored_pairs s USING (unique_id_l, unique_id_r)
        ORDER BY c.unique_id_l, c.unique_id_r""").to_arrow_table()
    con.unregister("scored_pairs")
    con.unregister("candidate_pairs")
    return out


@dataclass
class OpenedBatch:
    """What open_batch did. `candidates` is None when there was nothing to resolve (the last batch stands)."""

    batch_date: str
    query: store.BatchQuery
    candidates: pa.Table | None
    search: SemanticSearch
    timings_s: dict[str, float] = field(default_factory=dict)

    def pairs_by_pass(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for found_by in (self.candidates["found_by"].to_pylist() if self.candidates is not None else []):
            for name in found_by.split(","):
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def open_batch(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, batch_date: str, rules: ResolutionRules,
               encoder: TextEncoder | None = None, query_budget: int = SEMANTIC_QUERY_BUDGET) -> OpenedBatch:
    """Add the plays' new variants (`scrobbles_sql`: see store.add_variants), and when the batch's query is
    not empty make it the current batch with its candidate pairs in resolution.entity_candidates."""
    started = time.perf_counter()
    query = store.batch_query(con, scrobbles_sql, batch_date, rules)
    timings = {"variants": time.perf_counter() - started}
    search = SemanticSearch()
    if not query.query:
        return OpenedBatch(batch_date, query, None, search, timings)
    started = time.perf_counter()
    candidates = find_candidates(con, query.query, encoder, search=search, query_budget=query_budget,
                                 batch_date=batch_date)
    store.start_batch(con, batch_date, query.query)
    con.execute("DELETE FROM resolution.entity_candidates")
    con.register("candidate_arrow", candidates)
    con.execute("INSERT INTO resolution.entity_candidates SELECT ?::DATE, unique_id_l, unique_id_r, found_by, "
                "cosine FROM candidate_arrow ORDER BY unique_id_l, unique_id_r", [batch_date])
    con.unregister("candidate_arrow")
    timings["embedding"] = search.embedding_s
    timings["blocking"] = time.perf_counter() - started - search.embedding_s
    return OpenedBatch(batch_date, query, candidates, search, timings)


def batch_candidates(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The current batch's candidate pairs, in a fixed order."""
    return con.sql("SELECT unique_id_l, unique_id_r, found_by, cosine FROM resolution.entity_candidates "
                   "ORDER BY unique_id_l, unique_id_r").to_arrow_table()


def score_batch(con: duckdb.DuckDBPyConnection, load_model: Callable[[], dict],
                adjust: Callable[[pa.Table], pa.Table] | None = None,
                matcher_config: MatcherConfig = MatcherConfig()) -> pa.Table | None:
    """Score the current batch's pairs into resolution.entity_match_scores with the model `load_model`
    returns (called only when there is work), then `adjust` (a context head), and mark the batch scored.
    None when there is no batch, or it is scored already."""
    batch = store.batch_state(con)
    if batch is None or batch.scored:
        return None
    scores = score_candidates(con, batch_candidates(con), load_model(), matcher_config)
    if adjust is not None:
        scores = adjust(scores)
    con.execute("DELETE FROM resolution.entity_match_scores")
    con.register("score_arrow", scores)
    con.execute("INSERT INTO resolution.entity_match_scores SELECT ?::DATE, * FROM score_arrow", [batch.date])
    con.unregister("score_arrow")
    store.mark_batch(con, "scored")
    return scores


@dataclass(frozen=True)
class ClusteredBatch:
    batch: store.Batch
    result: WindowResult
    manual_overrides: int


def cluster_batch(con: duckdb.DuckDBPyConnection,
                  config: ClusterConfig = CATALOG_CLUSTERING,
                  same_recording: Mapping[str, str] | None = None,
                  plays_sql: str | None = None) -> ClusteredBatch | None:
    """Assign the current batch's query to entities (resolution.entity_clusters), apply the manual overrides
    and mark the batch clustered. None when there is no scored batch left to cluster; the overrides are
    applied anyway, since they may come at any time and applying them again changes nothing."""
    batch = store.batch_state(con)
    if batch is None or not batch.scored or batch.clustered:
        store.apply_overrides(con)
        return None
    scores = con.sql("SELECT unique_id_l, unique_id_r, found_by, match_probability "
                     "FROM resolution.entity_match_scores ORDER BY unique_id_l, unique_id_r").to_arrow_table()
    result = assign_clusters(con, batch.date, batch.query, scores, config, same_recording, plays_sql)
    overrides = store.apply_overrides(con)
    store.mark_batch(con, "clustered")
    return ClusteredBatch(batch, result, overrides)


@dataclass
class WindowRun:
    """One window resolved end to end, with stage times."""

    query_ids: list[str]
    candidates: int
    scores: pa.Table
    result: WindowResult | None
    model_json: dict | None
    m_u: list[dict]
    timings_s: dict[str, float]


def resolve_window(con: duckdb.DuckDBPyConnection, scrobbles_sql: str, batch_date: str, rules: ResolutionRules,
                   encoder: TextEncoder | None = None, model_json: dict | None = None,
                   matcher_config: MatcherConfig = MatcherConfig(),
                   query_budget: int = SEMANTIC_QUERY_BUDGET, plays_sql: str | None = None) -> WindowRun:
    """open_batch -> score_batch -> cluster_batch, as the assets run them one per asset, for benchmarks,
    evaluations and tests outside Dagster. Without `model_json`, a model is trained on the catalog first, as
    the asset track_matcher_model does. `plays_sql` is the listening context (assignment.album_session_pairs)."""
    store.ensure_tables(con)
    opened = open_batch(con, scrobbles_sql, batch_date, rules, encoder, query_budget)
    timings = dict(opened.timings_s)
    if opened.candidates is None:
        cluster_batch(con, same_recording=rules.recording_ids())  # the manual overrides still apply
        return WindowRun([], 0, batch_candidates(con).slice(0, 0), None, model_json, [], timings)
    m_u: list[dict] = []
    if model_json is None:
        started = time.perf_counter()
        model_json, m_u = train_matcher(con, opened.candidates, matcher_config)
        timings["training"] = time.perf_counter() - started
    started = time.perf_counter()
    scores = score_batch(con, lambda: model_json, matcher_config=matcher_config)
    timings["scoring"] = time.perf_counter() - started
    started = time.perf_counter()
    clustered = cluster_batch(con, same_recording=rules.recording_ids(), plays_sql=plays_sql)
    timings["clustering"] = time.perf_counter() - started
    return WindowRun(opened.query.query, opened.candidates.num_rows, scores, clustered.result, model_json, m_u,
                     timings)
