"""Cluster assignment: a batch's query variants joined to the catalog's entities or founding new ones.

The key tiers (MusicBrainz id, normalised hash, rules keys) link pairs outright; splink and the semantic
tier give scored edges. Constrained clustering (no chaining through one bad link, versions kept apart)
groups the query with the catalog's anchors. Canonical ids are stable: an existing variant keeps its
track_id, a new variant joins an existing entity or founds a new one whose id hashes the founder's keys.
Two existing entities are never merged silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .candidates import SWAPPED_PASS
from .clustering import ClusterConfig, connected_components, constrained_clusters
from .pipeline import misoriented_edges
from .records import content_hash
from .store import CATALOG_RECORDS, PLACEHOLDER_WORDS, placeholder_sql

TIER_RANK = {"manual": 0, "exact_id": 1, "deterministic": 2, "rules": 3, "probabilistic": 4, "semantic": 5}
KEY_TIERS = ("exact_id", "deterministic", "rules")


def track_id_for(artist_key: str, title_key: str) -> str:
    return "trk_" + content_hash(artist_key, title_key)


def artist_id_for(artist_key: str) -> str:
    return "art_" + content_hash(artist_key)


@dataclass(frozen=True)
class WindowResult:
    tiers: dict[str, int]
    qualities: dict[str, int]


# the first name of a credit that joins names ("kavinsky and lovefoxxx", "koop feat cecilia stalin"): "Kavinsky
# & Lovefoxxx - Nightcall" is Kavinsky's "Nightcall", credited in full. Read on folded artist keys
LEAD_ARTIST = r"nullif(regexp_extract({key}, '^(.+?) (?:and|x|with|feat|ft|featuring|vs) ', 1), '')"


def key_edges(con: duckdb.DuckDBPyConnection, query_ids: Sequence[str], records: str = CATALOG_RECORDS) -> pa.Table:
    """(unique_id_l, unique_id_r, tier, by_credit): the pairs between the query records and any other record that the
    exact-id, deterministic and rules tiers decide, each with its strongest tier (the rules tier also joins a
    credit of several names to its first name alone, LEAD_ARTIST: by_credit). `records` is a table or
    subquery with unique_id, track_mbid, exact_key, artist_key and title_key (the catalog by default)."""
    con.register("key_query_arrow", pa.table({"unique_id": pa.array(list(query_ids), pa.string())}))
    edges = con.sql(f"""
        WITH r AS (SELECT *, {LEAD_ARTIST.format(key="artist_key")} AS lead_artist FROM {records}),
        q AS (SELECT r.* FROM r JOIN key_query_arrow USING (unique_id)),
        pairs AS (
            SELECT q.unique_id AS a, r.unique_id AS b, 'exact_id' AS tier, false AS by_credit
            FROM q JOIN r ON r.track_mbid = q.track_mbid AND r.unique_id <> q.unique_id
            WHERE q.track_mbid IS NOT NULL AND q.track_mbid <> ''
            UNION ALL
            SELECT q.unique_id, r.unique_id, 'deterministic', false
            FROM q JOIN r ON r.exact_key = q.exact_key AND r.unique_id <> q.unique_id
            WHERE q.artist_key <> '' AND q.title_key <> ''
            UNION ALL
            SELECT q.unique_id, r.unique_id, 'rules', false
            FROM q JOIN r ON r.artist_key = q.artist_key AND r.title_key = q.title_key AND r.unique_id <> q.unique_id
            WHERE q.artist_key <> '' AND q.title_key <> ''
            UNION ALL  -- a credit that adds a name to an artist's own, for a title that artist has alone
            SELECT q.unique_id, r.unique_id, 'rules', true
            FROM q JOIN r ON r.artist_key = q.lead_artist AND r.title_key = q.title_key
            WHERE q.title_key <> ''
            UNION ALL
            SELECT q.unique_id, r.unique_id, 'rules', true
            FROM q JOIN r ON r.lead_artist = q.artist_key AND r.title_key = q.title_key
            WHERE q.title_key <> ''
        )
        SELECT least(a, b) AS unique_id_l, greatest(a, b) AS unique_id_r,
               arg_min(tier, CASE tier WHEN 'exact_id' THEN 1 WHEN 'deterministic' THEN 2 ELSE 3 END) AS tier,
               bool_and(by_credit) AS by_credit
        FROM pairs GROUP BY 1, 2 ORDER BY 1, 2""").to_arrow_table()
    con.unregister("key_query_arrow")
    return edges


# A probabilistic or semantic link below this does not merge: the variant stands as its own track, flagged low,
# with the track it nearly matched suggested. On the default world the links from 0.5 to 0.8 were right for
# 42% of the 89 variants they merged; the track F1 rises from 0.9859 to 0.9884 without them.
MERGE_CONFIDENCE = 0.8
CATALOG_CLUSTERING = ClusterConfig(threshold=MERGE_CONFIDENCE, tails_name_recordings=True, edits_are_recordings=True)


# Listening context. A player writes a track one way, so two spellings that one listener played within one
# listening of an album are two of its tracks: Tool's "Parabol" and "Parabola", a single's "Best Day" and
# "Best Day - Radio Edit". A listening is a run of one listener's consecutive plays of one album, each within
# ALBUM_GAP_S of the one before, that ends where a spelling comes again (the album was started over, perhaps
# in another player that spells it another way). Keyed per listener and album: across listeners, two players
# may spell one track two ways. A play within DOUBLE_SCROBBLE_S of another of the listener's plays is no
# evidence: two players scrobbled one moment, or a player scrobbled two tracks at once.
ALBUM_GAP_S = 1800
DOUBLE_SCROBBLE_S = 30
# an album name that says the album is not known ("N/A", "[unknown]") ties no two plays together
_MISSING_ALBUM = (*PLACEHOLDER_WORDS, "-", "n/a", "na", "none", "null", "unknown album")
# a component of linked variants up to this size has every pair checked; a larger one only its links
ALL_PAIRS_UP_TO = 64


def linked_pairs(nodes: Sequence[str], edges: Mapping[tuple[str, str], float], threshold: float) -> list[tuple[str, str]]:
    """The pairs of nodes that the edges at or above threshold could put in one cluster: every pair of a
    connected component up to ALL_PAIRS_UP_TO nodes, the linked pairs of a larger one."""
    nodes_set = set(nodes)
    strong = [(a, b) for (a, b), p in edges.items() if p >= threshold and a in nodes_set and b in nodes_set]
    component = connected_components(nodes, [(a, b, 1.0) for a, b in strong], 1.0)
    components: dict[str, list[str]] = {}
    for v in nodes:
        components.setdefault(component[v], []).append(v)
    pairs = {(min(a, b), max(a, b)) for a, b in strong if len(components[component[a]]) > ALL_PAIRS_UP_TO}
    for group in components.values():
        if 1 < len(group) <= ALL_PAIRS_UP_TO:
            group = sorted(group)
            pairs.update((x, y) for i, x in enumerate(group) for y in group[i + 1:])
    return sorted(pairs)


def album_session_pairs(con: duckdb.DuckDBPyConnection, plays_sql: str,
                        pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Those of `pairs` (variant ids) whose two variants one listener played within one listening of an album
    (see ALBUM_GAP_S). `plays_sql` selects artist_raw, track_raw, album_raw, user_id and played_at."""
    if not pairs:
        return []
    con.register("album_pairs_arrow", pa.table({"a": pa.array([a for a, _ in pairs], pa.string()),
                                                "b": pa.array([b for _, b in pairs], pa.string())}))
    rows = con.sql(f"""
        WITH ids AS (SELECT a AS variant_id FROM album_pairs_arrow UNION SELECT b FROM album_pairs_arrow),
        played AS MATERIALIZED (
            SELECT v.variant_id, p.user_id, epoch(p.played_at) AS t, {placeholder_sql("p.album_raw", _MISSING_ALBUM)}
                   AS no_album, regexp_replace(lower(trim(coalesce(p.album_raw, ''))), '\\s+', ' ', 'g') AS album
            FROM ({plays_sql}) p JOIN resolution.variants v USING (artist_raw, track_raw)),
        -- every play of the listeners concerned: a listening's bounds are read from their neighbours too
        p AS (SELECT * FROM played WHERE user_id IN (SELECT user_id FROM played JOIN ids USING (variant_id))),
        spaced AS (SELECT *, t - lag(t) OVER w AS since, lead(t) OVER w - t AS until,
                          album IS DISTINCT FROM lag(album) OVER w AS other_album
                   FROM p WINDOW w AS (PARTITION BY user_id ORDER BY t, variant_id)),
        runs AS (SELECT *, sum(CASE WHEN other_album OR since > {ALBUM_GAP_S} THEN 1 ELSE 0 END)
                               OVER (PARTITION BY user_id ORDER BY t, variant_id ROWS UNBOUNDED PRECEDING) AS run
                 FROM spaced),
        again AS (SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY user_id, run, variant_id ORDER BY t)
                                      > {DOUBLE_SCROBBLE_S} THEN 1 ELSE 0 END AS restarts
                  FROM runs),
        numbered AS (SELECT *, sum(restarts) OVER (PARTITION BY user_id, run ORDER BY t, variant_id
                                                   ROWS UNBOUNDED PRECEDING) AS listening
                     FROM again),
        listenings AS (SELECT variant_id, user_id, run, listening FROM numbered  -- filtered after numbering
                       WHERE coalesce(since, {DOUBLE_SCROBBLE_S} + 1) > {DOUBLE_SCROBBLE_S}
                         AND coalesce(until, {DOUBLE_SCROBBLE_S} + 1) > {DOUBLE_SCROBBLE_S}
                         AND NOT no_album
                         AND variant_id IN (SELECT variant_id FROM ids))
        SELECT DISTINCT x.a, x.b
        FROM album_pairs_arrow x
        JOIN listenings pa ON pa.variant_id = x.a
        JOIN listenings pb ON pb.variant_id = x.b AND pb.user_id = pa.user_id AND pb.run = pa.run
                          AND pb.listening = pa.listening
        ORDER BY 1, 2""").fetchall()
    con.unregister("album_pairs_arrow")
    return [(a, b) for a, b in rows]


def quality_for(tier: str, confidence: float) -> str:
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
                    scores: pa.Table, config: ClusterConfig = CATALOG_CLUSTERING,
                    same_recording: Mapping[str, str] | None = None, plays_sql: str | None = None) -> WindowResult:
    """Cluster the query variants into the catalog and write their entity_clusters rows. Variants whose plays
    carry different MusicBrainz recording ids merge only by the key tiers (one folded artist and title), unless
    `same_recording` (ResolutionRules.recording_ids) knows the two recordings to be one. With `plays_sql`
    (album_session_pairs), two variants one listener played within one listening of an album stay apart."""
    keyed = key_edges(con, query_ids)
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
        SELECT v.variant_id, v.artist_key, v.title_key, v.version, c.track_id, c.artist_id, v.markers,
               nullif(lower(trim(v.track_mbid)), '')
        FROM resolution.variants v JOIN involved_arrow USING (variant_id)
        LEFT JOIN resolution.entity_clusters c USING (variant_id)""").fetchall()}
    con.unregister("involved_arrow")
    anchors = {v: row[3] for v, row in info.items() if v not in query and row[3] is not None}
    artist_of_track = {row[3]: row[4] for v, row in info.items() if v not in query and row[3] is not None}
    nodes = [v for v in sorted(involved) if v in query or v in anchors]
    apart = (album_session_pairs(con, plays_sql, linked_pairs(nodes, {k: p for k, (p, _) in edges.items()},
                                                                 config.threshold))
             if plays_sql else [])
    assignment = constrained_clusters(nodes, [(a, b, p) for (a, b), (p, _) in edges.items()
                                              if a in info and b in info], config,
                                      version={v: info[v][2] for v in nodes}, anchors=anchors,
                                      markers={v: info[v][5] for v in nodes}, titles={v: info[v][1] for v in nodes},
                                      recordings={v: (same_recording or {}).get(info[v][6], info[v][6])
                                                  for v in nodes if info[v][6]},
                                      # one folded artist and title; not a credit read down to its first name
                                      keyed=[(a, b) for a, b, by_credit in zip(
                                          keyed["unique_id_l"].to_pylist(), keyed["unique_id_r"].to_pylist(),
                                          keyed["by_credit"].to_pylist(), strict=True) if not by_credit],
                                      apart=apart)
    clusters: dict[str, list[str]] = {}
    for v, root in assignment.items():
        clusters.setdefault(root, []).append(v)
    # ids held by variants outside this window's query; the query's own old rows are being replaced
    con.register("query_arrow", pa.table({"variant_id": pa.array(sorted(query), pa.string())}))
    taken = set(r[0] for r in con.sql("SELECT DISTINCT track_id FROM resolution.entity_clusters "
                                      "WHERE variant_id NOT IN (SELECT variant_id FROM query_arrow)").fetchall())
    con.unregister("query_arrow")
    # re-resolved variants (queue retries, rules changes) keep their id when their entity still stands alone
    previous = {v: row[3] for v, row in info.items() if v in query and row[3] is not None}
    entity: dict[str, tuple[str, str]] = {}  # cluster root -> (track_id, artist_id)
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
        entity[root] = (track, artist)
    rows = []
    for root, group in sorted(clusters.items()):
        track, artist = entity[root]
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
                    nearly = rejected[1]
                    suggested = anchors.get(nearly) or (entity[assignment[nearly]][0] if nearly in assignment else None)
                else:
                    quality, confidence = "high", 1.0
                rows.append((v, track, artist, "deterministic", "new_entity", confidence, quality, suggested))
            else:
                method = {"exact_id": "musicbrainz_id", "deterministic": "normalised_hash", "rules": "rules_key",
                          "probabilistic": "splink", "semantic": "embedding_neighbours"}[best_tier]
                rows.append((v, track, artist, best_tier, method, best_p, quality_for(best_tier, best_p), None))
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
