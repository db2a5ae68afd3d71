"""Turns every dbt_like_sql/<layer>/*.sql file into a Dagster asset.

Key = file name, group = layer folder (= DuckDB schema), deps from ref() / source(), code_version = hash of
the file, checks from the header, returned in the same MaterializeResult. Incremental models are
partitioned daily and bind the partition window as query parameters.
"""


from collections.abc import Sequence

import dagster as dg

from .assets.common import DUCKDB_POOL, column_schema, partitioned_result, preview, warehouse_tables, writes
from .partitions import daily_partitions
from .resources import WarehouseResource
from .sql_project import SqlModel, SqlProject


def _asset_for(project: SqlProject, model: SqlModel, tables: dict[str, str]) -> dg.AssetsDefinition:
    deps = ([dg.AssetKey(ref) for ref in model.refs]
            + [dg.AssetKey.from_user_string(tables[f"{schema}.{table}"]) for schema, table in model.sources])
    check_specs = [dg.AssetCheckSpec(c.name, asset=model.name, description=c.description) for c in model.checks]
    rendered = project.render(model)

    @dg.asset(
        name=model.name,
        group_name=model.layer,
        deps=deps,
        description=model.description or f"SQL model {model.path.name}",
        code_version=model.code_version,
        kinds={"duckdb", "sql"},
        pool=DUCKDB_POOL,
        partitions_def=daily_partitions if model.incremental else None,
        backfill_policy=dg.BackfillPolicy.single_run() if model.incremental else None,
        check_specs=check_specs,
        # the SQL is fixed per code version: it belongs to the definition, not to every materialization
        metadata={"sql_file": f"dbt_like_sql/{model.layer}/{model.path.name}", **writes(model.table),
                  "materialized": model.materialized,
                  "rendered_sql": dg.MetadataValue.md(f"```sql\n{rendered}\n```")},
    )
    def _sql_asset(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
        window = None
        if model.incremental:
            tw = context.partition_time_window
            window = (tw.start.date(), tw.end.date())
        with warehouse_db.get_connection(transform=True) as con:
            rows = project.materialize(con, model.name, window)
            checks = project.run_checks(con, model.name, window)
            check_results = [dg.AssetCheckResult(check_name=check.name, passed=bad == 0,
                                                 metadata={"offending_rows": dg.MetadataValue.int(bad)},
                                                 description=check.description)
                             for check, bad in checks]
            if not window:
                return dg.MaterializeResult(check_results=check_results, metadata={
                    "dagster/row_count": dg.MetadataValue.int(rows),
                    "dagster/column_schema": column_schema(con, model.table),
                    "preview": preview(con, f"SELECT * FROM {model.table}")})
            column = model.window_column
            params = {"s": window[0], "e": window[1]}
            in_window = f"{column} >= $s AND {column} < $e"
            rows_by_day = dict(con.execute(f"SELECT {column}, count(*) FROM {model.table} WHERE {in_window} "
                                           "GROUP BY 1", params).fetchall())
            summary = {"rows_in_window": dg.MetadataValue.int(rows),
                       "dagster/column_schema": column_schema(con, model.table),
                       "preview": preview(con, f"SELECT * FROM {model.table} WHERE {in_window}", params)}
        return partitioned_result(context, summary, rows_by_day, check_results)

    return _sql_asset


def build_sql_assets(upstream: Sequence[dg.AssetsDefinition],
                     project: SqlProject | None = None) -> list[dg.AssetsDefinition]:
    """One asset per model. `upstream` are the Python assets whose tables the models may read as source();
    a model that reads any other table fails here, at load time."""
    project = project or SqlProject.load()
    tables = warehouse_tables(upstream)
    project.check_tables({**tables, **{m.table: m.name for m in project.models.values()}})
    return [_asset_for(project, project.models[name], tables) for name in project.order()]
