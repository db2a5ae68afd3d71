"""The worker process of a supervised run (`run_control.Supervisor`): executes one job in process.

    python -m timbral_assets.run_worker SPEC.json

SPEC holds the job name, the run id the supervisor chose, the run config and tags. The run is tagged with
this process (run_control.process_tags) so that, should it die, the next entry point can tell.

`start_worker` launches it without importing Dagster, so that the worker's imports and the supervisor's own
overlap. (Importing the model libraries on a second thread while the first steps run was tried: SQLAlchemy,
imported by both MLflow and Dagster's storage, then failed half-initialised in one of them.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

EVENT_BATCH_SIZE = 500
POOL_WAIT_ENV = "TIMBRAL_POOL_WAIT_S"  # seconds a step may wait for the pool before its run fails


@dataclass
class Worker:
    process: subprocess.Popen
    run_id: str
    log_file: Path | None  # None when the worker writes to the terminal (verbose)
    spec_file: Path
    started: float  # time.monotonic() at launch


def _set_parent_death_signal() -> None:
    """Linux: the worker gets SIGKILL when its supervisor dies, so a killed `timbral run` leaves no orphan."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_worker(home: Path, job: str, run_config: dict, tags: dict, pool_wait_s: float,
                 verbose: bool = False) -> Worker:
    """Launch the worker of a new run of `job`; its output goes to TIMBRAL_HOME/logs/run-<id>.log."""
    run_id = str(uuid.uuid4())
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"run-{run_id}.log"
    spec = {"job": job, "run_id": run_id, "run_config": dict(run_config), "tags": dict(tags), "verbose": verbose}
    spec_file = Path(tempfile.mkstemp(prefix="timbral-run-", suffix=".json")[1])
    spec_file.write_text(json.dumps(spec))
    with open(log_file, "ab") as log:
        out = None if verbose else log
        process = subprocess.Popen([sys.executable, "-m", "timbral_assets.run_worker", str(spec_file)],
                                   env={**os.environ, POOL_WAIT_ENV: str(pool_wait_s)},
                                   stdout=out, stderr=subprocess.STDOUT if out else None,
                                   stdin=subprocess.DEVNULL, preexec_fn=_set_parent_death_signal)
    return Worker(process, run_id, None if verbose else log_file, spec_file, time.monotonic())


def open_instance():
    """`DagsterInstance.get()` with its storages created under a lock on DAGSTER_HOME.

    The supervisor and its worker open a new home at the same moment, and Dagster's sqlite schedule storage
    fails ("table alembic_version already exists") when two processes create it together.
    """
    import fcntl

    import dagster as dg

    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".storage-init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return dg.DagsterInstance.get()


def main(spec_path: str) -> int:
    # one "planned" event per asset for a range of partitions, not one per day (Dagster's switch for it)
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    # a step's per-day materializations reach the event log storage in batches (see instance_storage.py)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))

    from .definitions import defs
    from .run_control import process_tags

    spec = json.loads(Path(spec_path).read_text())
    run_config = dict(spec["run_config"])
    if not spec.get("verbose"):
        # the full event log stays in the instance (the UI shows it); the worker's log file gets INFO and up
        run_config.setdefault("loggers", {"console": {"config": {"log_level": "INFO"}}})
    with open_instance() as instance:
        result = defs.resolve_job_def(spec["job"]).execute_in_process(
            run_config=run_config, instance=instance, run_id=spec["run_id"],
            tags={**spec["tags"], **process_tags()}, raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
