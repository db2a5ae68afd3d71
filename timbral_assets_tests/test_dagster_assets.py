"""The assets through real Dagster: definitions, partitions, a 7-day backfill, idempotence, bad files, APIs."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from timbral_assets import warehouse
from timbral_assets.assets import ingest
from timbral_assets.definitions import all_assets, defs
from timbral_assets.resources import LastfmResource, SpotifyResource, WarehouseResource, local_resources

from .emulators import LastfmEmulator, Scrobble, SpotifyEmulator, SpotifyTrack

REPO = Path(__file__).resolve().parents[1]
ALL_ASSETS = all_assets


def test_definitions_load_with_jobs_schedules_and_checks():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    # the whole graph, once: every module's assets and every SQL model are in it
    assert keys == {
        "synthetic_world", "raw_scrobbles", "raw_spotify_tracks", "raw_spotify_audio_features", "raw_user_artist_plays",
        "raw_artist_tags", "raw_aoty_albums", "raw_aoty_reviews",
        "stg_scrobbles", "stg_spotify_tracks", "stg_artist_tags", "stg_aoty_album_tracks",
        "resolution_rules", "entity_candidates", "track_matcher_model", "entity_match_scores", "entity_clusters",
        "resolution_report", "int_track_keys", "int_scrobble_tracks",
        "tracks_core", "track_aliases", "artists_core", "albums_core", "track_tags", "track_feature_view",
        "tag_distribution", "track_text_embedding", "mood_model", "track_mood_pred",
        "user_item_interactions", "als_model", "als_user_factors", "als_item_factors", "session_coplay_similarity",
        "track_vector", "recs_for_you", "similar_tracks", "eval_metrics",
        "raw_dj_tracklists", "enrichment_status", "cooldown_queue_status", "artist_identifications"}
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"timbral_main", "daily_ingest", "first_import",
                                                              "mood_retrain"}
    daily = defs.resolve_job_def("daily_ingest").asset_layer.selected_asset_keys
    assert dg.AssetKey("entity_match_scores") in daily and dg.AssetKey("track_matcher_model") not in daily
    # lineage: the SQL models' source() tables lead to the assets that write them
    assert {dg.AssetKey("entity_candidates"), dg.AssetKey("entity_clusters")} <= graph.get(
        dg.AssetKey("int_scrobble_tracks")).parent_keys
    assert dg.AssetKey("track_matcher_model") in graph.get(dg.AssetKey("entity_match_scores")).parent_keys
    assert defs.resolve_schedule_def("daily_ingest_schedule").cron_schedule == "30 2 * * *"
    # the nightly CF chain: interactions -> ALS -> co-play -> vectors -> recs -> eval, and no day's ingest trains it
    nightly = defs.resolve_schedule_def("nightly_cf")
    assert nightly.cron_schedule == "0 2 * * *" and nightly.job_name == "nightly_cf"
    chain = {k.to_user_string() for k in defs.resolve_job_def("nightly_cf").asset_layer.selected_asset_keys}
    assert chain == {"user_item_interactions", "als_model", "als_user_factors", "als_item_factors",
                     "session_coplay_similarity", "track_vector", "recs_for_you", "similar_tracks", "eval_metrics"}
    assert not chain & {k.to_user_string() for k in daily}
    assert {dg.AssetKey("als_model"), dg.AssetKey("track_vector"), dg.AssetKey("session_coplay_similarity")} <= (
        dg.AssetSelection.assets("recs_for_you").upstream().resolve(graph))
    assert "hybrid_beats_als_ndcg" in {c.name for c in graph.asset_check_keys}
    # enrichment: its own job and group; the sensor launches it; track_feature_view takes its label from it
    enrichment = {k.to_user_string() for k in defs.resolve_job_def("enrichment_job").asset_layer.selected_asset_keys}
    assert enrichment == {"enrichment_status", "cooldown_queue_status", "artist_identifications"}
    assert {graph.get(dg.AssetKey(k)).group_name for k in enrichment} == {"enrichment"}
    assert defs.resolve_sensor_def("cooldown_retry_sensor").job_name == "enrichment_job"
    assert dg.AssetKey("enrichment_status") in graph.get(dg.AssetKey("track_feature_view")).parent_keys
    assert dg.AssetKey("raw_dj_tracklists") in graph.get(dg.AssetKey("artist_identifications")).parent_keys
    assert "masked_plays_precision" in {c.name for c in graph.asset_check_keys}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.to_user_string() != "synthetic_world":
            assert node.pools == {"duckdb_write"}, key  # every DuckDB writer takes the pool
        assert "duckdb" in node.kinds or key.to_user_string() == "synthetic_world"
    check_keys = {c.name for c in graph.asset_check_keys}
    assert {"tracks_core_track_id_unique", "tracks_core_track_id_not_null", "track_aliases_every_scrobble_mapped",
            "tracks_core_row_count_sane"} <= check_keys
    tracks_core = graph.get(dg.AssetKey("tracks_core"))
    assert tracks_core.group_name == "marts" and tracks_core.code_version
    assert dg.AssetKey("int_scrobble_tracks") in tracks_core.parent_keys
    assert graph.get(dg.AssetKey("stg_scrobbles")).partitions_def is not None


def test_instance_settings_limit_duckdb_writers(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the event log storage's config reads it
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        settings = instance.get_concurrency_config()
        assert settings.pool_config.default_pool_limit == 1
        assert settings.run_queue_config.max_concurrent_runs == 2
        limits = {(t["key"], t.get("value")): t["limit"] for t in settings.run_queue_config.tag_concurrency_limits}
        assert limits[("timbral/writes", "duckdb")] == 1 and limits[("dagster/backfill", None)] == 1


def _count_by_day(home: Path, table: str = "raw.raw_scrobbles") -> dict[date, int]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return dict(con.execute(f"SELECT play_date, count(*) FROM {table} GROUP BY 1").fetchall())
    finally:
        con.close()


def _world_counts(tiny_world: Path) -> dict[date, int]:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return dict(con.execute(
        f"SELECT played_at::DATE, count(*) FROM read_parquet('{tiny_world}/scrobbles/*.parquet') GROUP BY 1").fetchall())


def test_one_partition(world_in_bucket, tiny_world):
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(ALL_ASSETS, selection=["raw_scrobbles", "stg_scrobbles"], partition_key="2025-03-03",
                                resources=local_resources(world_in_bucket), instance=instance)
    assert result.success
    expected = _world_counts(tiny_world)[date(2025, 3, 3)]
    assert _count_by_day(world_in_bucket) == {date(2025, 3, 3): expected}
    assert _count_by_day(world_in_bucket, "staging.stg_scrobbles") == {date(2025, 3, 3): expected}
    meta = result.asset_materializations_for_node("raw_scrobbles")[0].metadata
    assert meta["dagster/row_count"].value == expected
    columns = {c.name: c.type for c in meta["dagster/column_schema"].schema.columns}
    assert columns["played_at"].startswith("TIMESTAMP") and "artist_name" in columns
    staged = result.asset_materializations_for_node("stg_scrobbles")[0].metadata["dagster/column_schema"]
    assert "title_norm" in {c.name for c in staged.schema.columns}
    assert "data:image/png;base64," in meta["scrobbles_per_day"].value
    assert "| user_id |" in meta["preview"].value
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_backfill_of_seven_partitions_through_a_real_instance(tmp_path, world_in_bucket, tiny_world):
    """A single-run backfill over 2025-03-01..07, as an asset backfill launches it under BackfillPolicy.single_run."""
    job = dg.define_asset_job("backfill_job", selection=["raw_scrobbles", "stg_scrobbles"],
                              partitions_def=ingest.daily_partitions)
    job_defs = dg.Definitions(assets=ALL_ASSETS, jobs=[job], resources=local_resources(world_in_bucket))
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster")) as instance:
        result = job_defs.resolve_job_def("backfill_job").execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": "2025-03-01",
                  "dagster/asset_partition_range_end": "2025-03-07"})
        assert result.success
        for key in ("raw_scrobbles", "stg_scrobbles"):
            done = instance.get_materialized_partitions(dg.AssetKey(key))
            assert done == {f"2025-03-0{d}" for d in range(1, 8)}, key
        records = instance.fetch_materializations(dg.AssetKey("raw_scrobbles"), limit=100).records
        assert len(records) == 7  # one materialization event per partition, from one run
        assert len({r.run_id for r in records}) == 1
    world = _world_counts(tiny_world)
    expected = {d: n for d, n in world.items() if date(2025, 3, 1) <= d <= date(2025, 3, 7)}
    assert _count_by_day(world_in_bucket) == expected
    assert _count_by_day(world_in_bucket, "staging.stg_scrobbles") == expected


def _table_rows(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_running_a_partition_twice_gives_the_same_rows(world_in_bucket):
    snapshot = "SELECT * EXCLUDE (ingested_at) FROM raw.raw_scrobbles ORDER BY scrobble_id"
    results = []
    for _ in range(2):
        r = dg.materialize(ALL_ASSETS, selection=["raw_scrobbles"], partition_key="2025-03-02",
                           resources=local_resources(world_in_bucket))
        assert r.success
        results.append(_table_rows(world_in_bucket, snapshot))
    assert len(results[0]) > 100 and results[0] == results[1]


HEADER = "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"


def _line(uts: int, artist: str, track: str) -> str:
    return f'"{uts}","","{artist}","","Album","","{track}",""\n'


def _file_run(home: Path, partition: str, path: Path) -> dg.ExecuteInProcessResult:
    config = dg.RunConfig(ops={"raw_scrobbles": ingest.ScrobbleSourceConfig(source="file", paths=[str(path)])})
    return dg.materialize(ALL_ASSETS, selection=["raw_scrobbles"], partition_key=partition, run_config=config,
                          resources=local_resources(home), raise_on_error=False)


def test_bad_files_keep_good_rows_and_never_touch_earlier_partitions(tmp_path):
    home = tmp_path / "home"
    march1, march2 = 1_740_787_200, 1_740_873_600
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "".join(_line(march1 + i * 240, "Band", f"Song {i}") for i in range(20)))
    assert _file_run(home, "2025-03-01", good).success
    before = _table_rows(home, "SELECT * EXCLUDE (ingested_at) FROM raw.raw_scrobbles ORDER BY scrobble_id")
    assert len(before) == 20

    messy = tmp_path / "messy.csv"
    body = (HEADER.encode() + _line(march2, "Band", "Fine 1").encode()
            + b'"1740873700","","Cut"\n'  # truncated
            + _line(march2 + 200, "Bj\xf6rk", "Latin-1").encode("latin-1")  # wrong encoding
            + _line(march2 + 300, "Nul\x00Band", "X").encode()  # NUL byte
            + _line(march2 + 400, "Band", "x" * 10_000_000).encode()  # a 10 MB field
            + _line(march2 + 500, "Band", "Fine 2").encode())
    messy.write_bytes(body)
    result = _file_run(home, "2025-03-02", messy)
    assert result.success
    meta = result.asset_materializations_for_node("raw_scrobbles")[0].metadata
    assert meta["rejected_rows"].value == 4
    issues = _table_rows(home, "SELECT source_file, line, field FROM raw.ingest_issues ORDER BY line")
    assert issues == [(str(messy), 3, "artist_mbid"), (str(messy), 4, "artist"), (str(messy), 5, "artist"),
                      (str(messy), 6, "track")]
    assert _count_by_day(home) == {date(2025, 3, 1): 20, date(2025, 3, 2): 2}

    missing_column = tmp_path / "no_track_column.csv"
    missing_column.write_text("uts,artist,album\n1740960000,Band,Album\n")
    failed = _file_run(home, "2025-03-03", missing_column)
    assert not failed.success
    failure = failed.get_step_failure_events()[0].step_failure_data.error
    assert f"{missing_column}, line 1, field 'track': required column is missing" in failure.message
    after = _table_rows(home, "SELECT * EXCLUDE (ingested_at) FROM raw.raw_scrobbles WHERE play_date = '2025-03-01' "
                              "ORDER BY scrobble_id")
    assert after == before
    assert _count_by_day(home) == {date(2025, 3, 1): 20, date(2025, 3, 2): 2}
    landed = list((home / "bucket" / "landing" / "scrobble_files").rglob("*.csv"))
    assert {p.name for p in landed} == {"good.csv", "messy.csv", "no_track_column.csv"}


def test_lastfm_api_source_lands_pages_and_loads_the_day(tmp_path):
    t0 = 1_740_787_200  # 2025-03-01
    plays = [Scrobble(t0 - 600 + i * 180, f"Artist {i % 4}", f"Song {i}") for i in range(600)]
    in_day = sum(1 for p in plays if t0 <= p.uts < t0 + 86_400)
    home = tmp_path / "home"
    with LastfmEmulator({"alice": plays}) as emu:
        emu.queue("lastfm_error_29", "http_500")
        resources = local_resources(home, lastfm=LastfmResource(api_key=LastfmEmulator.API_KEY,
                                                                base_url=emu.url + "/2.0/", base_delay_s=0.01))
        config = dg.RunConfig(ops={"raw_scrobbles": ingest.ScrobbleSourceConfig(source="lastfm_api",
                                                                                lastfm_users=["alice"])})
        result = dg.materialize(ALL_ASSETS, selection=["raw_scrobbles"], partition_key="2025-03-01",
                                run_config=config, resources=resources)
        assert result.success
        plays_config = dg.RunConfig(ops={"raw_user_artist_plays": ingest.PlaysSourceConfig(
            source="lastfm_api", lastfm_users=["alice"])})
        assert dg.materialize(ALL_ASSETS, selection=["raw_user_artist_plays"], run_config=plays_config,
                              resources=resources).success
    assert _count_by_day(home) == {date(2025, 3, 1): in_day}
    pages = sorted((home / "bucket" / "lastfm_api" / "date=2025-03-01" / "user=alice").glob("*.json"))
    assert in_day == 480 and [p.name for p in pages] == [f"recenttracks-page-000{i}.json" for i in (1, 2, 3)]
    assert _table_rows(home, "SELECT sum(plays), count(*) FROM raw.raw_user_artist_plays") == [(600, 4)]


def test_spotify_api_source(tmp_path):
    tracks = [SpotifyTrack(f"id{i:03d}", f"Tune {i}", ["Band"], "LP", "shoegaze") for i in range(120)]
    home = tmp_path / "home"
    with SpotifyEmulator(tracks) as emu:
        resources = local_resources(home, spotify=SpotifyResource(
            client_id=SpotifyEmulator.CLIENT_ID, client_secret=SpotifyEmulator.CLIENT_SECRET,
            token_url=emu.url + "/api/token", api_url=emu.url + "/v1", base_delay_s=0.01))
        config = dg.RunConfig(ops={"raw_spotify": ingest.SpotifySourceConfig(source="api", queries=["genre:shoegaze"])})
        result = dg.materialize(ALL_ASSETS, selection=["raw_spotify_tracks", "raw_spotify_audio_features"],
                                run_config=config, resources=resources)
    assert result.success
    assert _table_rows(home, "SELECT count(*), count(DISTINCT track_genre) FROM raw.raw_spotify_tracks") == [(120, 1)]
    assert _table_rows(home, "SELECT count(*) FROM raw.raw_spotify_audio_features") == [(120,)]


def test_raw_tables_replace_whole_on_rerun(world_in_bucket):
    for _ in range(2):
        assert dg.materialize(ALL_ASSETS, selection=["raw_aoty_albums", "raw_aoty_reviews", "raw_artist_tags"],
                              resources=local_resources(world_in_bucket)).success
    rows = _table_rows(world_in_bucket, "SELECT count(*), count(DISTINCT aoty_album_id) FROM raw.raw_aoty_albums")
    assert rows[0][0] == rows[0][1] > 0


def test_synthetic_source_without_a_world_says_what_to_do(tmp_path):
    result = dg.materialize(ALL_ASSETS, selection=["raw_artist_tags"], resources=local_resources(tmp_path),
                            raise_on_error=False)
    assert not result.success
    assert "materialize it first" in result.get_step_failure_events()[0].step_failure_data.error.message


def test_warehouse_resource_is_a_duckdb_resource_with_utc_limits_and_layout_created_once(tmp_path):
    from dagster_duckdb import DuckDBResource

    resource = WarehouseResource(database=str(tmp_path / "w.duckdb"), memory_limit="512MB",
                                 connection_config={"threads": 1})
    assert isinstance(resource, DuckDBResource)
    with resource.get_connection() as con:
        assert warehouse.scalar(con, "SELECT current_setting('TimeZone')") == "UTC"
        assert warehouse.scalar(con, "SELECT current_setting('memory_limit')") == "488.2 MiB"
        assert warehouse.scalar(con, "SELECT current_setting('threads')") == 1
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        assert {"raw", "staging", "intermediate", "marts", "resolution"} <= schemas
        con.execute("DROP TABLE raw.ingest_issues")
    with resource.get_connection(transform=True) as con:  # the same resource: no DDL on this connection
        assert warehouse.scalar(con, "SELECT current_setting('memory_limit')") == "3.7 GiB"
        assert not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'ingest_issues'").fetchall()
    with WarehouseResource(database=str(tmp_path / "w.duckdb")).get_connection() as con:  # a new run: created
        assert con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'ingest_issues'").fetchall()


def test_aoty_files_land_load_and_broken_json_fails_clearly(tmp_path):
    home = tmp_path / "home"
    albums, reviews = tmp_path / "albums.jsonl", tmp_path / "reviews.json"
    albums.write_text('{"id": "a1", "title": "Faith", "artist": "The Cure", "critic_score": 81}\n'
                      '{"id": "a2", "title": "Broken", "artist": "X", "critic_score": "great"}\n')
    reviews.write_text('[{"id": "r1", "album_id": "a1", "score": 70}]')
    config = dg.RunConfig(ops={"raw_aoty": ingest.AotySourceConfig(source="file", albums_path=str(albums),
                                                                   reviews_path=str(reviews))})
    result = dg.materialize(ALL_ASSETS, selection=["raw_aoty_albums", "raw_aoty_reviews"], run_config=config,
                            resources=local_resources(home))
    assert result.success
    assert _table_rows(home, "SELECT aoty_album_id FROM raw.raw_aoty_albums") == [("a1",)]
    assert _table_rows(home, "SELECT line, field FROM raw.ingest_issues") == [(2, "critic_score")]
    assert len(list((home / "bucket" / "landing" / "aoty").rglob("*.json*"))) == 2
    reviews.write_text('[{"id": "r1",\n "album_id": }]')
    failed = dg.materialize(ALL_ASSETS, selection=["raw_aoty_albums", "raw_aoty_reviews"], run_config=config,
                            resources=local_resources(home), raise_on_error=False)
    assert not failed.success
    message = failed.get_step_failure_events()[0].step_failure_data.error.message
    assert f"{reviews}, line 2, field '(json)': invalid JSON" in message
    assert _table_rows(home, "SELECT count(*) FROM raw.raw_aoty_reviews") == [(1,)]  # the earlier load stays


def test_runs_need_no_environment_variables(tmp_path, monkeypatch):
    """A plain `dagster dev` from the repo root sets none of the Makefile's variables: every setting is
    optional, and the home defaults to .timbral under the working directory."""
    from timbral_assets.resources import default_resources

    for variable in ("TIMBRAL_HOME", "TIMBRAL_BUCKET_URL", "LASTFM_API_KEY", "SPOTIFY_CLIENT_ID",
                     "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(ALL_ASSETS, selection=["resolution_rules"], resources=default_resources(),
                                instance=instance)
    assert result.success
    con = duckdb.connect(str(tmp_path / ".timbral" / "warehouse.duckdb"), read_only=True)
    assert con.sql("SELECT count(*) FROM resolution.rules").fetchall()[0][0] == 1
    con.close()
    monkeypatch.setenv("LASTFM_API_KEY", "from-the-environment")  # read when a run uses the resource
    assert default_resources()["lastfm"].client().api_key == "from-the-environment"


def test_resolution_quality_floors_are_blocking_checks_that_can_fail(world_in_bucket):
    """The model pattern: track_matcher_model registers a version, entity_match_scores loads it, and the
    report's F1 floor and false-merge ceiling are blocking checks: an unreachable floor fails."""
    from timbral_assets.resources import ResolutionResource

    selection = ["raw_scrobbles", "stg_scrobbles", "resolution_rules", "entity_candidates", "track_matcher_model",
                 "entity_match_scores", "entity_clusters", "resolution_report"]

    def run(selected, **floors):
        resources = local_resources(world_in_bucket, resolution=ResolutionResource(
            timbral_home=str(world_in_bucket), semantic_tier=False, **floors))
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(ALL_ASSETS, selection=selected, resources=resources, instance=instance,
                                    partition_key="2025-03-03" if "raw_scrobbles" in selected else None,
                                    raise_on_error=False)
        return result, {c.check_name: c for c in result.get_asset_check_evaluations()}

    result, checks = run(selection, tracks_f1_floor=0.5)
    assert result.success and checks["tracks_f1_floor"].passed and checks["tracks_f1_floor"].metadata["measured"].value
    scored = result.asset_materializations_for_node("entity_match_scores")[0].metadata
    assert scored["model_version"].value == 1 and scored["model"].value == "track_matcher version 1"
    f1 = checks["tracks_f1_floor"].metadata["tracks_f1"].value
    # just above the measured F1 (above 1 where the small world resolves perfectly): a floor it cannot reach
    _, checks = run(["resolution_report"], tracks_f1_floor=f1 + 0.001, max_false_merge_rate=-1.0)
    assert not checks["tracks_f1_floor"].passed and not checks["hard_negative_false_merges_ceiling"].passed
    # retraining = re-materializing the model asset: a new version, which the next scoring would load
    result, _ = run(["track_matcher_model"])
    assert result.asset_materializations_for_node("track_matcher_model")[0].metadata["model_version"].value == 2
