"""Audioscrobbler's 30,534 user-typed artist names, clustered as `resolve-names --entity artist` does.

The alias file is kept aside, so the figures come from our own hand labels (bench/labels/
audioscrobbler_aliases.tsv, by artist id):
  - alias recall: of 240 random pairs of related-looking names, the 70 labelled as one artist, the share
    put in one entity; with the merged pairs labelled as two artists beside it;
  - merge precision: of 200 random merges labelled by eye, the share that is right (labelled merges that
    are no longer made are counted apart);
each without and with the listening context (user_artist_data_small.txt), plus a sample of merges per
tier to judge by eye.

    python bench/eval_audioscrobbler.py [--sample 15]
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
from timbral_assets.resolution.name_resolution import (  # noqa: E402
    TrackName,
    read_listening,
    resolve_names,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "audioscrobbler_small"
LABELS = Path(__file__).resolve().parent / "labels" / "audioscrobbler_aliases.tsv"


def read_labels(path: Path = LABELS) -> list[tuple[str, str, str, bool]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("sample\t") or not line.strip():
            continue
        sample, a, b, same = line.split("\t")
        rows.append((sample, a, b, same == "1"))
    return rows


def score_labels(entity_of: dict[str, str], labels: list[tuple[str, str, str, bool]]) -> dict[str, float]:
    def together(a: str, b: str) -> bool:
        return bool(entity_of.get(a)) and entity_of.get(a) == entity_of.get(b)

    pool = [(a, b, same) for sample, a, b, same in labels if sample == "pool"]
    positives = [(a, b) for a, b, same in pool if same]
    merges = [(a, b, same) for sample, a, b, same in labels if sample == "merge"]
    still = [(a, b, same) for a, b, same in merges if together(a, b)]
    return {
        "alias_positives": len(positives),
        "alias_recall": sum(together(a, b) for a, b in positives) / len(positives),
        "pool_negatives_merged": sum(together(a, b) for a, b, same in pool if not same),
        "pool_negatives": sum(not same for _, _, same in pool),
        "labelled_merges_kept": len(still),
        "labelled_merges": len(merges),
        "merge_precision": sum(same for _, _, same in still) / max(len(still), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=15)
    args = parser.parse_args()
    names = audioscrobbler_artist_names(DATA / "artist_data_small.txt")
    rows = [TrackName(i, n) for i, n in names]
    listening, _ = read_listening(DATA / "user_artist_data_small.txt")
    labels = read_labels()
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')}"]
    for context in ("names only", "with listening"):
        started = time.perf_counter()
        resolved = resolve_names(rows, "artist", listening=listening if context == "with listening" else None)
        elapsed = time.perf_counter() - started
        entity_of = {r.id: r.canonical_id for r in resolved}
        figures = score_labels(entity_of, labels)
        clusters: dict[str, list] = defaultdict(list)
        for r in resolved:
            if r.canonical_id:
                clusters[r.canonical_id].append(r)
        tiers = Counter(r.tier for r in resolved)
        lines += [f"### {context}",
                  f"{len(rows):,} names -> {len(clusters):,} artists ({sum(len(m) > 1 for m in clusters.values()):,} "
                  f"with more than one spelling); {elapsed:.1f} s",
                  f"alias recall {figures['alias_recall']:.3f} on {figures['alias_positives']} labelled alias pairs; "
                  f"{figures['pool_negatives_merged']} of {figures['pool_negatives']} pairs labelled as two artists merged",
                  f"merge precision {figures['merge_precision']:.3f} on {figures['labelled_merges_kept']} of "
                  f"{figures['labelled_merges']} labelled merges still made",
                  f"names by tier: {dict(tiers.most_common())}"]
        log_evaluation(f"audioscrobbler_artist_names/{context.replace(' ', '_')}", {"names": len(rows)},
                       {**figures, "artists": len(clusters), "seconds": elapsed,
                        **{f"names_by_tier/{k}": v for k, v in tiers.items()}})
    rng = random.Random(0)
    lines += ["", "largest clusters:"]
    for members in sorted(clusters.values(), key=lambda m: (-len(m), m[0].canonical_name))[:8]:
        lines.append(f"- {len(members)} × **{members[0].canonical_name}**: "
                     + "; ".join(sorted({m.name for m in members})[:8]))
    for tier in sorted(t for t in tiers if t not in ("canonical", "not_an_artist", "unresolved")):
        merged = [r for r in resolved if r.tier == tier]
        lines += ["", f"sample of {tier} merges ({len(merged):,} in all):"]
        lines += [f"- {r.name!r} → {r.canonical_name!r} ({r.confidence:.3f})"
                  for r in rng.sample(merged, min(args.sample, len(merged)))]
    print("\n".join(lines))
    print(f"results appended to {append_results('audioscrobbler_names', lines)}")


if __name__ == "__main__":
    main()
