"""freeDB (cddb) album-level deduplication: pairwise precision, recall and F1 against the 300 true duplicate pairs.

    python bench/eval_freedb.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, log_evaluation  # noqa: E402
from timbral_assets.resolution.albums import duplicate_pair_scores, freedb_albums, resolve_albums  # noqa: E402
from timbral_assets.resolution.benchmarks import freedb  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cddb_freedb"


def main() -> None:
    rows, gold = freedb(DATA)
    started = time.perf_counter()
    result = resolve_albums(freedb_albums(rows))
    elapsed = time.perf_counter() - started
    scored = set(zip(result.scores["unique_id_l"].to_pylist(), result.scores["unique_id_r"].to_pylist(), strict=True))
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')}: {len(rows):,} CD records, {len(gold)} true duplicate pairs, "
                 f"{result.candidates:,} candidate pairs (candidate recall {len(gold & scored) / len(gold):.3f}), "
                 f"{elapsed:.1f} s", "",
             "| clustering | threshold | pairs predicted | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    metrics = {"candidate_recall": len(gold & scored) / len(gold)}
    for clustering in ("constrained", "connected_components"):
        for threshold in (0.5, 0.8, 0.95):
            s = duplicate_pair_scores(result.recluster(threshold, clustering), gold)
            lines.append(f"| {clustering} | {threshold} | {s.predicted:,} | {s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} |")
            metrics.update({f"{clustering}/{threshold}/precision": s.precision,
                            f"{clustering}/{threshold}/recall": s.recall, f"{clustering}/{threshold}/f1": s.f1})
    print("\n".join(lines))
    log_evaluation("freedb_albums", {"records": len(rows), "true_pairs": len(gold)}, metrics)
    print(f"results appended to {append_results('freedb', lines)}")


if __name__ == "__main__":
    main()
