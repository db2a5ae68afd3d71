"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from .assets import enrichment, ingest, mood, recs, resolution
from .automation.jobs import (
    daily_ingest_job,
    enrichment_job,
    first_import_job,
    main_job,
    mood_retrain_job,
    nightly_cf_job,
)
from .automation.schedules import daily_ingest_schedule, nightly_cf, quarterly_mood
from .automation.sensors import cooldown_retry_sensor, tag_drift_sensor
from .resources import default_resources
from .sql_models import build_sql_assets

# every asset defined in the asset modules, and one SQL model asset per dbt_like_sql file, which may read
# the Python assets' tables as source()
python_assets = dg.load_assets_from_modules([ingest, resolution, enrichment, mood, recs])
all_assets = [*python_assets, *build_sql_assets(python_assets)]

defs = dg.Definitions(
    assets=all_assets,
    jobs=[main_job, daily_ingest_job, first_import_job, mood_retrain_job, nightly_cf_job, enrichment_job],
    schedules=[daily_ingest_schedule, quarterly_mood, nightly_cf],
    sensors=[tag_drift_sensor, cooldown_retry_sensor],
    resources=default_resources(),
    executor=dg.in_process_executor,
)
