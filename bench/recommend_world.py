"""The nightly CF chain (job nightly_cf) on a large listening history: seconds per asset and peak memory.

    python bench/recommend_world.py                            # 10M scrobbles (about 40 minutes)
    python bench/recommend_world.py --scrobbles 200000         # the smoke test's case

The chain reads what the catalog side writes: canonical plays (intermediate.int_scrobble_tracks), the catalog
(marts.tracks_core, marts.track_feature_view), text embeddings and mood predictions. Building those for 10M
scrobbles through resolution would measure resolution; this script writes them directly instead, from a
listening simulation with sessions, per-user tastes over artist clusters, skips and a power-law catalog. The
job then runs in its own process (as `timbral run` runs one), whose peak RSS is the figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MOOD = ("pred_energy", "pred_valence", "prob_upbeat", "prob_chill", "prob_dark", "prob_happy", "prob_sad",
        "prob_aggressive")
AUDIO = ("danceability", "energy", "valence", "tempo", "loudness", "acousticness", "instrumentalness",
         "speechiness", "liveness")


def simulate(n_scrobbles: int, seed: int = 0) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    n_users = max(50, n_scrobbles // 500)
    n_tracks = max(500, n_scrobbles // 50)
    n_artists = max(50, n_tracks // 10)
    n_styles = 40
    artist_style = rng.integers(0, n_styles, n_artists)
    track_artist = np.sort(rng.integers(0, n_artists, n_tracks))
    track_weight = 1.0 / (rng.permutation(n_tracks) + 1.0) ** 0.7
    user_styles = rng.integers(0, n_styles, (n_users, 3))
    style_tracks = [np.flatnonzero(artist_style[track_artist] == s) for s in range(n_styles)]
    user_activity = rng.pareto(1.2, n_users) + 1
    plays_per_user = np.maximum(5, (user_activity / user_activity.sum() * n_scrobbles).astype(int))
    users, tracks, times = [], [], []
    start = np.datetime64("2025-01-01T00:00:00")
    for u, count in enumerate(plays_per_user):
        styles = user_styles[u][rng.integers(0, 3, count)]
        picks = np.empty(count, dtype=np.int64)
        for s in np.unique(styles):
            pool = style_tracks[s] if len(style_tracks[s]) else np.arange(n_tracks)
            where = styles == s
            p = track_weight[pool] / track_weight[pool].sum()
            picks[where] = rng.choice(pool, size=int(where.sum()), p=p)
        # sessions: plays ~4 minutes apart (a few cut short), sessions hours apart over 180 days
        gaps = np.where(rng.random(count) < 0.08, rng.integers(3600, 86400 * 3, count), rng.integers(30, 300, count))
        offsets = np.cumsum(gaps) % (180 * 86400)
        users.append(np.full(count, u))
        tracks.append(picks)
        times.append(np.sort(offsets))
    users, tracks, times = np.concatenate(users), np.concatenate(tracks), np.concatenate(times)
    played_at = start + times.astype("timedelta64[s]")
    user_ids = np.char.add("user_", np.char.zfill(np.arange(n_users).astype(str), 7))
    track_ids = np.char.add("trk_", np.char.zfill(np.arange(n_tracks).astype(str), 9))
    artist_ids = np.char.add("art_", np.char.zfill(np.arange(n_artists).astype(str), 7))
    duration = rng.integers(120_000, 360_000, n_tracks)
    plays = pa.table({
        "scrobble_id": pa.array(np.arange(len(users))), "user_id": pa.array(user_ids[users]),
        "played_at": pa.array(played_at), "track_id": pa.array(track_ids[tracks]),
        "artist_id": pa.array(artist_ids[track_artist[tracks]]), "duration_ms": pa.array(duration[tracks]),
        "resolution_quality": pa.array(np.full(len(users), "high"))})
    counts = np.bincount(tracks, minlength=n_tracks)
    catalog = pa.table({"track_id": pa.array(track_ids), "artist_id": pa.array(artist_ids[track_artist]),
                        "artist_name": pa.array(np.char.add("Artist ", track_artist.astype(str))),
                        "title": pa.array(np.char.add("Track ", np.arange(n_tracks).astype(str))),
                        "duration_ms": pa.array(duration), "play_count": pa.array(counts)})
    style_centre = rng.normal(size=(n_styles, 384)).astype(np.float32)
    embedding = style_centre[artist_style[track_artist]] + rng.normal(size=(n_tracks, 384)).astype(np.float32)
    has_audio = rng.random(n_tracks) < 0.7
    features = {"track_id": pa.array(track_ids)}
    for name in AUDIO:
        values = rng.random(n_tracks)
        features[name] = pa.array(np.where(has_audio, values, np.nan), mask=~has_audio)
    return {"plays": plays, "catalog": catalog,
            "embedding": pa.table({"track_id": pa.array(track_ids), "encoder_model": pa.array(["bench"] * n_tracks),
                                   "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.ravel()), 384)}),
            "mood": pa.table({"track_id": pa.array(track_ids),
                              **{c: pa.array(rng.random(n_tracks)) for c in MOOD}}),
            "features": pa.table(features)}


def write_warehouse(home: Path, tables: dict[str, pa.Table]) -> None:
    import duckdb

    home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    for schema in ("staging", "intermediate", "marts", "features", "models", "recs", "evaluation"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, table in [("intermediate.int_scrobble_tracks", "plays"), ("marts.tracks_core", "catalog"),
                        ("features.track_text_embedding", "embedding"), ("features.track_mood_pred", "mood"),
                        ("marts.track_feature_view", "features")]:
        con.register("t", tables[table])
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM t")
        con.unregister("t")
    con.execute("CREATE OR REPLACE TABLE staging.stg_scrobbles AS SELECT DISTINCT user_id "
                "FROM intermediate.int_scrobble_tracks")
    con.close()


RUNNER = """
import time, dagster as dg
from timbral_assets.definitions import defs
started = time.perf_counter()
result = defs.get_job_def("nightly_cf").execute_in_process(instance=dg.DagsterInstance.get(), raise_on_error=False)
for event in result.all_events:
    if event.event_type_value == "STEP_SUCCESS":
        print(f"STEP {event.step_key} {event.event_specific_data.duration_ms / 1000:.1f} s")
    elif event.event_type_value == "STEP_FAILURE":
        print(f"STEP {event.step_key} FAILED: {event.event_specific_data.error.message[:500]}")
for event in result.get_asset_materialization_events():
    m = event.event_specific_data.materialization
    keep = {k: v.value for k, v in m.metadata.items() if k in ("dagster/row_count", "index", "recall_at_10_vs_exact",
            "fit_overhead_ratio", "fit_seconds", "bare_implicit_seconds", "asset_seconds", "queries_per_second")}
    print("META", m.asset_key.to_user_string(), keep)
print(f"JOB {'success' if result.success else 'failure'} {time.perf_counter() - started:.1f}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scrobbles", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        tables = simulate(args.scrobbles, args.seed)
        shape = (f"{tables['plays'].num_rows:,} scrobbles, {len(set(tables['plays']['user_id'].to_pylist())):,} "
                 f"users, {tables['catalog'].num_rows:,} tracks")
        write_warehouse(home, tables)
        del tables
        print(f"warehouse written in {time.perf_counter() - started:.0f} s: {shape}", flush=True)
        (home / "dagster").mkdir()
        (home / "dagster" / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        env = {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
               "TIMBRAL_HETREC_DIR": "off"}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", RUNNER], env=env, cwd=REPO, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
    lines = [line for line in done.stdout.splitlines() if line.startswith(("STEP", "META", "JOB"))]
    print("\n".join(lines))
    if done.returncode or not any(line.startswith("JOB success") for line in lines):
        print(done.stderr[-5000:], file=sys.stderr)
        return 1
    summary = f"nightly_cf on {shape}: **{seconds:.0f} s**, peak memory **{peak_gb:.2f} GB**"
    print(summary)
    path = append_results("recommend_world", ["", f"## bench/recommend_world.py, {time.strftime('%Y-%m-%d %H:%M')}",
                                              "", summary, "", "```", *lines, "```"])
    print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
