"""Sensors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from dagster._time import get_current_datetime  # Dagster's clock: what its schedules use, and tests can move

from ..assets.enrichment import queue_snapshot_path
from ..mood.drift import DRIFT_THRESHOLD, js_distance
from ..resources import EnrichmentResource, WarehouseResource
from .jobs import enrichment_job, mood_retrain_job

CURRENT, TRAINED = dg.AssetKey("tag_distribution"), dg.AssetKey("mood_model")


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey):
    """The newest materialization's record (its storage id orders events), or None."""
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None


def _shares(record, key: str) -> dict[str, float] | None:
    value = record.asset_materialization.metadata.get(key) if record.asset_materialization else None
    return dict(value.value) if value is not None else None


@dg.sensor(job=mood_retrain_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.STOPPED,
           description=f"Retrain the mood model when the catalog's tag distribution has moved more than "
                       f"{DRIFT_THRESHOLD:.0%} (Jensen–Shannon distance over the top tags) from the one it was "
                       "trained at.")
def tag_drift_sensor(context: dg.SensorEvaluationContext):
    """Compares the top-k tag shares of the latest tag_distribution with those mood_model recorded at its
    latest training. Both are event metadata in the Dagster instance: a tick reads two events, whatever the
    warehouse's size, and never opens DuckDB (which a running job may hold). The cursor keeps the storage ids
    of the pair last compared and their distance, so an unchanged pair is not compared again."""
    instance = context.instance
    current, trained = _latest(instance, CURRENT), _latest(instance, TRAINED)
    if current is None or trained is None:
        missing = "tag_distribution" if current is None else "mood_model"
        return dg.SkipReason(f"{missing} has never been materialized: nothing to compare")
    compared = {"tag_distribution": current.storage_id, "mood_model": trained.storage_id}
    last = json.loads(context.cursor) if context.cursor else {}
    if {k: last.get(k) for k in compared} == compared:
        return dg.SkipReason(f"no new tag distribution or training since the last comparison "
                             f"(distance {last.get('distance', 0):.4f})")
    now, then = _shares(current, "top_tag_shares"), _shares(trained, "training_tag_shares")
    if now is None or then is None:
        context.update_cursor(json.dumps(compared))
        return dg.SkipReason("an event without stored tag shares (materialized by an older version)")
    distance = js_distance(now, then)
    context.update_cursor(json.dumps({**compared, "distance": round(distance, 6)}))
    if distance <= DRIFT_THRESHOLD:
        return dg.SkipReason(f"tag distribution within {DRIFT_THRESHOLD:.0%} of training: distance {distance:.4f}")
    return dg.RunRequest(run_key=f"tag-drift-{current.storage_id}-{trained.storage_id}",
                         tags={"timbral/trigger": "tag_drift", "timbral/tag_distance": f"{distance:.4f}"})


# a tick asks for at most this many runs of this many tracks: MusicBrainz at 1 request/s does ~1,500
# tracks an hour, so more would only queue
RETRY_RUNS_PER_TICK = 3
RETRY_BATCH = 200
MAX_RETRY_RUNS_IN_FLIGHT = 3
RE_REQUEST_AFTER = timedelta(hours=6)  # a requested track still due this long after (its run died): ask again
RETRY_ASSETS = [dg.AssetKey("enrichment_status"), dg.AssetKey("cooldown_queue_status")]
_UNFINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED]


def due_page(con: duckdb.DuckDBPyConnection, snapshot: Path, now: datetime, skip: list[str],
             limit: int) -> list[tuple[str, int]]:
    """(track_id, attempts) of the queue's due entries, oldest first, leaving out `skip` ("track:attempts")
    keys: one page read from the snapshot's Parquet, never the whole queue into Python."""
    return con.execute(
        "SELECT track_id, retry_attempts FROM read_parquet($path) WHERE retry_after <= $now "
        "AND NOT list_contains($skip, track_id || ':' || retry_attempts) ORDER BY retry_after, track_id "
        "LIMIT $limit", {"path": str(snapshot), "now": now, "skip": skip, "limit": limit}).fetchall()


def still_queued(con: duckdb.DuckDBPyConnection, snapshot: Path, keys: list[str]) -> set[str]:
    """Which "track:attempts" keys are still in the queue with those attempts (not yet tried by their run)."""
    if not keys:
        return set()
    rows = con.execute("SELECT track_id || ':' || retry_attempts FROM read_parquet($path) "
                       "WHERE list_contains($keys, track_id || ':' || retry_attempts)",
                       {"path": str(snapshot), "keys": keys}).fetchall()
    return {r[0] for r in rows}


@dg.sensor(job=enrichment_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Retry label enrichment for the tracks whose cool-down has run out, a few batches per tick.")
def cooldown_retry_sensor(context: dg.SensorEvaluationContext, warehouse_db: WarehouseResource,
                          enrichment: EnrichmentResource):
    """Reads the queue snapshot enrichment_status publishes (Parquet; never the warehouse, which a run may
    hold) and requests enrichment runs for the due tracks, at most RETRY_RUNS_PER_TICK runs of RETRY_BATCH
    tracks, with the track ids and their attempt counts in the run config. A run's key is derived from its
    (track, attempt) set. The cursor remembers what was requested, so a later tick never asks for a track
    again at the same attempt, unless its run died and it is still due RE_REQUEST_AFTER later."""
    if not enrichment.has_remote_source():
        return dg.SkipReason("no remote label source is configured (TIMBRAL_MUSICBRAINZ_URL, TIMBRAL_STORE_URL): "
                             "retrying could only read the titles again")
    snapshot = queue_snapshot_path(warehouse_db)
    if not snapshot.exists():
        return dg.SkipReason(f"no queue snapshot at {snapshot}: enrichment_status has not run in this home")
    in_flight = len(context.instance.get_run_ids(
        dg.RunsFilter(job_name=enrichment_job.name, statuses=_UNFINISHED, tags={"timbral/trigger": "cooldown_retry"}),
        limit=MAX_RETRY_RUNS_IN_FLIGHT))
    if in_flight >= MAX_RETRY_RUNS_IN_FLIGHT:
        return dg.SkipReason(f"{in_flight} retry runs are still queued or running: not adding more")
    now = get_current_datetime().astimezone(UTC).replace(tzinfo=None)
    requested: dict[str, list] = json.loads(context.cursor).get("requested", {}) if context.cursor else {}
    limit = (MAX_RETRY_RUNS_IN_FLIGHT - in_flight) * RETRY_BATCH
    with duckdb.connect() as con:  # in memory: it reads the snapshot file only
        alive = still_queued(con, snapshot, list(requested))
        requested = {k: v for k, v in requested.items() if k in alive}  # the others were tried: forget them
        recent = [k for k, (at, _) in requested.items() if now - datetime.fromisoformat(at) < RE_REQUEST_AFTER]
        due = due_page(con, snapshot, now, recent, min(limit, RETRY_RUNS_PER_TICK * RETRY_BATCH))
    runs = []
    for start in range(0, len(due), RETRY_BATCH):
        batch = due[start:start + RETRY_BATCH]
        keys = [f"{t}:{a}" for t, a in batch]
        generations = [requested.get(k, [None, -1])[1] + 1 for k in keys]
        digest = hashlib.sha256("\n".join(f"{k}#{g}" for k, g in zip(keys, generations, strict=True)).encode())
        runs.append(dg.RunRequest(
            run_key=f"cooldown-{digest.hexdigest()[:24]}",
            asset_selection=RETRY_ASSETS,
            run_config={"ops": {"enrichment_status": {"config": {"track_ids": [t for t, _ in batch],
                                                                 "attempts": [a for _, a in batch]}}}},
            tags={"timbral/trigger": "cooldown_retry", "timbral/tracks": str(len(batch))}))
        for k, g in zip(keys, generations, strict=True):
            requested[k] = [now.isoformat(), g]
    cursor = json.dumps({"requested": requested, "checked_at": now.isoformat()}, sort_keys=True)
    if not runs:
        return dg.SensorResult(skip_reason=f"nothing due at {now:%Y-%m-%d %H:%M} UTC", cursor=cursor)
    return dg.SensorResult(run_requests=runs, cursor=cursor)
