"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from .assets import ingest, resolution
from .automation.jobs import daily_ingest_job, main_job
from .automation.schedules import daily_ingest_schedule
from .resources import default_resources
from .sql_models import build_sql_assets

ingest_assets = [
    ingest.synthetic_world,
    ingest.raw_scrobbles,
    ingest.raw_spotify,
    ingest.raw_user_artist_plays,
    ingest.raw_artist_tags,
    ingest.raw_aoty,
]

resolution_assets = [
    resolution.resolution_rules,
    resolution.entity_candidates,
    resolution.entity_match_scores,
    resolution.entity_clusters,
    resolution.resolution_report,
]

defs = dg.Definitions(
    assets=[*ingest_assets, *resolution_assets, *build_sql_assets()],
    jobs=[main_job, daily_ingest_job],
    schedules=[daily_ingest_schedule],
    resources=default_resources(),
    executor=dg.in_process_executor,
)
