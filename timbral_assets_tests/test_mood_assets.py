"""The mood model through real Dagster and a real MLflow store: training registers a version with its
evaluation, `timbral mood-predict` scores rows with it, the drift sensor and the quarterly schedule."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from timbral_assets.automation.schedules import quarterly_mood
from timbral_assets.automation.sensors import tag_drift_sensor
from timbral_assets.cli import main
from timbral_assets.definitions import all_assets, defs
from timbral_assets.mood import drift
from timbral_assets.mood.labels import MOOD_LABELS
from timbral_assets.mood.scoring import OUTPUT_COLUMNS
from timbral_assets.resolution.encoders import TEXT_ENCODER
from timbral_assets.resources import local_resources

TRAINING = ["raw_spotify_tracks", "raw_spotify_audio_features", "raw_artist_tags", "raw_aoty_albums",
            "raw_aoty_reviews", "stg_spotify_tracks", "stg_artist_tags", "stg_aoty_album_tracks", "mood_model"]
SMALL_MODEL = {"n_estimators": 40, "num_leaves": 15, "max_depth": 4, "n_folds": 3}


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory, tiny_world) -> Path:
    """A home whose MLflow store holds mood_model version 1, trained on the tiny world's Spotify file."""
    home = tmp_path_factory.mktemp("mood") / "home"
    pointer = home / "bucket" / "synthetic" / "current.json"
    pointer.parent.mkdir(parents=True)
    manifest = json.loads((tiny_world / "manifest.json").read_text())
    pointer.write_text(json.dumps({"folder": str(tiny_world), **manifest}))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(all_assets, selection=TRAINING, resources=local_resources(home), instance=instance,
                                run_config={"ops": {"mood_model": {"config": SMALL_MODEL}}})
    assert result.success
    home.joinpath("materialization.json").write_text(json.dumps(
        {k: v.value for k, v in result.asset_materializations_for_node("mood_model")[0].metadata.items()
         if isinstance(v.value, (int, float, str))}))
    home.joinpath("checks.json").write_text(json.dumps(
        {c.check_name: c.passed for c in result.get_asset_check_evaluations()}))
    return home


def test_training_registers_a_version_with_its_evaluation_in_mlflow(trained_home):
    from mlflow.tracking import MlflowClient

    metadata = json.loads((trained_home / "materialization.json").read_text())
    assert metadata["model_version"] == 1 and metadata["training_tracks"] > 1000
    assert "| energy | genre mean |" in metadata["evaluation"] and "| moods | majority |" in metadata["evaluation"]
    assert json.loads((trained_home / "checks.json").read_text())["mood_model_beats_baselines"]
    client = MlflowClient(f"sqlite:///{trained_home / 'mlflow.db'}")
    (version,) = client.search_model_versions("name = 'mood_model'")
    run = client.get_run(version.run_id)
    for key in ("energy/model/rmse", "energy/genre/rmse", "energy/constant/rmse", "valence/model/r2",
                "moods/model/micro_f1", "moods/majority/micro_f1", "moods/model/macro_f1"):
        assert key in run.data.metrics, key
    assert run.data.metrics["energy/model/rmse"] < run.data.metrics["energy/constant/rmse"]
    assert {a.path for a in client.list_artifacts(version.run_id)} >= {
        "evaluation.json", "feature_importances.json", "predicted_vs_true.png", "feature_importances.png"}
    assert run.data.params["encoder_model"] == TEXT_ENCODER
    con = duckdb.connect(str(trained_home / "warehouse.duckdb"), read_only=True)
    rows = con.execute("SELECT target, predictor FROM models.mood_model_evaluation WHERE model_version = 1").fetchall()
    con.close()
    assert ("energy", "model") in rows and ("moods", "majority") in rows and len(rows) == 8


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


INPUT = ["track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit", "track_genre",
         "energy"]
ROWS = [
    ["t1", "Sigur Rós", "Ágætis byrjun", "Svefn-g-englar", "61", "600000", "False", "post-rock", "0.3"],
    ["t2", "ビヨンセ;JAY-Z", "Беyoncé", "Drunk in Love (Remix)", "80", "323000", "True", "pop", "0.6"],
    ["t3", "Nobody Known", "", "Untitled", "abc", "", "maybe", "zydeco-metal", ""],  # unreadable values
    ["t1", "Sigur Rós", "Ágætis byrjun", "Svefn-g-englar", "61", "600000", "False", "post-rock", "0.3"],  # repeated
]


def _predict(home: Path, monkeypatch, tmp_path: Path, header, rows, *extra: str) -> tuple[int, list[dict]]:
    monkeypatch.setenv("TIMBRAL_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    source = _write(tmp_path / "tracks.csv", header, rows)
    out = tmp_path / "preds.csv"
    code = main(["mood-predict", "--input", str(source), "--output", str(out), *extra])
    return code, list(csv.DictReader(out.open(encoding="utf-8"))) if out.exists() else []


def test_mood_predict_gives_one_row_per_input_row(trained_home, monkeypatch, tmp_path, capsys):
    code, rows = _predict(trained_home, monkeypatch, tmp_path, INPUT, ROWS)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [r["track_id"] for r in rows] == ["t1", "t2", "t3", "t1"]
    assert list(rows[0]) == list(OUTPUT_COLUMNS) == ["track_id", "pred_energy", "pred_valence",
                                                      *(f"prob_{m}" for m in MOOD_LABELS)]
    for row in rows:
        assert all(0.0 <= float(row[c]) <= 1.0 for c in OUTPUT_COLUMNS[1:])
    assert rows[0] == rows[3]  # the same track, the same prediction
    assert rows[0]["pred_energy"] != rows[1]["pred_energy"]
    # unreadable values are named with their line and field, and their row is still predicted
    assert "line 4, field 'popularity'" in captured.err and "line 4, field 'explicit'" in captured.err
    assert "4 rows predicted by mood_model version 1" in captured.out
    assert "(1 from the genre prior, low confidence;" in captured.out  # t3: no popularity, no tags
    assert "3 with a genre the model never saw" in captured.out  # the tiny world's genres are its own


def test_mood_predict_missing_column_is_a_clear_error(trained_home, monkeypatch, tmp_path, capsys):
    header = [c for c in INPUT if c != "track_genre"]
    code, _ = _predict(trained_home, monkeypatch, tmp_path, header, [r[:7] + r[8:] for r in ROWS])
    err = capsys.readouterr().err
    assert code == 2 and "field 'track_genre'" in err and "required column is missing" in err
    assert not (tmp_path / "preds.csv").exists()


def test_mood_predict_empty_files_give_an_empty_output(trained_home, monkeypatch, tmp_path, capsys):
    code, rows = _predict(trained_home, monkeypatch, tmp_path, INPUT, [])
    assert code == 0 and rows == []
    assert (tmp_path / "preds.csv").read_text().splitlines() == [",".join(OUTPUT_COLUMNS)]
    (tmp_path / "empty.csv").write_bytes(b"")
    code = main(["mood-predict", "--input", str(tmp_path / "empty.csv"), "--output", str(tmp_path / "e.csv")])
    assert code == 0 and (tmp_path / "e.csv").read_text().splitlines() == [",".join(OUTPUT_COLUMNS)]
    assert "0 rows predicted" in capsys.readouterr().out


def test_mood_predict_names_the_versions_when_one_is_missing(trained_home, monkeypatch, tmp_path, capsys):
    code, _ = _predict(trained_home, monkeypatch, tmp_path, INPUT, ROWS, "--model-version", "7")
    err = capsys.readouterr().err
    assert code == 2 and "no version '7' of the registered model 'mood_model'" in err and "versions: 1" in err


def test_the_registered_version_predicts_on_its_own_as_the_cli_does(trained_home, monkeypatch, tmp_path):
    import mlflow.pyfunc
    import pandas as pd

    _, cli_rows = _predict(trained_home, monkeypatch, tmp_path, INPUT, ROWS)
    mlflow.set_tracking_uri(f"sqlite:///{trained_home / 'mlflow.db'}")
    frame = pd.DataFrame(ROWS, columns=INPUT)
    predicted = mlflow.pyfunc.load_model("models:/mood_model/1").predict(frame)
    assert predicted["track_id"].tolist() == ["t1", "t2", "t3", "t1"]
    assert predicted["pred_energy"].round(6).tolist() == [float(r["pred_energy"]) for r in cli_rows]


def _report(instance: dg.DagsterInstance, asset: str, key: str, shares: dict[str, float]) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=asset, metadata={key: dg.MetadataValue.json(shares)}))


def test_drift_sensor_fires_on_a_shifted_distribution_and_not_on_an_unchanged_one():
    trained = drift.top_k_shares({"rock": 50, "indie": 30, "jazz": 15, "ambient": 5})
    with dg.DagsterInstance.ephemeral() as instance:
        assert isinstance(tag_drift_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)
        _report(instance, "mood_model", "training_tag_shares", trained)
        # unchanged (re-aggregated, a little noise): quiet
        _report(instance, "tag_distribution", "top_tag_shares",
                drift.top_k_shares({"rock": 51, "indie": 30, "jazz": 15, "ambient": 5}))
        context = dg.build_sensor_context(instance=instance)
        quiet = tag_drift_sensor(context)
        assert isinstance(quiet, dg.SkipReason) and "within 5%" in quiet.skip_message
        cursor = json.loads(context.cursor)
        assert cursor["distance"] < drift.DRIFT_THRESHOLD
        # the same pair again: not even compared
        again = tag_drift_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert isinstance(again, dg.SkipReason) and "since the last comparison" in again.skip_message
        # the listening moved to jazz and k-pop: a retrain
        _report(instance, "tag_distribution", "top_tag_shares",
                drift.top_k_shares({"rock": 30, "indie": 20, "jazz": 30, "k-pop": 20}))
        context = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        fired = tag_drift_sensor(context)
        assert isinstance(fired, dg.RunRequest) and float(fired.tags["timbral/tag_distance"]) > 0.05
        assert json.loads(context.cursor)["distance"] > drift.DRIFT_THRESHOLD
        assert fired.run_key.startswith("tag-drift-")
        # a retraining records the new distribution: quiet again
        _report(instance, "mood_model", "training_tag_shares",
                drift.top_k_shares({"rock": 30, "indie": 20, "jazz": 30, "k-pop": 20}))
        settled = tag_drift_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert isinstance(settled, dg.SkipReason) and "distance 0.0000" in settled.skip_message


def test_quarterly_schedule_and_the_sensor_retrain_and_rescore():
    assert quarterly_mood.cron_schedule == "0 4 1 1,4,7,10 *"
    job = defs.resolve_job_def(quarterly_mood.job_name)
    assert job is defs.resolve_job_def(tag_drift_sensor.job_name)
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert selected == {"tag_distribution", "mood_model", "track_mood_pred"}
    request = quarterly_mood.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=None))
    assert request.run_requests and request.run_requests[0].job_name in (None, job.name)
    for name in ("daily_ingest", "first_import"):  # an imported history may hold no Spotify tracks to learn from
        daily = {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys}
        assert not {"mood_model", "track_mood_pred"} & daily and {"track_text_embedding", "tag_distribution"} <= daily


def test_text_embedding_is_cached_by_content_and_shared_with_the_resolver(trained_home):
    """The training asset encoded the training texts into the home's one embedding cache."""
    con = duckdb.connect(str(trained_home / "embeddings.duckdb"), read_only=True)
    (n, models) = con.execute("SELECT count(*), list(DISTINCT model) FROM embeddings").fetchall()[0]
    con.close()
    assert n > 1000 and models == [TEXT_ENCODER]
    copy = trained_home.parent / "copy"
    shutil.copytree(trained_home, copy)
    with dg.DagsterInstance.ephemeral() as instance:  # retraining: every text is in the cache
        result = dg.materialize(all_assets, selection=["mood_model"], resources=local_resources(copy),
                                instance=instance, run_config={"ops": {"mood_model": {"config": SMALL_MODEL}}})
    metadata = result.asset_materializations_for_node("mood_model")[0].metadata
    assert metadata["texts_encoded"].value == 0 and metadata["texts_from_cache"].value > 1000
    # the same input and settings: the same seeded model, so version 1 is kept, with its evaluation
    assert metadata["model_version"].value == 1 and "version 1" in metadata["unchanged"].value
    assert "| energy | model |" in metadata["evaluation"].value
    assert {c.check_name for c in result.get_asset_check_evaluations()} == {
        "mood_model_beats_baselines", "mood_model_design_targets"}
    with dg.DagsterInstance.ephemeral() as instance:  # unless a new version is asked for
        result = dg.materialize(all_assets, selection=["mood_model"], resources=local_resources(copy), instance=instance,
                                run_config={"ops": {"mood_model": {"config": {**SMALL_MODEL, "retrain_unchanged": True}}}})
    assert result.asset_materializations_for_node("mood_model")[0].metadata["model_version"].value == 2


def test_a_configured_spotify_file_is_the_labelled_set(trained_home, tiny_world, tmp_path):
    """spotify_file: learn from a Spotify Tracks CSV (as ../shared/data/spotify_tracks) rather than the
    warehouse's Spotify tracks; a file that is not there fails clearly."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    rows = (tiny_world / "spotify" / "tracks.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    sample = tmp_path / "spotify_sample.csv"
    sample.write_text("".join(rows[:1201]), encoding="utf-8")
    config = {**SMALL_MODEL, "spotify_file": str(sample), "use_text_embedding": False}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(all_assets, selection=["mood_model"], resources=local_resources(home),
                                instance=instance, run_config={"ops": {"mood_model": {"config": config}}})
        metadata = result.asset_materializations_for_node("mood_model")[0].metadata
        assert metadata["training_tracks"].value == 1200 and metadata["features"].value == "metadata"
        assert metadata["model_version"].value == 2
        missing = dg.materialize(all_assets, selection=["mood_model"], resources=local_resources(home),
                                 instance=instance, raise_on_error=False, run_config={"ops": {"mood_model": {
                                     "config": {**config, "spotify_file": str(tmp_path / "nowhere.csv")}}}})
    assert not missing.success
    failure = [e for e in missing.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "cannot read spotify_file" in failure.event_specific_data.error.message
