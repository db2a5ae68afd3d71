"""Runs that wait, are stopped or die, however they were started: a wait on the pool ends in a sentence naming
the holder, SIGINT and SIGTERM stop a run cleanly, a locked warehouse is waited for politely, and a run killed
under Dagster's own CLI is reaped by the next. `timbral import` of a multi-year history with a line per step.

Real processes throughout: `timbral run`, `timbral import` and `dagster asset materialize` as subprocesses, a
real Dagster instance and warehouse in tmp_path, SIGKILL, SIGTERM, and a second process holding the DuckDB file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import psutil
import pytest

from timbral_assets.run_control import STOP_GRACE_S, process_tags, reap_dead_runs
from timbral_assets.warehouse import WarehouseLockedError, connect

from .conftest import (
    WORLD_5K,
    home_instance,
    run_to_end,
    timbral,
    timbral_env,
    wait_for_step_start,
)

WORLD = WORLD_5K
_instance = home_instance


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
        code, out = run_to_end(home, "run", *WORLD, "--pool-wait-minutes", "0.1", timeout=120)
        assert code == 1, out
        assert 6 < time.monotonic() - started < 90
        assert f"gave up after waiting 0.1 min for the duckdb_write pool slot, which run {run_id[:8]}" in out
        assert f"pid {holder.pid}, process running" in out and "Traceback" not in out
    finally:
        holder.kill()


def test_sigterm_stops_a_run_blocked_on_the_pool_and_a_dead_holder_is_reaped(tmp_path):
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    run_id = _hold_pool_slot(home, holder.pid)
    process = timbral(home, "run", *WORLD)
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
        code, out = run_to_end(tmp_path, "summary", "--wait-seconds", "1", timeout=60)
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
    code, out = run_to_end(home, "import", str(export), timeout=600)
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
    process = timbral(home, "run", *WORLD)
    assert wait_for_step_start(home, "entity_candidates", process)
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


# -- runs started by Dagster's own CLI (and so by `dagster dev` and the daemon, which claim the pool the same way)

def _dagster_materialize(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`dagster asset materialize` against the project's definitions, in `home`'s instance."""
    return subprocess.Popen([sys.executable, "-m", "dagster", "asset", "materialize", "-m", "timbral_assets.definitions",
                             *args], env={**timbral_env(home), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _holding_the_warehouse(path: Path) -> subprocess.Popen:
    """Another process holding the warehouse file, so that a step that opens it waits inside its pool slot."""
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(300)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_killed_under_dagsters_cli_is_reaped_by_the_next_one(world_in_bucket):
    """kill -9 of `dagster asset materialize` while its step holds the duckdb_write slot: the next
    `dagster asset materialize` marks the dead run failed, frees its slot and runs, instead of waiting forever."""
    home = world_in_bucket
    with _instance(home):
        pass  # the home's dagster.yaml, as `make` and the CLI put it
    connect(home / "warehouse.duckdb").close()
    holder = _holding_the_warehouse(home / "warehouse.duckdb")
    try:
        first = _dagster_materialize(home, "--select", "raw_scrobbles", "--partition", "2025-03-02")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            with _instance(home) as instance:
                claimed = instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
            if claimed:
                break
            time.sleep(0.2)
        assert claimed and first.poll() is None, first.communicate()[0]  # inside its step, slot held
        dead_run = claimed[0].run_id
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        holder.kill()
        holder.wait()
    with _instance(home) as instance:
        run = instance.get_run_by_id(dead_run)
        assert not run.is_finished and run.tags["timbral/pid"] == str(first.pid)  # tagged at its claim
    started = time.monotonic()
    second = _dagster_materialize(home, "--select", "raw_scrobbles", "--partition", "2025-03-02")
    out, _ = second.communicate(timeout=180)
    assert second.returncode == 0, out
    assert time.monotonic() - started < 120
    assert f"recovered: marked 1 run(s) whose process is gone as failed ({dead_run[:8]} pid {first.pid})" in out
    with _instance(home) as instance:
        assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
        (latest,) = instance.get_runs(limit=1)
        assert latest.is_success
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    days = dict(con.execute("SELECT play_date, count(*) FROM raw.raw_scrobbles GROUP BY 1").fetchall())
    con.close()
    assert list(days) == [date(2025, 3, 2)] and days[date(2025, 3, 2)] > 100


def test_dagsters_cli_waits_for_a_live_holder_quietly_then_names_it(tmp_path):
    """A live run holds the slot: `dagster asset materialize` waits without spinning (Dagster 1.13's executor
    re-checks a blocked claim with no pause), says so, then fails with the sentence `timbral run` gives."""
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run_id = _hold_pool_slot(home, holder.pid)
        process = _dagster_materialize(home, "--select", "resolution_rules", env={"TIMBRAL_POOL_WAIT_S": "12"})
        lines = []
        for line in process.stdout:  # told after 5 s of waiting
            lines.append(line)
            if "waiting for the duckdb_write pool slot" in line:
                break
        assert f"held by run {run_id[:8]} (timbral_main, pid {holder.pid}, process running" in lines[-1], "".join(lines)
        watched = psutil.Process(process.pid)
        before = sum(watched.cpu_times()[:2])
        time.sleep(4)
        busy = sum(watched.cpu_times()[:2]) - before
        assert busy < 1.0, f"{busy:.1f} s of CPU in 4 s of waiting"
        out, _ = process.communicate(timeout=120)
        assert process.returncode != 0, out
        assert (f"gave up after waiting 0.2 min for the duckdb_write pool slot, which run {run_id[:8]} "
                f"(timbral_main, pid {holder.pid}, process running") in out
    finally:
        holder.kill()



def test_processes_opening_a_new_home_together_all_get_its_instance(tmp_path):
    # a supervisor and its worker open a fresh home at once; Dagster's sqlite schedule storage alone fails
    # one time in three here ("table alembic_version already exists")
    opener = "from timbral_assets.run_worker import open_instance; open_instance().dispose()"
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        env = timbral_env(tmp_path / f"timbral{attempt}")
        env["DAGSTER_HOME"] = str(home)
        home.mkdir()
        (home / "dagster.yaml").write_bytes((Path(__file__).parents[1] / "dagster.yaml").read_bytes())
        openers = [subprocess.Popen([sys.executable, "-c", opener], env=env, stderr=subprocess.PIPE, text=True)
                   for _ in range(3)]
        errors = [p.communicate()[1] for p in openers if p.wait() != 0]
        assert not errors, errors[0]
