"""MusicBrainz-20K: pairwise and B-cubed F1 of the resolver, constrained clustering vs connected components,
the generic `resolve-names --entity track` path without and with `--distinct-within SourceID`, and a plain
splink baseline (library comparisons with default thresholds, connected components).

    python bench/eval_musicbrainz.py [--semantic]   (--semantic adds embedding nearest-neighbour candidates)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, log_evaluation, out_dir  # noqa: E402
from bench.splink_baseline import plain_splink_clusters  # noqa: E402
from timbral_assets.resolution.benchmarks import musicbrainz_20k, musicbrainz_20k_names  # noqa: E402
from timbral_assets.resolution.clustering import ClusterConfig  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.matcher import MatcherConfig  # noqa: E402
from timbral_assets.resolution.metrics import bcubed_scores, pairwise_scores  # noqa: E402
from timbral_assets.resolution.name_resolution import resolve_names  # noqa: E402
from timbral_assets.resolution.pipeline import recluster, resolve  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "musicbrainz_20k" / "musicbrainz-20-A01.csv"


def subset(path: Path, max_records: int, into: Path) -> Path:
    """The file's first `max_records` records (the smoke test's case), as a file every reader below takes."""
    with path.open(encoding="utf-8") as source:
        head = [line for _, line in zip(range(max_records + 1), source, strict=False)]
    into.write_text("".join(head), encoding="utf-8")
    return into


def main() -> None:
    global DATA
    parser = argparse.ArgumentParser()
    parser.add_argument("--semantic", action="store_true")
    parser.add_argument("--max-records", type=int, default=0, help="the first N records only (0: all 19,375)")
    args = parser.parse_args()
    if args.max_records:
        DATA = subset(DATA, args.max_records, Path(tempfile.mkdtemp()) / DATA.name)
    data = musicbrainz_20k(DATA)
    encoder = TextEncoder(cache=EmbeddingCache(out_dir() / "embeddings.duckdb")) if args.semantic else None
    started = time.perf_counter()
    result = resolve(data.records, encoder=encoder, matcher_config=MatcherConfig(use_embeddings=False),
                     cluster_config=ClusterConfig(threshold=0.5, versions_must_agree=False), exclusive_group=data.source)
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')}, semantic tier {'on' if args.semantic else 'off'}: "
                 f"{len(data.records):,} records, {result.pairs.num_rows:,} candidate pairs, "
                 f"{time.perf_counter() - started:.1f} s; stages {({k: round(v, 1) for k, v in result.timings_s.items()})}",
             "", "| clustering | threshold | pairwise P | pairwise R | pairwise F1 | B-cubed F1 |", "|---|---|---|---|---|---|"]
    metrics = {}
    for threshold in (0.5, 0.9):
        for mode, group in (("connected_components", None), ("constrained", None), ("constrained", data.source)):
            assignment = recluster(result, data.records, ClusterConfig(threshold=threshold, versions_must_agree=False),
                                   mode, exclusive_group=group)
            pair, cube = pairwise_scores(assignment, data.truth), bcubed_scores(assignment, data.truth)
            name = mode + (" + one record per source" if group else "")
            lines.append(f"| {name} | {threshold} | {pair.precision:.4f} | {pair.recall:.4f} | {pair.f1:.4f} | {cube.f1:.4f} |")
            key = f"{name.replace(' + ', '_').replace(' ', '_')}/{threshold}/"
            metrics.update({key + "pairwise_f1": pair.f1, key + "pairwise_precision": pair.precision,
                            key + "pairwise_recall": pair.recall, key + "bcubed_f1": cube.f1})
    # the generic command: `resolve-names --entity track`, without and with `--distinct-within SourceID`
    names, name_truth = musicbrainz_20k_names(DATA)
    for option, rows in (("", [replace(r, distinct_within="") for r in names]), ("--distinct-within SourceID", names)):
        started = time.perf_counter()
        resolved = resolve_names(rows, "track", encoder)
        assignment = {r.id: r.canonical_id for r in resolved}
        pair, cube = pairwise_scores(assignment, name_truth), bcubed_scores(assignment, name_truth)
        command = f"resolve-names --entity track {option}".strip()
        lines.append(f"| `{command}` ({time.perf_counter() - started:.0f} s) "
                     f"| 0.9 | {pair.precision:.4f} | {pair.recall:.4f} | {pair.f1:.4f} | {cube.f1:.4f} |")
        key = "resolve_names" + ("_distinct_within_source" if option else "") + "/"
        metrics.update({key + "pairwise_f1": pair.f1, key + "pairwise_precision": pair.precision,
                        key + "pairwise_recall": pair.recall, key + "bcubed_f1": cube.f1})
    started = time.perf_counter()
    baseline = plain_splink_clusters(DATA)
    elapsed = time.perf_counter() - started
    for threshold, assignment in baseline.items():
        pair, cube = pairwise_scores(assignment, data.truth), bcubed_scores(assignment, data.truth)
        lines.append(f"| plain splink baseline (default comparisons, connected components; {elapsed:.0f} s) | {threshold} "
                     f"| {pair.precision:.4f} | {pair.recall:.4f} | {pair.f1:.4f} | {cube.f1:.4f} |")
        metrics.update({f"plain_splink/{threshold}/pairwise_f1": pair.f1, f"plain_splink/{threshold}/bcubed_f1": cube.f1})
    print("\n".join(lines))
    log_evaluation("musicbrainz_20k", {"semantic": args.semantic, "records": len(data.records)}, metrics,
                   {"m_u.json": result.m_u})
    print(f"results appended to {append_results('musicbrainz', lines)}")

if __name__ == "__main__":
    main()
