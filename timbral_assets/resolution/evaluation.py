"""How good is the catalog's resolution? Scores the warehouse's clusters against a synthetic world's truth.

The world keeps aside, for every messy string it wrote, the true track and the kind of mess (typo, other
script, version suffix ...), and the pairs of tracks that must stay apart (covers, remixes, live takes).
A catalog variant is matched to the truth by its raw (artist, title) strings.

Reported, all from the same clusters the marts read:
  - pairwise precision / recall / F1 and B-cubed F1, for tracks and for artists;
  - per variant kind: precision (B-cubed, the share of a string's cluster that is truly its track) and
    recall (the share of strings of that kind that joined their track's main cluster);
  - the false-merge rate on hard negatives: the share of must-stay-apart pairs that share a cluster;
  - the share of scrobbles resolved by each tier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from .metrics import Scores, bcubed_scores, pairwise_scores
from .store import placeholder_sql


@dataclass
class ResolutionReport:
    variants_evaluated: int
    tracks: Scores
    tracks_bcubed: Scores
    artists: Scores
    by_variant_kind: dict[str, Scores]
    hard_negative_pairs: int
    hard_negative_false_merges: int
    hard_negatives_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (merged, pairs)
    scrobble_share_by_tier: dict[str, float] = field(default_factory=dict)

    @property
    def hard_negative_false_merge_rate(self) -> float:
        return self.hard_negative_false_merges / self.hard_negative_pairs if self.hard_negative_pairs else 0.0

    def metrics(self) -> dict[str, float]:
        out = {"variants_evaluated": self.variants_evaluated,
               "hard_negative_false_merge_rate": self.hard_negative_false_merge_rate}
        for name, scores in (("track", self.tracks), ("track_bcubed", self.tracks_bcubed), ("artist", self.artists)):
            out.update({f"{name}_precision": scores.precision, f"{name}_recall": scores.recall, f"{name}_f1": scores.f1})
        for kind, scores in self.by_variant_kind.items():
            out.update({f"kind/{kind}/precision": scores.precision, f"kind/{kind}/recall": scores.recall,
                        f"kind/{kind}/f1": scores.f1})
        out.update({f"tier_share/{tier}": share for tier, share in self.scrobble_share_by_tier.items()})
        return out

    def markdown(self) -> str:
        lines = ["| entity / kind | precision | recall | F1 |", "|---|---|---|---|"]
        for name, scores in (("tracks (pairwise)", self.tracks), ("tracks (B-cubed)", self.tracks_bcubed),
                             ("artists (pairwise)", self.artists),
                             *((f"variant kind: {k}", s) for k, s in sorted(self.by_variant_kind.items()))):
            lines.append(f"| {name} | {scores.precision:.4f} | {scores.recall:.4f} | {scores.f1:.4f} |")
        lines += ["", "| hard negatives | pairs | false merges | rate |", "|---|---|---|---|"]
        for kind, (merged, pairs) in sorted(self.hard_negatives_by_kind.items()):
            lines.append(f"| {kind} | {pairs} | {merged} | {merged / pairs if pairs else 0:.4f} |")
        lines.append(f"| all | {self.hard_negative_pairs} | {self.hard_negative_false_merges} | "
                     f"{self.hard_negative_false_merge_rate:.4f} |")
        lines += ["", "| tier | share of scrobbles |", "|---|---|"]
        lines += [f"| {tier} | {share:.4f} |" for tier, share in self.scrobble_share_by_tier.items()]
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {**self.metrics(), "hard_negatives_by_kind": self.hard_negatives_by_kind,
                "by_variant_kind": {k: asdict(v) for k, v in self.by_variant_kind.items()}}


def tier_shares(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Share of scrobbles (plays of each variant) per resolution tier; unresolved plays count as 'none'."""
    rows = con.sql("""
        SELECT coalesce(c.tier, 'none') AS tier, sum(v.play_count) AS plays
        FROM resolution.variants v LEFT JOIN resolution.entity_clusters c USING (variant_id)
        GROUP BY 1 ORDER BY 2 DESC""").fetchall()
    total = sum(p for _, p in rows) or 1
    return {tier: plays / total for tier, plays in rows}


def evaluate_catalog(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> ResolutionReport:
    """Score the catalog in `con` against the truth folder of the synthetic world it was built from."""
    truth_dir = Path(truth_dir)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE eval_records AS
        WITH truth AS (
            SELECT min(t.true_track_id) AS true_track_id, min(tr.true_artist_id) AS true_artist_id,
                   min(t.variant_kind) FILTER (WHERE t.variant_kind = 'clean') AS clean_kind,
                   min(t.variant_kind) AS any_kind, t.artist, t.title
            FROM read_parquet('{truth_dir / "variants.parquet"}') t
            JOIN read_parquet('{truth_dir / "tracks.parquet"}') tr USING (true_track_id)
            GROUP BY t.artist, t.title)
        SELECT v.variant_id, c.track_id, c.artist_id, truth.true_track_id, truth.true_artist_id,
               coalesce(truth.clean_kind, truth.any_kind) AS variant_kind
        FROM resolution.variants v
        JOIN resolution.entity_clusters c USING (variant_id)
        JOIN truth ON truth.artist = v.artist_raw AND truth.title = v.track_raw""")
    rows = con.sql("SELECT variant_id, track_id, artist_id, true_track_id, true_artist_id, variant_kind "
                   "FROM eval_records").fetchall()
    track_pred = {r[0]: r[1] for r in rows}
    track_true = {r[0]: r[3] for r in rows}
    artist_pred = {r[0]: r[2] for r in rows}
    artist_true = {r[0]: r[4] for r in rows}
    by_kind = {}
    kinds = con.sql("""
        WITH main AS (  -- each true track's main predicted cluster: where most of its strings went
            SELECT true_track_id, arg_max(track_id, (n, track_id)) AS main_track_id FROM (
                SELECT true_track_id, track_id, count(*) AS n FROM eval_records GROUP BY ALL) GROUP BY 1),
        cluster AS (SELECT track_id, count(*) AS size FROM eval_records GROUP BY 1),
        cluster_truth AS (SELECT track_id, true_track_id, count(*) AS same FROM eval_records GROUP BY ALL)
        SELECT e.variant_kind, avg(ct.same / c.size) AS precision,
               avg(CASE WHEN e.track_id = m.main_track_id THEN 1.0 ELSE 0.0 END) AS recall
        FROM eval_records e JOIN main m USING (true_track_id) JOIN cluster c USING (track_id)
        JOIN cluster_truth ct ON ct.track_id = e.track_id AND ct.true_track_id = e.true_track_id
        GROUP BY 1 ORDER BY 1""").fetchall()
    for kind, precision, recall in kinds:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        by_kind[kind] = Scores(precision, recall, f1)
    negatives = con.sql(f"""
        WITH pred AS (SELECT DISTINCT true_track_id, track_id FROM eval_records)
        SELECT h.kind, count(*) AS pairs,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM pred a JOIN pred b USING (track_id)
                                             WHERE a.true_track_id = h.track_id
                                               AND b.true_track_id = h.other_track_id)) AS merged
        FROM read_parquet('{truth_dir / "hard_negatives.parquet"}') h
        WHERE h.track_id IN (SELECT true_track_id FROM pred) AND h.other_track_id IN (SELECT true_track_id FROM pred)
        GROUP BY 1 ORDER BY 1""").fetchall()
    return ResolutionReport(
        variants_evaluated=len(rows),
        tracks=pairwise_scores(track_pred, track_true), tracks_bcubed=bcubed_scores(track_pred, track_true),
        artists=pairwise_scores(artist_pred, artist_true), by_variant_kind=by_kind,
        hard_negative_pairs=sum(p for _, p, _ in negatives), hard_negative_false_merges=sum(m for _, _, m in negatives),
        hard_negatives_by_kind={k: (m, p) for k, p, m in negatives}, scrobble_share_by_tier=tier_shares(con))


def world_scrobbles_sql(world_dir: Path, start: str | None = None, end: str | None = None) -> str:
    """A world's raw scrobbles (optionally the play dates [start, end)) in the shape `catalog.add_variants` reads."""
    where = [f"NOT {placeholder_sql('artist_name')}", f"NOT {placeholder_sql('track_name')}"]
    if start:
        where.append(f"played_at::DATE >= DATE '{start}'")
    if end:
        where.append(f"played_at::DATE < DATE '{end}'")
    return f"""
        SELECT artist_name AS artist_raw, track_name AS track_raw, album_name AS album_raw, duration_ms,
               track_mbid, artist_mbid, user_id
        FROM read_parquet('{Path(world_dir) / "scrobbles" / "*.parquet"}')
        WHERE {" AND ".join(where)}"""
