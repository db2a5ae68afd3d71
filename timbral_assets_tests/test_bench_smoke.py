"""Every bench/ script runs its smallest case to the end, so that a benchmark cannot rot unseen.

The figures of these tiny cases mean nothing; the scripts write them, and their MLflow runs, into a
temporary folder (TIMBRAL_BENCH_RESULTS, TIMBRAL_BENCH_OUT) instead of bench/results. Scripts that read a
real data set skip when ../shared/data lacks it. The cases take about 4 minutes together on two workers, so
they run as their own step (`make bench-smoke`, which CI runs after `make test`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SHARED_DATA

pytestmark = pytest.mark.bench_smoke
REPO = Path(__file__).resolve().parents[1]

# script -> (smallest-case arguments, data sets it reads under ../shared/data)
SMALLEST_CASES: dict[str, tuple[list[str], list[str]]] = {
    "generate.py": (["--scales", "5000", "--workdir", "{tmp}/generate"], []),
    "ingest.py": (["--scales", "5000", "--repeat", "1", "--workdir", "{tmp}/ingest"], []),
    "resolution.py": (["--scrobbles-per-day", "300"], []),
    "rules_tier.py": (["--n-scrobbles", "3000"], []),
    "import_history.py": (["--cases", "synthetic_20y", "--scrobbles", "1000", "--years", "1"], []),
    "eval_synthetic.py": (["--seeds", "101", "--scrobbles", "3000", "--mlflow-uri", "{mlflow}"], []),
    "eval_context_head.py": (["--train-seed", "7", "--eval-seeds", "101", "--scrobbles", "3000",
                              "--mlflow-uri", "{mlflow}"], []),
    "eval_encoder.py": (["--train-seed", "7", "--eval-seeds", "101", "--scrobbles", "1000", "--epochs", "1",
                         "--max-triplets", "64", "--max-queries", "100", "--output", "{tmp}/encoder",
                         "--mlflow-uri", "{mlflow}"], []),
    "eval_musicbrainz.py": (["--max-records", "4000"], ["musicbrainz_20k"]),
    "eval_freedb.py": ([], ["cddb_freedb"]),
    "mood.py": (["--limit", "2000", "--folds", "3", "--trees", "40"], ["spotify_tracks"]),
    "eval_itunes_amazon.py": (["--mlflow-uri", "{mlflow}", "--cv-seeds", "1"], ["itunes_amazon"]),
    "eval_audioscrobbler.py": (["--sample", "5"], ["audioscrobbler_small"]),
    "recommend.py": (["--splits", "1", "--skip-scale"], ["hetrec_lastfm_2k"]),
    "recommend_world.py": (["--scrobbles", "100000"], []),
    "enrichment.py": (["--n-scrobbles", "2500", "--interval", "0.002", "--queue-size", "10000"], []),
    "audit_real_merges.py": (["--exports", "sachawheeler_scrobbles_with_mbids.csv"], ["lastfm_scrobble_exports"]),
    # the static encoder alone: the int8 network runs in every `timbral run` and in test_encoders.py
    "encoders.py": (["--candidates", "static", "--world-scrobbles", "2000", "--eval-scrobbles", "2000",
                     "--mb-records", "1500"], []),
    "world_sizes.py": (["--sizes", "5000"], []),
}
NOT_SCRIPTS = {"results_file.py", "splink_baseline.py"}  # helpers the scripts import


def test_every_bench_script_has_a_smallest_case():
    scripts = {p.name for p in (REPO / "bench").glob("*.py")} - NOT_SCRIPTS
    assert scripts == set(SMALLEST_CASES)


@pytest.mark.parametrize("script", sorted(SMALLEST_CASES))
def test_bench_script_runs_its_smallest_case(script, tmp_path):
    arguments, data_sets = SMALLEST_CASES[script]
    missing = [d for d in data_sets if not (SHARED_DATA / d).exists()]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} under {SHARED_DATA}")
    results, out = tmp_path / "results", tmp_path / "out"
    env = {**os.environ, "TIMBRAL_BENCH_RESULTS": str(results), "TIMBRAL_BENCH_OUT": str(out),
           "TIMBRAL_HOME": str(tmp_path / "home")}
    args = [a.format(tmp=tmp_path, mlflow=f"sqlite:///{tmp_path / 'mlflow.db'}") for a in arguments]
    done = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = list(results.glob("*.md"))
    assert written, f"{script} wrote no results:\n{done.stdout[-2000:]}"
    assert written[0].read_text().strip()
