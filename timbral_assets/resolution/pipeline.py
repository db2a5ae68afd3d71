"""One pass of the probabilistic and semantic tiers over standardised records:
embed -> candidates (blocking + nearest neighbours) -> splink scores -> clusters.

Used alike by the Dagster assets, the CLI commands and the evaluations, so the figures in the README are
the figures of the code that runs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .candidates import SWAPPED_PASS, all_candidates, semantic_pairs
from .clustering import ClusterConfig, connected_components, constrained_clusters
from .embeddings import TextEncoder
from .matcher import MatcherConfig, TrackMatcher
from .records import TrackRecord, standardise

SWAPPED_SUFFIX = "~swapped"


def _found_by_swap(found_by: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(pc.match_substring(found_by, SWAPPED_PASS), False)


def swapped_copies(records_by_id: Mapping[str, TrackRecord], candidates: pa.Table) -> list[TrackRecord]:
    """For each pair the swapped pass found, its left record with artist and title exchanged, so that splink
    compares title with title. The copy's id is the record's id plus SWAPPED_SUFFIX."""
    lefts = sorted(set(pc.filter(candidates["unique_id_l"], _found_by_swap(candidates["found_by"])).to_pylist()))
    out = []
    for left in lefts:
        r = records_by_id[left]
        out.append(standardise(r.record_id + SWAPPED_SUFFIX, r.artist, r.title, r.album, r.duration_s, r.year))
    return out


def score_with_swaps(matcher: TrackMatcher, candidates: pa.Table) -> pa.Table:
    """splink scores of the candidate pairs; swapped-pass pairs are scored through the left record's swapped
    copy (which the matcher's records must hold) and reported under the original ids."""
    swapped = _found_by_swap(candidates["found_by"])
    left = pc.if_else(swapped, pc.binary_join_element_wise(candidates["unique_id_l"], SWAPPED_SUFFIX, ""),
                      candidates["unique_id_l"])
    scored = matcher.score(pa.table({"unique_id_l": left, "unique_id_r": candidates["unique_id_r"]}))
    a = pc.replace_substring(scored["unique_id_l"], SWAPPED_SUFFIX, "")
    b = pc.replace_substring(scored["unique_id_r"], SWAPPED_SUFFIX, "")
    first = pc.less(a, b)
    return (scored.set_column(scored.column_names.index("unique_id_l"), "unique_id_l", pc.if_else(first, a, b))
            .set_column(scored.column_names.index("unique_id_r"), "unique_id_r", pc.if_else(first, b, a)))


@dataclass
class ResolutionResult:
    records: pa.Table
    pairs: pa.Table  # unique_id_l, unique_id_r, found_by, cosine, match_weight, match_probability, gamma_*
    assignment: dict[str, str]  # record -> cluster (smallest member id)
    model_json: dict
    timings_s: dict[str, float] = field(default_factory=dict)
    m_u: list[dict] = field(default_factory=list)


def records_table(records: Sequence[TrackRecord], vectors: np.ndarray | None,
                  context: Mapping[str, Mapping[str, object]] | None = None) -> pa.Table:
    columns = {
        "unique_id": [r.record_id for r in records],
        "artist_key": [r.artist_key or None for r in records],
        "title_key": [r.title_key or None for r in records],
        "title_head": [r.title_head or None for r in records],
        "title_sorted": [r.title_sorted or None for r in records],
        "version": [r.version for r in records],
        "album_key": [r.album_key or None for r in records],
        "duration_s": pa.array([None if r.duration_s is None else float(r.duration_s) for r in records], pa.float64()),
        "year": pa.array([r.year for r in records], pa.int32()),
    }
    table = pa.table(columns)
    if vectors is not None:
        flat = pa.array(vectors.astype(np.float32).ravel(), pa.float32())
        table = table.append_column("embedding", pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]))
    if context is not None:
        users = [list(context.get(r.record_id, {}).get("top_users", []) or []) or None for r in records]
        neighbours = [list(context.get(r.record_id, {}).get("neighbours", []) or []) or None for r in records]
        labels = [context.get(r.record_id, {}).get("label_key") or None for r in records]
        table = (table.append_column("top_users", pa.array(users, pa.list_(pa.string())))
                 .append_column("neighbours", pa.array(neighbours, pa.list_(pa.string())))
                 .append_column("label_key", pa.array(labels, pa.string())))
    return table


def resolve(records: Sequence[TrackRecord], *, encoder: TextEncoder | None = None,
            matcher_config: MatcherConfig = MatcherConfig(), cluster_config: ClusterConfig = ClusterConfig(),
            model_json: dict | None = None, exclusive_group: Mapping[str, object] | None = None,
            context: Mapping[str, Mapping[str, object]] | None = None, clustering: str = "constrained",
            semantic_k: int = 8, semantic_min_cosine: float = 0.8) -> ResolutionResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    vectors = encoder.encode([r.embedding_text for r in records]) if encoder is not None else None
    timings["embedding"] = time.perf_counter() - started

    table = records_table(records, None)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("input_records", table)
    con.execute("CREATE TABLE records AS SELECT * FROM input_records")
    con.unregister("input_records")

    started = time.perf_counter()
    ids = [r.record_id for r in records]
    semantic = semantic_pairs(ids, vectors, k=semantic_k, min_cosine=semantic_min_cosine) if vectors is not None else None
    candidates = all_candidates(con, "records", semantic)
    timings["blocking"] = time.perf_counter() - started

    started = time.perf_counter()
    by_id = {r.record_id: r for r in records}
    copies = swapped_copies(by_id, candidates)
    row_of = {rid: i for i, rid in enumerate(ids)}
    originals = [row_of[c.record_id.removesuffix(SWAPPED_SUFFIX)] for c in copies]
    if context is not None:
        context = {**context, **{c.record_id: context.get(c.record_id.removesuffix(SWAPPED_SUFFIX), {}) for c in copies}}
    scoring_table = records_table([*records, *copies],
                                  np.vstack([vectors, vectors[originals]]) if vectors is not None and
                                  matcher_config.use_embeddings else None,
                                  context if matcher_config.use_context else None)
    matcher = TrackMatcher(scoring_table, matcher_config, model_json=model_json)
    if not matcher.trained:
        matcher.train()
    timings["training"] = time.perf_counter() - started
    started = time.perf_counter()
    scored = score_with_swaps(matcher, candidates)
    con.register("scored", scored)
    con.register("candidates", candidates)
    pairs = con.sql("""
        SELECT sc.*, c.found_by, c.cosine
        FROM scored sc JOIN candidates c USING (unique_id_l, unique_id_r)""").to_arrow_table()
    timings["scoring"] = time.perf_counter() - started

    started = time.perf_counter()
    assignment = cluster_pairs(pairs, records, cluster_config, clustering, exclusive_group)
    timings["clustering"] = time.perf_counter() - started
    result = ResolutionResult(records_table(records, vectors if matcher_config.use_embeddings else None,
                                            context if matcher_config.use_context else None),
                              pairs, assignment, matcher.model_json(), timings, matcher.m_u_table())
    con.close()
    return result


def misoriented_edges(pairs: pa.Table, artist_key_of: Mapping[str, str], artist_key_count: Mapping[str, int],
                      threshold: float = 0.5) -> set[tuple[str, str]]:
    """Edges that compare a record in its written orientation after a swapped-pass match has shown that
    its artist and title are exchanged. Of a swapped pair, the misoriented record is the one whose artist
    key is the rarer artist key (the title sitting in the artist field). Its other edges compare its
    title (really an artist name) with titles, and would chain the artist's swapped strings together."""
    swapped_ids = set()
    for a, b, p, found_by in zip(pairs["unique_id_l"].to_pylist(), pairs["unique_id_r"].to_pylist(),
                                 pairs["match_probability"].to_pylist(), pairs["found_by"].to_pylist(), strict=True):
        if p >= threshold and found_by and SWAPPED_PASS in found_by:
            swapped_ids.add(min((a, b), key=lambda r: (artist_key_count.get(artist_key_of.get(r, ""), 0), r)))
    if not swapped_ids:
        return set()
    return {(a, b) for a, b, found_by in zip(pairs["unique_id_l"].to_pylist(), pairs["unique_id_r"].to_pylist(),
                                             pairs["found_by"].to_pylist(), strict=True)
            if (a in swapped_ids or b in swapped_ids) and not (found_by and SWAPPED_PASS in found_by)}


def cluster_pairs(pairs: pa.Table, records: Sequence[TrackRecord], cluster_config: ClusterConfig,
                  clustering: str = "constrained", exclusive_group: Mapping[str, object] | None = None) -> dict[str, str]:
    ids = [r.record_id for r in records]
    artist_key_count = Counter(r.artist_key for r in records)
    dropped = misoriented_edges(pairs, {r.record_id: r.artist_key for r in records}, artist_key_count)
    edges = [(a, b, p) for a, b, p in zip(pairs["unique_id_l"].to_pylist(), pairs["unique_id_r"].to_pylist(),
                                          pairs["match_probability"].to_pylist(), strict=True)
             if (a, b) not in dropped]
    if clustering == "connected_components":
        return connected_components(ids, edges, cluster_config.threshold)
    return constrained_clusters(ids, edges, cluster_config, exclusive_group=exclusive_group,
                                version={r.record_id: r.version for r in records},
                                markers={r.record_id: r.markers for r in records},
                                titles={r.record_id: r.title_key for r in records})


def recluster(result: ResolutionResult, records: Sequence[TrackRecord], cluster_config: ClusterConfig,
              clustering: str = "constrained", exclusive_group: Mapping[str, object] | None = None) -> dict[str, str]:
    """The same scored pairs, clustered again (threshold sweeps and the connected-components baseline)."""
    return cluster_pairs(result.pairs, records, cluster_config, clustering, exclusive_group)
