"""The worker process of a supervised run (`run_control.Supervisor`): executes one job in process.

    python -m timbral_assets.run_worker SPEC.json

SPEC holds the job name, the run id the supervisor chose, the run config and tags. The run is tagged with
this process (run_control.process_tags) so that, should it die, the next entry point can tell.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EVENT_BATCH_SIZE = 500


def main(spec_path: str) -> int:
    import os

    # one "planned" event per asset for a range of partitions, not one per day (Dagster's switch for it)
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    # a step's per-day materializations reach the event log storage in batches (see instance_storage.py)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
    import dagster as dg

    from .definitions import defs
    from .run_control import process_tags

    spec = json.loads(Path(spec_path).read_text())
    run_config = dict(spec["run_config"])
    if not spec.get("verbose"):
        # the full event log stays in the instance (the UI shows it); the worker's log file gets INFO and up
        run_config.setdefault("loggers", {"console": {"config": {"log_level": "INFO"}}})
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(spec["job"]).execute_in_process(
            run_config=run_config, instance=instance, run_id=spec["run_id"],
            tags={**spec["tags"], **process_tags()}, raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
