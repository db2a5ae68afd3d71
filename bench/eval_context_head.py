"""The context head against splink alone, with and without listening context, on held-out worlds.

Each world is resolved by the catalog (the assets' functions); the head's features are computed for every
scored candidate pair. Heads trained on the training world's pairs and truth then replace splink's match
probability on a held-out world, the catalog is clustered again with them, and the clusters are scored
against that world's truth. Logged to MLflow (experiment context_head).

    python bench/eval_context_head.py [--train-seed 7] [--eval-seeds 101 202] [--scrobbles 30000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, out_dir  # noqa: E402
from timbral_assets.resolution.assignment import assign_clusters  # noqa: E402
from timbral_assets.resolution.context_head import resolve_world_pairs, train_head  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.evaluation import evaluate_catalog  # noqa: E402
from timbral_assets.sources.synthetic.world import WorldConfig, generate_world  # noqa: E402
from timbral_assets.tracking import Tracker  # noqa: E402


def resolved_world(seed: int, scrobbles: int, folder: Path, encoder: TextEncoder):
    world = folder / f"world{seed}"
    generate_world(WorldConfig(seed=seed, n_scrobbles=scrobbles), world)
    con = duckdb.connect(str(folder / f"catalog{seed}.duckdb"))
    pairs = resolve_world_pairs(con, world, encoder)
    return world, con, pairs.run, pairs.features, pairs.labels


def pair_scores(probability: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    predicted = probability >= 0.5
    hits = float((predicted & (labels == 1)).sum())
    precision = hits / max(1, predicted.sum())
    recall = hits / max(1, labels.sum())
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-seed", type=int, default=7)
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[101, 202])
    parser.add_argument("--scrobbles", type=int, default=30_000)
    parser.add_argument("--mlflow-uri", default=f"sqlite:///{(out_dir() / 'mlflow.db').resolve()}")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    encoder = TextEncoder(cache=EmbeddingCache(out_dir().resolve() / "embeddings.duckdb"))
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')} (commit {commit}): heads trained on seed {args.train_seed}, "
                 f"{args.scrobbles:,} scrobbles per world", "",
             "| eval seed | scores | candidate pairs P | R | F1 | tracks pairwise P | R | F1 | hard-negative false merges |",
             "|---|---|---|---|---|---|---|---|---|"]
    metrics = {}
    with tempfile.TemporaryDirectory() as tmp:
        _, train_con, _, train_features, train_labels = resolved_world(args.train_seed, args.scrobbles, Path(tmp), encoder)
        train_con.close()
        heads = {"head without context": train_head(train_features, train_labels, with_context=False),
                 "head with context": train_head(train_features, train_labels, with_context=True)}
        for seed in args.eval_seeds:
            world, con, run, features, labels = resolved_world(seed, args.scrobbles, Path(tmp), encoder)
            order = {(a, b): i for i, (a, b) in enumerate(zip(features["unique_id_l"].to_pylist(),
                                                             features["unique_id_r"].to_pylist(), strict=True))}
            rows = [order[(a, b)] for a, b in zip(run.scores["unique_id_l"].to_pylist(),
                                                  run.scores["unique_id_r"].to_pylist(), strict=True)]
            splink = np.asarray(run.scores["match_probability"].to_numpy(zero_copy_only=False))
            variants = {"splink alone": splink, **{name: head.predict(features)[rows] for name, head in heads.items()}}
            for name, probability in variants.items():
                pair_p, pair_r, pair_f1 = pair_scores(probability, labels[rows])
                scores = run.scores.set_column(run.scores.column_names.index("match_probability"), "match_probability",
                                               pa.array(probability, pa.float64()))
                assign_clusters(con, "2025-01-01", run.query_ids, scores)
                report = evaluate_catalog(con, world / "truth")
                t = report.tracks
                lines.append(f"| {seed} | {name} | {pair_p:.4f} | {pair_r:.4f} | {pair_f1:.4f} | {t.precision:.4f} | "
                             f"{t.recall:.4f} | {t.f1:.4f} | {report.hard_negative_false_merges}/{report.hard_negative_pairs} |")
                print(lines[-1], flush=True)
                key = f"seed_{seed}/{name.replace(' ', '_')}/"
                metrics.update({key + "pair_f1": pair_f1, key + "track_f1": t.f1, key + "track_precision": t.precision,
                                key + "track_recall": t.recall})
            con.close()
    Tracker(args.mlflow_uri, out_dir() / "mlruns").log_run(
        "context_head", f"trained_on_seed_{args.train_seed}",
        {"train_seed": args.train_seed, "scrobbles": args.scrobbles, "model": "LightGBM, monotone in the evidence"},
        metrics, json_artifacts={name.replace(" ", "_") + ".json": head.to_json() for name, head in heads.items()})
    print("\n".join(lines))
    print(f"results appended to {append_results('context_head', lines)}")


if __name__ == "__main__":
    main()
