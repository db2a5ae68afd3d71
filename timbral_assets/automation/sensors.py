"""Sensors."""

from __future__ import annotations

import json

import dagster as dg

from ..mood.drift import DRIFT_THRESHOLD, js_distance
from .jobs import mood_retrain_job

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
