"""Where benchmark scripts keep their figures: one markdown file per script, newest run appended.

TIMBRAL_BENCH_RESULTS and TIMBRAL_BENCH_OUT move the results and the benchmarks' MLflow store elsewhere
(the smoke test runs every script's smallest case into a temporary folder).
"""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def results_dir() -> Path:
    return Path(os.environ.get("TIMBRAL_BENCH_RESULTS") or HERE / "results")


def out_dir() -> Path:
    return Path(os.environ.get("TIMBRAL_BENCH_OUT") or HERE / "out")


def append_results(name: str, lines: list[str]) -> Path:
    results = results_dir()
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.md"
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def log_evaluation(run_name: str, params: dict, metrics: dict[str, float], json_artifacts: dict | None = None) -> str:
    """Every benchmark evaluation also goes to the benchmarks' MLflow store (experiment `benchmarks`)."""
    from timbral_assets.tracking import Tracker

    out = out_dir()
    return Tracker(f"sqlite:///{out / 'mlflow.db'}", out / "mlruns").log_run(
        "benchmarks", run_name, params, metrics, json_artifacts=json_artifacts)
