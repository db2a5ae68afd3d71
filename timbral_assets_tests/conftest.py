"""Shared fixtures. Everything a test writes goes under tmp_path; nothing touches the working directory.

Whole-graph runs cost half a minute each, so the tests share them: `world_5k` and `world_20k` are `timbral run`
on a 5,000- and a 20,000-scrobble world, made once per session; a test that changes a home works on a copy
(`copy_home`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from timbral_assets.sources.synthetic import WorldConfig, generate_world

# `make test` runs two workers on this machine's two cores: each process keeps to one thread for OpenMP and
# BLAS (LightGBM, XGBoost, torch, FAISS, ONNX Runtime read it through timbral_assets.threads), which the
# subprocesses a test starts inherit, instead of threads that spin while they wait for the other worker's
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TINY_WORLD = WorldConfig(seed=7, n_scrobbles=6_000, start_date=date(2025, 3, 1), days=14)
# `timbral run` arguments of the two worlds every whole-graph test shares (the 20k one is the command)
WORLD_5K = ["--n-scrobbles", "5000", "--days", "5", "--start-date", "2025-04-01", "--seed", "11"]
WORLD_20K = ["--n-scrobbles", "20000", "--days", "20"]


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """A 6k-scrobble, 14-day world, generated once per test session."""
    folder = tmp_path_factory.mktemp("world")
    generate_world(TINY_WORLD, folder)
    return folder


@pytest.fixture
def world_in_bucket(tmp_path, tiny_world) -> Path:
    """A TIMBRAL_HOME whose bucket already points at the tiny world, as synthetic_world would leave it."""
    home = tmp_path / "home"
    pointer = home / "bucket" / "synthetic" / "current.json"
    pointer.parent.mkdir(parents=True)
    manifest = json.loads((tiny_world / "manifest.json").read_text())
    pointer.write_text(json.dumps({"folder": str(tiny_world), **manifest}))
    return home


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data set not present: {path} (the public data sets live in ../shared/data)")
    return path


def timbral_env(home: Path) -> dict[str, str]:
    return {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "PYTHONUNBUFFERED": "1"}


def timbral(home: Path, *args: str) -> subprocess.Popen:
    """`timbral ARGS` in its own process, as a person runs it, against `home`."""
    return subprocess.Popen([sys.executable, "-m", "timbral_assets.cli", *args], env=timbral_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_to_end(home: Path, *args: str, timeout: float = 600) -> tuple[int, str]:
    process = timbral(home, *args)
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def fingerprints(home: Path) -> dict[str, tuple[int, str]]:
    """Every warehouse table's rows and content hash, the home's own path left out of text values."""
    import duckdb

    from timbral_assets.warehouse import table_fingerprints

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return table_fingerprints(con, strip_prefix=str(home))
    finally:
        con.close()


@dataclass(frozen=True)
class WorldRun:
    """A home after `timbral run`: its exit code, what it printed, and its tables' fingerprints."""

    home: Path
    code: int
    out: str
    tables: dict[str, tuple[int, str]]


def _world_run(tmp_path_factory, name: str, args: list[str]) -> WorldRun:
    home = tmp_path_factory.mktemp(name) / "home"
    code, out = run_to_end(home, "run", *args)
    return WorldRun(home, code, out, fingerprints(home) if (home / "warehouse.duckdb").exists() else {})


@pytest.fixture(scope="session")
def world_5k(tmp_path_factory) -> WorldRun:
    """`timbral run` of the 5k world (WORLD_5K), with the default settings; read-only: copy it to change it."""
    return _world_run(tmp_path_factory, "world5k", WORLD_5K)


@pytest.fixture(scope="session")
def world_20k(tmp_path_factory) -> WorldRun:
    """`timbral run --n-scrobbles 20000 --days 20`, with the default settings; read-only: copy it to change it."""
    return _world_run(tmp_path_factory, "world20k", WORLD_20K)


@contextlib.contextmanager
def home_instance(home: Path) -> Iterator:
    """The home's Dagster instance, as the CLI sets it up (the repo's dagster.yaml), whoever gets there first."""
    import dagster as dg

    from timbral_assets.cli import PACKAGE_DIR

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


def copy_home(home: Path, to: Path) -> Path:
    """A copy of a home to change: the warehouse, the embedding cache, the MLflow store (which settles its
    artifact paths into the copy on first use) and the Dagster instance (read through DAGSTER_HOME)."""
    shutil.copytree(home, to)
    return to


def assert_passes_its_own_checks(run: WorldRun) -> None:
    """The run ended well and no check failed; the false-merge ceiling was judged with its sample's size."""
    import dagster as dg

    assert run.code == 0, run.out
    assert "FAILED" not in run.out
    assert "no asset check failed" in run.out or "all asset checks passed" in run.out
    with home_instance(run.home) as instance:
        (execution,) = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("resolution_report"), "hard_negative_false_merges_ceiling"), limit=1)
    metadata = {k: v.value for k, v in execution.event.dagster_event.event_specific_data.metadata.items()}
    # judged with its sample's size: the rate's lower bound is what must clear the ceiling
    assert metadata["false_merge_rate_lower_bound"] <= metadata["ceiling"]
    assert metadata["hard_negative_pairs"] > 0 and metadata["false_merge_rate_lower_bound"] <= metadata["false_merge_rate"]


def wait_for_step_start(home: Path, step: str, process: subprocess.Popen, timeout: float = 240,
                         earlier_run: str | None = None) -> bool:
    """True once `step` has started in the home's newest run (not `earlier_run`); False if the run ended first."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with home_instance(home) as instance:
            runs = instance.get_runs(limit=1)
            if runs and runs[0].run_id != earlier_run:
                records = instance.get_records_for_run(
                    runs[0].run_id, of_type=dg.DagsterEventType.STEP_START).records
                if any(r.event_log_entry.step_key == step for r in records):
                    return True
        time.sleep(0.05)
    return False
