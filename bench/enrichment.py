"""Enrichment on a synthetic world, where the truth is known: label coverage before and after by source, the
labels' precision, and unknown-artist identification's resolution rate and precision per confidence tier.

    python bench/enrichment.py                                  # the default world (200k scrobbles)
    python bench/enrichment.py --n-scrobbles 1000000            # a larger world: more DJ sets and IDs
    python bench/enrichment.py --n-scrobbles 4000               # the smoke test's case

It runs `timbral run` into a fresh home (the catalog, AOTY labels and title labels, as `make run` leaves
them), then starts the MusicBrainz and store-page emulators on 127.0.0.1, serving the world's truth with
gaps and a few wrong answers (timbral_assets/sources/synthetic/services.py), and materializes the enrichment
assets against them. MusicBrainz's real limit is 1 request/s; the emulator and client here use
--interval (default 0.02 s) so that the run takes minutes, and the script prints what the same requests
take at 1/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import append_results  # noqa: E402
from timbral_assets.definitions import all_assets  # noqa: E402
from timbral_assets.enrichment.evaluation import identification_report, label_report  # noqa: E402
from timbral_assets.resources import EnrichmentResource, local_resources  # noqa: E402
from timbral_assets.sources.synthetic.services import MusicBrainzEmulator, StoreEmulator, load_world_tracks  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ENRICHMENT = ["enrichment_status", "cooldown_queue_status", "artist_identifications"]


def build_home(home: Path, n_scrobbles: int) -> float:
    start = time.perf_counter()
    env = {**os.environ, "TIMBRAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    subprocess.run([sys.executable, "-m", "timbral_assets.cli", "run", "--n-scrobbles", str(n_scrobbles)],
                   env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def reports(home: Path, world: Path) -> tuple[list[dict], list[dict]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return label_report(con, world), identification_report(con, world)
    finally:
        con.close()


def sensor_tick_seconds(queue_size: int, workdir: Path) -> tuple[float, float, int]:
    """cooldown_retry_sensor's two ticks over a snapshot of `queue_size` queued tracks, half of them due,
    the second with the first's cursor: (seconds of the first, of the second, tracks requested)."""
    import duckdb as ddb

    from timbral_assets.automation.sensors import cooldown_retry_sensor
    from timbral_assets.resources import WarehouseResource

    home = workdir / "sensor_home"
    snapshot = home / "snapshots/cooldown_queue.parquet"
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    con = ddb.connect()
    con.execute(f"""COPY (SELECT 'trk_' || lpad(i::VARCHAR, 9, '0') AS track_id, 'cooling_down' AS status,
                                 (1 + i % 4)::INTEGER AS retry_attempts,
                                 now()::TIMESTAMP + to_seconds(((i * 7919) % 8640000)::BIGINT - 4320000) AS retry_after,
                                 'adaptive' AS cooldown_strategy
                          FROM range({queue_size}) t(i) ORDER BY retry_after, track_id) TO '{snapshot}' (FORMAT parquet)""")
    con.close()
    resources = {"warehouse_db": WarehouseResource(timbral_home=str(home)),
                 "enrichment": EnrichmentResource(musicbrainz_url="http://127.0.0.1:9/ws/2")}
    with dg.DagsterInstance.ephemeral() as instance:
        start = time.perf_counter()
        first = cooldown_retry_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        one = time.perf_counter() - start
        start = time.perf_counter()
        cooldown_retry_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
        two = time.perf_counter() - start
    requested = sum(len(r.run_config["ops"]["enrichment_status"]["config"]["track_ids"]) for r in first.run_requests)
    return one, two, requested


def labelled_share(rows: list[dict]) -> float:
    return sum(r["share"] for r in rows if r["source"] != "none")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-scrobbles", type=int, default=200_000)
    parser.add_argument("--interval", type=float, default=0.02, help="MusicBrainz emulator and client spacing, s")
    parser.add_argument("--home", help="a home to reuse (default: a new temporary one)")
    parser.add_argument("--queue-size", type=int, default=1_000_000, help="queued tracks for the sensor-tick timing")
    args = parser.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="timbral-enrichment-")) / "home"
    built = 0.0
    if not (home / "warehouse.duckdb").exists():
        print(f"timbral run --n-scrobbles {args.n_scrobbles:,} into {home} ...", flush=True)
        built = build_home(home, args.n_scrobbles)
    world = Path(json.loads((home / "bucket/synthetic/current.json").read_text())["folder"])
    before_labels, _ = reports(home, world)

    tracks = load_world_tracks(world)
    with (MusicBrainzEmulator(tracks, min_interval_s=args.interval) as mb,
          StoreEmulator(tracks, crawl_delay_s=args.interval) as store):
        enrichment = EnrichmentResource(musicbrainz_url=f"{mb.url}/ws/2", store_url=store.url,
                                        musicbrainz_interval_s=args.interval, musicbrainz_jitter_s=args.interval / 10,
                                        store_delay_s=args.interval)
        start = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                all_assets, selection=ENRICHMENT, instance=instance,
                resources=local_resources(home, enrichment=enrichment),
                run_config={"ops": {"enrichment_status": {"config": {"max_remote_tracks": 10_000_000}}}})
        seconds = time.perf_counter() - start
        assert result.success
        mb_requests, store_requests, rate_limited = len(mb.requests), len(store.requests), mb.rate_limited
    after_labels, identification = reports(home, world)

    name = f"{args.n_scrobbles:,} scrobbles"
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} - {name}, emulator interval {args.interval} s\n",
             f"`python bench/enrichment.py --n-scrobbles {args.n_scrobbles}` (home built in {built:.0f} s)\n",
             "| label source | tracks before | share before | tracks after | share after | precision |",
             "|---|---|---|---|---|---|"]
    before = {r["source"]: r for r in before_labels}
    for r in after_labels:
        b = before.get(r["source"], {"tracks": 0, "share": 0.0})
        precision = f"{r['precision']:.3f}" if r["precision"] is not None else ""
        lines.append(f"| {r['source']} | {b['tracks']:,} | {b['share']:.1%} | {r['tracks']:,} | {r['share']:.1%} | {precision} |")
    labelled = [r for r in after_labels if r["source"] != "none"]
    found = [r for r in labelled if r["source"] not in ("aoty",)]
    hunted_precision = (sum(r["precision"] * r["tracks"] for r in found) / max(1, sum(r["tracks"] for r in found)))
    lines += ["", f"- label coverage: **{labelled_share(before_labels):.1%} → {labelled_share(after_labels):.1%}**; "
                  f"precision of the labels the hunter found (title, MusicBrainz, store pages): **{hunted_precision:.3f}**",
              f"- the hunt: {seconds:.0f} s with {mb_requests:,} MusicBrainz and {store_requests:,} store requests "
              f"({rate_limited} refused as too fast); at MusicBrainz's 1 request/s the MusicBrainz part alone "
              f"takes {mb_requests / 3600:.1f} h", "",
              "| unknown-artist plays | tier | plays | right | precision |", "|---|---|---|---|---|"]
    for r in identification:
        lines.append(f"| {r['source']} | {r['tier']} | {r['plays']:,} | {r['right']:,} | "
                     f"{r['precision']:.3f} |" if r["precision"] is not None else "")
    for source in sorted({r["source"] for r in identification}):
        rows = [r for r in identification if r["source"] == source]
        n = sum(r["plays"] for r in rows)
        accepted = [r for r in rows if r["tier"] != "rejected"]
        named = sum(r["plays"] for r in accepted)
        right = sum(r["right"] for r in accepted)
        lines.append(f"\n- {source}: **{named / max(1, n):.1%} resolved** ({named:,} of {n:,}), "
                     f"precision of the accepted {right / max(1, named):.3f}")
    one, two, requested = sensor_tick_seconds(args.queue_size, home.parent)
    lines.append(f"\n- cooldown_retry_sensor over a snapshot of {args.queue_size:,} queued tracks (half due): "
                 f"first tick {one:.2f} s ({requested:,} tracks in its runs), the next {two:.2f} s")
    print("\n".join(lines))
    append_results("enrichment", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
