"""The cool-down loop with real parts: enrichment_status runs against a local MusicBrainz emulator on a real
DuckDB file, and cooldown_retry_sensor is evaluated on a real Dagster instance with Dagster's clock moved
forward until the cooling-down tracks are due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from timbral_assets.assets.enrichment import QUEUE_SNAPSHOT
from timbral_assets.automation.sensors import cooldown_retry_sensor
from timbral_assets.definitions import all_assets, defs
from timbral_assets.resources import EnrichmentResource, WarehouseResource, local_resources
from timbral_assets.sources.synthetic.services import MusicBrainzEmulator, load_world_tracks
from timbral_assets.warehouse import connect, create_layout

RETRY = ["enrichment_status", "cooldown_queue_status"]


@pytest.fixture
def catalog_home(tmp_path, tiny_world):
    """A home whose warehouse holds a small canonical catalog (the tables enrichment_status reads), made of
    tiny-world tracks, one per album, so that every MusicBrainz answer is a request of its own."""
    tracks = list({t.album_id: t for t in reversed(load_world_tracks(tiny_world))}.values())[:24]
    home = tmp_path / "home"
    home.mkdir()
    con = connect(home / "warehouse.duckdb")
    create_layout(con)
    con.execute("CREATE TABLE marts.tracks_core (track_id VARCHAR, artist_id VARCHAR, artist_name VARCHAR, "
                "title VARCHAR, artist_norm VARCHAR, title_norm VARCHAR)")
    con.execute("CREATE TABLE intermediate.int_scrobble_tracks (track_id VARCHAR, track_raw VARCHAR)")
    con.execute("CREATE TABLE staging.stg_aoty_album_tracks (artist_norm VARCHAR, title_norm VARCHAR, label VARCHAR, "
                "release_year INTEGER)")
    con.executemany("INSERT INTO marts.tracks_core VALUES (?, ?, ?, ?, ?, ?)",
                    [(f"t{i:02d}", t.artist_id, t.artist, t.title, t.artist.lower(), t.title.lower())
                     for i, t in enumerate(tracks)])
    con.executemany("INSERT INTO intermediate.int_scrobble_tracks VALUES (?, ?)",
                    [(f"t{i:02d}", t.title) for i, t in enumerate(tracks)])
    con.close()
    return home, tracks


def _hunt(home, mb_url: str, **config) -> dg.ExecuteInProcessResult:
    enrichment = EnrichmentResource(musicbrainz_url=mb_url, musicbrainz_interval_s=0.0, musicbrainz_jitter_s=0.0)
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize(all_assets, selection=RETRY, instance=instance,
                              resources=local_resources(home, enrichment=enrichment),
                              run_config={"ops": {"enrichment_status": {"config": config}}})


def _queue(home) -> dict[str, tuple]:
    con = connect(home / "warehouse.duckdb", read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT track_id, status, retry_attempts, retry_after, label, label_source FROM enrichment.enrichment_status "
            "ORDER BY track_id").fetchall()}
    finally:
        con.close()


def _tick(instance, home, cursor=None, mb_url="http://127.0.0.1:9/ws/2"):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={
        "warehouse_db": WarehouseResource(timbral_home=str(home)),
        "enrichment": EnrichmentResource(musicbrainz_url=mb_url)})
    return cooldown_retry_sensor(context)


def test_the_sensor_retries_what_is_due_once_and_never_the_exhausted(catalog_home):
    home, tracks = catalog_home
    with MusicBrainzEmulator(tracks[:10], min_interval_s=0.0, coverage=1.0, label_right=1.0) as mb:
        url = f"{mb.url}/ws/2"
        # three tracks get one attempt only: unknown to MusicBrainz, they are exhausted at once
        assert _hunt(home, url, track_ids=["t20", "t21", "t22"], max_attempts=1).success
        # the others are pending, never tried: due at once
        with dg.DagsterInstance.ephemeral() as instance:
            (pending,) = _tick(instance, home).run_requests
            config = pending.run_config["ops"]["enrichment_status"]["config"]
            assert config["track_ids"] == [f"t{i:02d}" for i in range(24) if i not in (20, 21, 22)]
            assert set(config["attempts"]) == {0}
        # then everything else: the ten MusicBrainz knows are enriched, the rest cool down
        started = datetime.now(UTC).replace(tzinfo=None)
        assert _hunt(home, url).success
    queue = _queue(home)
    assert {k for k, v in queue.items() if v[0] == "exhausted"} == {"t20", "t21", "t22"}
    enriched = {k for k, v in queue.items() if v[0] == "enriched"}
    assert enriched == {f"t{i:02d}" for i in range(10)}
    assert all(queue[k][3] == tracks[int(k[1:])].label and queue[k][4] == "musicbrainz" for k in enriched)
    cooling = {k: v for k, v in queue.items() if v[0] == "cooling_down"}
    assert len(cooling) == 11 and all(v[1] == 1 for v in cooling.values())
    # adaptive, first failure: 30 days (45 for a recent release, 60 if the artist has a label), ±10%
    assert all(started + timedelta(days=27) <= v[2] <= started + timedelta(days=66.1) for v in cooling.values())
    assert (home / QUEUE_SNAPSHOT).exists()

    with dg.DagsterInstance.ephemeral() as instance:
        # now: nothing is due
        result = _tick(instance, home)
        assert not result.run_requests and "nothing due" in result.skip_reason.skip_message
        # 70 days on, every cooling-down track is due: one run for all eleven, never an exhausted one
        with freeze_time(datetime.now(UTC) + timedelta(days=70)):
            first = _tick(instance, home, result.cursor)
            (request,) = first.run_requests
            config = request.run_config["ops"]["enrichment_status"]["config"]
            assert sorted(config["track_ids"]) == sorted(cooling) and config["attempts"] == [1] * 11
            assert [t for t in config["track_ids"]] == sorted(cooling, key=lambda k: (cooling[k][2], k))
            assert request.asset_selection == [dg.AssetKey(k) for k in RETRY]
            assert request.run_key.startswith("cooldown-") and request.tags["timbral/trigger"] == "cooldown_retry"
            # the next tick asks for none of them again
            second = _tick(instance, home, first.cursor)
            assert not second.run_requests
            assert sorted(json.loads(second.cursor)["requested"]) == sorted(f"{k}:1" for k in cooling)
        # the requested run goes as the sensor asked (its config validates against the job), against a
        # MusicBrainz that now knows the first four of them
        dg.validate_run_config(defs.resolve_job_def("enrichment_job"), request.run_config)
        retried = sorted(cooling)[:4]
        with MusicBrainzEmulator([tracks[int(k[1:])] for k in retried], min_interval_s=0.0, coverage=1.0,
                                 label_right=1.0) as mb:
            assert _hunt(home, f"{mb.url}/ws/2", **config).success
        after = _queue(home)
        assert {k for k in cooling if after[k][0] == "enriched"} == set(retried)
        assert all(after[k][0] == "cooling_down" and after[k][1] == 2 and after[k][2] > cooling[k][2]
                   for k in cooling if k not in retried)
        assert all(after[k] == queue[k] for k in queue if k not in cooling)  # nothing else moved
        # the same config again (a duplicate run) moves nothing: the attempts no longer match
        with MusicBrainzEmulator(tracks, min_interval_s=0.0, coverage=1.0) as mb:
            assert _hunt(home, f"{mb.url}/ws/2", **config).success
        assert _queue(home) == after
        # when they come due again, only the second attempts are asked for; the cursor forgot the first ones
        with freeze_time(datetime.now(UTC) + timedelta(days=400)):
            third = _tick(instance, home, second.cursor)
            (request,) = third.run_requests
            again = request.run_config["ops"]["enrichment_status"]["config"]
            assert sorted(again["track_ids"]) == sorted(set(cooling) - set(retried)) and set(again["attempts"]) == {2}
            assert request.run_key != first.run_requests[0].run_key
            assert sorted(json.loads(third.cursor)["requested"]) == sorted(f"{k}:2" for k in again["track_ids"])


def test_the_sensor_waits_for_a_source_and_a_snapshot(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={
            "warehouse_db": WarehouseResource(timbral_home=str(tmp_path)), "enrichment": EnrichmentResource()})
        assert "no remote label source" in cooldown_retry_sensor(context).skip_message
        assert "no queue snapshot" in _tick(instance, tmp_path).skip_message


def test_a_batch_is_all_or_nothing(catalog_home):
    """A failure while committing a batch (here: the attempts log refuses a found label, after the queue's
    update went through) leaves every track of the batch as it was."""
    home, tracks = catalog_home
    con = connect(home / "warehouse.duckdb")
    con.execute("DROP TABLE enrichment.label_attempts")
    con.execute("CREATE TABLE enrichment.label_attempts (track_id VARCHAR, attempt INTEGER, attempted_at TIMESTAMP, "
                "outcome VARCHAR CHECK (outcome <> 'found'), label VARCHAR, label_source VARCHAR, "
                "label_confidence DOUBLE, error VARCHAR, status_after VARCHAR, retry_after TIMESTAMP, run_id VARCHAR)")
    con.close()
    with MusicBrainzEmulator(tracks, min_interval_s=0.0, coverage=1.0) as mb:
        with pytest.raises(Exception, match="(?i)constraint"):
            _hunt(home, f"{mb.url}/ws/2", batch_size=5)
    queue = _queue(home)
    assert len(queue) == len(tracks) and {v[0] for v in queue.values()} == {"pending"}
    assert all(v[1] == 0 and v[3] is None for v in queue.values())


def test_the_warehouse_is_free_while_the_services_are_asked(catalog_home):
    """Another process can read the warehouse while the hunter waits on MusicBrainz: the run opens it only
    to commit a batch."""
    import subprocess
    import sys
    import threading
    import time

    home, tracks = catalog_home
    with MusicBrainzEmulator(tracks, min_interval_s=0.0, coverage=0.0) as mb:
        enrichment = EnrichmentResource(musicbrainz_url=f"{mb.url}/ws/2", musicbrainz_interval_s=0.25,
                                        musicbrainz_jitter_s=0.0)
        outcome = {}

        def hunt() -> None:
            with dg.DagsterInstance.ephemeral() as instance:
                outcome["result"] = dg.materialize(all_assets, selection=["enrichment_status"], instance=instance,
                                                   resources=local_resources(home, enrichment=enrichment))

        worker = threading.Thread(target=hunt)
        worker.start()
        while len(mb.requests) < 3 and worker.is_alive():
            time.sleep(0.05)
        reader = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
                                   "print(con.execute('SELECT count(*) FROM enrichment.enrichment_status').fetchall()[0][0])",
             str(home / "warehouse.duckdb")], capture_output=True, text=True, timeout=60)
        asked_while_reading = len(mb.requests)
        worker.join(timeout=120)
    assert reader.returncode == 0, reader.stderr
    assert int(reader.stdout) == len(tracks) and asked_while_reading < 2 * len(tracks)  # read mid-hunt
    assert outcome["result"].success
