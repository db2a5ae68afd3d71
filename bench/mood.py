"""The mood/energy model on real Spotify tracks: artist-disjoint cross-validation against the baselines,
training time, text-embedding throughput (cold and warm) and scoring throughput.

    python bench/mood.py                       # the 114k-row Spotify file (80k tracks with audio features)
    python bench/mood.py --limit 3000 --folds 3 --trees 40   # the smoke test's case

Tracks are tagged as the mood_model asset tags them: the Spotify genre, and the Last.fm (hetrec) tags of
the first-credited artist when hetrec is present; those artist tags may also set a label (labels.py).
Embeddings go into a cache under bench/out, so a second run measures the warm path.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results, log_evaluation, out_dir  # noqa: E402
from timbral_assets.mood.dataset import read_labelled_spotify, top_tags_by_artist  # noqa: E402
from timbral_assets.mood.features import title_cues  # noqa: E402
from timbral_assets.mood.model import ModelParams, choose_tuning, cross_validate, train_mood_model  # noqa: E402
from timbral_assets.mood.text import text_of  # noqa: E402
from timbral_assets.resolution.embeddings import EmbeddingCache, TextEncoder  # noqa: E402
from timbral_assets.resolution.encoders import TEXT_ENCODER  # noqa: E402
from timbral_assets.sources.metadata_files import read_artist_tags  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def artist_tags(path: Path) -> dict[str, list[str]]:
    """hetrec's tags per artist: the ten with the most taggers, as the mood_model asset ranks them."""
    if not path.exists():
        return {}
    table = read_artist_tags(path).tables["artist_tags"]
    return top_tags_by_artist((a, t, 1) for a, t in zip(table["artist_name"].to_pylist(), table["tag"].to_pylist(),
                                                         strict=True))


def load(spotify: Path, hetrec: Path, limit: int, seed: int):
    tags_by_artist = artist_tags(hetrec)
    data = read_labelled_spotify(spotify, tags_by_artist)
    if limit and len(data) > limit:
        data = data.subset(np.sort(np.random.default_rng(seed).permutation(len(data))[:limit]))
    return data, len(tags_by_artist)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spotify", type=Path, default=DATA / "spotify_tracks" / "spotify_tracks.csv.gz")
    parser.add_argument("--hetrec", type=Path, default=DATA / "hetrec_lastfm_2k" / "user_taggedartists.dat")
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of this many tracks (0: all)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.08)
    parser.add_argument("--no-embedding", action="store_true", help="metadata without the text embedding")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", default=TEXT_ENCODER, help="resolution/encoders.py: <model>[@torch|onnx-int8|static]")
    args = parser.parse_args()
    if not args.spotify.exists():
        sys.exit(f"no Spotify file at {args.spotify} (the public data sets live in ../shared/data)")

    started = time.perf_counter()
    data, tagged_artists = load(args.spotify, args.hetrec, args.limit, args.seed)
    load_s = time.perf_counter() - started
    with_tags = sum(1 for t in data.tracks if len(t.tags) > 1)
    print(f"{len(data):,} labelled tracks by {data.n_artists:,} artists ({with_tags:,} with Last.fm artist tags "
          f"from {tagged_artists:,} hetrec artists); label rates "
          + ", ".join(f"{m} {r:.1%}" for m, r in zip(("upbeat", "chill", "dark", "happy", "sad", "aggressive"),
                                                       data.labels.mean(axis=0), strict=True)), flush=True)

    embeddings, encode = None, {}
    if not args.no_embedding:
        cache_path = out_dir() / "mood_embeddings.duckdb"
        texts = [text_of(t) for t in data.tracks]
        for phase in ("first", "second"):  # cold where the cache is new, then warm
            encoder = TextEncoder(args.encoder, cache=EmbeddingCache(cache_path))
            encoder.progress = lambda done, total: print(f"  encoded {done:,} of {total:,}", flush=True)
            t0 = time.perf_counter()
            embeddings = encoder.encode(texts)
            seconds = time.perf_counter() - t0
            encode[phase] = (encoder.encoded_count, seconds)
            encoder.cache.close()
            print(f"embedding pass {phase}: {encoder.encoded_count:,} encoded, {len(texts) - encoder.encoded_count:,} "
                  f"cached, {seconds:.1f} s ({len(texts) / seconds:,.0f} texts/s)", flush=True)

    params = ModelParams(n_estimators=args.trees, learning_rate=args.learning_rate, seed=args.seed)
    t0 = time.perf_counter()
    tuning = choose_tuning(data.tracks, data.energy, data.valence, data.labels, embeddings, params)
    tuning_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cv = cross_validate(data.tracks, data.energy, data.valence, data.labels, embeddings, args.folds, params, tuning)
    cv_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = train_mood_model(data.tracks, data.energy, data.valence, data.labels, embeddings, params,
                             args.encoder if embeddings is not None else None, tuning)
    train_s = time.perf_counter() - t0
    title_cues.cache_clear()  # score as for titles never seen, not the training's cached cues
    t0 = time.perf_counter()
    model.predict(data.tracks, embeddings)
    score_s = time.perf_counter() - t0

    features = "metadata" + ("" if embeddings is None else " + text embedding")
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')}: {len(data):,} Spotify tracks ({args.spotify.name}), {features}, "
                 f"{args.folds}-fold artist-disjoint CV, up to {args.trees} trees at {args.learning_rate}"
                 + (f", encoder {args.encoder}" if embeddings is not None else ""), "",
             cv.table_markdown(), "",
             "| step | seconds | rate |", "|---|---|---|",
             f"| load and label | {load_s:.1f} | |"]
    for phase, (encoded, seconds) in encode.items():
        lines.append(f"| text embedding, {phase} pass ({encoded:,} encoded) | {seconds:.1f} | "
                     f"{len(data) / seconds:,.0f} texts/s |")
    lines += [f"| tree counts and thresholds, chosen once on held-out artists | {tuning_s:.1f} | |",
              f"| cross-validation ({args.folds} trainings) | {cv_s:.1f} | |",
              f"| training on every track | {train_s:.1f} | trees: "
              + ", ".join(f"{k} {v}" for k, v in model.trees.items()) + " |",
              f"| scoring every track (embeddings at hand) | {score_s:.2f} | {len(data) / score_s:,.0f} tracks/s |"]
    print("\n".join(lines))
    metrics = {f"{r['target']}/{r['predictor'].split(' ')[0]}/{k}": r[k] for r in cv.rows
               for k in ("rmse", "r2", "micro_f1", "macro_f1") if r.get(k) is not None}
    metrics.update({"train_s": train_s, "cv_s": cv_s, "score_tracks_per_s": len(data) / score_s})
    log_evaluation("mood_model", {"tracks": len(data), "features": features, "trees": args.trees,
                                  "folds": args.folds, "encoder": args.encoder if embeddings is not None else "none"}, metrics, {"evaluation.json": cv.rows})
    print(f"results appended to {append_results('mood', lines)}")


if __name__ == "__main__":
    main()
