"""How far the rules tier alone gets on the synthetic world's ground truth.

For each variant kind: the share of distinct variant strings whose rules key (folded primary artist,
parsed title key) equals the key of their track's clean form, next to the tier-1 SQL normalisation.
Also: the share of hard-negative pairs (covers, remixes, live) whose clean forms get the same key,
i.e. false merges.

    python bench/rules_tier.py [--n-scrobbles 200000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402

from bench.results_file import append_results  # noqa: E402
from timbral_assets.resolution.credits import artist_keys, parse_credit  # noqa: E402
from timbral_assets.resolution.versions import parse_title  # noqa: E402
from timbral_assets.sources.synthetic import WorldConfig, generate_world  # noqa: E402
from timbral_assets.sql_project import SqlProject  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-scrobbles", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_world(WorldConfig(seed=7, n_scrobbles=args.n_scrobbles), Path(tmp))
        con = duckdb.connect()
        SqlProject.load().install_macros(con)
        rows = con.execute(f"""
            SELECT v.variant_kind, v.true_track_id, v.artist, v.title,
                   tb_norm_artist(v.artist) || '|' || tb_norm_title(v.title) AS sql_key
            FROM read_parquet('{tmp}/truth/variants.parquet') v""").fetchall()
        negatives = con.execute(f"SELECT track_id, other_track_id, kind FROM read_parquet('{tmp}/truth/hard_negatives.parquet')").fetchall()
        known = artist_keys(r[2] for r in rows if r[0] == "clean")  # the catalog's artists, as a resolver has them

    def rules_key(artist: str, title: str) -> str:
        return parse_credit(artist, known=known).key + "|" + parse_title(title).key

    clean_rules, clean_sql = {}, {}
    for kind, track, artist, title, sql_key in rows:
        if kind == "clean":
            clean_rules[track] = rules_key(artist, title)
            clean_sql[track] = sql_key
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, track, artist, title, sql_key in rows:
        if kind == "clean":
            continue
        h = hits[kind]
        h[0] += 1
        h[1] += rules_key(artist, title) == clean_rules[track]
        h[2] += sql_key == clean_sql[track]
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')}: rules tier on {len(known):,} tracks, {len(rows):,} variant "
             f"strings (`python bench/rules_tier.py --n-scrobbles {args.n_scrobbles}`)", "",
             "| variant kind | variants | rules tier: same key as clean | tier-1 SQL: same key |", "|---|---|---|---|"]
    for kind, (n, rule_ok, sql_ok) in sorted(hits.items()):
        lines.append(f"| {kind} | {n:,} | {rule_ok / n:.1%} | {sql_ok / n:.1%} |")
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for a, b, kind in negatives:
        by_kind[kind][0] += 1
        by_kind[kind][1] += clean_rules[a] == clean_rules[b]
        by_kind[kind][2] += clean_sql[a] == clean_sql[b]
    lines += ["", "| hard negative | pairs | rules tier: false merges | tier-1 SQL: false merges |", "|---|---|---|---|"]
    for kind, (n, rule_bad, sql_bad) in sorted(by_kind.items()):
        lines.append(f"| {kind} | {n:,} | {rule_bad / n:.1%} | {sql_bad / n:.1%} |")
    print("\n".join(lines))
    print(f"results appended to {append_results('rules_tier', lines)}")

if __name__ == "__main__":
    main()
