"""MLflow stores under TIMBRAL_HOME: a home can be copied or moved, and the Default experiment lives in it."""

from __future__ import annotations

import shutil

import mlflow
from mlflow.tracking import MlflowClient

from timbral_assets.resolution.matcher_model import ARTIFACT, MODEL_NAME, TrackMatcherModel
from timbral_assets.tracking import Tracker


def test_a_moved_home_writes_and_reads_its_own_artifacts(tmp_path):
    old, new = tmp_path / "old_home", tmp_path / "new_home"
    old.mkdir()
    model_file = tmp_path / ARTIFACT
    model_file.write_text('{"link_type": "dedupe_only"}')
    tracker = Tracker.for_home(old)
    first = tracker.log_run("experiment_a", "first", {"p": 1}, {"m": 1.0}, json_artifacts={"a.json": {"x": 1}})
    version = tracker.log_model_version("models", MODEL_NAME, TrackMatcherModel(), {ARTIFACT: model_file}, {}, {})
    client = MlflowClient(tracker.tracking_uri)
    assert client.get_experiment("0").artifact_location == (old / "mlartifacts" / "Default").as_uri()
    shutil.move(old, new)

    moved = Tracker.for_home(new)
    second = moved.log_run("experiment_a", "second", {"p": 2}, {"m": 2.0}, json_artifacts={"b.json": {"x": 2}})
    client = MlflowClient(moved.tracking_uri)
    for run_id in (first, second):
        assert client.get_run(run_id).info.artifact_uri.startswith((new / "mlartifacts").as_uri())
        assert client.list_artifacts(run_id)  # readable where they now are
    found, path = moved.model_file(MODEL_NAME, "latest", ARTIFACT, tmp_path / "download")
    assert found.version == version.version == 1 and path.read_text() == model_file.read_text()
    mlflow.set_tracking_uri(moved.tracking_uri)
    assert mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/1") is not None
    assert not old.exists()  # nothing was written into the old home
