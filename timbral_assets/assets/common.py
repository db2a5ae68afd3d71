"""Metadata helpers shared by the asset modules: previews, issue summaries and plots."""

from __future__ import annotations

import base64
import io
from datetime import date

import dagster as dg
import duckdb

from ..sources.errors import RowIssue
from ..warehouse import markdown_table, rows_to_markdown

DUCKDB_POOL = "duckdb_write"


def preview(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, limit: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(con, sql, params, limit))


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
