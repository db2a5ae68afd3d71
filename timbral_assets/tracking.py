"""MLflow logging for every model and evaluation: one small wrapper so assets, CLI and benchmarks log alike."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def safe_key(name: str) -> str:
    """MLflow keys allow letters, digits, _ - . space : and /."""
    return re.sub(r"[^0-9A-Za-z_\-. :/]+", "_", name)[:250]


class Tracker:
    def __init__(self, tracking_uri: str, artifact_root: Path):
        self.tracking_uri = tracking_uri
        self.artifact_root = Path(artifact_root).resolve()

    @classmethod
    def for_home(cls, home: Path, tracking_uri: str | None = None) -> Tracker:
        """TIMBRAL_HOME/mlflow.db (sqlite) with artifacts in TIMBRAL_HOME/mlartifacts, unless a URI is given."""
        home = Path(home)
        return cls(tracking_uri or f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts")

    def _client(self):
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        return mlflow

    def log_run(self, experiment: str, run_name: str, params: dict, metrics: dict[str, float],
                json_artifacts: dict[str, object] | None = None, figures: dict[str, object] | None = None,
                tags: dict[str, str] | None = None, artifact_dirs: dict[str, Path] | None = None,
                metric_history: dict[str, list[float]] | None = None) -> str:
        """One finished run: parameters, metrics (and per-step histories such as a training loss), JSON
        artifacts, matplotlib figures and whole directories (a saved model); returns the run id."""
        mlflow = self._client()
        if mlflow.get_experiment_by_name(experiment) is None:
            self.artifact_root.mkdir(parents=True, exist_ok=True)
            mlflow.create_experiment(experiment, artifact_location=(self.artifact_root / experiment).as_uri())
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=run_name, tags=tags or {}) as run:
            mlflow.log_params({safe_key(k): str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics({safe_key(k): float(v) for k, v in metrics.items() if v is not None})
            with tempfile.TemporaryDirectory() as tmp:
                for name, value in (json_artifacts or {}).items():
                    path = Path(tmp) / name
                    path.write_text(json.dumps(value, indent=1, default=str))
                    mlflow.log_artifact(str(path))
                for name, figure in (figures or {}).items():
                    mlflow.log_figure(figure, name)
            for name, directory in (artifact_dirs or {}).items():
                mlflow.log_artifacts(str(directory), artifact_path=name)
            for name, values in (metric_history or {}).items():
                for step, value in enumerate(values):
                    mlflow.log_metric(safe_key(name), float(value), step=step)
            return run.info.run_id
