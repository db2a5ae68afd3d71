"""`timbral run` on synthetic worlds from 5k to 1M scrobbles: each completes, and its checks pass.

Each size runs in a fresh TIMBRAL_HOME as a person runs it (`timbral run --n-scrobbles N --days D`, D = N / 1000
between 5 and 184 days), timed from outside; peak memory is the largest resident set of the run's process tree.
It reports the exit code, the wall time, the run's own seconds, and the checks that failed or warned.

    python bench/world_sizes.py                          # 5k, 20k, 50k, 200k, 1M
    python bench/world_sizes.py --sizes 5000,20000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.results_file import append_results, log_evaluation  # noqa: E402


def days_for(n_scrobbles: int) -> int:
    return min(184, max(5, n_scrobbles // 1000))


def timed_run(home: Path, n_scrobbles: int) -> dict:
    env = {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    args = ["run", "--n-scrobbles", str(n_scrobbles), "--days", str(days_for(n_scrobbles))]
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "timbral_assets.cli", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    peak, root = 0, psutil.Process(process.pid)
    while process.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]))
        except psutil.Error:
            pass
        time.sleep(0.5)
    reader.join()
    text = "".join(output)
    run_s = re.search(r"succeeded in ([\d.]+)s|FAILED after ([\d.]+)s", text)
    warned = re.search(r"warned: (.*)", text)
    failed = re.search(r"FAILED asset checks: (.*)", text)
    return {"scrobbles": n_scrobbles, "days": days_for(n_scrobbles), "exit": process.returncode,
            "wall_s": time.monotonic() - started,
            "run_s": float(next(g for g in run_s.groups() if g)) if run_s else float("nan"),
            "peak_gb": peak / 1e9, "failed": failed.group(1) if failed else ("" if process.returncode == 0 else "run"),
            "warned": warned.group(1).strip() if warned else "", "tail": text[-1500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000,20000,50000,200000,1000000")
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            row = timed_run(Path(tmp) / "home", n)
        rows.append(row)
        print(f"{n:>10,} scrobbles over {row['days']} days: exit {row['exit']}, {row['wall_s']:.1f} s wall "
              f"({row['run_s']:.1f} s run), {row['peak_gb']:.2f} GB; failed: {row['failed'] or 'none'}; "
              f"warned: {row['warned'] or 'none'}", flush=True)
        if row["exit"] != 0:
            print(row["tail"], flush=True)
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')}: `timbral run` by world size, each in a fresh home", "",
             "| scrobbles | days | exit | wall s | run s | peak GB | checks failed | checks warned |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['scrobbles']:,} | {r['days']} | {r['exit']} | {r['wall_s']:.1f} | {r['run_s']:.1f} | "
              f"{r['peak_gb']:.2f} | {r['failed'] or 'none'} | {r['warned'] or 'none'} |" for r in rows]
    print("\n".join(lines))
    for r in rows:
        log_evaluation(f"world_{r['scrobbles']}", {"scrobbles": r["scrobbles"], "days": r["days"]},
                       {"exit": r["exit"], "wall_s": r["wall_s"], "run_s": r["run_s"], "peak_gb": r["peak_gb"]})
    print(f"results appended to {append_results('world_sizes', lines)}")
    if any(r["exit"] != 0 for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
