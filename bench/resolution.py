"""Resolution at scale: 1M synthetic scrobbles end to end, then an incremental day of 100k against them.

The world has 11 days of 100k scrobbles each. Window 1 resolves the first 10 days (1M scrobbles) into an
empty catalog; window 2 resolves day 11 against the catalog of 1M, as a daily partition of the assets
does. Both run the catalog functions the Dagster assets run (`catalog.resolve_window`). Peak memory is
the resolver process's maximum resident set; the world is generated in a separate process first.

    python bench/resolution.py [--scrobbles-per-day 100000] [--semantic]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, out_dir  # noqa: E402
from timbral_assets import warehouse  # noqa: E402
from timbral_assets.resolution import catalog  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.evaluation import world_scrobbles_sql  # noqa: E402
from timbral_assets.resolution.rules_file import load_rules  # noqa: E402

START, DAYS = date(2025, 1, 1), 11


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scrobbles-per-day", type=int, default=100_000)
    parser.add_argument("--semantic", action="store_true", help="embedding neighbours (cached by content hash)")
    args = parser.parse_args()
    out_dir().mkdir(parents=True, exist_ok=True)
    encoder = TextEncoder(cache=EmbeddingCache(out_dir().resolve() / "embeddings.duckdb")) if args.semantic else None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(dir=out_dir()) as tmp:
        world = Path(tmp) / "world"
        subprocess.run([sys.executable, "-m", "timbral_assets.cli", "generate", str(world), "--n-scrobbles",
                        str(args.scrobbles_per_day * DAYS), "--days", str(DAYS), "--start-date", START.isoformat(),
                        "--seed", "42"], check=True, stdout=subprocess.DEVNULL)
        con = warehouse.connect(Path(tmp) / "catalog.duckdb")  # the assets' connection settings
        rules = load_rules()
        last_day = START + timedelta(days=DAYS - 1)
        rows = []
        model_json = None  # the full history trains the model; the day is scored with it, as the daily job is
        for name, start, end in (("full history", None, last_day.isoformat()),
                                 ("incremental day", last_day.isoformat(), None)):
            sql = world_scrobbles_sql(world, start, end)
            scrobbles = con.sql(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
            started = time.perf_counter()
            run = catalog.resolve_window(con, sql, start or START.isoformat(), rules, encoder, model_json)
            model_json = run.model_json
            elapsed = time.perf_counter() - started
            catalog_size = con.sql("SELECT count(*) FROM resolution.variants").fetchall()[0][0]
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in run.timings_s.items())
            rows.append(f"| {name} | {scrobbles:,} | {len(run.query_ids):,} | {catalog_size:,} | {run.candidates:,} "
                        f"| {elapsed:.1f} s | {stages} | {peak_mb:,.0f} MB |")
            print(rows[-1], flush=True)
        con.close()
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} (commit {commit}), semantic tier {'on' if args.semantic else 'off'}",
             "", "| window | scrobbles | variants resolved | catalog variants | candidate pairs | total | stages | peak RSS |",
             "|---|---|---|---|---|---|---|---|", *rows]
    print(f"results appended to {append_results('resolution', lines)}")


if __name__ == "__main__":
    main()
