"""A crash costs only time, and the same input gives the same tables.

Real processes throughout: `timbral run` as a subprocess with its supervised worker, a real Dagster instance
and warehouse in tmp_path, and SIGKILL. Every test here reads the shared 5k world's run (conftest.world_5k),
so they share one test worker. Waits, signals, locks and Dagster's own CLI are test_run_control.py's.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from .conftest import (
    WORLD_5K,
    assert_passes_its_own_checks,
    copy_home,
    fingerprints,
    home_instance,
    run_to_end,
    timbral,
    wait_for_step_start,
)

WORLD = WORLD_5K


_instance = home_instance


def test_the_5k_world_completes_with_its_checks_passing(world_5k):
    assert_passes_its_own_checks(world_5k)


@pytest.fixture(scope="module")
def clean_run(world_5k) -> tuple[Path, dict[str, tuple[int, str]]]:
    """The shared 5k world's run: the tables every other run on that input must give."""
    assert world_5k.code == 0, world_5k.out
    return world_5k.home, world_5k.tables


def test_two_fresh_runs_give_identical_tables(tmp_path, clean_run):
    home, expected = clean_run
    assert len(expected) >= 25 and expected["marts.tracks_core"][0] > 100 and expected["marts.track_tags"][0] > 100
    code, out = run_to_end(tmp_path / "fresh", "run", *WORLD)  # a second fresh home, the same input
    assert code == 0, out
    got = fingerprints(tmp_path / "fresh")
    assert sorted(t for t in set(got) | set(expected) if got.get(t) != expected.get(t)) == []
    # a rerun on the same input changes nothing: the same partitions replaced, the same ids, the models kept
    copy = copy_home(home, tmp_path / "rerun")
    code, out = run_to_end(copy, "run", *WORLD)
    assert code == 0, out
    assert fingerprints(copy) == expected
    assert "mood_model: the training input and settings are those of mood_model version 1: kept it" in out


def test_a_model_registered_by_a_run_that_died_before_recording_it_is_recorded_by_the_next(tmp_path, clean_run):
    """The window between registering a model version in MLflow and committing its rows to the warehouse: a run
    killed there leaves a registered version the warehouse does not know. The next run keeps that version (the
    same training input) and records it, from MLflow, as the dead run would have."""
    from timbral_assets.definitions import all_assets
    from timbral_assets.resources import local_resources

    home, expected = clean_run
    copy = copy_home(home, tmp_path / "home")
    con = duckdb.connect(str(copy / "warehouse.duckdb"))
    con.execute("DELETE FROM models.als_training")  # as if killed right after log_model_version
    con.execute("DELETE FROM models.mood_model_evaluation")
    con.close()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(all_assets, selection=["als_model", "mood_model"], resources=local_resources(copy),
                                instance=instance)
    assert result.success
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert "unchanged" in metadata["als_model"] and "unchanged" in metadata["mood_model"]  # version 1 kept
    got = fingerprints(copy)
    assert got["models.als_training"] == expected["models.als_training"]
    assert got["models.mood_model_evaluation"] == expected["models.mood_model_evaluation"]


# kill point -> seconds after the step starts (inside its work: the slow steps are killed mid-transaction),
# in the order the graph runs them
KILL_POINTS = {"raw_scrobbles": 0.2, "entity_candidates": 2.0, "track_matcher_model": 2.0, "entity_match_scores": 0.5,
               "entity_clusters": 0.1, "tracks_core": 0.1}


def test_a_run_killed_during_any_step_is_redone_by_the_next(tmp_path, clean_run):
    """One home, killed by SIGKILL inside each step in turn: every next run reaps the dead one (its pool
    slot too) and gets past the step where it died; the last run leaves the tables a clean run leaves."""
    home = tmp_path / "home"
    _, expected = clean_run
    killed_before: str | None = None
    for step, delay in KILL_POINTS.items():
        process = timbral(home, "run", *WORLD)
        assert wait_for_step_start(home, step, process, earlier_run=killed_before), f"{step} never started"
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
    code, out = run_to_end(home, "run", *WORLD)
    assert code == 0, out
    assert f"recovered: marked 1 run(s) whose process is gone as failed ({killed_before[:8]}" in out
    with _instance(home) as instance:
        assert instance.get_run_by_id(killed_before).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("duckdb_write").claimed_slots
    got = fingerprints(home)
    assert sorted(t for t in set(got) | set(expected) if got.get(t) != expected.get(t)) == []
