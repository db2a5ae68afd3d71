"""The fine-tuned sentence encoder against the base one, on held-out synthetic worlds.

Fine-tunes all-MiniLM-L6-v2 on the truth of a training world (seed 7) with the multiple-negatives ranking
loss and hard negatives, then scores both encoders on worlds of other seeds: each messy string searches the
world's canonical track strings (recall@1, recall@5, per variant kind) and hard negatives (live, remix,
cover, same-artist songs) must rank below the true track. Logged to MLflow (experiment encoder_finetuning).

    python bench/eval_encoder.py [--train-seed 7] [--eval-seeds 101 202] [--scrobbles 30000] [--epochs 1]
                                 [--max-triplets 0] [--max-queries 4000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, out_dir  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.encoders import PACKAGED_MODEL as DEFAULT_MODEL  # noqa: E402
from timbral_assets.resolution.finetune import evaluate_encoder, finetune_encoder, training_triplets  # noqa: E402
from timbral_assets.sources.synthetic.world import WorldConfig, generate_world  # noqa: E402
from timbral_assets.tracking import Tracker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-seed", type=int, default=7)
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[101, 202])
    parser.add_argument("--scrobbles", type=int, default=30_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-triplets", type=int, default=0, help="train on at most this many (0: all)")
    parser.add_argument("--max-queries", type=int, default=4000, help="messy strings searched per eval world")
    parser.add_argument("--output", default=str(out_dir() / "encoder_finetuned"))
    parser.add_argument("--mlflow-uri", default=f"sqlite:///{(out_dir() / 'mlflow.db').resolve()}")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cache = EmbeddingCache(out_dir().resolve() / "embeddings.duckdb")
    with tempfile.TemporaryDirectory() as tmp:
        worlds = {}
        for seed in [args.train_seed, *args.eval_seeds]:
            worlds[seed] = Path(tmp) / f"world{seed}"
            generate_world(WorldConfig(seed=seed, n_scrobbles=args.scrobbles), worlds[seed])
        triplets = training_triplets(worlds[args.train_seed] / "truth")
        triplets = triplets[:args.max_triplets] if args.max_triplets else triplets
        run = finetune_encoder(triplets, Path(args.output), epochs=args.epochs)
        lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')} (commit {commit}): {len(triplets):,} triplets from seed "
                     f"{args.train_seed}, {args.epochs} epoch(s), {run.steps} steps in {run.seconds:.0f} s on CPU "
                     f"(loss {run.losses[0]:.3f} -> mean of last 10 {sum(run.losses[-10:]) / 10:.3f})", "",
                 "| eval seed | encoder | recall@1 | recall@5 | hard negatives ranked below | other script R@1 | typo R@1 | feat R@1 |",
                 "|---|---|---|---|---|---|---|---|"]
        metrics = {"train_seconds": run.seconds}
        for seed in args.eval_seeds:
            for name, model in (("base", DEFAULT_MODEL), ("fine-tuned", str(run.output_dir.resolve()))):
                s = evaluate_encoder(TextEncoder(model, cache), worlds[seed] / "truth", max_queries=args.max_queries)
                k = s.recall_at_1_by_kind
                lines.append(f"| {seed} | {name} | {s.recall_at_1:.4f} | {s.recall_at_5:.4f} | "
                             f"{s.hard_negative_accuracy:.4f} | {k.get('other_script', float('nan')):.4f} | "
                             f"{k.get('typo', float('nan')):.4f} | {k.get('feat', float('nan')):.4f} |")
                metrics.update(s.metrics(f"seed_{seed}/{name}/"))
                print(lines[-1], flush=True)
    Tracker(args.mlflow_uri, out_dir() / "mlruns").log_run(
        "encoder_finetuning", f"seed_{args.train_seed}", {"base_model": DEFAULT_MODEL, "epochs": args.epochs,
                                                          "triplets": len(triplets), "scrobbles": args.scrobbles},
        metrics, artifact_dirs={"model": run.output_dir}, metric_history={"train_loss": run.losses})
    print("\n".join(lines))
    print(f"results appended to {append_results('encoder', lines)}")


if __name__ == "__main__":
    main()
