"""iTunes-Amazon (Magellan, Structured and Dirty), from the train and valid splits only.

One pair model serves both versions: `timbral match-pairs` does not know which version it is given.
  1. valid F1: trained on the union of both train splits, its threshold tuned on the union of both valid
     splits; the unsupervised splink model alongside;
  2. 5-fold cross-validation over train + valid, the folds grouped by pair (the two versions list the
     same pairs, so a pair's structured row never trains the model that scores its dirty row), repeated
     with 5 seeds: F1 at fixed thresholds from out-of-fold scores, and the threshold chosen on them;
     once more with a dirtied copy of each training pair (Ditto-style augmentation) for comparison;
  3. --save-default: the packaged model of `timbral match-pairs`, trained on train + valid of both
     versions with the cross-validated threshold.

    python bench/eval_itunes_amazon.py [--save-default] [--mlflow-uri URI]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, out_dir  # noqa: E402
from timbral_assets.resolution.benchmarks import magellan_pair_rows  # noqa: E402
from timbral_assets.resolution.metrics import pair_label_scores  # noqa: E402
from timbral_assets.resolution.pair_matching import (  # noqa: E402
    DEFAULT_PAIR_MODEL,
    best_threshold,
    score_pairs,
    train_pair_model,
)
from timbral_assets.tracking import Tracker  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "itunes_amazon"
VERSIONS = ("structured", "dirty")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--save-default", action="store_true")
    parser.add_argument("--cv-seeds", type=int, default=5, help="repeats of the 5-fold cross-validation")
    parser.add_argument("--mlflow-uri", default=f"sqlite:///{(out_dir() / 'mlflow.db').resolve()}")
    args = parser.parse_args()
    split = {(v, s): magellan_pair_rows(DATA / f"{v}_{s}.txt") for v in VERSIONS for s in ("train", "valid")}
    started = time.perf_counter()
    model = train_pair_model([r for v in VERSIONS for r in split[v, "train"]],
                             [r for v in VERSIONS for r in split[v, "valid"]],
                             metadata={"trained_on": "iTunes-Amazon structured+dirty train (Magellan/Ditto)"})
    train_s = time.perf_counter() - started
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} (commit {_commit()})",
             f"pair model: threshold {model.threshold:.2f} tuned on valid, trained in {train_s:.1f} s "
             f"on {model.metadata['train_pairs']} pairs", "",
             "| version | model | valid P | valid R | valid F1 |", "|---|---|---|---|---|"]
    metrics = {"threshold": model.threshold}
    for version in VERSIONS:
        rows = split[version, "valid"]
        labels = [int(r["label"]) for r in rows]
        for name, probabilities, threshold in (("pair model (LightGBM)", score_pairs(rows, model), model.threshold),
                                               ("splink, unsupervised", score_pairs(rows, None), 0.5)):
            scores = pair_label_scores([int(p >= threshold) for p in probabilities], labels)
            lines.append(f"| {version} | {name} | {scores.precision:.4f} | {scores.recall:.4f} | {scores.f1:.4f} |")
            key = "pair_model" if name.startswith("pair") else "splink"
            metrics.update({f"{version}_{key}_valid_precision": scores.precision,
                            f"{version}_{key}_valid_recall": scores.recall, f"{version}_{key}_valid_f1": scores.f1})
    pairs = {v: split[v, "train"] + split[v, "valid"] for v in VERSIONS}
    cv_threshold, cv_lines, cv_metrics = cross_validate(pairs, seeds=args.cv_seeds)
    lines += cv_lines
    metrics.update(cv_metrics)
    _, augmented_lines, augmented_metrics = cross_validate(pairs, seeds=args.cv_seeds, augment=True)
    lines += augmented_lines
    metrics.update({f"augmented_{k}": v for k, v in augmented_metrics.items()})
    print("\n".join(lines))
    print(f"results appended to {append_results('itunes_amazon', lines)}")
    out_dir().mkdir(parents=True, exist_ok=True)
    run_id = Tracker(args.mlflow_uri, out_dir() / "mlruns").log_run(
        "pair_matching", "itunes_amazon", {"model": "lightgbm", **model.metadata}, metrics,
        json_artifacts={"pair_model.json": model.to_json()})
    print(f"MLflow run {run_id} at {args.mlflow_uri}")
    if args.save_default:
        final = train_pair_model([r for v in VERSIONS for r in pairs[v]],
                                 metadata={"trained_on": "iTunes-Amazon structured+dirty train+valid (Magellan/Ditto)",
                                           "threshold_from": "5-fold grouped cross-validation over train+valid",
                                           **{k: round(v, 4) for k, v in cv_metrics.items()}})
        final.threshold = cv_threshold
        final.save(DEFAULT_PAIR_MODEL)
        print(f"saved the default pair model (threshold {cv_threshold:.2f}) -> {DEFAULT_PAIR_MODEL}")


def cross_validate(pairs: dict[str, list[dict[str, str]]], folds: int = 5, seeds: int = 5, augment: bool = False,
                   thresholds: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)) -> tuple[float, list[str], dict]:
    """Out-of-fold scores of every pair, folds grouped by pair across the versions; the threshold is the
    one `best_threshold` picks on all out-of-fold scores of both versions."""
    count = len(pairs[VERSIONS[0]])
    labels = [int(r["label"]) for r in pairs[VERSIONS[0]]]
    f1_at: dict[str, list[list[float]]] = {v: [] for v in VERSIONS}
    all_scores, all_labels = [], []
    for seed in range(seeds):
        fold = [i % folds for i in range(count)]
        random.Random(seed).shuffle(fold)
        scores = {v: [0.0] * count for v in VERSIONS}
        for k in range(folds):
            model = train_pair_model([pairs[v][i] for v in VERSIONS for i in range(count) if fold[i] != k],
                                     augment=augment, seed=seed)
            held_out = [i for i in range(count) if fold[i] == k]
            for v in VERSIONS:
                for i, p in zip(held_out, model.predict([pairs[v][i] for i in held_out]), strict=True):
                    scores[v][i] = p
        for v in VERSIONS:
            f1_at[v].append([pair_label_scores([int(p >= t) for p in scores[v]], labels).f1 for t in thresholds])
            all_scores += scores[v]
            all_labels += labels
    threshold, _ = best_threshold(all_labels, all_scores)
    lines = ["", f"cross-validation over train + valid{' with a dirtied copy of each training pair' if augment else ''} "
                 f"({count} pairs per version, {sum(labels)} matches; {folds} folds grouped by pair, {seeds} seeds): "
                 f"out-of-fold F1 by threshold; chosen threshold {threshold:.2f}", "",
             "| version | " + " | ".join(f"F1 at {t}" for t in thresholds) + " |", "|---|" + "---|" * len(thresholds)]
    metrics = {"cv_threshold": threshold}
    for v in VERSIONS:
        means = [sum(run[j] for run in f1_at[v]) / seeds for j in range(len(thresholds))]
        lines.append(f"| {v} | " + " | ".join(f"{m:.4f}" for m in means) + " |")
        metrics.update({f"{v}_cv_f1_at_{t}": m for t, m in zip(thresholds, means, strict=True)})
    return threshold, lines, metrics


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
