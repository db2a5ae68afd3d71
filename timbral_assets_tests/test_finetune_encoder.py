"""Fine-tuning the sentence encoder on a world's truth: real model, real training steps, real MLflow store."""

from __future__ import annotations

import numpy as np
import pytest

from timbral_assets.cli import main
from timbral_assets.resolution.embeddings import TextEncoder
from timbral_assets.resolution.encoders import PACKAGED_MODEL
from timbral_assets.resolution.finetune import evaluate_encoder, finetune_encoder, training_triplets


def _ranked_right(encoder: TextEncoder, triplets) -> float:
    anchors = encoder.encode([t.anchor for t in triplets])
    positives = encoder.encode([t.positive for t in triplets])
    negatives = encoder.encode([t.negative for t in triplets])
    return float(np.mean((anchors * positives).sum(1) > (anchors * negatives).sum(1)))


def test_triplets_hold_messy_positives_and_hard_negatives(tiny_world):
    triplets = training_triplets(tiny_world / "truth")
    assert len(triplets) > 300
    assert all(t.anchor != t.positive and t.anchor != t.negative for t in triplets)
    # live takes, remixes and covers are the hard negatives where the world has them
    assert any("(Live" in t.negative or "Remix" in t.negative for t in triplets)


def test_finetuning_learns_the_triplets_and_saves_a_loadable_model(tmp_path, tiny_world):
    triplets = [t for t in training_triplets(tiny_world / "truth", seed=1) if t.positive.isascii()][:96]
    base = _ranked_right(TextEncoder(PACKAGED_MODEL), triplets)  # the network fine-tuning starts from
    run = finetune_encoder(triplets, tmp_path / "model", epochs=3, batch_size=32, learning_rate=1e-4)
    assert run.steps == 9 and len(run.losses) == 9
    tuned = TextEncoder(str(run.output_dir))
    vectors = tuned.encode(["Radiohead - Karma Police"])
    assert vectors.shape == (1, 384) and np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-4)
    assert _ranked_right(tuned, triplets) >= base
    assert np.mean(run.losses[-3:]) < np.mean(run.losses[:3])


def test_cli_finetunes_compares_and_logs_to_mlflow(tmp_path, tiny_world, monkeypatch, capsys):
    import mlflow

    from timbral_assets.sources.synthetic import WorldConfig, generate_world

    monkeypatch.setenv("TIMBRAL_HOME", str(tmp_path / "home"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    eval_world = tmp_path / "eval_world"  # a small one: both encoders search all its canonical tracks
    generate_world(WorldConfig(seed=8, n_scrobbles=1500, days=5), eval_world)
    assert main(["finetune-encoder", "--world", str(tiny_world), "--eval-world", str(eval_world), "--output",
                 str(tmp_path / "tuned"), "--max-triplets", "32", "--max-queries", "200", "--mlflow-uri", uri]) == 0
    out = capsys.readouterr().out
    assert "base" in out and "finetuned" in out and "MLflow run" in out
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["encoder_finetuning"], output_format="list")
    assert len(runs) == 1
    metrics = runs[0].data.metrics
    assert 0 < metrics["base/recall_at_1"] <= 1 and 0 < metrics["finetuned/recall_at_1"] <= 1
    assert len(mlflow.MlflowClient().get_metric_history(runs[0].info.run_id, "train_loss")) == 1
    assert (tmp_path / "tuned" / "config.json").exists()


def test_cli_rejects_a_folder_without_truth(tmp_path, capsys):
    assert main(["finetune-encoder", "--world", str(tmp_path), "--output", str(tmp_path / "m")]) == 2
    assert "holds no world truth" in capsys.readouterr().err


def test_evaluation_scores_retrieval(tiny_world):
    scores = evaluate_encoder(TextEncoder(), tiny_world / "truth", max_queries=300)
    assert scores.queries == 300
    assert 0.5 < scores.recall_at_1 <= scores.recall_at_5 <= 1.0
    assert scores.recall_at_1_by_kind["case_punct"] > scores.recall_at_1_by_kind.get("other_script", 0.0)
