"""Why an (artist, title) string maps where it does: `timbral explain-match`.

The explanation re-runs, read-only, what the resolver does for one string against the current catalog:
standardisation by the rules, the key tiers (MusicBrainz id, normalised hash, rules keys), the blocking
passes, and the splink model's score of every candidate broken down into the match weight each comparison
contributed (log2 of its Bayes factor, term-frequency adjustment included). When the string is already in
the catalog, its stored mapping (tier, method, confidence, quality, manual override) is shown beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from .assignment import KEY_TIERS, key_edges
from .candidates import SWAPPED_PASS, blocked_pairs
from .catalog import term_frequencies
from .markers import conflicting, parse_markers
from .matcher import MatcherConfig, TrackMatcher
from .pipeline import SWAPPED_SUFFIX
from .rules_file import ResolutionRules
from .store import CATALOG_RECORDS, known_artist_keys, standardised_row, variant_id

QUERY_ID = "explain_query"


@dataclass(frozen=True)
class Contribution:
    comparison: str
    level: str  # the comparison level's label, e.g. "Exact match on title_key"
    match_weight: float  # log2 Bayes factor, term-frequency adjustment included


@dataclass
class Candidate:
    variant_id: str
    artist_raw: str
    track_raw: str
    track_id: str | None
    found_by: str
    key_tier: str | None  # exact_id / deterministic / rules when a key tier links the two outright
    match_weight: float
    match_probability: float
    contributions: list[Contribution] = field(default_factory=list)
    conflict: str | None = None  # the recording marker that keeps the two apart (markers.py), if any


@dataclass
class MatchExplanation:
    artist: str
    title: str
    standardised: dict[str, object]
    stored: dict[str, object] | None  # the catalog's entity_clusters row when the string is known
    prior_weight: float
    candidates: list[Candidate]
    threshold: float

    @property
    def decision(self) -> str:
        if self.stored is not None:
            return (f"mapped to {self.stored['track_id']} by the {self.stored['tier']} tier "
                    f"({self.stored['method']}, confidence {self.stored['confidence']:.3f}, "
                    f"quality {self.stored['quality']})")
        keyed = [c for c in self.candidates if c.key_tier and not c.conflict]
        if keyed:
            best = min(keyed, key=lambda c: KEY_TIERS.index(c.key_tier))
            return f"would join {best.track_id} by the {best.key_tier} tier (same keys as '{best.artist_raw} - {best.track_raw}')"
        above = [c for c in self.candidates if c.match_probability >= self.threshold and not c.conflict]
        if above:
            best = max(above, key=lambda c: c.match_probability)
            return (f"would join {best.track_id} by the probabilistic tier "
                    f"(match probability {best.match_probability:.3f} with '{best.artist_raw} - {best.track_raw}')")
        return "no candidate reaches the threshold: it would found a new entity"


def _stored_mapping(con: duckdb.DuckDBPyConnection, vid: str) -> dict[str, object] | None:
    rows = con.sql("""
        SELECT c.track_id, c.artist_id, c.tier, c.method, c.confidence, c.quality, c.suggested_track_id,
               c.resolved_in::VARCHAR, v.play_count
        FROM resolution.entity_clusters c JOIN resolution.variants v USING (variant_id)
        WHERE c.variant_id = ?""", params=[vid]).fetchall()
    if not rows:
        return None
    names = ["track_id", "artist_id", "tier", "method", "confidence", "quality", "suggested_track_id",
             "resolved_in", "play_count"]
    return dict(zip(names, rows[0], strict=True))


def _level_labels(matcher: TrackMatcher) -> dict[str, dict[int, str]]:
    """comparison -> splink comparison-vector value -> the level's label."""
    return {c.output_column_name: {level.comparison_vector_value: level.label_for_charts
                                   for level in c.comparison_levels}
            for c in matcher.linker._settings_obj.comparisons}


def _contributions(row: dict, labels: dict[str, dict[int, str]]) -> list[Contribution]:
    out = []
    for name, by_value in labels.items():
        weight = row.get(f"mw_{name}")
        if weight is None:
            continue
        level = row.get(f"gamma_{name}")
        out.append(Contribution(name, by_value.get(level, str(level)),
                                float(weight) + float(row.get(f"mw_tf_adj_{name}") or 0.0)))
    return out


def explain_match(con: duckdb.DuckDBPyConnection, artist: str, title: str, rules: ResolutionRules,
                  model_json: dict, album: str | None = None, duration_s: float | None = None,
                  threshold: float = 0.5) -> MatchExplanation:
    """Explain how (artist, title) resolves against the catalog in `con` (schema `resolution`)."""
    vid = variant_id(artist, title)
    known = con.sql("""SELECT album_raw, duration_s, track_mbid FROM resolution.variants
                       WHERE variant_id = ?""", params=[vid]).fetchall()
    stored = _stored_mapping(con, vid) if known else None
    if known:
        album = album if album is not None else known[0][0]
        duration_s = duration_s if duration_s is not None else known[0][1]
    mbid = known[0][2] if known else None
    artist_keys = known_artist_keys(con)
    keys = standardised_row(QUERY_ID, artist, title, album, duration_s, rules, artist_keys)
    names = ["artist_key", "title_key", "title_head", "title_sorted", "version", "album_key", "exact_key", "markers",
             "duration_s"]
    standardised = dict(zip(names, keys, strict=True))
    query_markers = parse_markers(standardised["markers"])
    query = pa.table({"unique_id": [QUERY_ID], **{n: pa.array([v], pa.float64() if n == "duration_s" else pa.string())
                                                  for n, v in standardised.items()}})
    con.register("explain_query_arrow", query)
    # the catalog without the string itself (when known), plus the string under a fixed id
    con.execute(f"""CREATE OR REPLACE TEMP TABLE explain_records AS
        SELECT * FROM {CATALOG_RECORDS} WHERE unique_id <> $vid
        UNION ALL BY NAME
        SELECT *, $mbid AS track_mbid, NULL::INTEGER AS year FROM explain_query_arrow""", {"vid": vid, "mbid": mbid})
    con.unregister("explain_query_arrow")
    blocked = blocked_pairs(con, "explain_records", [QUERY_ID])
    keyed = key_edges(con, [QUERY_ID], "explain_records")
    found: dict[str, tuple[str, str | None]] = {}
    for left, right, found_by in zip(*blocked.select(["unique_id_l", "unique_id_r", "found_by"]).to_pydict().values(),
                                     strict=True):
        found[right if left == QUERY_ID else left] = (found_by, None)
    columns = keyed.select(["unique_id_l", "unique_id_r", "tier"]).to_pydict().values()
    for left, right, tier in zip(*columns, strict=True):
        other = right if left == QUERY_ID else left
        found[other] = (found.get(other, ("key", None))[0], tier)
    candidates: list[Candidate] = []
    prior_weight = 0.0
    if found:
        con.register("explain_found", pa.table({"unique_id": pa.array([*found, QUERY_ID], pa.string())}))
        # the same shape and empty-as-null convention as the catalog's scoring (pipeline.records_table)
        records = con.sql("""
            SELECT unique_id, nullif(artist_key, '') AS artist_key, nullif(title_key, '') AS title_key,
                   nullif(title_head, '') AS title_head, nullif(title_sorted, '') AS title_sorted, version,
                   nullif(album_key, '') AS album_key, duration_s::DOUBLE AS duration_s, year
            FROM explain_records JOIN explain_found USING (unique_id)""").to_arrow_table()
        con.unregister("explain_found")
        # pairs the swapped pass found are compared with the string's artist and title exchanged, as the
        # catalog scores them
        swapped_id = QUERY_ID + SWAPPED_SUFFIX
        keys = standardised_row(swapped_id, title, artist, album, duration_s, rules, artist_keys)
        swapped_row = {"unique_id": swapped_id, **dict(zip(names[:6], keys[:6], strict=True)),
                       "duration_s": keys[-1], "year": None}
        swapped_row = {k: (v or None) if k not in ("duration_s", "year", "version") else v for k, v in swapped_row.items()}
        records = pa.concat_tables([records, pa.Table.from_pylist([swapped_row], schema=records.schema)])
        matcher = TrackMatcher(records, MatcherConfig(use_embeddings=False, use_context=False), model_json=model_json,
                               term_frequencies=term_frequencies(con))
        ids = sorted(found)
        lefts = [swapped_id if SWAPPED_PASS in found[i][0] else QUERY_ID for i in ids]
        pair_table = pa.table({"unique_id_l": lefts, "unique_id_r": ids})
        scored = matcher.score(pair_table, detail=True).to_pylist()
        labels = _level_labels(matcher)
        prior = matcher.linker._settings_obj._probability_two_random_records_match
        prior_weight = math.log2(prior / (1 - prior))
        details = {r["unique_id"]: r for r in con.sql(f"""
            SELECT v.variant_id AS unique_id, v.artist_raw, v.track_raw, c.track_id, v.markers
            FROM resolution.variants v LEFT JOIN resolution.entity_clusters c USING (variant_id)
            WHERE v.variant_id IN ({", ".join("'" + i.replace("'", "''") + "'" for i in ids)})""")
            .to_arrow_table().to_pylist()}
        for row in scored:
            other = row["unique_id_r"] if row["unique_id_l"] in (QUERY_ID, swapped_id) else row["unique_id_l"]
            info = details[other]
            found_by, key_tier = found[other]
            candidates.append(Candidate(other, info["artist_raw"], info["track_raw"], info["track_id"], found_by,
                                        key_tier, float(row["match_weight"]), float(row["match_probability"]),
                                        _contributions(row, labels),
                                        conflicting(query_markers, parse_markers(info["markers"]))))
    con.execute("DROP TABLE IF EXISTS explain_records")
    candidates.sort(key=lambda c: (c.key_tier is None, -c.match_probability, c.variant_id))
    return MatchExplanation(artist, title, standardised, stored, prior_weight, candidates, threshold)


def format_explanation(explanation: MatchExplanation, top: int = 5) -> str:
    e = explanation
    s = e.standardised
    lines = [f"'{e.artist}' - '{e.title}'",
             f"  standardised: artist_key='{s['artist_key']}' title_key='{s['title_key']}' "
             f"version={s['version'] or 'original'} album_key='{s['album_key'] or ''}' "
             f"duration_s={'' if s['duration_s'] is None else round(s['duration_s'])}",
             f"  in the catalog: {'yes' if e.stored else 'no'}"]
    if e.stored and e.stored.get("suggested_track_id"):
        lines.append(f"  low-confidence mapping; suggested entity {e.stored['suggested_track_id']}")
    lines.append(f"  decision: {e.decision}")
    lines.append(f"  prior match weight {e.prior_weight:+.2f}; threshold probability {e.threshold}")
    if not e.candidates:
        lines.append("  no candidates: no blocking pass or key tier finds another variant")
    # spellings of one entity that compare identically are shown once
    shown: dict[tuple, list[Candidate]] = {}
    for c in e.candidates:
        shown.setdefault((c.track_id, c.key_tier, tuple(c.contributions)), []).append(c)
    if len(shown) > top:
        lines.append(f"  showing the best {top} of {len(shown)} candidate groups")
    for rank, group in enumerate(list(shown.values())[:top], 1):
        c = group[0]
        tier = f", key tier {c.key_tier}" if c.key_tier else ""
        lines.append(f"\n  #{rank} '{c.artist_raw}' - '{c.track_raw}'  -> {c.track_id}")
        if len(group) > 1:
            lines.append("     (same scores: " + "; ".join(f"'{o.artist_raw}' - '{o.track_raw}'" for o in group[1:]) + ")")
        if SWAPPED_PASS in c.found_by:
            lines.append("     compared with this string's artist and title exchanged")
        if c.conflict:
            lines.append(f"     kept apart whatever the score: another recording (its {c.conflict} marker differs)")
        lines.append(f"     found by {c.found_by}{tier}; match weight {c.match_weight:+.2f}, "
                     f"probability {c.match_probability:.4f}")
        for part in c.contributions:
            lines.append(f"       {part.comparison:<10} {part.match_weight:+7.2f}  {part.level}")
    return "\n".join(lines)
