"""Importing a listening history through the whole graph: `timbral import` end to end, as a person runs it.

Cases (each in a fresh TIMBRAL_HOME, each `timbral import` its own process tree, timed from outside):
  real_exports      every Last.fm export in ../shared/data/lastfm_scrobble_exports together (four files,
                    four formats, 97,014 readable plays, 2008-2024)
  real_exports_warm the same again into a second home with the first home's embedding cache copied in:
                    what a re-import costs once the semantic tier's strings are encoded
  each_export       each of those exports alone, as published, into its own fresh home
  synthetic_20y     a synthetic 20-year history (default 1M plays, 7,305 daily partitions) written as CSV

    python bench/import_history.py                                  # every case
    python bench/import_history.py --cases real_exports --scrobbles 200000

Peak memory is the largest resident set of the import's process tree (supervisor + worker), sampled.
Results print as a markdown table and are appended to bench/results/import_history.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results_file import append_results  # noqa: E402

EXPORTS = HERE.parent.parent / "shared" / "data" / "lastfm_scrobble_exports"


def timed_import(home: Path, files: list[str]) -> dict:
    env = {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "timbral_assets.cli", "import", *files], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    root = psutil.Process(process.pid)
    output: list[str] = []
    import threading

    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    while process.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.5)
    reader.join()
    seconds = time.monotonic() - started
    text = "".join(output)
    if process.returncode != 0:
        print(text)
        raise SystemExit(f"import into {home} failed ({process.returncode})")
    steps = {line.split()[1]: line.split()[-2] if "days)" not in line else line.split(" s ")[0].split()[-1]
             for line in text.splitlines() if line.startswith("  ok ")}
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(peak / 2**30, 2), "steps": steps, "output": text}


def _plays(result: dict) -> str:
    """The play count `timbral import` announced ("importing 72,269 plays (...)")."""
    for line in result["output"].splitlines():
        if line.startswith("importing "):
            return line.split()[1]
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="real_exports,real_exports_warm,each_export,synthetic_20y")
    parser.add_argument("--scrobbles", type=int, default=1_000_000, help="plays in the synthetic 20-year history")
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the homes (printed) for a look in the UI")
    args = parser.parse_args()
    cases = args.cases.split(",")
    work = Path(tempfile.mkdtemp(prefix="timbral-bench-import-"))
    rows = []
    exports = sorted(str(p) for p in EXPORTS.glob("*.csv"))
    if any(c.startswith("real_exports") or c == "each_export" for c in cases) and not exports:
        raise SystemExit(f"the real exports are not in {EXPORTS}; run only --cases synthetic_20y")
    if "real_exports" in cases or "real_exports_warm" in cases:
        cold = timed_import(work / "real_cold", exports)
        if "real_exports" in cases:
            rows.append(("real_exports", f"{_plays(cold)} plays, {len(exports)} files", cold))
        if "real_exports_warm" in cases:
            home = work / "real_warm"
            home.mkdir()
            shutil.copy(work / "real_cold" / "embeddings.duckdb", home / "embeddings.duckdb")
            rows.append(("real_exports_warm", "the same, embedding cache already filled", timed_import(home, exports)))
    if "each_export" in cases:
        for export in exports:
            result = timed_import(work / f"alone_{Path(export).stem}", [export])
            rows.append(("each_export", f"{Path(export).name}: {_plays(result)} plays", result))
    if "synthetic_20y" in cases:
        from timbral_assets.sources.synthetic import WorldConfig, generate_world

        days = round(365.25 * args.years)
        world = work / "world20y"
        generate_world(WorldConfig(seed=20, n_scrobbles=args.scrobbles, start_date=date(2005, 1, 1), days=days,
                                   write_csv=True), world)
        rows.append(("synthetic_20y", f"{args.scrobbles:,} plays over {days:,} days (CSV)",
                     timed_import(work / "synthetic", [str(world / "scrobbles_csv" / "scrobbles.csv")])))
    lines = ["| case | input | wall s | peak RSS GB | raw_scrobbles s | stg_scrobbles s | entity_candidates s |",
             "|---|---|---|---|---|---|---|"]
    for name, what, r in rows:
        s = r["steps"]
        lines.append(f"| {name} | {what} | {r['seconds']} | {r['peak_rss_gb']} | {s.get('raw_scrobbles', '')} | "
                     f"{s.get('stg_scrobbles', '')} | {s.get('entity_candidates', '')} |")
    table = "\n".join(lines)
    print(table)
    from datetime import datetime

    append_results("import_history", [f"\n## {datetime.now():%Y-%m-%d %H:%M} `python bench/import_history.py "
                                      f"{' '.join(sys.argv[1:])}`\n", table])
    if args.keep:
        print(f"homes kept under {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
