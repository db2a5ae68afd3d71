"""The resolver on held-out synthetic worlds: seeds the code was never tuned on.

Each seed generates a world, the catalog resolves all its scrobbles as one window (the same catalog
functions the Dagster assets run), and the clusters are scored against the world's truth: F1 over all
variant kinds, per kind, on artists, and the false-merge rate on hard negatives (covers, remixes, live).

    python bench/eval_synthetic.py [--seeds 101 202] [--scrobbles 100000] [--semantic]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, out_dir  # noqa: E402
from timbral_assets.resolution import catalog  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.evaluation import evaluate_catalog, world_scrobbles_sql  # noqa: E402
from timbral_assets.resolution.rules_file import load_rules  # noqa: E402
from timbral_assets.sources.synthetic.world import WorldConfig, generate_world  # noqa: E402
from timbral_assets.tracking import Tracker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 202])
    parser.add_argument("--scrobbles", type=int, default=100_000)
    parser.add_argument("--semantic", action="store_true")
    parser.add_argument("--mlflow-uri", default=f"sqlite:///{(out_dir() / 'mlflow.db').resolve()}")
    args = parser.parse_args()
    out_dir().mkdir(parents=True, exist_ok=True)
    encoder = TextEncoder(cache=EmbeddingCache(out_dir() / "embeddings.duckdb")) if args.semantic else None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} (commit {commit}), {args.scrobbles:,} scrobbles per world, "
             f"semantic tier {'on' if args.semantic else 'off'}"]
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            world = Path(tmp) / "world"
            generate_world(WorldConfig(seed=seed, n_scrobbles=args.scrobbles), world)
            con = duckdb.connect(str(Path(tmp) / "catalog.duckdb"))
            started = time.perf_counter()
            run = catalog.resolve_window(con, world_scrobbles_sql(world), "2025-01-01", load_rules(), encoder)
            elapsed = time.perf_counter() - started
            report = evaluate_catalog(con, world / "truth")
            con.close()
        lines += ["", f"### seed {seed}: {len(run.query_ids):,} variants, {run.candidates:,} candidate pairs, "
                      f"resolved in {elapsed:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in run.timings_s.items())})",
                  "", report.markdown()]
        Tracker(args.mlflow_uri, out_dir() / "mlruns").log_run(
            "resolution_evaluation", f"synthetic_seed_{seed}",
            {"seed": seed, "scrobbles": args.scrobbles, "semantic": args.semantic}, report.metrics(),
            json_artifacts={"report.json": report.as_json()})
        print("\n".join(lines[-4:]), flush=True)
    print(f"results appended to {append_results('synthetic_resolution', lines)}")


if __name__ == "__main__":
    main()
