"""Merged tracks of the real Last.fm exports, audited: how many are suspicious by the rule in
timbral_assets/resolution/audit.py, with every suspicious one listed for reading by eye.

Each export runs twice: as `resolve-names --entity track` does by default, and with `--one-library` (an
album lists each track once).

    python bench/audit_real_merges.py [--exports sachawheeler_scrobbles_with_mbids.csv pingw33n_lastfm_scrobbles.csv]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results  # noqa: E402
from timbral_assets.resolution.audit import audit_resolve_names  # noqa: E402

EXPORTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm_scrobble_exports"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exports", nargs="+", default=["sachawheeler_scrobbles_with_mbids.csv",
                                                          "pingw33n_lastfm_scrobbles.csv"])
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # splink's training chatter
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} (commit {commit}), through resolve-names' code", "",
             "| export | option | distinct strings | merged tracks | suspicious | share | conflicting markers | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    samples = []
    for name in args.exports:
        for one_library in (False, True):
            option = "--one-library" if one_library else "default"
            started = time.perf_counter()
            audit = audit_resolve_names(str(EXPORTS / name), one_library=one_library)
            seconds = time.perf_counter() - started
            lines.append(f"| {name} | {option} | {audit.strings:,} | {len(audit.merged):,} | {len(audit.flagged):,} | "
                         f"{audit.suspicious_share:.2%} | {len(audit.conflicting)} | {seconds:.1f} |")
            print(lines[-1], flush=True)
            samples += ["", f"### suspicious merged tracks of {name}, {option}", ""]
            samples += ["- " + " | ".join(f"{artist} - {title}" for artist, title in track) for track in audit.flagged]
    print(f"results appended to {append_results('audit_real_merges', lines + samples)}")


if __name__ == "__main__":
    main()
