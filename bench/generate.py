"""Synthetic world generation: time, throughput, peak memory and size on disk per scale.

Each scale runs in its own child process, so its peak RSS is its own. Memory should stay flat as the
scrobble count grows (scrobbles stream to Parquet a day at a time); it grows only with the catalog,
whose artist count is capped at 60k.

    python bench/generate.py --scales 1000000,10000000,100000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results_file import append_results, out_dir  # noqa: E402


def child(scale: int, out: Path) -> None:
    from timbral_assets.sources.synthetic import WorldConfig, generate_world

    t = time.perf_counter()
    manifest = generate_world(WorldConfig(seed=42, n_scrobbles=scale), out)
    seconds = time.perf_counter() - t
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "bytes": size, "counts": manifest["counts"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1000000,10000000,100000000")
    parser.add_argument("--workdir", default=str(out_dir()))
    parser.add_argument("--keep", action="store_true", help="keep the generated worlds")
    parser.add_argument("--child", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.out))
        return
    lines = [f"\n### {datetime.now():%Y-%m-%d %H:%M}: `python bench/generate.py --scales {args.scales}`\n",
             "| scrobbles asked | scrobbles made | tracks | variants | seconds | scrobbles/s | peak RSS MB | on disk MB |",
             "|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for scale in [int(s) for s in args.scales.split(",")]:
        out = Path(args.workdir) / f"generate-{scale}"
        shutil.rmtree(out, ignore_errors=True)
        res = subprocess.run([sys.executable, __file__, "--child", str(scale), "--out", str(out)],
                             check=True, capture_output=True, text=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        c = r["counts"]
        row = (f"| {scale:,} | {c['scrobbles']:,} | {c['tracks']:,} | {c['variants']:,} | {r['seconds']:.0f} | "
               f"{c['scrobbles'] / r['seconds']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['bytes'] / 2**20:,.0f} |")
        print(row, flush=True)
        lines.append(row)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    append_results("generate", lines)


if __name__ == "__main__":
    main()
