"""Where benchmark scripts keep their figures: one markdown file per script, newest run appended."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def append_results(name: str, lines: list[str]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def log_evaluation(run_name: str, params: dict, metrics: dict[str, float], json_artifacts: dict | None = None) -> str:
    """Every benchmark evaluation also goes to the benchmarks' MLflow store (experiment `benchmarks`)."""
    from timbral_assets.tracking import Tracker

    out = Path(__file__).resolve().parent / "out"
    return Tracker(f"sqlite:///{out / 'mlflow.db'}", out / "mlruns").log_run(
        "benchmarks", run_name, params, metrics, json_artifacts=json_artifacts)
