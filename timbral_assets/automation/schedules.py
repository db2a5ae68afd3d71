"""Schedules."""

import dagster as dg

from .jobs import daily_ingest_job, mood_retrain_job, nightly_cf_job

# Each night at 02:30 UTC, ingest yesterday's partition (the newest complete day).
daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job, hour_of_day=2, minute_of_hour=30, name="daily_ingest_schedule",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

# At 04:00 UTC on the first day of each quarter, retrain the mood model and re-score the catalog.
quarterly_mood = dg.ScheduleDefinition(
    name="quarterly_mood", job=mood_retrain_job, cron_schedule="0 4 1 1,4,7,10 *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Retrain mood_model and re-score track_mood_pred, quarterly.",
)

# At 02:00 UTC each night: interactions -> ALS -> co-play -> vectors -> recs -> eval.
nightly_cf = dg.ScheduleDefinition(
    name="nightly_cf", job=nightly_cf_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Retrain ALS, rebuild co-play and track vectors, re-rank recs_for_you and similar_tracks, evaluate.",
)
