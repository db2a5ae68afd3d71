"""Metadata helpers shared by the asset modules: previews, issue summaries and plots."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from datetime import date

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa

from ..sources.errors import RowIssue
from ..warehouse import markdown_table, rows_to_markdown

DUCKDB_POOL = "duckdb_write"
WAREHOUSE = "warehouse"  # the database name in dagster/table_name: warehouse.<schema>.<table>
ALSO_WRITES = "timbral/also_writes"


def mlflow_tags(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Tags that link an MLflow run back to the Dagster run, asset and partition that logged it."""
    tags = {"dagster/run_id": context.run_id, "dagster/asset_key": context.asset_key.to_user_string(),
            "dagster/job": context.job_name}
    if context.has_partition_key_range:
        keys = context.partition_key_range
        tags["dagster/partition"] = keys.start if keys.start == keys.end else f"{keys.start}..{keys.end}"
    return tags


def writes(table: str, *also: str) -> dict[str, str]:
    """Definition metadata naming the warehouse table an asset writes (`dagster/table_name`, which the UI
    shows) and any other tables it owns, so that SQL models can declare them as source()."""
    metadata = {"dagster/table_name": f"{WAREHOUSE}.{table}"}
    if also:
        metadata[ALSO_WRITES] = ", ".join(also)
    return metadata


def warehouse_tables(assets: Sequence[dg.AssetsDefinition]) -> dict[str, str]:
    """Each warehouse table ("resolution.variants") -> the asset that writes it, from `writes()` metadata."""
    tables: dict[str, str] = {}
    for assets_def in assets:
        for spec in assets_def.specs:
            named = [str(spec.metadata.get("dagster/table_name", ""))]
            named += [t.strip() for t in str(spec.metadata.get(ALSO_WRITES, "")).split(",")]
            for table in filter(None, named):
                tables[table.removeprefix(f"{WAREHOUSE}.")] = spec.key.to_user_string()
    return tables


def preview(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, limit: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(con, sql, params, limit))


def column_schema(con: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    """A table's columns as `dagster/column_schema`, which the UI's catalog shows."""
    schema, name = table.split(".")
    rows = con.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                       "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()
    return dg.TableSchema(columns=[
        dg.TableColumn(column, data_type, constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
        for column, data_type, nullable in rows])


def issues_metadata(issues: list[RowIssue], limit: int = 20) -> dict[str, dg.MetadataValue]:
    if not issues:
        return {"rejected_rows": dg.MetadataValue.int(0)}
    rows = [(i.file, i.line, i.field, i.message) for i in issues[:limit]]
    more = f"\n\n…and {len(issues) - limit:,} more in raw.ingest_issues" if len(issues) > limit else ""
    return {
        "rejected_rows": dg.MetadataValue.int(len(issues)),
        "rejected_sample": dg.MetadataValue.md(rows_to_markdown(["file", "line", "field", "problem"], rows) + more),
    }


def daily_counts_plot(days: list[date], counts: list[int], title: str) -> dg.MetadataValue:
    """A bar chart as an inline PNG in markdown, which the Dagster UI renders in the asset's metadata."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=90)
    ax.bar(days, counts, width=0.9, color="#4c72b0")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("scrobbles")
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})")


def partitioned_result(context: dg.AssetExecutionContext, summary: dict,
                       rows_by_day: Mapping[date, int] | None = None,
                       check_results: Sequence[dg.AssetCheckResult] = ()) -> dg.MaterializeResult:
    """The result of a run over a range of daily partitions. A range of 5,000 days emits 5,000 events:
    each carries its own day's row count only (`rows_by_day`), and the run's summary (previews, plots,
    totals) goes once, on the newest day's event, which is the one the UI shows as the latest."""
    keys = context.partition_keys
    if rows_by_day is not None:
        counts = {d.isoformat(): n for d, n in rows_by_day.items()}
        _add_partition_metadata(context, {k: {"dagster/row_count": dg.MetadataValue.int(counts.get(k, 0))}
                                          for k in keys})
    if len(keys) > 1:
        summary = {**summary, "partitions_in_run": dg.MetadataValue.text(f"{len(keys):,} ({keys[0]} .. {keys[-1]})")}
    context.add_asset_metadata(summary, partition_key=keys[-1])
    return dg.MaterializeResult(check_results=list(check_results))


def _add_partition_metadata(context: dg.AssetExecutionContext, by_partition: Mapping[str, dict]) -> None:
    """context.add_asset_metadata(..., partition_key=k) for every k, in one merge: each call of the public
    method copies everything added so far, which over 5,800 days took 30 s. Falls back to the public
    method if Dagster's accumulator ever changes shape."""
    from dagster._core.execution.context.metadata_logging import (
        AssetMetadataHandle,
        OutputMetadataAccumulator,
    )

    step = getattr(context, "_step_execution_context", None)
    accumulator = getattr(step, "_metadata_accumulator", None)
    if not isinstance(accumulator, OutputMetadataAccumulator) or len(context.assets_def.keys) != 1:
        for key, metadata in by_partition.items():
            context.add_asset_metadata(metadata, partition_key=key)
        return
    merged = dict(accumulator.per_output_metadata)
    for key, metadata in by_partition.items():
        handle = AssetMetadataHandle(asset_key=context.assets_def.key, partition_key=key)
        merged[handle] = {**merged.get(handle, {}), **metadata}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=merged)


def vector_matrix(table: pa.Table, column: str) -> np.ndarray:
    """A list column (FLOAT[n] vectors) as a rows × n float32 matrix; rows × 1 of nothing for an empty table."""
    if not table.num_rows:
        return np.zeros((0, 1), dtype=np.float32)
    flat = table[column].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(table.num_rows, -1)


def rows_by_id(ids_from, matrix: np.ndarray, ids_to) -> np.ndarray:
    """`matrix`'s rows (keyed by `ids_from`) in the order of `ids_to`; zeros for ids it does not have."""
    position = {t: i for i, t in enumerate(list(ids_from))}
    out = np.zeros((len(ids_to), matrix.shape[1]), dtype=np.float32)
    for j, t in enumerate(list(ids_to)):
        if t in position:
            out[j] = matrix[position[t]]
    return out
