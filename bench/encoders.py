"""Text encoders side by side: speed, and quality where each is used (resolution/encoders.py).

Candidates (`--candidates`): the packaged all-MiniLM-L6-v2 through PyTorch (`torch`, the encoder before issue
24), the same network as int8 ONNX (`onnx-int8`, the resolver's default) and a static encoder distilled from it
(`static`, the default for track texts).

  speed    texts/s on a synthetic world's resolver strings ("artist - title") and on its catalog's track texts
           (names, album, tags, review snippets), each from an empty cache, model already loaded
  names    the semantic tier's task, nearest neighbours by cosine: on MusicBrainz-20K every record with a
           duplicate searches all others (recall@1, recall@8: the tier keeps 8); on the iTunes-Amazon valid splits
           each positive pair's left record searches every right record; on a synthetic world (seed 101) its
           messy strings search the canonical ones (recall@1, @5, hard negatives ranked below the true track)
  mood     (--mood) the mood model's artist-disjoint 5-fold CV on the real Spotify file with the candidate's
           text embeddings, as bench/mood.py runs it: energy and valence RMSE, mood micro-F1
  vectors  (--vectors) a synthetic world through `timbral run`, then track_text_embedding, mood_model,
           track_mood_pred, track_vector, recs_for_you, similar_tracks and eval_metrics again with the candidate
           for track texts: NDCG@10 on the last 30 days of the content model (track vectors alone) and the hybrid

    python bench/encoders.py --mood --vectors              # every figure (about 40 minutes, torch the most)
    python bench/encoders.py --candidates onnx-int8,static --world-scrobbles 20000 --eval-scrobbles 3000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.results_file import append_results, log_evaluation, out_dir  # noqa: E402
from timbral_assets.resolution.benchmarks import magellan_pairs, musicbrainz_20k  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.encoders import PACKAGED_MODEL, load_encoder  # noqa: E402
from timbral_assets.resolution.records import embedding_text  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
CANDIDATES = {"torch": PACKAGED_MODEL, "onnx-int8": f"{PACKAGED_MODEL}@onnx-int8", "static": f"{PACKAGED_MODEL}@static"}


def neighbour_recall(queries: np.ndarray, corpus: np.ndarray, targets: list[set[int]], ks=(1, 8),
                     query_rows: list[int] | None = None) -> dict[str, float]:
    """Share of queries with a target among their k nearest corpus rows (cosine: the vectors are unit length).
    `query_rows`: the corpus row of each query, which it may not find (a record searching its own table)."""
    hits = {k: 0 for k in ks}
    for start in range(0, len(queries), 2048):
        sims = queries[start:start + 2048] @ corpus.T
        if query_rows is not None:
            sims[np.arange(sims.shape[0]), query_rows[start:start + 2048]] = -np.inf
        top = np.argsort(-sims, axis=1)[:, :max(ks)]
        for row, found in enumerate(top):
            wanted = targets[start + row]
            for k in ks:
                hits[k] += any(int(i) in wanted for i in found[:k])
    return {f"R@{k}": hits[k] / len(queries) for k in ks}


def musicbrainz_recall(encoder: TextEncoder, max_records: int = 0) -> dict[str, float]:
    data = musicbrainz_20k(DATA / "musicbrainz_20k" / "musicbrainz-20-A01.csv")
    records = data.records[:max_records] if max_records else data.records
    clusters = [data.truth[r.record_id] for r in records]
    members: dict[str, set[int]] = {}
    for i, c in enumerate(clusters):
        members.setdefault(c, set()).add(i)
    vectors = encoder.encode([embedding_text(r.artist, r.title) for r in records])
    rows = [i for i, c in enumerate(clusters) if len(members[c]) > 1]
    scores = neighbour_recall(vectors[rows], vectors, [members[clusters[i]] - {i} for i in rows], query_rows=rows)
    return {f"mb20k {k}": v for k, v in scores.items()}


def itunes_recall(encoder: TextEncoder) -> dict[str, float]:
    out = {}
    for kind in ("structured", "dirty"):
        pairs = magellan_pairs(DATA / "itunes_amazon" / f"{kind}_valid.txt")
        text = lambda side: embedding_text(side.get("artist"), side.get("title"))  # noqa: E731
        rights = sorted({text(p.right) for p in pairs})
        index = {t: i for i, t in enumerate(rights)}
        positives = [p for p in pairs if p.label == 1]
        scores = neighbour_recall(encoder.encode([text(p.left) for p in positives]), encoder.encode(rights),
                                  [{index[text(p.right)]} for p in positives])
        out.update({f"itunes {kind} {k}": v for k, v in scores.items()})
    return out


def synthetic_recall(encoder: TextEncoder, world: Path) -> dict[str, float]:
    from timbral_assets.resolution.finetune import evaluate_encoder

    scores = evaluate_encoder(encoder, world / "truth", max_queries=4000)
    return {"synthetic R@1": scores.recall_at_1, "synthetic R@5": scores.recall_at_5,
            "synthetic hard negatives below": scores.hard_negative_accuracy,
            "synthetic other-script R@1": scores.recall_at_1_by_kind.get("other_script", float("nan"))}


def world_texts(home: Path) -> tuple[list[str], list[str]]:
    """A materialized world's resolver strings and catalog track texts."""
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        names = [embedding_text(a, t) for a, t in con.execute(
            "SELECT artist_raw, track_raw FROM resolution.variants ORDER BY variant_id").fetchall()]
        texts = [r[0] for r in con.execute("SELECT text FROM features.track_text_embedding ORDER BY track_id").fetchall()]
    finally:
        con.close()
    return names, texts


def speed(spec: str, texts: list[str]) -> float:
    encoder = TextEncoder(spec)  # an in-memory cache: every text is encoded
    started = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - started)


def mood_scores(spec: str, limit: int) -> dict[str, float]:
    from bench.mood import load
    from timbral_assets.mood.model import ModelParams, choose_tuning, cross_validate
    from timbral_assets.mood.text import text_of

    data, _ = load(DATA / "spotify_tracks" / "spotify_tracks.csv.gz", DATA / "hetrec_lastfm_2k" /
                   "user_taggedartists.dat", limit, 0)
    encoder = TextEncoder(spec, EmbeddingCache(out_dir() / "mood_embeddings.duckdb"))
    embeddings = encoder.encode([text_of(t) for t in data.tracks])
    params = ModelParams(n_estimators=300, learning_rate=0.08, seed=0)
    tuning = choose_tuning(data.tracks, data.energy, data.valence, data.labels, embeddings, params)
    cv = cross_validate(data.tracks, data.energy, data.valence, data.labels, embeddings, 5, params, tuning)
    pick = {(r["target"], r["predictor"]): r for r in cv.rows}
    return {"energy RMSE": pick["energy", "model"]["rmse"], "valence RMSE": pick["valence", "model"]["rmse"],
            "mood micro-F1": pick["moods", "model"]["micro_f1"]}


VECTOR_CHAIN = ["track_text_embedding", "mood_model", "track_mood_pred", "track_vector", "recs_for_you",
                "similar_tracks", "eval_metrics"]


def vector_scores(home: Path, spec: str) -> dict[str, float]:
    import dagster as dg
    import duckdb

    from timbral_assets.definitions import defs
    from timbral_assets.resources import ResolutionResource, local_resources

    assets = list(defs.assets)
    resources = local_resources(home, resolution=ResolutionResource(timbral_home=str(home), text_encoder_model=spec))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, selection=VECTOR_CHAIN, resources=resources, instance=instance,
                                raise_on_error=False)
    if not result.success:
        raise SystemExit(f"the vector chain failed with {spec}")
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = dict(con.execute("""SELECT model, "ndcg@10" FROM evaluation.eval_metrics
            WHERE protocol = 'world_last_days' AND recorded_at = (SELECT max(recorded_at) FROM evaluation.eval_metrics)
            """).fetchall())
    finally:
        con.close()
    return {"content NDCG@10": rows["content"], "hybrid NDCG@10": rows["hybrid"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--world-scrobbles", type=int, default=200_000)
    parser.add_argument("--eval-scrobbles", type=int, default=30_000, help="the synthetic retrieval world (seed 101)")
    parser.add_argument("--mb-records", type=int, default=0, help="MusicBrainz-20K's first N records only (0: all)")
    parser.add_argument("--mood", action="store_true", help="the mood CV on the real Spotify file per candidate")
    parser.add_argument("--mood-limit", type=int, default=0, help="a seeded sample of the Spotify tracks (0: all)")
    parser.add_argument("--vectors", action="store_true", help="the recommender chain per candidate")
    args = parser.parse_args()
    candidates = [c for c in args.candidates.split(",") if c]
    unknown = set(candidates) - set(CANDIDATES)
    if unknown:
        raise SystemExit(f"unknown candidates {sorted(unknown)}: pick from {', '.join(CANDIDATES)}")
    results: dict[str, dict[str, float]] = {c: {} for c in candidates}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
        print(f"materializing a {args.world_scrobbles:,}-scrobble world", flush=True)
        subprocess.run([sys.executable, "-m", "timbral_assets.cli", "run", "--n-scrobbles", str(args.world_scrobbles)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        names, texts = world_texts(home)
        from timbral_assets.sources.synthetic.world import WorldConfig, generate_world

        eval_world = Path(tmp) / "world101"
        generate_world(WorldConfig(seed=101, n_scrobbles=args.eval_scrobbles), eval_world)
        for name in candidates:
            spec = CANDIDATES[name]
            started = time.perf_counter()
            load_encoder(spec)
            results[name]["load or build s"] = time.perf_counter() - started
            results[name]["names/s"] = speed(spec, names)
            results[name]["track texts/s"] = speed(spec, texts)
            print(f"{name}: {results[name]['names/s']:,.0f} names/s, {results[name]['track texts/s']:,.0f} track "
                  "texts/s", flush=True)
            encoder = TextEncoder(spec)
            if (DATA / "musicbrainz_20k").exists():
                results[name].update(musicbrainz_recall(encoder, args.mb_records))
            if (DATA / "itunes_amazon").exists():
                results[name].update(itunes_recall(encoder))
            results[name].update(synthetic_recall(encoder, eval_world))
            if args.mood and (DATA / "spotify_tracks").exists():
                results[name].update(mood_scores(spec, args.mood_limit))
            if args.vectors:
                results[name].update(vector_scores(home, spec))
            print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[name].items()), flush=True)
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')}: encoders on a {args.world_scrobbles:,}-scrobble world "
                 f"({len(names):,} resolver strings, {len(texts):,} track texts)", "",
             "| encoder | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, figures in results.items():
        lines.append(f"| {CANDIDATES[name]} | " + " | ".join(
            (f"{figures[k]:,.0f}" if k.endswith("/s") else f"{figures[k]:.4f}") if k in figures else "" for k in keys)
            + " |")
    print("\n".join(lines))
    for name, figures in results.items():
        log_evaluation(f"encoder_{name}", {"encoder": CANDIDATES[name], "world_scrobbles": args.world_scrobbles},
                       {k.replace("/", " per ").replace("@", " at "): v for k, v in figures.items()})
    print(f"results appended to {append_results('encoders', lines)}")


if __name__ == "__main__":
    main()
