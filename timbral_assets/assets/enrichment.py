"""Enrichment assets (group and schema `enrichment`): the label hunter and its cool-down queue, the queue's
statistics, and unknown-artist identification. The logic is in timbral_assets/enrichment/."""

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa

from ..enrichment import cooldown as cd
from ..enrichment.hunter import HuntOutcome, LabelHunter, TrackToEnrich
from ..enrichment.identify import (
    FEATURES,
    MEDIUM,
    UNKNOWN_ARTIST_FORMS,
    Context,
    Play,
    comparison_pairs,
    identify,
)
from ..resolution.text import fold, fold_artist
from ..resources import BucketResource, EnrichmentResource, WarehouseResource
from ..warehouse import now_utc, rows_to_markdown, transaction
from .common import DUCKDB_POOL, column_schema, daily_counts_plot, preview, writes

GROUP = "enrichment"
AOTY_CONFIDENCE = 0.95  # a label AOTY states for the album: curated, taken as found
QUEUE_SNAPSHOT = "snapshots/cooldown_queue.parquet"  # under TIMBRAL_HOME: what cooldown_retry_sensor reads
SESSION_GAP = timedelta(minutes=30)
TITLE_ONLY_CHUNK = 2_000  # title-only results per commit
MIN_JUDGED = 20  # accepted masked plays below which masked_plays_precision does not judge


def queue_snapshot_path(warehouse_db: WarehouseResource) -> Path:
    return warehouse_db.path.parent / QUEUE_SNAPSHOT


class LabelHuntConfig(dg.Config):
    # a subset, as the cool-down sensor's runs (or a person, from the launchpad) ask; empty: every track due
    track_ids: list[str] = []
    # with track_ids, from the sensor: the attempts each track had when it was found due; a track that has
    # moved on since (another run tried it) is left alone, so no attempt is made twice
    attempts: list[int] = []
    strategy: str = "adaptive"  # fixed | exponential | adaptive
    max_attempts: int = 5
    max_remote_tracks: int = 500  # tracks asked of MusicBrainz and the store per run: ~2 requests each at 1/s
    batch_size: int = 25  # tracks per committed batch: a killed run loses at most this much work


def _policy(config: LabelHuntConfig) -> cd.CooldownPolicy:
    try:
        return cd.CooldownPolicy(strategy=config.strategy, max_attempts=config.max_attempts)
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


def _add_new_tracks(con) -> tuple[int, int]:
    """Queue every canonical track not yet in enrichment_status: enriched at once when AOTY states its album's
    label, else pending. (new pending, new from AOTY)"""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _new AS
        WITH aoty AS (SELECT t.track_id, a.label, count(*) AS n FROM marts.tracks_core t
                      JOIN staging.stg_aoty_album_tracks a USING (artist_norm, title_norm)
                      WHERE a.label IS NOT NULL GROUP BY ALL),
             best AS (SELECT track_id, arg_max(label, (n, label)) AS label FROM aoty GROUP BY track_id)
        SELECT t.track_id, b.label FROM marts.tracks_core t LEFT JOIN best b USING (track_id)
        WHERE t.track_id NOT IN (SELECT track_id FROM enrichment.enrichment_status)""")
    counts = con.execute("SELECT count(*) FILTER (WHERE label IS NULL), count(label) FROM _new").fetchall()[0]
    con.execute("""
        INSERT INTO enrichment.enrichment_status
        SELECT track_id, CASE WHEN label IS NULL THEN 'pending' ELSE 'enriched' END, label,
               CASE WHEN label IS NULL THEN NULL ELSE 'aoty' END,
               CASE WHEN label IS NULL THEN NULL ELSE $confidence END, NULL, 0, NULL, $strategy, NULL, NULL
        FROM _new ORDER BY track_id""", {"confidence": AOTY_CONFIDENCE, "strategy": "adaptive"})
    con.execute("DROP TABLE _new")
    return int(counts[0]), int(counts[1])


def _work(con, config: LabelHuntConfig, now: datetime) -> list[tuple[TrackToEnrich, cd.QueueEntry, bool]]:
    """The tracks to try, oldest due first: (track, its queue entry, whether its artist has a known label)."""
    if config.track_ids:
        if config.attempts and len(config.attempts) != len(config.track_ids):
            raise dg.Failure("attempts, when given, needs one entry per track id", allow_retries=False)
        con.execute("CREATE OR REPLACE TEMP TABLE _wanted (track_id VARCHAR, attempts INTEGER)")
        con.executemany("INSERT INTO _wanted VALUES (?, ?)",
                        [(t, config.attempts[i] if config.attempts else None) for i, t in enumerate(config.track_ids)])
        where = ("s.track_id IN (SELECT track_id FROM _wanted w WHERE w.attempts IS NULL "
                 "OR w.attempts = s.retry_attempts) AND s.status IN ('pending', 'cooling_down')")
    else:
        where = "(s.status = 'pending' OR (s.status = 'cooling_down' AND s.retry_after <= $now))"
    # the due rows first: titles, years and labelled artists are gathered for them only (a sensor's run of
    # 200 tracks reads their plays, not the whole history's)
    rows = con.execute(f"""
        WITH due AS (SELECT s.*, c.artist_id, c.artist_name, c.title, c.artist_norm, c.title_norm
                     FROM enrichment.enrichment_status s JOIN marts.tracks_core c USING (track_id) WHERE {where}),
             titles AS (SELECT track_id, list(DISTINCT track_raw ORDER BY track_raw) AS titles
                        FROM intermediate.int_scrobble_tracks WHERE track_id IN (SELECT track_id FROM due)
                        GROUP BY track_id),
             labelled_artists AS (SELECT DISTINCT c.artist_id FROM enrichment.enrichment_status e
                                  JOIN marts.tracks_core c USING (track_id)
                                  WHERE e.label IS NOT NULL AND c.artist_id IN (SELECT artist_id FROM due)),
             years AS (SELECT d.track_id, min(a.release_year) AS release_year FROM due d
                       JOIN staging.stg_aoty_album_tracks a USING (artist_norm, title_norm) GROUP BY d.track_id)
        SELECT d.track_id, d.status, d.retry_attempts, d.retry_after, d.cooldown_strategy, d.last_attempt_at,
               d.last_error, d.artist_name, d.title, coalesce(ti.titles, []), y.release_year,
               d.artist_id IN (SELECT artist_id FROM labelled_artists)
        FROM due d
        LEFT JOIN titles ti USING (track_id)
        LEFT JOIN years y USING (track_id)
        ORDER BY d.status = 'cooling_down', d.retry_after NULLS FIRST, d.track_id""",
                       {} if config.track_ids else {"now": now}).fetchall()
    return [(TrackToEnrich(r[0], r[7], r[8], tuple(r[9]), r[10]),
             cd.QueueEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6]), bool(r[11])) for r in rows]


ATTEMPT_COLUMNS = ["track_id", "attempt", "attempted_at", "outcome", "label", "label_source", "label_confidence",
                   "error", "status_after", "retry_after", "run_id"]


def _commit_batch(con, results: list[tuple[cd.QueueEntry, HuntOutcome]], run_id: str, now: datetime) -> None:
    """The batch's queue moves and the results they record, in one transaction: a track is either untouched
    or fully moved (status, attempts, next retry_after, label and its attempt row)."""
    entries = pa.table({
        "track_id": [e.track_id for e, _ in results], "status": [e.status for e, _ in results],
        "label": [o.finding.label if o.finding else None for _, o in results],
        "label_source": [o.finding.source if o.finding else None for _, o in results],
        "label_confidence": pa.array([o.finding.confidence if o.finding else None for _, o in results], pa.float64()),
        "label_detail": [o.finding.detail if o.finding else None for _, o in results],
        "retry_attempts": pa.array([e.retry_attempts for e, _ in results], pa.int32()),
        "retry_after": pa.array([e.retry_after for e, _ in results], pa.timestamp("us")),
        "cooldown_strategy": [e.cooldown_strategy for e, _ in results],
        "last_attempt_at": pa.array([e.last_attempt_at for e, _ in results], pa.timestamp("us")),
        "last_error": [e.last_error for e, _ in results],
    })
    attempts = pa.table({
        "track_id": entries["track_id"], "attempt": entries["retry_attempts"],
        "attempted_at": pa.array([now] * len(results), pa.timestamp("us")),
        "outcome": ["found" if o.finding else "failed" for _, o in results],
        "label": entries["label"], "label_source": entries["label_source"],
        "label_confidence": entries["label_confidence"], "error": [o.error for _, o in results],
        "status_after": entries["status"], "retry_after": entries["retry_after"], "run_id": [run_id] * len(results),
    })
    con.register("_batch", entries)
    con.register("_attempts", attempts)
    try:
        with transaction(con):
            con.execute("""
                UPDATE enrichment.enrichment_status s SET
                    status = b.status, label = coalesce(b.label, s.label),
                    label_source = coalesce(b.label_source, s.label_source),
                    label_confidence = coalesce(b.label_confidence, s.label_confidence),
                    label_detail = coalesce(b.label_detail, s.label_detail), retry_attempts = b.retry_attempts,
                    retry_after = b.retry_after, cooldown_strategy = b.cooldown_strategy,
                    last_attempt_at = b.last_attempt_at, last_error = b.last_error
                FROM _batch b WHERE s.track_id = b.track_id""")
            con.execute(f"INSERT INTO enrichment.label_attempts ({', '.join(ATTEMPT_COLUMNS)}) "
                        f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM _attempts")
    finally:
        con.unregister("_batch")
        con.unregister("_attempts")


NEVER_TRIED = datetime(1970, 1, 1)  # a pending track's place in the snapshot: due from the start


def publish_queue_snapshot(con, path: Path) -> None:
    """The entries still to try (pending, and cooling down with their retry time) as Parquet, replaced
    atomically: the sensor reads this, never the warehouse (which a run may hold)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    con.execute(f"""COPY (SELECT track_id, status, retry_attempts, coalesce(retry_after, $never) AS retry_after,
                                 cooldown_strategy
                          FROM enrichment.enrichment_status WHERE status IN ('pending', 'cooling_down')
                          ORDER BY retry_after, track_id) TO '{tmp}' (FORMAT parquet)""", {"never": NEVER_TRIED})
    os.replace(tmp, path)


def _coverage(con) -> dict[str, int]:
    rows = con.execute("SELECT coalesce(label_source, 'none'), count(*) FROM enrichment.enrichment_status "
                       "GROUP BY ALL ORDER BY 1").fetchall()
    return {k: int(v) for k, v in rows}


@dg.asset(deps=["tracks_core", "int_scrobble_tracks", "stg_aoty_album_tracks"], group_name=GROUP, pool=DUCKDB_POOL,
          kinds={"duckdb", "python"}, metadata=writes("enrichment.enrichment_status", "enrichment.label_attempts"))
def enrichment_status(context: dg.AssetExecutionContext, config: LabelHuntConfig, warehouse_db: WarehouseResource,
                      bucket: BucketResource, enrichment: EnrichmentResource) -> dg.MaterializeResult:
    """Every canonical track's label and its place in the cool-down queue. New tracks enter pending (or
    enriched, when AOTY states the label). The label hunter then tries the due ones: the titles first, then
    MusicBrainz and store pages when configured (EnrichmentResource). A failed attempt cools the track down
    (fixed, exponential or adaptive delays, ±10% jitter) until cooldown_retry_sensor asks again, and the
    fifth exhausts it. Each batch's moves and results commit together; every attempt is a row in
    enrichment.label_attempts."""
    policy = _policy(config)
    hunter: LabelHunter = enrichment.hunter(bucket.bucket())
    now = now_utc()
    with warehouse_db.get_connection() as con:
        with transaction(con):
            new_pending, new_aoty = _add_new_tracks(con)
        before = _coverage(con)
        work = _work(con, config, now)
    context.log.info(f"{new_pending:,} new tracks pending, {new_aoty:,} labelled by AOTY; {len(work):,} to try "
                     f"(remote sources: {', '.join(hunter.remote_sources) or 'none configured'})")
    # The warehouse is opened for each commit only, never while MusicBrainz and the store are asked (a
    # second a request): readers wait seconds, not the hunt. Title-only results are committed in larger
    # chunks, since they cost no waiting.
    remote_budget = config.max_remote_tracks
    moved = Counter()
    results: list[tuple[cd.QueueEntry, HuntOutcome]] = []
    for start in range(0, len(work), config.batch_size):
        asked_remote = False
        for track, entry, artist_labelled in work[start:start + config.batch_size]:
            outcome = hunter.hunt(track, remote=remote_budget > 0)
            remote_budget -= outcome.remote_tried
            asked_remote |= outcome.remote_tried
            if outcome.finding is None and not outcome.remote_tried:
                continue  # nothing asked that counts as an attempt: the track keeps its place
            moved[("found" if outcome.finding else "failed", outcome.finding.source if outcome.finding else "")] += 1
            results.append((cd.after_attempt(entry, outcome.finding is not None, now, policy, artist_labelled,
                                             track.release_year, outcome.error), outcome))
        if results and (asked_remote or len(results) >= TITLE_ONLY_CHUNK):
            with warehouse_db.get_connection() as con:
                _commit_batch(con, results, context.run_id, now)
            results = []
        done = min(start + config.batch_size, len(work))
        if hunter.remote_sources and (done // config.batch_size) % 20 == 0:
            context.log.info(f"tried {done:,}/{len(work):,} tracks; {sum(moved.values()):,} attempts recorded")
    with warehouse_db.get_connection() as con:
        if results:
            _commit_batch(con, results, context.run_id, now)
        publish_queue_snapshot(con, queue_snapshot_path(warehouse_db))
        after = _coverage(con)
        statuses = dict(con.execute("SELECT status, count(*) FROM enrichment.enrichment_status GROUP BY ALL "
                                    "ORDER BY 1").fetchall())
        total = sum(statuses.values())
        stats = hunter.stats_dict()
        coverage_rows = [(s, before.get(s, 0), after.get(s, 0), f"{after.get(s, 0) / max(1, total):.1%}")
                         for s in sorted(set(before) | set(after))]
        metadata = {
            "dagster/row_count": dg.MetadataValue.int(total),
            "dagster/column_schema": column_schema(con, "enrichment.enrichment_status"),
            "label_coverage": dg.MetadataValue.float(round(1 - after.get("none", 0) / max(1, total), 4)),
            "coverage_by_source": dg.MetadataValue.md(rows_to_markdown(
                ["label source", "tracks before this run", "after", "share after"], coverage_rows)),
            "status_counts": dg.MetadataValue.json({k: int(v) for k, v in statuses.items()}),
            "source_stats": dg.MetadataValue.md(rows_to_markdown(
                ["source", "tried", "found", "not found", "errors", "requests", "cache hits", "seconds"],
                [(s, v["tried"], v["found"], v["not_found"], v["errors"], v.get("requests", "-"),
                  v.get("cache_hits", "-"), v["seconds"]) for s, v in stats.items()])),
            "source_stats_json": dg.MetadataValue.json(stats),
            "attempts_this_run": dg.MetadataValue.int(sum(moved.values())),
            "remote_sources": dg.MetadataValue.text(", ".join(hunter.remote_sources) or "none configured"),
            "cooldown_strategy": dg.MetadataValue.text(policy.strategy),
            "preview": preview(con, "SELECT track_id, status, label, label_source, label_confidence, retry_attempts, "
                                    "retry_after FROM enrichment.enrichment_status WHERE label_source IS DISTINCT "
                                    "FROM 'aoty' ORDER BY status, track_id LIMIT 10"),
        }
    context.log.info(f"{sum(moved.values()):,} attempts: " + ", ".join(
        f"{outcome}{'/' + source if source else ''} {n:,}" for (outcome, source), n in sorted(moved.items())))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(deps=[enrichment_status], group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"},
          metadata=writes("enrichment.cooldown_queue_status"))
def cooldown_queue_status(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """The cool-down queue at a glance: tracks in the queue, ready (due now) and waiting, the next retry
    time, the average attempts, and when the waiting ones come due (a plot by day)."""
    now = now_utc()
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute("""
            CREATE OR REPLACE TABLE enrichment.cooldown_queue_status AS
            SELECT CAST($now AS TIMESTAMP) AS recorded_at,
                   count(*) FILTER (WHERE status = 'cooling_down') AS in_queue,
                   count(*) FILTER (WHERE status = 'cooling_down' AND retry_after <= $now) AS ready,
                   count(*) FILTER (WHERE status = 'cooling_down' AND retry_after > $now) AS waiting,
                   count(*) FILTER (WHERE status = 'pending') AS pending,
                   count(*) FILTER (WHERE status = 'enriched') AS enriched,
                   count(*) FILTER (WHERE status = 'exhausted') AS exhausted,
                   min(retry_after) FILTER (WHERE status = 'cooling_down' AND retry_after > $now) AS next_retry_at,
                   round(avg(retry_attempts) FILTER (WHERE status = 'cooling_down'), 4) AS avg_attempts_in_queue,
                   round(avg(retry_attempts) FILTER (WHERE retry_attempts > 0), 4) AS avg_attempts_tried
            FROM enrichment.enrichment_status""", {"now": now})
        result = con.execute("SELECT * FROM enrichment.cooldown_queue_status")
        names = [d[0] for d in result.description]
        row = dict(zip(names, result.fetchall()[0], strict=True))
        by_day = con.execute("SELECT CAST(retry_after AS DATE) AS day, count(*) FROM enrichment.enrichment_status "
                             "WHERE status = 'cooling_down' GROUP BY ALL ORDER BY 1").fetchall()
        by_strategy = con.execute("SELECT cooldown_strategy, retry_attempts, count(*) FROM enrichment.enrichment_status "
                                  "WHERE status = 'cooling_down' GROUP BY ALL ORDER BY 1, 2").fetchall()
    metadata = {k: dg.MetadataValue.int(int(row[k])) for k in ("in_queue", "ready", "waiting", "pending", "enriched",
                                                                 "exhausted")}
    metadata["next_retry_at"] = dg.MetadataValue.text(str(row["next_retry_at"]) if row["next_retry_at"] else "none")
    metadata["avg_attempts_in_queue"] = dg.MetadataValue.float(float(row["avg_attempts_in_queue"] or 0.0))
    metadata["dagster/row_count"] = dg.MetadataValue.int(1)
    metadata["by_strategy_and_attempts"] = dg.MetadataValue.md(rows_to_markdown(
        ["strategy", "attempts so far", "tracks"], by_strategy))
    if by_day:
        metadata["due_by_day"] = daily_counts_plot([d for d, _ in by_day], [n for _, n in by_day],
                                                   "cooling-down tracks by the day they come due")
    context.log.info(f"queue: {row['in_queue']:,} cooling down ({row['ready']:,} ready, {row['waiting']:,} waiting), "
                     f"{row['pending']:,} pending, {row['exhausted']:,} exhausted; next retry {row['next_retry_at']}")
    return dg.MaterializeResult(metadata=metadata)


def _dj_contexts(con, artist_keys: dict[str, str]) -> tuple[list[Context], dict[str, dict]]:
    rows = con.execute("""SELECT set_id, dj, played_on, position, artist, label,
                                 list_contains($forms, lower(trim(artist)))
                          FROM raw.raw_dj_tracklists ORDER BY set_id, position""",
                       {"forms": UNKNOWN_ARTIST_FORMS}).fetchall()
    contexts: list[Context] = []
    info: dict[str, dict] = {}
    for set_id, dj, played_on, position, artist, label, unknown in rows:
        if not contexts or contexts[-1].context_id != set_id:
            contexts.append(Context(set_id, "dj_set", fold_artist(dj), artist_keys.get(fold_artist(dj)), []))
        if unknown:
            occurrence = f"dj:{set_id}#{position}"
            contexts[-1].plays.append(Play(None, label, occurrence))
            info[occurrence] = {"source": "dj_set", "set_id": set_id, "position": position, "scrobble_id": None,
                                "played_by": dj, "played_on": played_on, "label_shown": label}
        else:
            key = artist_keys.get(fold_artist(artist)) or f"name:{fold_artist(artist)}"
            contexts[-1].plays.append(Play(key, label))
    return contexts, info


def _mark_listeners_with_unknowns(con) -> None:
    """Temp table _listeners: the users with a scrobble whose artist is written as unknown, found once for
    the sessions and the listening histories."""
    con.execute("CREATE OR REPLACE TEMP TABLE _listeners AS SELECT DISTINCT user_id FROM staging.stg_scrobbles "
                "WHERE list_contains($forms, lower(trim(artist_raw)))", {"forms": UNKNOWN_ARTIST_FORMS})


def _scrobble_contexts(con, artist_keys: dict[str, str]) -> tuple[list[Context], dict[str, dict]]:
    """The listening sessions (gaps under 30 minutes) that hold a scrobble whose artist is a placeholder."""
    rows = con.execute("""
        WITH plays AS (
            SELECT s.scrobble_id, s.user_id, s.played_at, i.artist_id,
                   list_contains($forms, lower(trim(s.artist_raw))) AS unknown
            FROM staging.stg_scrobbles s LEFT JOIN intermediate.int_scrobble_tracks i USING (scrobble_id)
            WHERE s.user_id IN (SELECT user_id FROM _listeners)),
        gaps AS (
            SELECT *, coalesce(played_at - lag(played_at) OVER (PARTITION BY user_id ORDER BY played_at, scrobble_id)
                               > $gap, true) AS starts
            FROM plays),
        sessions AS (
            SELECT *, sum(starts::INTEGER) OVER (PARTITION BY user_id ORDER BY played_at, scrobble_id) AS session
            FROM gaps)
        SELECT user_id, session, scrobble_id, artist_id, unknown, played_at FROM sessions
        WHERE (user_id, session) IN (SELECT (user_id, session) FROM sessions WHERE unknown)
        ORDER BY user_id, session, played_at, scrobble_id""",
                       {"forms": UNKNOWN_ARTIST_FORMS, "gap": SESSION_GAP}).fetchall()
    contexts: list[Context] = []
    info: dict[str, dict] = {}
    for user_id, session, scrobble_id, artist_id, unknown, played_at in rows:
        key = f"{user_id}/{session}"
        if not contexts or contexts[-1].context_id != key:
            contexts.append(Context(key, "session", user_id, artist_keys.get(fold_artist(user_id)), []))
        if unknown:
            occurrence = f"scrobble:{scrobble_id}"
            contexts[-1].plays.append(Play(None, None, occurrence))
            info[occurrence] = {"source": "scrobble", "set_id": None, "position": None, "scrobble_id": scrobble_id,
                                "played_by": user_id, "played_on": played_at.date(), "label_shown": None}
        elif artist_id is not None:
            contexts[-1].plays.append(Play(artist_id))
    return contexts, info


def _listener_plays(con) -> dict[tuple[str, str], Counter]:
    """Plays per artist over the whole history of every listener with an unknown-artist scrobble: which
    artists a listener plays is evidence beyond the sessions that hold the unknown plays."""
    rows = con.execute("""
        SELECT user_id, artist_id, count(*) FROM intermediate.int_scrobble_tracks
        WHERE user_id IN (SELECT user_id FROM _listeners) GROUP BY ALL ORDER BY ALL""").fetchall()
    plays: dict[tuple[str, str], Counter] = {}
    for user_id, artist_id, n in rows:
        plays.setdefault(("session", user_id), Counter())[artist_id] = int(n)
    return plays


IDENTIFICATION_SCHEMA = pa.schema([
    ("occurrence_id", pa.string()), ("source", pa.string()), ("set_id", pa.string()), ("position", pa.int32()),
    ("scrobble_id", pa.int64()), ("played_by", pa.string()), ("played_on", pa.date32()), ("label_shown", pa.string()),
    ("artist_id", pa.string()), ("artist_name", pa.string()), ("probability", pa.float64()), ("tier", pa.string()),
    ("best_artist_id", pa.string()), ("best_artist_name", pa.string()), ("runner_up_artist_name", pa.string()),
    ("runner_up_probability", pa.float64()), ("n_candidates", pa.int32()),
])


@dg.asset(deps=["raw_dj_tracklists", "artists_core", "int_scrobble_tracks", enrichment_status], group_name=GROUP,
          pool=DUCKDB_POOL, kinds={"duckdb", "python"}, metadata=writes("enrichment.artist_identifications"),
          check_specs=[dg.AssetCheckSpec("masked_plays_precision", asset="artist_identifications",
                                         description="Known plays hidden one at a time (the half not used for "
                                                     "calibration) are named right at least 70% of the times the "
                                                     "model accepts an answer (judged from 20 accepted answers)")])
def artist_identifications(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """One row per play whose artist is unknown ("ID - ID"), in DJ sets and scrobbles, with the artist a
    Fellegi–Sunter model (EM, anchored by masked known plays) infers from the neighbouring plays, the rest of
    the set or session, the DJ, the label shown and what the DJ or listener plays elsewhere. Accepted when
    the probability is at least 0.70 (medium) or above 0.85 (high); otherwise the artist stays unknown."""
    with warehouse_db.get_connection() as con:
        artists = con.execute("SELECT artist_id, artist_name FROM marts.artists_core ORDER BY artist_id").fetchall()
        names = dict(artists)
        artist_keys: dict[str, str] = {}
        for artist_id, name in artists:
            artist_keys.setdefault(fold_artist(name), artist_id)
        labels: dict[str, set[str]] = {}
        for artist_id, label in con.execute("""
                SELECT DISTINCT c.artist_id, e.label FROM enrichment.enrichment_status e
                JOIN marts.tracks_core c USING (track_id) WHERE e.label IS NOT NULL""").fetchall():
            labels.setdefault(artist_id, set()).add(fold(label))
        for artist, label in con.execute("SELECT DISTINCT artist, label FROM raw.raw_dj_tracklists "
                                         "WHERE label IS NOT NULL AND NOT list_contains($forms, lower(trim(artist)))",
                                         {"forms": UNKNOWN_ARTIST_FORMS}).fetchall():
            key = artist_keys.get(fold_artist(artist)) or f"name:{fold_artist(artist)}"
            labels.setdefault(key, set()).add(fold(label))
        dj, dj_info = _dj_contexts(con, artist_keys)
        _mark_listeners_with_unknowns(con)
        sessions, session_info = _scrobble_contexts(con, artist_keys)
        listener_plays = _listener_plays(con)
    info = {**dj_info, **session_info}
    pairs = comparison_pairs(dj + sessions, labels, owner_plays=listener_plays)
    occurrences = [(o, "dj_set" if v["source"] == "dj_set" else "session") for o, v in info.items()]
    results, fitted = identify(pairs, occurrences)
    checks = {kind: f["check"] for kind, f in fitted.items()}
    accepted = sum(c["accepted"] for c in checks.values())
    right = sum(c["right"] for c in checks.values())

    def name(key: str | None) -> str | None:
        if key is None:
            return None
        return names.get(key) or key.removeprefix("name:")

    cols: dict[str, list] = {f.name: [] for f in IDENTIFICATION_SCHEMA}
    for r in results:
        row = {**info[r.occurrence_id], "occurrence_id": r.occurrence_id,
               "artist_id": r.artist if r.artist and not r.artist.startswith("name:") else None,
               "artist_name": name(r.artist), "probability": r.probability, "tier": r.tier,
               "best_artist_id": r.best if r.best and not r.best.startswith("name:") else None,
               "best_artist_name": name(r.best), "runner_up_artist_name": name(r.runner_up),
               "runner_up_probability": r.runner_up_probability, "n_candidates": r.n_candidates}
        for k in cols:
            cols[k].append(row[k])
    table = pa.table(cols, schema=IDENTIFICATION_SCHEMA)
    with warehouse_db.get_connection() as con, transaction(con):
        con.register("_identified", table)
        con.execute("CREATE OR REPLACE TABLE enrichment.artist_identifications AS SELECT * FROM _identified "
                    "ORDER BY occurrence_id")
        con.unregister("_identified")
        schema = column_schema(con, "enrichment.artist_identifications")
        sample = preview(con, "SELECT source, played_by, label_shown, artist_name, probability, tier, "
                              "runner_up_artist_name FROM enrichment.artist_identifications "
                              "ORDER BY probability DESC, occurrence_id LIMIT 10")
    tiers = Counter((r.context_kind, r.tier) for r in results)
    n = len(results)
    resolved = sum(r.artist is not None for r in results)
    context.log.info(f"{n:,} unknown-artist plays ({len(dj_info):,} in DJ sets, {len(session_info):,} scrobbles): "
                     f"{resolved:,} named ({tiers[('dj_set', 'high')] + tiers[('session', 'high')]:,} high)")
    precision = right / accepted if accepted else None
    judged = accepted >= MIN_JUDGED  # a handful of answers says nothing either way
    passed = not judged or precision >= MEDIUM
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(n),
            "dagster/column_schema": schema,
            "resolution_rate": dg.MetadataValue.float(round(resolved / max(1, n), 4)),
            "by_source_and_tier": dg.MetadataValue.md(rows_to_markdown(
                ["source", "tier", "plays"], sorted((k[0], k[1], v) for k, v in tiers.items()))),
            "model": dg.MetadataValue.md(_model_markdown({k: f["model"] for k, f in fitted.items()})),
            "masked_plays_check": dg.MetadataValue.json(checks),
            "preview": sample,
        },
        check_results=[dg.AssetCheckResult(
            check_name="masked_plays_precision", passed=bool(passed), severity=dg.AssetCheckSeverity.WARN,
            metadata={"precision": float(precision if precision is not None else 0.0), "accepted": int(accepted),
                      "masked_plays": int(sum(c["plays"] for c in checks.values())), "judged": judged})])


def _model_markdown(models) -> str:
    rows = []
    for kind, model in sorted(models.items()):
        d = model.describe()
        for f in FEATURES:
            rows.append((kind, f, " / ".join(f"{x:.3f}" for x in d[f"{f}_m"]), " / ".join(f"{x:.3f}" for x in d[f"{f}_u"])))
        rows.append((kind, "P(none of the candidates)", f"{d['none_prior']:.3f}", f"EM iterations {d['iterations']}"))
    return rows_to_markdown(["context", "comparison (levels low → high)", "m", "u"], rows)

