"""iTunes-Amazon (Magellan, Structured and Dirty): train on train, tune the threshold on valid, report valid F1.

One pair model serves both versions: it is trained on the union of both train splits and its threshold
is tuned on the union of both valid splits, since `timbral match-pairs` does not know which version it
is given. The unsupervised splink model is scored alongside as the baseline.

    python bench/eval_itunes_amazon.py [--save-default] [--mlflow-uri URI]

--save-default writes the trained model as the packaged default of `timbral match-pairs`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, out_dir  # noqa: E402
from timbral_assets.resolution.benchmarks import magellan_pair_rows  # noqa: E402
from timbral_assets.resolution.metrics import pair_label_scores  # noqa: E402
from timbral_assets.resolution.pair_matching import DEFAULT_PAIR_MODEL, score_pairs, train_pair_model  # noqa: E402
from timbral_assets.tracking import Tracker  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "itunes_amazon"
VERSIONS = ("structured", "dirty")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--save-default", action="store_true")
    parser.add_argument("--mlflow-uri", default=f"sqlite:///{(out_dir() / 'mlflow.db').resolve()}")
    args = parser.parse_args()
    split = {(v, s): magellan_pair_rows(DATA / f"{v}_{s}.txt") for v in VERSIONS for s in ("train", "valid")}
    started = time.perf_counter()
    model = train_pair_model([r for v in VERSIONS for r in split[v, "train"]],
                             [r for v in VERSIONS for r in split[v, "valid"]],
                             metadata={"trained_on": "iTunes-Amazon structured+dirty train (Magellan/Ditto)"})
    train_s = time.perf_counter() - started
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} (commit {_commit()})",
             f"pair model: threshold {model.threshold:.2f} tuned on valid, trained in {train_s:.1f} s", "",
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
    print("\n".join(lines))
    print(f"results appended to {append_results('itunes_amazon', lines)}")
    out_dir().mkdir(parents=True, exist_ok=True)
    run_id = Tracker(args.mlflow_uri, out_dir() / "mlruns").log_run(
        "pair_matching", "itunes_amazon", {"model": "lightgbm", **model.metadata}, metrics,
        json_artifacts={"pair_model.json": model.to_json()})
    print(f"MLflow run {run_id} at {args.mlflow_uri}")
    if args.save_default:
        model.save(DEFAULT_PAIR_MODEL)
        print(f"saved the default pair model -> {DEFAULT_PAIR_MODEL}")


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
