"""Runs without the daemon: who owns a run, reaping runs whose process died, and a supervised worker.

`timbral run` and `timbral import` do not execute the job in their own process. They start a worker
(`python -m timbral_assets.run_worker`) and watch its run through the Dagster instance's event log:
  - a line per asset as it finishes (rows, seconds, checks), and the assets' own progress lines;
  - a wait on the `duckdb_write` pool that lasts longer than `pool_wait_s` ends the run with a sentence
    naming the run that holds the slot (the worker's claim gives up; the supervisor kills it if it hangs);
  - SIGINT and SIGTERM stop the worker (SIGINT first, SIGKILL after a grace period: a step blocked on the
    pool ignores SIGINT), then the run is marked canceled and its slots are freed;
  - the worker dies with its supervisor (PR_SET_PDEATHSIG), so `kill -9` of `timbral run` is a crash
    like any other, which the next entry point cleans up.

Every run records the process that executes it (`timbral/pid`, `timbral/host`, `timbral/process_started`):
the worker tags its runs at creation, and the Dagster instance's event log storage (instance_storage.py)
tags any other run (`dagster asset materialize`, the web UI, schedules, sensors) at its first pool claim.
`reap_dead_runs` marks the runs whose process is gone as failed and frees their pool slots. Every pool claim,
whoever started the run, goes through `claim_or_recover`: while the slot is held it reaps dead holders every
few seconds, and it gives up on a live holder after a bounded wait with a sentence naming it. `timbral run`
and `timbral import` also reap before they start, and the daemon's run monitoring (dagster.yaml) frees the
slots of runs that ended.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType, EngineEventData
from dagster._core.storage.dagster_run import FINISHED_STATUSES, IN_PROGRESS_RUN_STATUSES, RunsFilter

from .assets.common import DUCKDB_POOL
from .run_worker import POOL_WAIT_ENV, Worker

PID_TAG = "timbral/pid"
HOST_TAG = "timbral/host"
STARTED_TAG = "timbral/process_started"

DEFAULT_POOL_WAIT_S = 300.0
POOL_WAIT_FALLBACK_S = 30.0
STOP_GRACE_S = 20.0


def process_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming the process that executes a run; the start time guards against a reused pid."""
    process = psutil.Process(pid or os.getpid())
    return {PID_TAG: str(process.pid), HOST_TAG: socket.gethostname(),
            STARTED_TAG: f"{process.create_time():.2f}"}


def run_process_alive(run: dg.DagsterRun) -> bool | None:
    """Whether the process that executes `run` still exists; None when the run names no process on this host."""
    tags = run.tags
    if PID_TAG not in tags or tags.get(HOST_TAG) != socket.gethostname():
        return None
    try:
        process = psutil.Process(int(tags[PID_TAG]))
        return abs(process.create_time() - float(tags.get(STARTED_TAG, "0"))) < 1.0 \
            and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, ValueError):
        return False


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """'run 1a2b3c4d (timbral_main, `timbral run`, pid 123, started 10:02:11 UTC)' for messages."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id[:8]} (no longer in this instance)"
    parts = [run.job_name]
    if PID_TAG in run.tags:
        parts.append(f"pid {run.tags[PID_TAG]}")
        alive = run_process_alive(run)
        if alive is not None:
            parts.append("process running" if alive else "process gone")
    record = instance.get_run_record_by_id(run_id)
    if record is not None and record.start_time:
        parts.append(f"started {datetime.fromtimestamp(record.start_time, UTC):%Y-%m-%d %H:%M:%S} UTC")
    return f"run {run_id[:8]} ({', '.join(parts)})"


@dataclass(frozen=True)
class ReapedRun:
    run_id: str
    job_name: str
    pid: str
    marked_failed: bool


def reap_dead_runs(instance: dg.DagsterInstance) -> list[ReapedRun]:
    """Mark this instance's in-progress runs whose process is gone as failed, and free the pool slots of
    every run that is finished or dead. Runs whose process is unknown (other hosts) are left alone."""
    reaped: list[ReapedRun] = []
    for run in instance.get_runs(filters=RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES))):
        if run_process_alive(run) is False:
            instance.report_run_failed(
                run, message=f"The process that executed this run (pid {run.tags[PID_TAG]}) is gone: it was "
                             "killed or crashed. Marked failed and its pool slots freed by Timbral.")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            reaped.append(ReapedRun(run.run_id, run.job_name, run.tags[PID_TAG], True))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        already = {r.run_id for r in reaped}
        for run_id in storage.get_concurrency_run_ids() - already:
            run = instance.get_run_by_id(run_id)
            if run is None:
                storage.free_concurrency_slots_for_run(run_id)
                reaped.append(ReapedRun(run_id, "?", "?", False))
            elif run.status in FINISHED_STATUSES:
                storage.free_concurrency_slots_for_run(run_id)
                reaped.append(ReapedRun(run_id, run.job_name, run.tags.get(PID_TAG, "?"), False))
    return reaped


class PoolWaitTimeout(Exception):
    """A step waited longer than its limit for the duckdb_write slot, which a live run holds."""


REAP_EVERY_S = 5.0
CLAIM_POLL_S = 0.5
ANNOUNCE_WAIT_AFTER_S = 5.0


def pool_wait_limit(configured: float) -> float:
    value = os.environ.get(POOL_WAIT_ENV)
    try:
        return float(value) if value else configured
    except ValueError:
        return configured


def pool_holders(instance: dg.DagsterInstance, pool: str, run_id: str) -> str:
    """Who holds the pool's slots other than `run_id`, for messages."""
    holders = [s for s in instance.event_log_storage.get_concurrency_info(pool).claimed_slots if s.run_id != run_id]
    if not holders:
        return "no run (the slot is being handed over)"
    return "; ".join(f"{describe_run(instance, s.run_id)} at step {s.step_key}" for s in holders)


def pool_wait_message(waited_s: float, pool: str, holders: str) -> str:
    return (f"gave up after waiting {waited_s / 60:.1f} min for the {pool} pool slot, which {holders} holds; "
            "let it finish or stop it, then run again")


def claim_or_recover(instance: dg.DagsterInstance, claim: Callable[[], object], pool: str, run_id: str,
                     wait_s: float, say: Callable[[str], None]):
    """Claim a pool slot for a step of `run_id`, however the run was started (`timbral run`, `dagster asset
    materialize`, the web UI, a schedule): while the slot is held, every few seconds the runs whose process is
    gone are marked failed and their slots freed (`reap_dead_runs`); a wait on a live holder ends after `wait_s`
    with PoolWaitTimeout naming it. Waiting here also spares the executor its busy loop: Dagster 1.13's in-process
    executor re-checks a blocked claim with no sleep between checks."""
    status = claim()
    if status.is_claimed:
        return status
    started = time.monotonic()
    last_reap = float("-inf")
    announced = False
    while True:
        now = time.monotonic()
        if now - last_reap >= REAP_EVERY_S:
            last_reap = now
            line = reaped_line(reap_dead_runs(instance))
            if line:
                say(line)
        status = claim()
        if status.is_claimed:
            return status
        waited = time.monotonic() - started
        if waited > ANNOUNCE_WAIT_AFTER_S and not announced:
            say(f"waiting for the {pool} pool slot, held by {pool_holders(instance, pool, run_id)}; giving up "
                f"after {wait_s / 60:.1f} min")
            announced = True
        if waited > wait_s:
            raise PoolWaitTimeout(pool_wait_message(waited, pool, pool_holders(instance, pool, run_id)))
        time.sleep(CLAIM_POLL_S)


POOL_NOTE = "timbral/pool_wait"  # marks the engine events of a pool wait, which the supervisor prints


def pool_note(instance: dg.DagsterInstance, run_id: str, message: str) -> None:
    """A line about a pool wait: in the run's event log (the UI, the supervisor) and on this process's log."""
    run = instance.get_run_by_id(run_id)
    if run is not None:
        instance.report_engine_event(message, run, EngineEventData(metadata={POOL_NOTE: dg.MetadataValue.bool(True)}))
    dg.get_dagster_logger("timbral").warning(message)


def _is_pool_note(event) -> bool:
    data = event.event_specific_data
    return isinstance(data, EngineEventData) and POOL_NOTE in (data.metadata or {})


def tag_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    """Record this process as the one executing `run_id`, unless the run names one already."""
    run = instance.get_run_by_id(run_id)
    if run is not None and PID_TAG not in run.tags:
        instance.add_run_tags(run_id, process_tags())


def reaped_line(reaped: list[ReapedRun]) -> str | None:
    if not reaped:
        return None
    dead = [r for r in reaped if r.marked_failed]
    ended = [r for r in reaped if not r.marked_failed]
    parts = []
    if dead:
        parts.append(f"marked {len(dead)} run(s) whose process is gone as failed "
                     f"({', '.join(f'{r.run_id[:8]} pid {r.pid}' for r in dead)})")
    if ended:
        parts.append(f"freed pool slots still held by {len(ended)} ended run(s) "
                     f"({', '.join(r.run_id[:8] for r in ended)})")
    return "recovered: " + "; ".join(parts) + ". Their unfinished work is redone by this run."


@dataclass
class AssetLine:
    """What one asset did in a run, as the supervisor prints it."""

    name: str
    rows: int | None = None
    partitions: int = 0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)  # failed checks of WARN severity


@dataclass
class RunOutcome:
    run_id: str
    status: str  # SUCCESS, FAILURE, CANCELED
    seconds: float
    failed_checks: list[str]
    message: str = ""
    log_file: Path | None = None
    stopped_by: str | None = None  # SIGINT / SIGTERM, when a person stopped the run
    warned_checks: list[str] = field(default_factory=list)  # failed checks of WARN severity

    @property
    def success(self) -> bool:
        return self.status == "SUCCESS"


class Supervisor:
    """Starts one run in a worker process and watches it; see the module docstring."""

    POLL_S = 0.5

    def __init__(self, instance: dg.DagsterInstance, home: Path, print_fn: Callable[[str], None] = print,
                 pool_wait_s: float = DEFAULT_POOL_WAIT_S, verbose: bool = False):
        self.instance = instance
        self.home = home
        self.say = print_fn
        self.pool_wait_s = pool_wait_s
        self.verbose = verbose
        self._stop_signal: int | None = None

    def run(self, worker: Worker) -> RunOutcome:
        """Watch the run of a worker `run_worker.start_worker` launched, to its end."""
        line = reaped_line(reap_dead_runs(self.instance))
        if line:
            self.say(line)
        run_id, started = worker.run_id, worker.started
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            outcome_message = self._watch(worker.process, run_id)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            worker.spec_file.unlink(missing_ok=True)
        seconds = time.monotonic() - started
        run = self.instance.get_run_by_id(run_id)
        if run is not None and run.status not in FINISHED_STATUSES:
            # the worker is gone but the run was never closed: stopped by us, or it died
            reason = outcome_message or "the worker process ended without finishing the run"
            if self._stop_signal is not None:
                self.instance.report_run_canceled(run, message=reason)
            else:
                self.instance.report_run_failed(run, message=reason)
        self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        run = self.instance.get_run_by_id(run_id)
        status = run.status.value if run is not None else "FAILURE"
        stopped_by = signal.Signals(self._stop_signal).name if self._stop_signal is not None else None
        return RunOutcome(run_id, status, seconds, self._failed_checks, outcome_message, worker.log_file, stopped_by,
                          warned_checks=self._warned_checks)

    def _on_signal(self, signum: int, _frame) -> None:
        self._stop_signal = signum

    # -- watching -------------------------------------------------------------------------------------

    def _watch(self, worker: subprocess.Popen, run_id: str) -> str:
        self._cursor: str | None = None
        self._assets: dict[str, AssetLine] = {}
        self._step_assets: dict[str, list[str]] = {}
        self._step_started: dict[str, float] = {}
        self._failed_checks: list[str] = []
        self._failure = ""  # the run's own failure sentence (a pool wait it gave up), when it has one
        self._warned_checks: list[str] = []
        blocked_since: float | None = None
        stop_requested_at: float | None = None
        message = ""
        while True:
            exited = worker.poll() is not None
            self._drain_events(run_id)
            if exited:
                return message or self._failure
            now = time.monotonic()
            if self._stop_signal is not None and stop_requested_at is None:
                name = signal.Signals(self._stop_signal).name
                message = f"stopped by {name}"
                self.say(f"{name}: stopping run {run_id[:8]} (what it had not committed is redone by the next run)")
                stop_requested_at = now
                if blocked_since is not None:
                    worker.kill()  # waiting for the pool: no step is running, and the wait ignores SIGINT
                else:
                    worker.send_signal(signal.SIGINT)
            elif stop_requested_at is not None and now - stop_requested_at > STOP_GRACE_S:
                worker.kill()
            # the worker's own claim (claim_or_recover) announces a wait and ends it after pool_wait_s; this is
            # the fallback should the worker hang while blocked
            blocked = self._blocked_on_pool(run_id)
            blocked_since = (blocked_since or now) if blocked else None
            if blocked and now - blocked_since > self.pool_wait_s + POOL_WAIT_FALLBACK_S and stop_requested_at is None:
                message = pool_wait_message(now - blocked_since, DUCKDB_POOL,
                                            pool_holders(self.instance, DUCKDB_POOL, run_id))
                self.say(message)
                stop_requested_at = now
                worker.kill()  # blocked on the pool: nothing of this run is uncommitted
            time.sleep(self.POLL_S)

    def _blocked_on_pool(self, run_id: str) -> bool:
        """Whether this run has a step waiting for a pool slot."""
        storage = self.instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return False
        info = storage.get_concurrency_info(DUCKDB_POOL)
        return any(p.run_id == run_id and p.assigned_timestamp is None for p in info.pending_steps)

    def _drain_events(self, run_id: str) -> None:
        while True:
            conn = self.instance.get_records_for_run(run_id, cursor=self._cursor, limit=5000)
            for record in conn.records:
                self._on_event(record.event_log_entry)
            self._cursor = conn.cursor
            if not conn.has_more:
                return

    def _on_event(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            # an asset's own progress line (context.log.info)
            if entry.level >= 20 and entry.step_key:
                self.say(f"    {entry.step_key}: {entry.user_message}")
            return
        kind = event.event_type
        step = event.step_key
        if kind == DagsterEventType.ENGINE_EVENT and _is_pool_note(event):
            self.say(entry.user_message or event.message or "")
        elif kind == DagsterEventType.RUN_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None and PoolWaitTimeout.__name__ in (error.cls_name or ""):
                self._failure = error.message.strip().splitlines()[-1].removeprefix(f"{PoolWaitTimeout.__module__}.")
                self._failure = self._failure.removeprefix(f"{PoolWaitTimeout.__name__}: ")
                self.say(self._failure)
        elif kind == DagsterEventType.STEP_START:
            self._step_started[step] = entry.timestamp
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            name = materialization.asset_key.to_user_string()
            line = self._asset(step, name)
            rows = materialization.metadata.get("dagster/row_count")
            if rows is not None:
                line.rows = (line.rows or 0) + int(rows.value) if materialization.partition else int(rows.value)
            line.partitions += materialization.partition is not None
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            line = self._asset(step, check.asset_key.to_user_string())
            if check.passed:
                line.checks_passed += 1
            elif check.severity == dg.AssetCheckSeverity.WARN:
                line.checks_warned.append(check.check_name)
                self._warned_checks.append(f"{check.asset_key.to_user_string()}:{check.check_name}")
            else:
                line.checks_failed.append(check.check_name)
                self._failed_checks.append(f"{check.asset_key.to_user_string()}:{check.check_name}")
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            seconds = entry.timestamp - self._step_started.get(step, entry.timestamp)
            for name in self._step_assets.get(step, [step]):
                self.say(self._asset_line(self._asset(step, name), seconds,
                                          failed=kind == DagsterEventType.STEP_FAILURE))
            if kind == DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                self.say(f"    {error.message.strip().splitlines()[-1] if error else 'failed'}")
        elif kind == DagsterEventType.STEP_UP_FOR_RETRY:
            self.say(f"    {step}: failed, retrying ({event.message})")

    def _asset(self, step: str, name: str) -> AssetLine:
        """The line of asset `name`; a multi-asset's step reports several."""
        if name not in self._assets:
            self._assets[name] = AssetLine(name)
            self._step_assets.setdefault(step, []).append(name)
        return self._assets[name]

    @staticmethod
    def _asset_line(line: AssetLine, seconds: float, failed: bool) -> str:
        rows = f"{line.rows:>12,} rows" if line.rows is not None else " " * 17
        days = f" ({line.partitions:,} days)" if line.partitions > 1 else ""
        checks = ""
        if line.checks_failed:
            checks = f"  checks FAILED: {', '.join(line.checks_failed)}"
        elif line.checks_passed:
            checks = f"  {line.checks_passed} checks passed"
        if line.checks_warned:
            checks += f"  checks WARNED: {', '.join(line.checks_warned)}"
        mark = "FAILED" if failed else "ok"
        return f"  {mark:<6} {line.name:<30}{rows} {seconds:7.1f} s{days}{checks}"
