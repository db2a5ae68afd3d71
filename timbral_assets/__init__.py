"""Timbral: a Dagster asset graph for music recommendation, materialized into DuckDB."""

import warnings

# Dagster marks some parameters beta. We use `backfill_policy` on purpose (one run for a range of daily
# partitions); its warning is silenced and nothing else is.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of (function|class) .* is currently in beta")
