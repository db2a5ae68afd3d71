"""Audioscrobbler's 30,534 user-typed artist names, clustered by `resolve-names --entity artist`.

There is no truth here (the alias file is kept aside), so this prints what a person needs to judge:
the cluster count, the largest clusters and a random sample of merges per tier.

    python bench/eval_audioscrobbler.py [--sample 25]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, log_evaluation  # noqa: E402
from timbral_assets.resolution.benchmarks import audioscrobbler_artist_names  # noqa: E402
from timbral_assets.resolution.name_resolution import resolve_artist_names  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "audioscrobbler_small" / "artist_data_small.txt"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=25)
    args = parser.parse_args()
    rows = audioscrobbler_artist_names(DATA)
    started = time.perf_counter()
    resolved = resolve_artist_names(rows)
    elapsed = time.perf_counter() - started
    clusters: dict[str, list] = defaultdict(list)
    for r in resolved:
        if r.canonical_id:
            clusters[r.canonical_id].append(r)
    tiers = Counter(r.tier for r in resolved)
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')}",
             f"{len(rows):,} names -> {len(clusters):,} artists ({sum(len(m) > 1 for m in clusters.values()):,} with "
             f"more than one spelling), {tiers['not_an_artist']} names rejected as not an artist; {elapsed:.1f} s",
             f"names by tier: {dict(tiers.most_common())}", "", "largest clusters:"]
    for members in sorted(clusters.values(), key=lambda m: (-len(m), m[0].canonical_name))[:10]:
        lines.append(f"- {len(members)} × **{members[0].canonical_name}**: "
                     + "; ".join(sorted({m.name for m in members})[:8]))
    rng = random.Random(0)
    for tier in ("rules", "fuzzy", "credit"):
        merged = [r for r in resolved if r.tier == tier]
        lines += ["", f"sample of {tier} merges ({len(merged):,} in all):"]
        lines += [f"- {r.name!r} → {r.canonical_name!r} ({r.confidence:.3f})"
                  for r in rng.sample(merged, min(args.sample, len(merged)))]
    print("\n".join(lines))
    log_evaluation("audioscrobbler_artist_names", {"names": len(rows)},
                   {"artists": len(clusters), "multi_spelling_artists": sum(len(m) > 1 for m in clusters.values()),
                    "largest_cluster": max(len(m) for m in clusters.values()), "seconds": elapsed,
                    **{f"names_by_tier/{k}": v for k, v in tiers.items()}})
    print(f"results appended to {append_results('audioscrobbler_names', lines)}")


if __name__ == "__main__":
    main()
