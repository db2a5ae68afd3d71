"""Ingest and canonical-mapping benchmark.

For each scale it generates a synthetic world (Parquet and CSV), then, each case in its own process so
peak memory is that case's alone:

  bare_parquet   DuckDB's own INSERT INTO t SELECT * FROM read_parquet(...) of the same files
  parquet        raw_scrobbles' Parquet path (window filter, casts, provenance, bad-row scan)
  csv            raw_scrobbles' CSV path (streaming reader with per-row validation, Arrow batches)
  mapping        stg_scrobbles -> int_track_keys -> int_scrobble_tracks -> track_aliases -> tracks_core

    python bench/ingest.py                        # 1M and 10M
    python bench/ingest.py --scales 1000000       # one scale
Results print as a markdown table and are appended to bench/results/ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results_file import append_results, out_dir  # noqa: E402

START, DAYS = date(2025, 1, 1), 184
END = date(2025, 7, 4)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_bare_parquet(world: Path, db: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(db))
    files = [str(p) for p in sorted((world / "scrobbles").glob("*.parquet"))]
    t = time.perf_counter()
    con.execute("CREATE TABLE bare AS SELECT * FROM read_parquet($f) LIMIT 0", {"f": files})
    con.execute("INSERT INTO bare SELECT * FROM read_parquet($f)", {"f": files})
    seconds = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM bare").fetchall()[0][0]
    return {"rows": rows, "seconds": seconds}


def case_parquet(world: Path, db: Path) -> dict:
    from timbral_assets import warehouse

    con = warehouse.connect(db)
    warehouse.create_layout(con)
    files = [str(p) for p in sorted((world / "scrobbles").glob("*.parquet"))]
    t = time.perf_counter()
    rows, issues = warehouse.replace_scrobble_window_from_parquet(con, files, "synthetic", START, END)
    return {"rows": rows, "seconds": time.perf_counter() - t, "rejected": len(issues)}


def case_csv(world: Path, db: Path) -> dict:
    from timbral_assets import warehouse
    from timbral_assets.sources.scrobble_files import ScrobbleFileReader

    con = warehouse.connect(db)
    warehouse.create_layout(con)
    reader = ScrobbleFileReader(str(world / "scrobbles_csv" / "scrobbles.csv"), "scrobble_csv")
    t = time.perf_counter()
    rows = warehouse.replace_scrobble_window(con, reader.batches(), "synthetic_csv", START, END)
    return {"rows": rows, "seconds": time.perf_counter() - t, "rejected": len(reader.issues)}


def case_mapping(world: Path, db: Path) -> dict:
    """stg_scrobbles, entity resolution (without the semantic tier: bench/resolution.py measures it), then
    the SQL models that map each scrobble to its canonical track."""
    from timbral_assets import warehouse
    from timbral_assets.resolution import catalog
    from timbral_assets.resolution.rules_file import load_rules
    from timbral_assets.sql_project import SqlProject

    con = warehouse.connect(db, memory_limit=warehouse.TRANSFORM_MEMORY_LIMIT)
    warehouse.create_layout(con)
    project = SqlProject.load()
    stages = {}
    t0 = time.perf_counter()

    def model(name: str) -> None:
        t = time.perf_counter()
        project.materialize(con, name, (START, END) if project.models[name].incremental else None)
        stages[name] = round(time.perf_counter() - t, 2)

    model("stg_scrobbles")
    t = time.perf_counter()
    catalog.resolve_window(con, """SELECT artist_raw, track_raw, album_raw, duration_ms, track_mbid, artist_mbid,
                                          user_id FROM staging.stg_scrobbles WHERE NOT is_unidentified""",
                           END.isoformat(), load_rules())
    stages["entity_resolution"] = round(time.perf_counter() - t, 2)
    for name in ("int_track_keys", "int_scrobble_tracks", "track_aliases", "artists_core", "tracks_core"):
        model(name)
    rows = warehouse.scalar(con, "SELECT count(*) FROM staging.stg_scrobbles")
    mapped = warehouse.scalar(con, "SELECT count(*) FROM intermediate.int_scrobble_tracks")
    tracks = warehouse.scalar(con, "SELECT count(*) FROM marts.tracks_core")
    return {"rows": rows, "seconds": time.perf_counter() - t0, "stages": stages, "mapped": mapped, "tracks": tracks}


def case_generate(world: Path, db: Path) -> dict:
    from timbral_assets.sources.synthetic import WorldConfig, generate_world

    scale = int(world.name.split("-")[1])
    t = time.perf_counter()
    generate_world(WorldConfig(seed=42, n_scrobbles=scale, start_date=START, days=DAYS, write_csv=True), world)
    return {"rows": scale, "seconds": time.perf_counter() - t}


CASES = {"generate": case_generate, "bare_parquet": case_bare_parquet, "parquet": case_parquet, "csv": case_csv, "mapping": case_mapping}


def run_child(case: str, world: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case, "--world", str(world), "--db", str(db)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_world(scale: int, workdir: Path) -> tuple[Path, dict | None]:
    """Generate in a child process: a child's peak RSS starts from its parent's (fork), so the parent stays small."""
    folder = workdir / f"world-{scale}"
    if (folder / "manifest.json").exists():
        return folder, None
    return folder, run_child("generate", folder, workdir / "unused.duckdb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1000000,10000000")
    parser.add_argument("--workdir", default=str(out_dir()))
    parser.add_argument("--repeat", type=int, default=3, help="ingest runs per case; the median is reported")
    parser.add_argument("--child")
    parser.add_argument("--world")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        result = CASES[args.child](Path(args.world), Path(args.db))
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print(json.dumps(result))
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [f"\n### {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} cores: `python bench/ingest.py --scales {args.scales} --repeat {args.repeat}`\n",
             "| scale | case | rows | seconds (median of --repeat) | rows/s | peak RSS MB | vs bare parquet |", "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for scale in [int(s) for s in args.scales.split(",")]:
        world, gen = ensure_world(scale, workdir)
        if gen is not None:
            row = (f"| {scale:,} | generate world (Parquet + CSV) | {scale:,} | {gen['seconds']:.1f} | "
                   f"{scale / gen['seconds']:,.0f} | {gen['peak_rss_mb']:,.0f} | |")
            print(row, flush=True)
            lines.append(row)
        bare_rate = None
        for case in ("bare_parquet", "parquet", "csv"):
            db = workdir / f"{case}-{scale}.duckdb"
            runs = []
            for _ in range(args.repeat):
                db.unlink(missing_ok=True)
                runs.append(run_child(case, world, db))
            r = sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2]  # the median run
            rate = r["rows"] / r["seconds"]
            if case == "bare_parquet":
                bare_rate = rate
            if case == "parquet":
                parquet_db = db
            row = (f"| {scale:,} | {case} | {r['rows']:,} | {r['seconds']:.2f} | {rate:,.0f} | {r['peak_rss_mb']:,.0f} | "
                   f"{rate / bare_rate:.2f}x |")
            print(row, flush=True)
            lines.append(row)
        r = run_child("mapping", world, parquet_db)
        stages = ", ".join(f"{k} {v}s" for k, v in r["stages"].items())
        row = (f"| {scale:,} | canonical mapping | {r['rows']:,} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
               f"{r['peak_rss_mb']:,.0f} | {r['mapped']:,} mapped to {r['tracks']:,} tracks; {stages} |")
        print(row, flush=True)
        lines.append(row)
        for case in ("bare_parquet", "parquet", "csv"):
            (workdir / f"{case}-{scale}.duckdb").unlink(missing_ok=True)
    append_results("ingest", lines)


if __name__ == "__main__":
    main()
