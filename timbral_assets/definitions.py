"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from .assets import ingest, resolution
from .automation.jobs import daily_ingest_job, first_import_job, main_job
from .automation.schedules import daily_ingest_schedule
from .resources import default_resources
from .sql_models import build_sql_assets

# every asset defined in the asset modules, and one SQL model asset per dbt_like_sql file, which may read
# the Python assets' tables as source()
python_assets = dg.load_assets_from_modules([ingest, resolution])
all_assets = [*python_assets, *build_sql_assets(python_assets)]

defs = dg.Definitions(
    assets=all_assets,
    jobs=[main_job, daily_ingest_job, first_import_job],
    schedules=[daily_ingest_schedule],
    resources=default_resources(),
    executor=dg.in_process_executor,
)
