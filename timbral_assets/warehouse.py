"""The DuckDB warehouse: connections, raw-table DDL, idempotent partition writes and previews.

No Dagster here: assets, the CLI, tests and benchmarks all write through these functions.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import psutil
import pyarrow as pa

from .sources.errors import FileFormatError, RowIssue

SCHEMAS = ("raw", "staging", "intermediate", "marts", "enrichment", "features", "models", "recs", "evaluation")

RAW_TABLES: dict[str, str] = {
    "raw_scrobbles": """
        scrobble_id BIGINT NOT NULL, user_id VARCHAR NOT NULL, played_at TIMESTAMP NOT NULL, play_date DATE NOT NULL,
        artist_name VARCHAR NOT NULL, track_name VARCHAR NOT NULL, album_name VARCHAR,
        artist_mbid VARCHAR, track_mbid VARCHAR, album_mbid VARCHAR, duration_ms INTEGER,
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_spotify_tracks": """
        spotify_track_id VARCHAR NOT NULL, artists VARCHAR[], album_name VARCHAR, track_name VARCHAR,
        popularity INTEGER, duration_ms INTEGER, explicit BOOLEAN, track_genre VARCHAR,
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_spotify_audio_features": """
        spotify_track_id VARCHAR NOT NULL, danceability DOUBLE, energy DOUBLE, "key" INTEGER, loudness DOUBLE,
        "mode" INTEGER, speechiness DOUBLE, acousticness DOUBLE, instrumentalness DOUBLE, liveness DOUBLE,
        valence DOUBLE, tempo DOUBLE, time_signature INTEGER,
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_user_artist_plays": """
        user_id VARCHAR NOT NULL, artist_id VARCHAR NOT NULL, artist_name VARCHAR, plays BIGINT NOT NULL,
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_artist_tags": """
        user_id VARCHAR NOT NULL, artist_id VARCHAR NOT NULL, artist_name VARCHAR, tag VARCHAR NOT NULL,
        tagged_on DATE, source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_aoty_albums": """
        aoty_album_id VARCHAR NOT NULL, title VARCHAR NOT NULL, artist VARCHAR NOT NULL, release_date DATE,
        album_type VARCHAR, label VARCHAR, genres VARCHAR[], critic_score DOUBLE, user_score DOUBLE,
        ratings_count BIGINT, tracks STRUCT(number INTEGER, title VARCHAR, length_s INTEGER)[],
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_aoty_reviews": """
        review_id VARCHAR NOT NULL, aoty_album_id VARCHAR NOT NULL, author VARCHAR, review_source VARCHAR,
        score DOUBLE, review_date DATE, text VARCHAR,
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "raw_dj_tracklists": """
        set_id VARCHAR NOT NULL, dj VARCHAR NOT NULL, played_on DATE NOT NULL, position INTEGER NOT NULL,
        artist VARCHAR NOT NULL, title VARCHAR NOT NULL, label VARCHAR,
        source VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, ingested_at TIMESTAMP NOT NULL""",
    "ingest_issues": """
        asset VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line BIGINT, field VARCHAR, message VARCHAR,
        recorded_at TIMESTAMP NOT NULL""",
}

SCROBBLE_COLUMNS = ("scrobble_id, user_id, played_at, play_date, artist_name, track_name, album_name, artist_mbid, "
                    "track_mbid, album_mbid, duration_ms, source, source_file, source_line, ingested_at")


DEFAULT_MEMORY_LIMIT = "1GB"  # loads stream and spill well
TRANSFORM_MEMORY_LIMIT = "4GB"  # the catalog models' holistic aggregates (mode, median, arg_max) spill less


DEFAULT_LOCK_WAIT_S = 60.0


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file, and did not let go within the wait."""


_LOCK_PID = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def describe_process(pid: int, program: str = "") -> str:
    """A person's name for a process: what it runs and its pid."""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return f"process {pid} ({program or 'no longer running'})"
    text = " ".join(cmdline)
    if "timbral_assets.run_worker" in text:
        return f"a Timbral run (worker process {pid})"
    for i, part in enumerate(cmdline):
        if Path(part).name == "timbral" and i + 1 < len(cmdline):
            return f"`timbral {cmdline[i + 1]}` (process {pid})"
    if "dagster" in text:
        return f"a Dagster process (pid {pid}: {text[:100]})"
    return f"process {pid} ({text[:100] or program})"


def lock_holder(error: Exception) -> str | None:
    """Who holds the file, from DuckDB's lock error; None when the error is not about a lock."""
    match = _LOCK_PID.search(str(error))
    return describe_process(int(match.group(2)), match.group(1)) if match else None


def connect(path: str | Path, read_only: bool = False, memory_limit: str = DEFAULT_MEMORY_LIMIT,
            wait_s: float = DEFAULT_LOCK_WAIT_S, on_wait: Callable[[str], None] | None = None,
            config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with UTC as the session time zone; `config` adds DuckDB settings. A new file gets
    its schemas and raw tables from `create_layout`, which the writers call (WarehouseResource once a run).

    DuckDB lets one process open a file at a time (even read-only): while another holds it, retry with
    backoff for `wait_s` (telling `on_wait` once), then raise WarehouseLockedError naming the holder.
    DuckDB's buffer manager would take up to 80% of RAM; a limit keeps a 10M-row load under 2 GB by
    spilling to `<warehouse>.tmp`. Insertion order is not kept: no model relies on it, and keeping it
    makes large INSERT ... SELECT statements buffer far more.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay, told = 0.1, False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only,
                                 config={"memory_limit": memory_limit, "preserve_insertion_order": False,
                                         **(config or {})})
            break
        except duckdb.IOException as error:
            holder = lock_holder(error)
            if holder is None:
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseLockedError(
                    f"the warehouse {path} is in use by {holder}, and DuckDB lets only one process open it; "
                    f"waited {wait_s:.0f} s. Try again when it has finished.") from None
            if on_wait is not None and not told:
                on_wait(f"the warehouse is in use by {holder}; waiting up to {wait_s:.0f} s for it")
                told = True
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 5.0)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


# The label hunter's queue, one row per canonical track: created with the layout, so that
# track_feature_view can join it in a home that has never run enrichment.
ENRICHMENT_TABLES: dict[str, str] = {
    "enrichment_status": """
        track_id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, label VARCHAR, label_source VARCHAR,
        label_confidence DOUBLE, label_detail VARCHAR, retry_attempts INTEGER NOT NULL, retry_after TIMESTAMP,
        cooldown_strategy VARCHAR NOT NULL, last_attempt_at TIMESTAMP, last_error VARCHAR""",
    "label_attempts": """
        track_id VARCHAR NOT NULL, attempt INTEGER NOT NULL, attempted_at TIMESTAMP NOT NULL, outcome VARCHAR NOT NULL,
        label VARCHAR, label_source VARCHAR, label_confidence DOUBLE, error VARCHAR, status_after VARCHAR NOT NULL,
        retry_after TIMESTAMP, run_id VARCHAR NOT NULL""",
}


def create_layout(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's schemas, raw tables and enrichment queue, when missing. The `resolution` schema is
    resolution.store's."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table, columns in RAW_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{table} ({columns})")
    for table, columns in ENRICHMENT_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS enrichment.{table} ({columns})")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """The first value of a query, reading the whole result so the connection is free for the next statement."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0][0] if rows else None


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def prefetch(batches: Iterable[pa.Table], depth: int = 1) -> Iterator[pa.Table]:
    """Produce batches in a background thread so parsing overlaps the DuckDB insert (both release the GIL)."""
    done = object()
    q: queue.Queue = queue.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for b in batches:
                q.put(b)
            q.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while True:
        item = q.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def replace_scrobble_window(
    con: duckdb.DuckDBPyConnection, batches: Iterable[pa.Table], source: str, start: date, end: date
) -> int:
    """Delete this source's plays in [start, end) and insert the batches' plays in that window, atomically.

    Running the same window twice gives the same rows; other sources and other days are untouched. If
    reading the batches fails, the transaction rolls back and what was stored stays as it was. The
    batches stream into one INSERT (parsed in a background thread), which lets DuckDB write row groups
    out as they fill instead of holding the whole load in memory.
    """
    from .sources.scrobble_files import FILE_SCROBBLE_SCHEMA

    reader_failure: list[BaseException] = []

    def record_batches() -> Iterator[pa.RecordBatch]:
        try:
            for table in prefetch(batches):
                yield from table.cast(FILE_SCROBBLE_SCHEMA).to_batches()
        except BaseException as exc:  # DuckDB wraps it; keep the original to re-raise
            reader_failure.append(exc)
            raise

    reader = pa.RecordBatchReader.from_batches(FILE_SCROBBLE_SCHEMA, record_batches())
    params = {"source": source, "start": start, "end": end, "ingested_at": now_utc()}
    con.register("_scrobble_stream", reader)  # outside the transaction: unregistering must work after a rollback
    try:
        with transaction(con):
            con.execute("DELETE FROM raw.raw_scrobbles WHERE source = $source AND play_date >= $start "
                        "AND play_date < $end", {k: params[k] for k in ("source", "start", "end")})
            before = scalar(con, "SELECT count(*) FROM raw.raw_scrobbles")
            try:
                con.execute(
                    f"""INSERT INTO raw.raw_scrobbles ({SCROBBLE_COLUMNS})
                    SELECT scrobble_id, user_id, played_at::TIMESTAMP, CAST(played_at::TIMESTAMP AS DATE),
                           artist_name, track_name, album_name, artist_mbid, track_mbid, album_mbid, duration_ms,
                           $source, source_file, source_line, $ingested_at
                    FROM _scrobble_stream
                    WHERE played_at::TIMESTAMP >= $start AND played_at::TIMESTAMP < $end""",
                    params,
                )
            except duckdb.Error:
                if reader_failure:
                    raise reader_failure[0] from None
                raise
            return scalar(con, "SELECT count(*) FROM raw.raw_scrobbles") - before
    finally:
        con.unregister("_scrobble_stream")


def check_parquet_columns(con: duckdb.DuckDBPyConnection, files: list[str], required: Iterable[str]) -> None:
    for f in files:
        names = {r[0] for r in con.execute("SELECT name FROM parquet_schema($f)", {"f": f}).fetchall()}
        for column in required:
            if column not in names:
                raise FileFormatError(f, 0, column, f"required Parquet column is missing (found: {', '.join(sorted(names))})")


def replace_scrobble_window_from_parquet(
    con: duckdb.DuckDBPyConnection, files: list[str], source: str, start: date, end: date
) -> tuple[int, list[RowIssue]]:
    """The Parquet path: DuckDB reads the files itself, filtered to the window; rows with an empty artist or
    track are reported with their file and row number instead of being loaded."""
    required = ("user_id", "played_at", "artist_name", "track_name")
    check_parquet_columns(con, files, required)
    params = {"files": files, "start": start, "end": end, "source": source, "ingested_at": now_utc()}
    scan = """read_parquet($files, filename = true, file_row_number = true, union_by_name = true)"""
    in_window = "played_at::TIMESTAMP >= $start AND played_at::TIMESTAMP < $end"
    bad_row = "(nullif(trim(artist_name), '') IS NULL OR nullif(trim(track_name), '') IS NULL OR user_id IS NULL)"
    with transaction(con):
        con.execute("DELETE FROM raw.raw_scrobbles WHERE source = $source AND play_date >= $start AND play_date < $end",
                    {k: params[k] for k in ("source", "start", "end")})
        before = scalar(con, "SELECT count(*) FROM raw.raw_scrobbles")
        con.execute(
            f"""INSERT INTO raw.raw_scrobbles ({SCROBBLE_COLUMNS})
            SELECT scrobble_id, user_id, played_at::TIMESTAMP, CAST(played_at::TIMESTAMP AS DATE), artist_name,
                   track_name, album_name, artist_mbid, track_mbid, album_mbid, duration_ms, $source, filename,
                   file_row_number + 1, $ingested_at
            FROM {scan} WHERE {in_window} AND NOT {bad_row}""",
            params,
        )
        inserted = scalar(con, "SELECT count(*) FROM raw.raw_scrobbles") - before
    bad = con.execute(
        f"""SELECT filename, file_row_number + 1,
                   CASE WHEN user_id IS NULL THEN 'user_id' WHEN nullif(trim(artist_name), '') IS NULL THEN 'artist_name'
                        ELSE 'track_name' END
            FROM {scan} WHERE {in_window} AND {bad_row} LIMIT 10000""",
        {k: params[k] for k in ("files", "start", "end")},
    ).fetchall()
    return inserted, [RowIssue(f, int(n), field, "is empty") for f, n, field in bad]


def replace_table(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, source: str) -> int:
    """Full refresh of one raw table (schema.table from code, never from data) in one transaction."""
    ingested_at = now_utc()
    con.register("_replace_batch", data)
    try:
        with transaction(con):
            con.execute(f"DELETE FROM {table}")
            columns = ", ".join(f'"{c}"' for c in data.column_names)
            con.execute(
                f"INSERT INTO {table} ({columns}, source, ingested_at) SELECT {columns}, $source, $ingested_at "
                "FROM _replace_batch",
                {"source": source, "ingested_at": ingested_at},
            )
    finally:
        con.unregister("_replace_batch")
    return data.num_rows


def record_issues(con: duckdb.DuckDBPyConnection, asset: str, files: Iterable[str], issues: list[RowIssue]) -> None:
    """The latest read of each file replaces that file's earlier issues."""
    recorded_at = now_utc()
    with transaction(con):
        for f in set(files) | {i.file for i in issues}:
            con.execute("DELETE FROM raw.ingest_issues WHERE asset = $asset AND source_file = $f", {"asset": asset, "f": f})
        if issues:
            con.executemany(
                "INSERT INTO raw.ingest_issues VALUES ($1, $2, $3, $4, $5, $6)",
                [(asset, i.file, i.line, i.field, i.message, recorded_at) for i in issues],
            )


def markdown_table(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, limit: int = 10) -> str:
    """A small markdown preview of a query, for Dagster metadata and the CLI summary."""
    rel = con.execute(f"SELECT * FROM ({sql}) LIMIT {int(limit)}", params or {})
    names = [d[0] for d in rel.description]
    rows = rel.fetchall()
    return rows_to_markdown(names, rows)


def rows_to_markdown(names: list[str], rows: list[tuple]) -> str:
    def cell(v) -> str:
        text = "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 60 else text[:57] + "..."

    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Write a file so that a reader, or a run after a crash, sees the old content or the new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# When a row was written, not what it says: two runs on the same input differ only here.
AUDIT_COLUMNS = frozenset({"ingested_at", "recorded_at", "loaded_at", "created_at", "attempted_at", "last_attempt_at",
                           "run_id"})


def table_fingerprints(con: duckdb.DuckDBPyConnection, strip_prefix: str | None = None) -> dict[str, tuple[int, str]]:
    """schema.table -> (rows, md5 of the sorted row hashes) for every table, audit columns left out.
    `strip_prefix` (a home folder) is removed from text values first, so that two homes compare equal."""
    out: dict[str, tuple[int, str]] = {}
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary "
                         "ORDER BY 1, 2").fetchall()
    for schema, table in tables:
        columns = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
            "ORDER BY column_index", [schema, table]).fetchall()
        values = [f'replace("{c}", $prefix, \'\')' if strip_prefix and t == "VARCHAR" else f'"{c}"'
                  for c, t in columns if c not in AUDIT_COLUMNS]
        row = f"hash(({', '.join(values)},))" if values else "0"
        n, digest = con.execute(
            f"SELECT count(*), md5(coalesce(string_agg(h::VARCHAR, ',' ORDER BY h), '')) "
            f"FROM (SELECT {row} AS h FROM {schema}.{table})",
            {"prefix": strip_prefix} if strip_prefix and "$prefix" in row else {}).fetchone()
        out[f"{schema}.{table}"] = (int(n), digest)
    return out
