"""MLflow logging for every model and evaluation: one small wrapper so assets, CLI and benchmarks log alike."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def safe_key(name: str) -> str:
    """MLflow keys allow letters, digits, _ - . space : and /."""
    return re.sub(r"[^0-9A-Za-z_\-. :/]+", "_", name)[:250]


# where MLflow's sqlite store keeps absolute artifact locations
RELOCATED_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                     ("model_versions", "source"), ("model_versions", "storage_location"),
                     ("logged_models", "artifact_location"))
DEFAULT_UI_URL = os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000")  # `make mlflow`


class ModelVersion(NamedTuple):
    name: str
    version: int
    run_id: str


def _store_from_template(db: Path) -> None:
    """A new sqlite store as a copy of an empty one MLflow made once per machine and MLflow release: MLflow
    builds a store by running its ~60 schema migrations, 3 s here, for every new home. The copy's Default
    experiment is moved into the home by `settle_home`, as a moved home's would be."""
    import mlflow

    from .machine_cache import cache_root

    template = cache_root() / "mlflow" / f"empty-store-{mlflow.__version__}.db"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=template.parent) as tmp:
            made = Path(tmp) / "store.db"
            from mlflow.tracking import MlflowClient

            MlflowClient(f"sqlite:///{made}").search_experiments()  # creates and migrates it
            _publish(made, template)
    db.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
        copy = Path(tmp) / db.name
        shutil.copyfile(template, copy)
        _publish(copy, db)


def _publish(made: Path, target: Path) -> None:
    """`made` appears as `target` whole, and never replaces a `target` that another process published first."""
    try:
        os.link(made, target)
    except FileExistsError:
        pass


class Tracker:
    def __init__(self, tracking_uri: str, artifact_root: Path):
        self.tracking_uri = tracking_uri
        self.artifact_root = Path(artifact_root).resolve()
        self._settled = False

    @classmethod
    def for_home(cls, home: Path, tracking_uri: str | None = None) -> Tracker:
        """TIMBRAL_HOME/mlflow.db (sqlite) with artifacts in TIMBRAL_HOME/mlartifacts, unless a URI is given."""
        home = Path(home)
        return cls(tracking_uri or f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts")

    def _client(self):
        import mlflow

        db = self._sqlite_path()
        if db is not None and not db.exists():
            _store_from_template(db)
        mlflow.set_tracking_uri(self.tracking_uri)
        if self._store_exists():
            self._settle_once()
        return mlflow

    def _settle_once(self) -> None:
        if not self._settled:
            self._settled = True
            self.settle_home()

    def _sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.tracking_uri[len(prefix):]) if self.tracking_uri.startswith(prefix) else None

    def _store_exists(self) -> bool:
        """False only for a sqlite store not created yet; other stores are assumed to exist."""
        db = self._sqlite_path()
        return db is None or db.exists()

    def settle_home(self) -> int:
        """Point the store's artifact locations at this home's artifact folder. MLflow keeps absolute
        locations, so a home that was copied or moved would write into the old one; and MLflow puts its
        Default experiment at ./mlruns of whatever directory first opened the store. Returns how many
        locations were moved."""
        db = self._sqlite_path()
        if db is None or not db.exists():
            return 0
        root = self.artifact_root.as_uri()
        marker = "/" + self.artifact_root.name + "/"
        moved = 0
        with contextlib.closing(sqlite3.connect(db)) as con, con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "experiments" not in tables:
                return 0
            olds = {loc[:loc.index(marker) + len(marker) - 1] for (loc,) in con.execute(
                "SELECT artifact_location FROM experiments WHERE instr(artifact_location, ?) > 0", [marker])}
            for old in olds - {root}:
                for table, column in RELOCATED_COLUMNS:
                    if table in tables:
                        moved += con.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                                             f"WHERE substr({column}, 1, ?) = ?",
                                             [root, len(old) + 1, len(old), old]).rowcount
            moved += con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0 "
                                 "AND artifact_location <> ?", [f"{root}/Default", f"{root}/Default"]).rowcount
        return moved

    def _start_run(self, experiment: str, run_name: str, tags: dict[str, str] | None):
        mlflow = self._client()
        known = mlflow.get_experiment_by_name(experiment)  # opens (and on first use creates) the store
        self._settle_once()  # a store created just now: its Default experiment goes into the home
        if known is None:
            self.artifact_root.mkdir(parents=True, exist_ok=True)
            mlflow.create_experiment(experiment, artifact_location=(self.artifact_root / experiment).as_uri())
        mlflow.set_experiment(experiment)
        return mlflow.start_run(run_name=run_name, tags=tags or {})

    def log_run(self, experiment: str, run_name: str, params: dict, metrics: dict[str, float],
                json_artifacts: dict[str, object] | None = None, figures: dict[str, object] | None = None,
                tags: dict[str, str] | None = None, artifact_dirs: dict[str, Path] | None = None,
                metric_history: dict[str, list[float]] | None = None) -> str:
        """One finished run: parameters, metrics (and per-step histories such as a training loss), JSON
        artifacts, matplotlib figures and whole directories (a saved model); returns the run id."""
        with self._start_run(experiment, run_name, tags) as run:
            self._log_contents(params, metrics, json_artifacts, figures, artifact_dirs, metric_history)
            return run.info.run_id

    def log_model_version(self, experiment: str, model_name: str, python_model, artifacts: dict[str, Path],
                          params: dict, metrics: dict[str, float], tags: dict[str, str] | None = None,
                          json_artifacts: dict[str, object] | None = None,
                          figures: dict[str, object] | None = None) -> ModelVersion:
        """A training run that logs `python_model` (an mlflow.pyfunc.PythonModel whose files are
        `artifacts`) and registers it as the next version of `model_name`."""
        import mlflow.pyfunc

        with self._start_run(experiment, model_name, tags) as run:
            self._log_contents(params, metrics, json_artifacts, figures)
            info = mlflow.pyfunc.log_model(
                name=model_name, python_model=python_model, artifacts={k: str(v) for k, v in artifacts.items()},
                # the project's own environment: skip MLflow's slow requirement inference
                pip_requirements=["timbral-assets"], registered_model_name=model_name)
            return ModelVersion(model_name, int(info.registered_model_version), run.info.run_id)

    def registered_versions(self, model_name: str) -> list[int]:
        if not self._store_exists():
            return []  # no store yet: do not create one just to look
        found = self._client().MlflowClient().search_model_versions(f"name = '{model_name}'")
        return sorted(int(v.version) for v in found)

    def latest_version_tag(self, model_name: str, key: str) -> tuple[ModelVersion, str | None] | None:
        """The newest registered version of `model_name` and the value of run tag `key` on the run that
        logged it; None when no version is registered."""
        if not self._store_exists():
            return None
        client = self._client().MlflowClient()
        newest = max(client.search_model_versions(f"name = '{model_name}'"), key=lambda v: int(v.version), default=None)
        if newest is None:
            return None
        return ModelVersion(model_name, int(newest.version), newest.run_id), client.get_run(newest.run_id).data.tags.get(key)

    def model_file(self, model_name: str, version: str, artifact: str, into: Path) -> tuple[ModelVersion, Path]:
        """One artifact file of a registered version ("latest" or a number), downloaded into `into`.
        Raises LookupError naming the model when no such version is registered."""
        mlflow = self._client()
        client = mlflow.MlflowClient()
        found = client.search_model_versions(f"name = '{model_name}'")
        if version == "latest":
            chosen = max(found, key=lambda v: int(v.version), default=None)
        else:
            chosen = next((v for v in found if str(v.version) == str(version)), None)
        if chosen is None:
            known = ", ".join(sorted((str(v.version) for v in found), key=int)) or "none"
            raise LookupError(f"no version {version!r} of the registered model {model_name!r} in "
                              f"{self.tracking_uri} (registered versions: {known})")
        local = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{chosen.version}", dst_path=str(into)))
        return ModelVersion(model_name, int(chosen.version), chosen.run_id), local / "artifacts" / artifact

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """A run's metrics (the last value of each)."""
        return dict(self._client().MlflowClient().get_run(run_id).data.metrics)

    def run_json(self, run_id: str, name: str):
        """A JSON artifact of a run (`json_artifacts` of log_run / log_model_version), parsed."""
        mlflow = self._client()
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name, dst_path=tmp)
            return json.loads(Path(path).read_text())

    def run_url(self, run_id: str, ui_url: str = DEFAULT_UI_URL) -> str:
        """Where the MLflow UI (`make mlflow`) shows the run."""
        experiment_id = self._client().get_run(run_id).info.experiment_id
        return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def _log_contents(self, params: dict, metrics: dict[str, float], json_artifacts: dict[str, object] | None = None,
                      figures: dict[str, object] | None = None, artifact_dirs: dict[str, Path] | None = None,
                      metric_history: dict[str, list[float]] | None = None) -> None:
        import mlflow

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
