"""Candidate pairs: cheap blocking passes in DuckDB plus the semantic tier's nearest neighbours.

Blocking finds pairs that share a key (folded title, artist and title head, sorted title words, title
head and year). Strings in another script, reordered or badly mangled share no key; their sentence
embeddings still lie close, so a FAISS inner-product search adds each record's nearest neighbours above a
cosine floor. Each pair remembers which pass found it.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa

from ..threads import cpu_threads

# Title keys are shared widely ("Intro", "Home"; in the synthetic world "Can't Stop Dreaming" by 600
# artists). Within a crowded title block only pairs whose artists look alike, or where one has no artist,
# are candidates: the rest are different songs with one name, and scoring them all costs millions of pairs.
_ARTIST_ALIKE = ("(l.artist_key = '' OR r.artist_key = '' "
                 "OR jaro_winkler_similarity(l.artist_key, r.artist_key) >= 0.7)")

# pass name -> (the key that forms blocks, the join condition, the extra condition inside crowded blocks)
BLOCKING_PASSES = {
    "title": ("title_key", "l.title_key = r.title_key", _ARTIST_ALIKE),
    "artist_head": ("artist_key", "l.artist_key = r.artist_key AND l.title_head = r.title_head", None),
    "sorted_words": ("title_sorted", "l.title_sorted = r.title_sorted", _ARTIST_ALIKE),
    "head_year": ("title_head", "l.title_head = r.title_head AND l.year = r.year", _ARTIST_ALIKE),
    "artist_duration": ("artist_key", "l.artist_key = r.artist_key AND l.duration_bucket = r.duration_bucket", None),
    "album_duration": ("album_key", "l.album_key = r.album_key AND l.duration_bucket = r.duration_bucket", None),
    "title_start_year": ("title_start", "l.title_start = r.title_start AND l.year = r.year", _ARTIST_ALIKE),
    "artist_fuzzy_title": ("artist_key", "l.artist_key = r.artist_key "
                                         "AND jaro_winkler_similarity(l.title_key, r.title_key) >= 0.8", None),
}
SWAPPED_PASS = "swapped"
CROWDED_BLOCK = 50
MAX_BLOCK = 2_000  # a key shared by more records than this ("intro", "untitled") blocks nothing


def blocked_pairs(con: duckdb.DuckDBPyConnection, records: str, query_ids: Sequence[str] | None = None) -> pa.Table:
    """(unique_id_l, unique_id_r, found_by) with unique_id_l < unique_id_r, over `records` (a table or a
    subquery). With `query_ids`, only pairs with at least one query record are produced, and only the query
    records' blocks are joined: the incremental path costs what the day brings, not the catalog."""
    new_ids = None
    if query_ids is not None:
        con.register("blocking_query_arrow", pa.table({"unique_id": pa.array(list(query_ids), pa.string())}))
        new_ids = "blocking_query_arrow"
    selects = []
    for name, (key, condition, crowded) in BLOCKING_PASSES.items():
        if crowded:
            condition += f" AND (l.block_size <= {CROWDED_BLOCK} OR {crowded})"
        if new_ids:
            selects.append(f"""
                SELECT least(l.unique_id, r.unique_id) AS unique_id_l, greatest(l.unique_id, r.unique_id) AS unique_id_r,
                       '{name}' AS found_by
                FROM (SELECT * FROM block_{key} WHERE unique_id IN (SELECT unique_id FROM {new_ids})) l
                JOIN block_{key} r ON {condition} AND l.unique_id <> r.unique_id""")
        else:
            selects.append(f"""
                SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r, '{name}' AS found_by
                FROM block_{key} l JOIN block_{key} r ON {condition} AND l.unique_id < r.unique_id""")
    # artist and title exchanged ("Karma Police - Radiohead"); such pairs are scored with the fields put back
    swap_condition = "l.artist_bare = r.title_bare AND l.title_bare = r.artist_bare AND l.artist_bare <> l.title_bare"
    if new_ids:
        selects.append(f"""
            SELECT least(l.unique_id, r.unique_id), greatest(l.unique_id, r.unique_id), '{SWAPPED_PASS}'
            FROM (SELECT * FROM block_swap WHERE unique_id IN (SELECT unique_id FROM {new_ids})) l
            JOIN block_swap r ON {swap_condition} AND l.unique_id <> r.unique_id""")
    else:
        selects.append(f"""
            SELECT l.unique_id, r.unique_id, '{SWAPPED_PASS}'
            FROM block_swap l JOIN block_swap r ON {swap_condition} AND l.unique_id < r.unique_id""")
    keys = {key for key, _, _ in BLOCKING_PASSES.values()}
    con.execute(f"""CREATE OR REPLACE TEMP TABLE block_base AS
        SELECT unique_id, coalesce(artist_key, '') AS artist_key, title_key, title_head, title_sorted, album_key,
               year, round(duration_s)::BIGINT AS duration_bucket,
               array_to_string(list_slice(string_split(title_key, ' '), 1, 2), ' ') AS title_start
        FROM {records}""")
    for key in keys:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE block_{key} AS
            SELECT *, count(*) OVER (PARTITION BY {key}) AS block_size
            FROM block_base WHERE {key} IS NOT NULL AND {key} <> ''
            QUALIFY block_size <= {MAX_BLOCK}""")
    con.execute("""CREATE OR REPLACE TEMP TABLE block_swap AS
        SELECT unique_id, regexp_replace(artist_key, '^(the|a|an) ', '') AS artist_bare,
               regexp_replace(title_key, '^(the|a|an) ', '') AS title_bare
        FROM block_base WHERE artist_key <> '' AND title_key IS NOT NULL AND title_key <> ''""")
    sql = " UNION ALL ".join(selects)
    table = con.sql(f"""SELECT unique_id_l, unique_id_r, string_agg(DISTINCT found_by, ',' ORDER BY found_by)
                                   AS found_by
                            FROM ({sql}) GROUP BY ALL""").to_arrow_table()
    for key in [*keys, "base", "swap"]:
        con.execute(f"DROP TABLE IF EXISTS block_{key}")
    if new_ids:
        con.unregister(new_ids)
    return table


def semantic_pairs(ids: list[str], vectors: np.ndarray, k: int = 8, min_cosine: float = 0.8,
                   query_mask: np.ndarray | None = None) -> pa.Table:
    """Nearest neighbours by cosine similarity (vectors are unit length). `query_mask` limits the queries to
    some records (the new ones) while the index holds them all."""
    import faiss

    empty = pa.table({"unique_id_l": pa.array([], pa.string()), "unique_id_r": pa.array([], pa.string()),
                      "cosine": pa.array([], pa.float32())})
    if len(ids) < 2:
        return empty
    faiss.omp_set_num_threads(cpu_threads())
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    query_rows = np.arange(len(ids)) if query_mask is None else np.flatnonzero(query_mask)
    if len(query_rows) == 0:
        return empty
    scores, neighbours = index.search(np.ascontiguousarray(vectors[query_rows]), min(k + 1, len(ids)))
    left, right, cosine = [], [], []
    for row, hits, sims in zip(query_rows, neighbours, scores, strict=True):
        for hit, sim in zip(hits, sims, strict=True):
            if hit < 0 or hit == row or sim < min_cosine:
                continue
            a, b = ids[row], ids[hit]
            left.append(min(a, b))
            right.append(max(a, b))
            cosine.append(float(sim))
    neighbour_pairs = pa.table({"unique_id_l": pa.array(left, pa.string()),
                                "unique_id_r": pa.array(right, pa.string()),
                                "cosine": pa.array(cosine, pa.float32())})
    return (duckdb.from_arrow(neighbour_pairs).aggregate("unique_id_l, unique_id_r, max(cosine) AS cosine")
            .to_arrow_table())


def all_candidates(con: duckdb.DuckDBPyConnection, records: str, semantic: pa.Table | None,
                   query_ids: Sequence[str] | None = None, blocked: pa.Table | None = None) -> pa.Table:
    """Blocked pairs (computed unless given) merged with the semantic tier's neighbours."""
    if blocked is None:
        blocked = blocked_pairs(con, records, query_ids)
    if semantic is None or semantic.num_rows == 0:
        return blocked.append_column("cosine", pa.nulls(blocked.num_rows, pa.float32()))
    return con.sql("""
        SELECT unique_id_l, unique_id_r,
               CASE WHEN b.found_by IS NULL THEN 'semantic'
                    WHEN s.cosine IS NULL THEN b.found_by ELSE b.found_by || ',semantic' END AS found_by,
               s.cosine
        FROM blocked b FULL OUTER JOIN semantic s USING (unique_id_l, unique_id_r)""").to_arrow_table()
