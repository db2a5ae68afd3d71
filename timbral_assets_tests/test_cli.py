"""`timbral run` end to end: the whole graph on a small synthetic world, recorded in a real Dagster instance."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import duckdb

from timbral_assets.cli import main


def test_run_materializes_everything_and_prints_the_summary(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("TIMBRAL_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    code = main(["run", "--n-scrobbles", "4000", "--days", "10", "--start-date", "2025-02-01", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    # the mood model's design targets warn on synthetic data (energy is drawn from the genre alone)
    assert "no asset check failed; 1 warned: mood_model:mood_model_design_targets" in out
    assert "scrobbles mapped to a canonical track" in out and "canonical catalog: " in out
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    raw, mapped, tracks, features = con.execute("""
        SELECT (SELECT count(*) FROM raw.raw_scrobbles), (SELECT count(*) FROM intermediate.int_scrobble_tracks),
               (SELECT count(*) FROM marts.tracks_core), (SELECT count(*) FROM marts.track_feature_view)""").fetchall()[0]
    # every canonical track has a text embedding and a mood prediction by the registered version
    embedded, scored, versions, low, in_range = con.execute("""
        SELECT (SELECT count(*) FROM features.track_text_embedding), count(*), list(DISTINCT model_version),
               count(*) FILTER (WHERE low_confidence),
               bool_and(pred_energy BETWEEN 0 AND 1 AND prob_sad BETWEEN 0 AND 1 AND confidence BETWEEN 0 AND 1)
        FROM features.track_mood_pred""").fetchall()[0]
    flagged, unidentified = con.execute("""
        SELECT (SELECT count(*) FROM staging.stg_scrobbles s JOIN resolution.variants v
                  ON v.artist_raw = s.artist_raw AND v.track_raw = s.track_raw
                JOIN resolution.entity_clusters c USING (variant_id) WHERE c.quality IN ('low', 'none')),
               (SELECT count(*) FROM staging.stg_scrobbles WHERE is_unidentified)""").fetchall()[0]
    con.close()
    # every identifiable play is mapped, except those whose mapping is only low quality (kept, flagged)
    assert mapped + flagged + unidentified == raw and flagged < 0.05 * raw
    assert raw > 3000 and tracks == features > 100
    assert embedded == scored == tracks and versions == [1] and in_range and low < tracks
    with dg.DagsterInstance.get() as instance:  # the run is in the instance the UI reads
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].job_name == "timbral_main" and runs[0].is_success
        assert len(instance.get_materialized_partitions(dg.AssetKey("raw_scrobbles"))) == 10
    # the match model was trained by its asset, logged to the MLflow store under TIMBRAL_HOME and registered;
    # the scoring asset names the version it loaded, and the runs link both ways
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("entity_resolution")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["training_variants"] > 0 and any(k.startswith("m_u/title/") for k in run.data.params)
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"m_u.json", "match_weights.png"}
    (version,) = client.search_model_versions("name = 'track_matcher'")
    assert int(version.version) == 1 and version.run_id == run.info.run_id
    with dg.DagsterInstance.get() as instance:
        trained = instance.get_latest_materialization_event(dg.AssetKey("track_matcher_model"))
        scored = instance.get_latest_materialization_event(dg.AssetKey("entity_match_scores"))
        mood_trained = instance.get_latest_materialization_event(dg.AssetKey("mood_model"))
        mood_scored = instance.get_latest_materialization_event(dg.AssetKey("track_mood_pred"))
        dagster_run = instance.get_runs()[0].run_id
    # the mood model follows the same pattern: registered by its training asset, named by its scoring asset
    (mood_version,) = client.search_model_versions("name = 'mood_model'")
    assert int(mood_version.version) == 1
    assert mood_trained.asset_materialization.metadata["model_version"].value == 1
    assert mood_scored.asset_materialization.metadata["model"].value == "mood_model version 1"
    assert "| energy | model |" in mood_trained.asset_materialization.metadata["evaluation"].value
    assert trained.asset_materialization.metadata["model_version"].value == 1
    assert run.info.run_id in trained.asset_materialization.metadata["mlflow_run"].value
    assert scored.asset_materialization.metadata["model_version"].value == 1
    assert run.data.tags["dagster/run_id"] == dagster_run and run.data.tags["dagster/asset_key"] == "track_matcher_model"
    import mlflow.pyfunc  # the registered version is a usable model on its own

    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    probabilities = mlflow.pyfunc.load_model("models:/track_matcher/1").predict([
        {"left_title": "Karma Police", "left_artist": "Radiohead", "left_album": "", "left_duration_s": "264",
         "left_released": "", "right_title": "Karma Police", "right_artist": "Radiohed", "right_album": "",
         "right_duration_s": "263", "right_released": ""}])
    assert len(probabilities) == 1 and 0.0 <= probabilities[0] <= 1.0
    # the resolution report scored the catalog against the world's truth, in Dagster metadata and in MLflow
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("resolution_report"))
        metadata = event.asset_materialization.metadata
    assert metadata["variants_evaluated"].value > 500
    assert 0.0 < metadata["track_f1"].value <= 1.0 and "variant kind: typo" in metadata["report"].value
    assert 0.0 <= metadata["hard_negative_false_merge_rate"].value <= 1.0
    evaluation = client.get_experiment_by_name("resolution_evaluation")
    (report_run,) = client.search_runs([evaluation.experiment_id])
    assert abs(report_run.data.metrics["track_f1"] - metadata["track_f1"].value) < 1e-4
    _check_recommender(home, client)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    ids_before = dict(con.execute("SELECT variant_id, track_id FROM resolution.entity_clusters").fetchall())
    con.close()
    # a second run reuses the generated world and replaces the same partitions: the same rows, the same ids
    assert main(["run", "--n-scrobbles", "4000", "--days", "10", "--start-date", "2025-02-01", "--seed", "3"]) == 0
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.raw_scrobbles").fetchall()[0][0] == raw
    ids_after = dict(con.execute("SELECT variant_id, track_id FROM resolution.entity_clusters").fetchall())
    con.close()
    assert ids_after == ids_before


def test_generate_writes_a_world(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "w"), "--n-scrobbles", "2000", "--days", "5"]) == 0
    assert (tmp_path / "w" / "manifest.json").exists()
    assert "scrobbles" in capsys.readouterr().out


def _check_recommender(home, client) -> None:
    """The nightly chain ran inside timbral run: registered versions, named by the scoring assets, lists that
    respect the post-filters, and the evaluation table with its check."""
    assert [int(v.version) for v in client.search_model_versions("name = 'als_model'")] == [1]
    assert [int(v.version) for v in client.search_model_versions("name = 'track_vector_index'")] == [1]
    with dg.DagsterInstance.get() as instance:
        recs = instance.get_latest_materialization_event(dg.AssetKey("recs_for_you")).asset_materialization.metadata
        factors = instance.get_latest_materialization_event(dg.AssetKey("als_item_factors")).asset_materialization
        evaluated = instance.get_latest_materialization_event(dg.AssetKey("eval_metrics")).asset_materialization
    assert recs["als_model"].value == "als_model version 1" and factors.metadata["model_version"].value == 1
    assert "| world_last_days | hybrid |" in evaluated.metadata["comparison"].value
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    per_user, recent_repeats, over_cap = con.execute("""
        WITH r AS (SELECT r.*, t.artist_id FROM recs.recs_for_you r JOIN marts.tracks_core t USING (track_id)),
             newest AS (SELECT max(last_played_at) AS t FROM features.user_item_interactions)
        SELECT (SELECT max(n) FROM (SELECT count(*) AS n FROM r GROUP BY user_id)),
               (SELECT count(*) FROM r JOIN features.user_item_interactions i USING (user_id, track_id), newest
                WHERE i.last_played_at >= newest.t - INTERVAL 60 DAY),
               (SELECT count(*) FROM r a JOIN r b ON a.user_id = b.user_id AND a.artist_id = b.artist_id
                  AND b.rank BETWEEN a.rank AND a.rank + 9
                GROUP BY a.user_id, a.rank HAVING count(*) > 2 LIMIT 1)""").fetchone()
    models = {m for (m,) in con.execute("SELECT DISTINCT model FROM evaluation.eval_metrics").fetchall()}
    vectors, dims = con.execute("SELECT count(*), max(len(vector)) FROM features.track_vector").fetchone()
    tracks = con.execute("SELECT count(*) FROM marts.tracks_core").fetchone()[0]
    con.close()
    assert per_user == 100 and recent_repeats == 0 and over_cap is None
    assert models == {"popularity", "item_knn", "als", "coplay", "content", "hybrid"}
    assert vectors == tracks and 1 < dims <= 256
    _check_feedback_and_cold_start(home)


def _check_feedback_and_cold_start(home) -> None:
    """Do-not-recommend entries (active and expired) and onboarding answers, then recs_for_you again."""
    from timbral_assets.assets.recs import recs_for_you
    from timbral_assets.resources import local_resources

    con = duckdb.connect(str(home / "warehouse.duckdb"))
    user, first, second = con.execute("SELECT user_id, list(track_id ORDER BY rank)[1], list(track_id ORDER BY "
                                      "rank)[2] FROM recs.recs_for_you GROUP BY user_id ORDER BY user_id LIMIT 1"
                                      ).fetchone()
    newest = con.execute("SELECT max(last_played_at) FROM features.user_item_interactions").fetchone()[0]
    genre = con.execute("SELECT tag FROM marts.track_tags GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 1").fetchone()[0]
    seed = con.execute("SELECT track_id FROM marts.tracks_core ORDER BY play_count DESC, track_id LIMIT 1").fetchone()[0]
    con.executemany("INSERT INTO recs.feedback VALUES (?, ?, 'do_not_recommend', ?, ?)", [
        (user, first, newest, newest + timedelta(days=30)), (user, second, newest, newest - timedelta(days=1))])
    con.executemany("INSERT INTO recs.onboarding VALUES (?, ?, ?, ?)", [
        ("new_seeds", seed, None, newest), ("new_genre", None, genre, newest)])
    con.close()
    assert dg.materialize([recs_for_you], resources=local_resources(home)).success
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    listed = [t for (t,) in con.execute("SELECT track_id FROM recs.recs_for_you WHERE user_id = ? ORDER BY rank",
                                        [user]).fetchall()]
    sources = dict(con.execute("SELECT user_id, any_value(source) FROM recs.recs_for_you WHERE user_id LIKE 'new_%' "
                               "GROUP BY 1").fetchall())
    genre_share = con.execute("SELECT avg((r.track_id IN (SELECT track_id FROM marts.track_tags WHERE tag = ?))::INT) "
                              "FROM recs.recs_for_you r WHERE user_id = 'new_genre' AND rank <= 10", [genre]).fetchone()[0]
    seeded = con.execute("SELECT count(*) FROM recs.recs_for_you WHERE user_id = 'new_seeds' AND track_id = ?",
                         [seed]).fetchone()[0]
    con.close()
    assert first not in listed and second in listed  # the active entry hides a track; the expired one no longer
    assert sources == {"new_seeds": "cold_start:seeds", "new_genre": "cold_start:genres"}
    assert genre_share == 1.0 and seeded == 0  # the genre's tracks lead; a seed is never recommended back
