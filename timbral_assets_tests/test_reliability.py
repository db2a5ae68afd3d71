"""A crash costs only time, and the same input gives the same tables.

Real processes throughout: `timbral run` as a subprocess with its supervised worker, a real Dagster instance
and warehouse in tmp_path, SIGKILL, SIGTERM, and a second process holding the DuckDB file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from timbral_assets.cli import PACKAGE_DIR
from timbral_assets.run_control import STOP_GRACE_S, process_tags, reap_dead_runs
from timbral_assets.warehouse import WarehouseLockedError, connect, table_fingerprints

WORLD = ["--n-scrobbles", "1500", "--days", "4", "--start-date", "2025-04-01", "--seed", "11"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "PYTHONUNBUFFERED": "1"}


def _timbral(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "timbral_assets.cli", *args], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run_to_end(home: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    process = _timbral(home, *args)
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def _fingerprints(home: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return table_fingerprints(con, strip_prefix=str(home))
    finally:
        con.close()


@contextlib.contextmanager
def _instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The home's instance, as the CLI sets it up (the repo's dagster.yaml), whoever gets there first."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copy(PACKAGE_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)  # dagster.yaml reads it
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            yield instance
    finally:
        if before is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = before


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, str]]]:
    home = tmp_path_factory.mktemp("clean") / "home"
    code, out = _run_to_end(home, "run", *WORLD)
    assert code == 0, out
    return home, _fingerprints(home)


def test_two_fresh_runs_give_identical_tables(tmp_path, clean_run):
    _, expected = clean_run
    code, out = _run_to_end(tmp_path / "home", "run", *WORLD)
    assert code == 0, out
    got = _fingerprints(tmp_path / "home")
    assert len(expected) >= 25 and expected["marts.tracks_core"][0] > 100 and expected["marts.track_tags"][0] > 100
    # a rerun on the same input changes nothing
    code, out = _run_to_end(tmp_path / "home", "run", *WORLD)
    assert code == 0, out
    assert _fingerprints(tmp_path / "home") == got
    differing = sorted(t for t in set(got) | set(expected) if got.get(t) != expected.get(t))
    assert differing == []


# kill point -> seconds after the step starts (inside its work: the slow steps are killed mid-transaction),
# in the order the graph runs them
KILL_POINTS = {"raw_scrobbles": 0.2, "entity_candidates": 2.0, "track_matcher_model": 2.0, "entity_match_scores": 0.5,
               "entity_clusters": 0.1, "tracks_core": 0.1}


def _wait_for_step_start(home: Path, step: str, process: subprocess.Popen, timeout: float = 240,
                         earlier_run: str | None = None) -> bool:
    """True once `step` has started in the home's newest run (not `earlier_run`); False if the run ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with _instance(home) as instance:
            runs = instance.get_runs(limit=1)
            if runs and runs[0].run_id != earlier_run:
                records = instance.get_records_for_run(
                    runs[0].run_id, of_type=dg.DagsterEventType.STEP_START).records
                if any(r.event_log_entry.step_key == step for r in records):
                    return True
        time.sleep(0.05)
    return False


def test_a_run_killed_during_any_step_is_redone_by_the_next(tmp_path, clean_run):
    """One home, killed by SIGKILL inside each step in turn: every next run reaps the dead one (its pool
    slot too) and gets past the step where it died; the last run leaves the tables a clean run leaves."""
    home = tmp_path / "home"
    _, expected = clean_run
    killed_before: str | None = None
    for step, delay in KILL_POINTS.items():
        process = _timbral(home, "run", *WORLD)
        assert _wait_for_step_start(home, step, process, earlier_run=killed_before), f"{step} never started"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)  # kill -9 of `timbral run`; its worker dies with it
        out, _ = process.communicate(timeout=30)
        if killed_before is not None:
            assert f"recovered: marked 1 run(s) whose process is gone as failed ({killed_before[:8]}" in out
        with _instance(home) as instance:
            killed = instance.get_runs(limit=1)[0]
            assert not killed.is_finished, step  # nobody closed it: the process just vanished
            if killed_before is not None:
                assert instance.get_run_by_id(killed_before).status == dg.DagsterRunStatus.FAILURE
        killed_before = killed.run_id
    code, out = _run_to_end(home, "run", *WORLD)
    assert code == 0, out
    assert f"recovered: marked 1 run(s) whose process is gone as failed ({killed_before[:8]}" in out
    with _instance(home) as instance:
        assert instance.get_run_by_id(killed_before).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
    got = _fingerprints(home)
    assert sorted(t for t in set(got) | set(expected) if got.get(t) != expected.get(t)) == []


def _hold_pool_slot(home: Path, pid: int) -> str:
    """Another run, executed by process `pid`, holding the duckdb_write slot."""
    run_id = str(uuid.uuid4())
    with _instance(home) as instance:
        instance.add_run(dg.DagsterRun(job_name="timbral_main", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                       tags=process_tags(pid)))
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("duckdb_write")
        assert storage.claim_concurrency_slot("duckdb_write", run_id, "raw_scrobbles").is_claimed
    return run_id


def test_a_pool_wait_ends_naming_the_run_that_holds_the_slot(tmp_path):
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run_id = _hold_pool_slot(home, holder.pid)
        started = time.monotonic()
        code, out = _run_to_end(home, "run", *WORLD, "--pool-wait-minutes", "0.2", timeout=120)
        assert code == 1, out
        assert 12 < time.monotonic() - started < 90
        assert f"gave up after waiting 0.2 min for the duckdb_write pool slot, which run {run_id[:8]}" in out
        assert f"pid {holder.pid}, process running" in out and "Traceback" not in out
    finally:
        holder.kill()


def test_sigterm_stops_a_run_blocked_on_the_pool_and_a_dead_holder_is_reaped(tmp_path):
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    run_id = _hold_pool_slot(home, holder.pid)
    process = _timbral(home, "run", *WORLD)
    lines = []
    for line in process.stdout:  # the supervisor says why nothing happens
        lines.append(line)
        if "waiting for the duckdb_write pool slot" in line:
            break
    assert run_id[:8] in lines[-1]
    stopped = time.monotonic()
    process.send_signal(signal.SIGTERM)  # blocked on the pool, the worker ignores SIGINT: it is killed at once
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(lines) + out
    assert time.monotonic() - stopped < 10
    with _instance(home) as instance:
        ours = [r for r in instance.get_runs() if r.run_id != run_id]
        assert [r.status for r in ours] == [dg.DagsterRunStatus.CANCELED]
        pending = instance.event_log_storage.get_concurrency_info("duckdb_write").pending_steps
        assert [p.run_id for p in pending] == [run_id]  # only the holder's claim is left
    # the holder dies (kill -9): the next entry point marks it failed and frees its slot (a whole run after
    # a crash is the drill above)
    holder.kill()
    holder.wait()
    with _instance(home) as instance:
        reaped = reap_dead_runs(instance)
        assert [(r.run_id, r.pid, r.marked_failed) for r in reaped] == [(run_id, str(holder.pid), True)]
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
        assert reap_dead_runs(instance) == []  # the live ones are left alone, and nothing twice


def test_a_locked_warehouse_is_waited_for_then_named(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    connect(path).close()
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(path), "30"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    try:
        with pytest.raises(WarehouseLockedError, match=rf"in use by process {holder.pid} .*waited 1 s"):
            connect(path, read_only=True, wait_s=1.0)
        code, out = _run_to_end(tmp_path, "summary", "--wait-seconds", "1", timeout=60)
        assert code == 3 and f"in use by process {holder.pid}" in out and "Traceback" not in out
    finally:
        holder.kill()
        holder.wait()
    # a holder that lets go within the wait: the reader waits politely, then reads
    holder = subprocess.Popen([sys.executable, "-c", hold, str(path), "2"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    told: list[str] = []
    con = connect(path, read_only=True, wait_s=30, on_wait=told.append)
    con.close()
    holder.wait()
    assert len(told) == 1 and f"process {holder.pid}" in told[0]


def test_timbral_import_runs_a_multi_year_history_with_a_line_per_step(tmp_path):
    """Three years of plays (1,096 daily partitions) from one export, with a double scrobble in it."""
    from timbral_assets.sources.synthetic import WorldConfig, generate_world

    world = tmp_path / "world"
    generate_world(WorldConfig(seed=5, n_scrobbles=2500, start_date=date(2019, 1, 1), days=1096, write_csv=True), world)
    export = tmp_path / "my_scrobbles.csv"
    lines = (world / "scrobbles_csv" / "scrobbles.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    export.write_text("".join([*lines, lines[5]]), encoding="utf-8")  # the same play scrobbled twice
    home = tmp_path / "home"
    started = time.monotonic()
    code, out = _run_to_end(home, "import", str(export), timeout=600)
    seconds = time.monotonic() - started
    assert code == 0, out
    first = datetime.fromtimestamp(min(int(line.split(",")[2]) for line in lines[1:]), UTC).date()
    last = datetime.fromtimestamp(max(int(line.split(",")[2]) for line in lines[1:]), UTC).date()
    days = (last - first).days + 1
    assert days > 1000 and f"play dates {first} .. {last} ({days:,} daily partitions)" in out
    for asset in ("raw_scrobbles", "stg_scrobbles", "entity_candidates", "entity_clusters", "tracks_core"):
        assert f" {asset} " in out  # a line per step
    # an import trains the track matcher, not the mood model (an export holds no Spotify tracks to learn from)
    assert "all asset checks passed" in out and " mood_model " not in out and seconds < 300
    with _instance(home) as instance:
        assert len(instance.get_materialized_partitions(dg.AssetKey("raw_scrobbles"))) == days
        record = instance.fetch_materializations(dg.AssetKey("stg_scrobbles"), limit=1).records[0]
        assert "preview" in record.asset_materialization.metadata  # the summary goes once, on the newest day
        oldest = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("stg_scrobbles"), asset_partitions=[first.isoformat()]),
            limit=1).records[0]
        assert set(oldest.asset_materialization.metadata) == {"dagster/row_count"}  # each day: its own count only
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    raw, distinct, staged = con.execute("""SELECT (SELECT count(*) FROM raw.raw_scrobbles),
        (SELECT count(DISTINCT scrobble_id) FROM raw.raw_scrobbles), (SELECT count(*) FROM staging.stg_scrobbles)""").fetchone()
    per_day = dict(con.execute("SELECT play_date, count(*) FROM staging.stg_scrobbles GROUP BY 1").fetchall())
    con.close()
    assert raw == len(lines) and distinct == staged == raw - 1
    assert oldest.asset_materialization.metadata["dagster/row_count"].value == per_day.get(first, 0) > 0


def test_sigint_during_a_step_stops_the_run_within_seconds(tmp_path):
    home = tmp_path / "home"
    process = _timbral(home, "run", *WORLD)
    assert _wait_for_step_start(home, "entity_candidates", process)
    time.sleep(1.0)
    stopped = time.monotonic()
    process.send_signal(signal.SIGINT)  # Ctrl-C: the step is interrupted inside its transaction
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    # within the 20 s grace the supervisor gives a step before it kills the worker
    assert time.monotonic() - stopped < STOP_GRACE_S + 10 and "stopped by SIGINT" in out and "Traceback" not in out
    with _instance(home) as instance:
        (run,) = instance.get_runs()
        assert run.is_finished and not instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
