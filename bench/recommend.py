"""The recommender's figures: quality on hetrec lastfm-2k against ALS out of the box, recommend-batch end to end,
the ALS asset's overhead over bare implicit, and FAISS speed and recall at 100k and 1M vectors.

    python bench/recommend.py                                  # everything (about 20 minutes)
    python bench/recommend.py --splits 1 --skip-scale          # the smoke test's case (hetrec only)
    python bench/recommend.py --tune                           # re-run the tuning behind the code's defaults

Quality: per-user 80/20 splits of hetrec (seeded), full ranking, training items excluded. Split seed 0 is the
one the defaults were tuned on (on a validation split carved from its training side); the other seeds were
never used for tuning. The batch hybrid (recommend-batch's models and weights) is compared with each member and
with implicit's ALS at 64 factors and its out-of-the-box settings, on the same split.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, log_evaluation  # noqa: E402
from timbral_assets.recommend.batch import default_components  # noqa: E402
from timbral_assets.recommend.evaluation import evaluate  # noqa: E402
from timbral_assets.recommend.hetrec import read_hetrec  # noqa: E402
from timbral_assets.recommend.hybrid import DEFAULT_WEIGHTS, HybridRecommender, RankerParams  # noqa: E402
from timbral_assets.recommend.interactions import confidence, split_per_user  # noqa: E402
from timbral_assets.recommend.metrics import ranking_report  # noqa: E402
from timbral_assets.recommend.models import ALS, fit_implicit_als  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]


def quality(folder: Path, seeds: list[int], with_reranker: bool) -> tuple[list[str], dict]:
    data, tags = read_hetrec(folder)
    lines, ratios, figures = [], [], {}
    for seed in seeds:
        train, held = split_per_user(data.plays, 0.2, seed=seed)
        started = time.perf_counter()
        models = {name: factory().fit(train) for name, factory in default_components(tags).items()}
        models["als_64_out_of_the_box"] = ALS(factors=64).fit(train)
        rows = evaluate(train, held, models, DEFAULT_WEIGHTS)
        if with_reranker:
            hybrid = HybridRecommender(default_components(tags), DEFAULT_WEIGHTS, RankerParams()).fit(train)
            users = np.array([u for u, items in enumerate(held) if items and train[u].nnz], dtype=np.int64)
            items, _ = hybrid.recommend(users, 50)
            report = ranking_report([[i for i in row if i >= 0] for row in items], [held[u] for u in users],
                                    train.shape[1], np.asarray((train > 0).sum(axis=0)).ravel())
            rows.append({"model": "hybrid + LambdaMART", "users": len(users), **report})
        seconds = time.perf_counter() - started
        ndcg = {r["model"]: r["ndcg@10"] for r in rows}
        ratio = ndcg["hybrid"] / ndcg["als_64_out_of_the_box"]
        ratios.append(ratio)
        tuned = " (the tuning split)" if seed == 0 else ""
        lines += [f"### hetrec split seed {seed}{tuned}: {len(data.user_ids):,} users, {data.n_items:,} artists, "
                  f"{seconds:.0f} s", "", "| model | P@10 | R@50 | NDCG@10 | MAP@10 | coverage@10 | popularity bias |",
                  "|---|---|---|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: -r["ndcg@10"]):
            lines.append(f"| {r['model']} | {r['precision@10']:.4f} | {r['recall@50']:.4f} | {r['ndcg@10']:.4f} | "
                         f"{r['map@10']:.4f} | {r['coverage@10']:.4f} | {r['popularity_bias@10']:.4f} |")
        lines += ["", f"hybrid / ALS out of the box (NDCG@10): **{ratio:.3f}**", ""]
        figures.update({f"seed{seed}/{r['model']}/ndcg_at_10": r["ndcg@10"] for r in rows})
        print("\n".join(lines[-len(rows) - 7:]), flush=True)
    held_out = [r for s, r in zip(seeds, ratios, strict=True) if s != 0]
    summary = f"hybrid / ALS out of the box on the splits never tuned on: {np.mean(held_out):.3f} " \
              f"(min {np.min(held_out):.3f}, {len(held_out)} splits)" if held_out else ""
    if summary:
        lines.append(summary)
        print(summary)
    return lines, figures


def batch_end_to_end(folder: Path) -> tuple[list[str], float]:
    """recommend-batch as a user runs it, on a seeded split written to files."""
    data, tags = read_hetrec(folder)
    train, held = split_per_user(data.plays, 0.2, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        coo = train.tocoo()
        with open(tmp / "train.tsv", "w") as f:
            f.write("user_id\titem_id\tweight\n")
            f.writelines(f"{data.user_ids[u]}\t{data.item_ids[i]}\t{int(w)}\n"
                         for u, i, w in zip(coo.row, coo.col, coo.data, strict=True))
        tag_coo = tags.tocoo()
        with open(tmp / "tags.tsv", "w") as f:
            f.write("item_id\ttag\tcount\n")
            f.writelines(f"{data.item_ids[i]}\ttag{t}\t{int(c)}\n"
                         for i, t, c in zip(tag_coo.row, tag_coo.col, tag_coo.data, strict=True))
        (tmp / "users.txt").write_text("\n".join(map(str, data.user_ids)) + "\n")
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "timbral_assets.cli", "recommend-batch", "--train",
                               str(tmp / "train.tsv"), "--item-tags", str(tmp / "tags.tsv"), "--users",
                               str(tmp / "users.txt"), "--k", "50", "--output", str(tmp / "recs.tsv")],
                              capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(done.stderr)
        position = {str(u): i for i, u in enumerate(data.user_ids)}
        item_position = {str(t): i for i, t in enumerate(data.item_ids)}
        lists: dict[int, list[int]] = {}
        for line in (tmp / "recs.tsv").read_text().splitlines()[1:]:
            user, item, _, _ = line.split("\t")
            lists.setdefault(position[user], []).append(item_position[item])
    users = [u for u, items in enumerate(held) if items]
    report = ranking_report([lists.get(u, []) for u in users], [held[u] for u in users], data.n_items,
                            data.item_popularity())
    line = (f"recommend-batch on hetrec (split seed 11, {len(users):,} users, k = 50): **{seconds:.1f} s** end to "
            f"end; NDCG@10 {report['ndcg@10']:.4f}, P@10 {report['precision@10']:.4f}, R@50 {report['recall@50']:.4f}")
    print(line, flush=True)
    return [line], seconds


def synthetic_matrix(n_users: int, n_items: int, nnz: int, seed: int = 0) -> sp.csr_matrix:
    """Power-law item popularity and user activity, play counts from a geometric law."""
    rng = np.random.default_rng(seed)
    item_weight = 1.0 / np.arange(1, n_items + 1) ** 0.8
    user_weight = rng.pareto(1.5, n_users) + 1
    draws = int(nnz * 1.08)  # repeated pairs merge: draw a little more, then keep exactly nnz distinct pairs
    users = rng.choice(n_users, size=draws, p=user_weight / user_weight.sum())
    items = rng.choice(n_items, size=draws, p=item_weight / item_weight.sum())
    pairs = np.unique(users.astype(np.int64) * n_items + items)
    pairs = rng.choice(pairs, size=min(nnz, len(pairs)), replace=False)
    plays = rng.geometric(0.2, size=len(pairs)).astype(np.float32)
    return sp.csr_matrix((plays, (pairs // n_items, pairs % n_items)), shape=(n_users, n_items))


def als_overhead(name: str, plays: sp.csr_matrix) -> list[str]:
    """Our ALS path (confidence + fit with BLAS held to one thread) against implicit called directly."""
    from implicit.cpu.als import AlternatingLeastSquares

    params = {"factors": 64, "regularization": 12.39, "alpha": 1.067, "iterations": 18}
    started = time.perf_counter()
    ALS(**params).fit(plays)
    ours = time.perf_counter() - started
    matrix = confidence(plays)
    started = time.perf_counter()
    AlternatingLeastSquares(**params, random_state=0).fit(matrix, show_progress=False)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    fit_implicit_als(matrix, **params, seed=0)
    bare_one_blas = time.perf_counter() - started
    line = (f"ALS on {name} ({plays.shape[0]:,} x {plays.shape[1]:,}, {plays.nnz:,} interactions): ours "
            f"**{ours:.1f} s**, implicit called directly {bare:.1f} s (with BLAS at one thread {bare_one_blas:.1f} s): "
            f"ratio **{ours / bare:.2f}**")
    print(line, flush=True)
    return [line]


def faiss_scale(sizes: list[int], dim: int = 256) -> list[str]:
    from timbral_assets.recommend.vectors import VectorParams, build_index, index_kind, recall_at_10

    lines = ["| vectors | index | build s | queries/s | recall@10 vs exact |", "|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for n in sizes:
        centres = rng.normal(size=(200, dim)).astype(np.float32)
        vectors = centres[rng.integers(0, 200, n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for params in (VectorParams(exact_limit=n + 1), VectorParams(exact_limit=n)):
            started = time.perf_counter()
            index = build_index(vectors, params)
            build = time.perf_counter() - started
            recall, qps = recall_at_10(index, vectors, queries=1000)
            lines.append(f"| {n:,} | {index_kind(index)} | {build:.1f} | {qps:,.0f} | {recall:.4f} |")
            print(lines[-1], flush=True)
        del vectors
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hetrec", type=Path, default=DATA / "hetrec_lastfm_2k")
    parser.add_argument("--splits", type=int, default=4, help="hetrec split seeds 0..N-1 (0 is the tuning split)")
    parser.add_argument("--reranker", action="store_true", help="also the LambdaMART re-ranker on each split")
    parser.add_argument("--skip-scale", action="store_true", help="leave out the 10M-interaction ALS and FAISS")
    parser.add_argument("--faiss-sizes", default="100000,1000000")
    parser.add_argument("--tune", action="store_true", help="re-run the tuning on split 0's validation split")
    args = parser.parse_args()
    if not (args.hetrec / "user_artists.dat").exists():
        print(f"hetrec lastfm-2k not found at {args.hetrec}", file=sys.stderr)
        return 2
    if args.tune:
        from timbral_assets.recommend.tuning import tune_all

        data, tags = read_hetrec(args.hetrec)
        train, _ = split_per_user(data.plays, 0.2, seed=0)
        inner, held = split_per_user(train, 0.2, seed=101)
        print(json.dumps(tune_all(inner, held, tags, als_trials=30, weight_trials=80), indent=1))
        return 0
    lines = ["", f"## bench/recommend.py, {time.strftime('%Y-%m-%d %H:%M')}", ""]
    quality_lines, figures = quality(args.hetrec, list(range(args.splits)), args.reranker)
    lines += quality_lines + [""]
    batch_lines, batch_seconds = batch_end_to_end(args.hetrec)
    lines += batch_lines + [""]
    data, _ = read_hetrec(args.hetrec)
    lines += als_overhead("hetrec", data.plays)
    if not args.skip_scale:
        lines += als_overhead("a synthetic matrix", synthetic_matrix(200_000, 300_000, 10_000_000))
        lines += [""] + faiss_scale([int(s) for s in args.faiss_sizes.split(",")])
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    lines += ["", f"peak memory of the benchmark process: {peak_gb:.2f} GB"]
    path = append_results("recommend", lines)
    log_evaluation("recommend", {"splits": args.splits, "scale": not args.skip_scale},
                   {**figures, "recommend_batch_seconds": batch_seconds})
    print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
