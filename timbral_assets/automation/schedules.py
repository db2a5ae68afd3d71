"""Schedules."""

import dagster as dg

from .jobs import daily_ingest_job

# Each night at 02:30 UTC, ingest yesterday's partition (the newest complete day).
daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job, hour_of_day=2, minute_of_hour=30, name="daily_ingest_schedule",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
