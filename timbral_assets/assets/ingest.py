"""Ingest assets (group and schema `raw`): raw payloads land unchanged in the bucket, then rows go to DuckDB."""


import glob
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import dagster as dg
import pyarrow as pa

from .. import warehouse
from ..enrichment.identify import UNKNOWN_ARTIST_FORMS
from ..partitions import daily_partitions
from ..resources import BucketResource, LastfmResource, SpotifyResource, WarehouseResource
from ..sources import metadata_files as mf
from ..sources.errors import FileFormatError, RowIssue, SourceError
from ..sources.lastfm_api import recent_tracks_to_table
from ..sources.scrobble_files import ScrobbleFileReader, detect_format
from ..sources.spotify_api import audio_features_to_table, search_page_to_table
from ..sources.synthetic import WorldConfig, generate_world
from .common import (
    DUCKDB_POOL,
    column_schema,
    daily_counts_plot,
    issues_metadata,
    partitioned_result,
    preview,
    writes,
)

GROUP = "raw"
WORLD_POINTER = "synthetic/current.json"


class SyntheticWorldConfig(dg.Config):
    seed: int = 42
    n_scrobbles: int = 200_000
    start_date: str = "2025-01-01"
    days: int = 184

    def world(self) -> WorldConfig:
        return WorldConfig(seed=self.seed, n_scrobbles=self.n_scrobbles, start_date=date.fromisoformat(self.start_date),
                           days=self.days)


@dg.asset(group_name=GROUP, kinds={"python", "parquet"})
def synthetic_world(context: dg.AssetExecutionContext, config: SyntheticWorldConfig,
                    bucket: BucketResource) -> dg.MaterializeResult:
    """The embedded default data: a deterministic synthetic music world with messy scrobbles and its ground
    truth, written to the bucket. The same config reuses the world already there."""
    b = bucket.bucket()
    if not b.is_local():
        raise dg.Failure("synthetic_world writes with pyarrow to a local folder; point TIMBRAL_BUCKET_URL at a local path")
    cfg = config.world()
    key = f"synthetic/seed={cfg.seed}-n={cfg.n_scrobbles}-start={cfg.start_date}-days={cfg.days}"
    folder = Path(b.path(key))
    if (folder / "manifest.json").exists():
        manifest = json.loads((folder / "manifest.json").read_text())
        context.log.info(f"reusing the world at {folder}")
    else:
        def progress(day: int, days: int, rows: int) -> None:
            if day % max(1, days // 4) == 0 and day < days:  # four progress lines; the asset's own line ends it
                context.log.info(f"generated day {day}/{days}: {rows:,} scrobbles so far")

        manifest = generate_world(cfg, folder, progress)
    b.put_json(WORLD_POINTER, {"folder": str(folder), **manifest})
    counts = manifest["counts"]
    return dg.MaterializeResult(metadata={
        "folder": dg.MetadataValue.path(str(folder)),
        "dagster/row_count": counts["scrobbles"],
        "date_range": f"{manifest['start_date']} .. {manifest['end_date']} (end exclusive)",
        "counts": dg.MetadataValue.md(warehouse.rows_to_markdown(["entity", "count"], sorted(counts.items()))),
    })


def current_world(bucket: BucketResource) -> Path:
    b = bucket.bucket()
    if not b.exists(WORLD_POINTER):
        raise dg.Failure("source='synthetic' needs the synthetic_world asset: materialize it first",
                         allow_retries=False)
    return Path(json.loads(b.read_bytes(WORLD_POINTER))["folder"])


def import_file(bucket: BucketResource, source: str, world_file: str, path: str, landing: str,
                read: Callable[[str], mf.Imported]) -> tuple[mf.Imported, str]:
    """Read the synthetic world's file, or a user's file after landing it unchanged in the bucket.
    A malformed file fails the run without retries: it will not improve by waiting."""
    if source == "synthetic":
        path = str(current_world(bucket) / world_file)
    else:
        bucket.bucket().land_file(landing, path)
    try:
        return read(path), path
    except FileFormatError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


class ScrobbleSourceConfig(dg.Config):
    source: Literal["synthetic", "file", "lastfm_api"] = "synthetic"
    paths: list[str] = []  # source=file: CSV / TSV / Parquet files or glob patterns
    file_format: Literal["auto", "scrobble_csv", "lastfm_headerless_csv", "lastfm_1k_tsv", "parquet"] = "auto"
    user: str | None = None  # the user of a single-user export; default: the file's name
    lastfm_users: list[str] = []  # source=lastfm_api: whose recent tracks to fetch


def _expand(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        matches = sorted(glob.glob(p))
        if not matches:
            raise dg.Failure(f"no file matches {p!r}", allow_retries=False)
        files.extend(matches)
    return files


def _window(context: dg.AssetExecutionContext) -> tuple[date, date]:
    tw = context.partition_time_window
    return tw.start.date(), tw.end.date()


@dg.asset(
    group_name=GROUP, partitions_def=daily_partitions, backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[synthetic_world], metadata=writes("raw.raw_scrobbles"),
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
)
def raw_scrobbles(context: dg.AssetExecutionContext, config: ScrobbleSourceConfig, warehouse_db: WarehouseResource,
                  bucket: BucketResource, lastfm: LastfmResource) -> dg.MaterializeResult:
    """Every play, one row each, partitioned by the UTC play date. Each (source, day) is replaced whole, so
    re-running a partition never duplicates rows; bad rows are rejected with file, line and field."""
    start, end = _window(context)
    b = bucket.bucket()
    issues: list[RowIssue] = []
    files: list[str] = []
    inserted = 0
    with warehouse_db.get_connection() as con:
        if config.source == "synthetic":
            files = sorted(str(p) for p in (current_world(bucket) / "scrobbles").glob("*.parquet"))
            inserted, issues = warehouse.replace_scrobble_window_from_parquet(con, files, "synthetic", start, end)
        elif config.source == "file":
            files = _expand(config.paths)
            for f in files:
                b.land_file("scrobble_files", f)
                fmt = detect_format(f) if config.file_format == "auto" else config.file_format
                label = f"file:{Path(f).name}"
                try:
                    if fmt == "parquet":
                        n, file_issues = warehouse.replace_scrobble_window_from_parquet(con, [f], label, start, end)
                    else:
                        reader = ScrobbleFileReader(f, fmt, config.user)
                        n = warehouse.replace_scrobble_window(con, reader.batches(), label, start, end)
                        file_issues = reader.issues
                except FileFormatError as exc:
                    raise dg.Failure(str(exc), allow_retries=False) from exc
                context.log.info(f"{f}: {n:,} plays in {start}..{end}, {len(file_issues):,} rejected rows")
                inserted += n
                issues.extend(file_issues)
        else:
            client = lastfm.client()
            from_ts = int(context.partition_time_window.start.timestamp())
            to_ts = int(context.partition_time_window.end.timestamp())
            for user in config.lastfm_users:
                def pages(user=user):
                    for page in client.recent_tracks(user, from_ts, to_ts):
                        key = f"lastfm_api/date={start}/user={user}/recenttracks-page-{page.page:04d}.json"
                        landed = b.put_bytes(key, page.body)
                        context.log.info(f"{user}: page {page.page}/{page.total_pages} landed at {landed}")
                        yield recent_tracks_to_table(page, user, landed)

                try:
                    inserted += warehouse.replace_scrobble_window(con, pages(), f"lastfm_api:{user}", start, end)
                except SourceError as exc:
                    raise dg.Failure(str(exc)) from exc
        warehouse.record_issues(con, "raw_scrobbles", files, issues)
        window = {"start": start, "end": end}
        per_day = con.execute(
            "SELECT play_date, count(*) FROM raw.raw_scrobbles WHERE play_date >= $start AND play_date < $end "
            "GROUP BY 1 ORDER BY 1", window).fetchall()
        plot_start = max(start, end - timedelta(days=180))
        shown = [(d, n) for d, n in per_day if d >= plot_start]
        metadata = {
            "rows_in_window": dg.MetadataValue.int(sum(n for _, n in per_day)),
            "inserted_this_run": dg.MetadataValue.int(inserted),
            "window": f"{start} .. {end} (end exclusive)",
            "dagster/column_schema": column_schema(con, "raw.raw_scrobbles"),
            "preview": preview(con, "SELECT user_id, played_at, artist_name, track_name, album_name, source "
                                    "FROM raw.raw_scrobbles WHERE play_date >= $start AND play_date < $end "
                                    "ORDER BY played_at LIMIT 10", window),
            **issues_metadata(issues),
        }
        if shown:
            metadata["scrobbles_per_day"] = daily_counts_plot([d for d, _ in shown], [n for _, n in shown],
                                                              f"scrobbles per day, {shown[0][0]} .. {shown[-1][0]}")
    return partitioned_result(context, metadata, dict(per_day))


class FileSourceConfig(dg.Config):
    source: Literal["synthetic", "file"] = "synthetic"
    path: str = ""  # source=file: the file to import


class SpotifySourceConfig(dg.Config):
    source: Literal["synthetic", "file", "api"] = "synthetic"
    path: str = ""  # source=file: a Spotify Tracks CSV (.csv or .csv.gz)
    queries: list[str] = []  # source=api: search queries, e.g. "genre:shoegaze"
    max_results_per_query: int = 200


def _finish(con, table: str, n: int, issues: list[RowIssue], extra: dict | None = None) -> dict:
    return {
        "dagster/row_count": dg.MetadataValue.int(n),
        "dagster/column_schema": column_schema(con, table),
        "preview": preview(con, f"SELECT * EXCLUDE (ingested_at) FROM {table} LIMIT 10"),
        **issues_metadata(issues),
        **(extra or {}),
    }


def _raw_spec(key: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, group_name=GROUP, kinds={"duckdb"}, deps=[synthetic_world], description=description,
                        metadata=writes(f"raw.{key}"))


@dg.multi_asset(
    specs=[_raw_spec("raw_spotify_tracks", "Spotify track metadata: artists, album, title, duration, popularity, genre."),
           _raw_spec("raw_spotify_audio_features", "Spotify audio features: energy, valence, danceability, tempo and the rest.")],
    pool=DUCKDB_POOL,
)
def raw_spotify(context: dg.AssetExecutionContext, config: SpotifySourceConfig, warehouse_db: WarehouseResource,
                bucket: BucketResource, spotify: SpotifyResource):
    b = bucket.bucket()
    issues: list[RowIssue] = []
    if config.source == "api":
        client = spotify.client()
        track_tables, feature_tables = [], []
        try:
            for q in config.queries:
                genre = q.split("genre:", 1)[1].strip('"') if "genre:" in q else None
                for i, (payload, body) in enumerate(client.search_tracks(q, max_results=config.max_results_per_query)):
                    landed = b.put_bytes(f"spotify_api/search/{q.replace('/', '_')}/page-{i:04d}.json", body)
                    track_tables.append(search_page_to_table(payload, genre, landed))
            ids = sorted({i for t in track_tables for i in t["spotify_track_id"].to_pylist()})
            for i, (payload, body) in enumerate(client.audio_features(ids)):
                landed = b.put_bytes(f"spotify_api/audio_features/batch-{i:04d}.json", body)
                feature_tables.append(audio_features_to_table(payload, landed))
        except SourceError as exc:
            raise dg.Failure(str(exc)) from exc
        tracks = pa.concat_tables(track_tables) if track_tables else mf.SPOTIFY_TRACKS_SCHEMA.empty_table()
        features = pa.concat_tables(feature_tables) if feature_tables else mf.AUDIO_FEATURES_SCHEMA.empty_table()
        files: list[str] = []
    else:
        imported, path = import_file(bucket, config.source, "spotify/tracks.csv", config.path, "spotify_csv",
                                     mf.read_spotify_tracks_csv)
        tracks, features, issues, files = (imported.tables["tracks"], imported.tables["audio_features"],
                                           imported.issues, [path])
    with warehouse_db.get_connection() as con:
        n_tracks = warehouse.replace_table(con, "raw.raw_spotify_tracks", tracks, config.source)
        n_features = warehouse.replace_table(con, "raw.raw_spotify_audio_features", features, config.source)
        warehouse.record_issues(con, "raw_spotify", files, issues)
        context.log.info(f"{n_tracks:,} tracks, {n_features:,} audio-feature rows, {len(issues):,} rejected rows")
        yield dg.MaterializeResult(asset_key="raw_spotify_tracks",
                                   metadata=_finish(con, "raw.raw_spotify_tracks", n_tracks, issues))
        yield dg.MaterializeResult(asset_key="raw_spotify_audio_features",
                                   metadata=_finish(con, "raw.raw_spotify_audio_features", n_features, []))


class PlaysSourceConfig(dg.Config):
    source: Literal["synthetic", "file", "lastfm_api"] = "synthetic"
    path: str = ""  # source=file: hetrec user_artists.dat or Audioscrobbler user_artist_data*.txt
    lastfm_users: list[str] = []  # source=lastfm_api: library.getArtists per user
    lastfm_method: Literal["library", "top_artists"] = "library"


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[synthetic_world],
          metadata=writes("raw.raw_user_artist_plays"))
def raw_user_artist_plays(context: dg.AssetExecutionContext, config: PlaysSourceConfig,
                          warehouse_db: WarehouseResource, bucket: BucketResource,
                          lastfm: LastfmResource) -> dg.MaterializeResult:
    """Aggregate play counts per (user, artist): hetrec, Audioscrobbler, or Last.fm library/top artists."""
    b = bucket.bucket()
    issues: list[RowIssue] = []
    files: list[str] = []
    if config.source == "lastfm_api":
        client = lastfm.client()
        rows: dict[str, list] = {n: [] for n in mf.USER_ARTIST_PLAYS_SCHEMA.names}
        try:
            for user in config.lastfm_users:
                pages = (client.library_artists(user) if config.lastfm_method == "library"
                         else client.top_artists(user))
                root = "artists" if config.lastfm_method == "library" else "topartists"
                for page in pages:
                    landed = b.put_bytes(f"lastfm_api/{root}/user={user}/page-{page.page:04d}.json", page.body)
                    for i, a in enumerate(page.payload[root].get("artist", [])):
                        rows["user_id"].append(user)
                        rows["artist_id"].append(a.get("mbid") or a.get("name"))
                        rows["artist_name"].append(a.get("name"))
                        rows["plays"].append(int(a.get("playcount", 0)))
                        rows["source_file"].append(landed)
                        rows["source_line"].append(i + 1)
        except SourceError as exc:
            raise dg.Failure(str(exc)) from exc
        table = pa.table(rows, schema=mf.USER_ARTIST_PLAYS_SCHEMA)
    else:
        imported, path = import_file(bucket, config.source, "hetrec/user_artists.dat", config.path,
                                     "user_artist_plays", mf.read_user_artist_plays)
        table, issues, files = imported.tables["user_artist_plays"], imported.issues, [path]
    with warehouse_db.get_connection() as con:
        n = warehouse.replace_table(con, "raw.raw_user_artist_plays", table, config.source)
        warehouse.record_issues(con, "raw_user_artist_plays", files, issues)
        return dg.MaterializeResult(metadata=_finish(con, "raw.raw_user_artist_plays", n, issues))


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[synthetic_world],
          metadata=writes("raw.raw_artist_tags"))
def raw_artist_tags(context: dg.AssetExecutionContext, config: FileSourceConfig, warehouse_db: WarehouseResource,
                    bucket: BucketResource) -> dg.MaterializeResult:
    """User tag assignments per artist (hetrec user_taggedartists.dat, with tags.dat and artists.dat beside it)."""
    imported, path = import_file(bucket, config.source, "hetrec/user_taggedartists.dat", config.path, "artist_tags",
                                 mf.read_artist_tags)
    with warehouse_db.get_connection() as con:
        n = warehouse.replace_table(con, "raw.raw_artist_tags", imported.tables["artist_tags"], config.source)
        warehouse.record_issues(con, "raw_artist_tags", [path], imported.issues)
        return dg.MaterializeResult(metadata=_finish(con, "raw.raw_artist_tags", n, imported.issues))


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[synthetic_world],
          metadata=writes("raw.raw_dj_tracklists"))
def raw_dj_tracklists(context: dg.AssetExecutionContext, config: FileSourceConfig, warehouse_db: WarehouseResource,
                      bucket: BucketResource) -> dg.MaterializeResult:
    """DJ-set tracklists (JSON Lines: set_id, dj, played_on, position, artist, title, label), where most
    "ID - ID" plays live; artist_identifications names them from their neighbours, the DJ and the label."""
    imported, path = import_file(bucket, config.source, "dj_sets/tracklists.jsonl", config.path, "dj_tracklists",
                                 mf.read_dj_tracklists)
    table = imported.tables["dj_tracklists"]
    with warehouse_db.get_connection() as con:
        n = warehouse.replace_table(con, "raw.raw_dj_tracklists", table, config.source)
        warehouse.record_issues(con, "raw_dj_tracklists", [path], imported.issues)
        unknown = warehouse.scalar(con, "SELECT count(*) FROM raw.raw_dj_tracklists "
                                        "WHERE list_contains($forms, lower(trim(artist)))", {"forms": UNKNOWN_ARTIST_FORMS})
        return dg.MaterializeResult(metadata=_finish(con, "raw.raw_dj_tracklists", n, imported.issues, {
            "sets": dg.MetadataValue.int(warehouse.scalar(con, "SELECT count(DISTINCT set_id) FROM raw.raw_dj_tracklists")),
            "unknown_artist_plays": dg.MetadataValue.int(unknown)}))


class AotySourceConfig(dg.Config):
    source: Literal["synthetic", "file"] = "synthetic"
    albums_path: str = ""  # source=file: JSON array or JSON Lines of albums (format in the README)
    reviews_path: str = ""  # source=file: JSON array or JSON Lines of reviews


@dg.multi_asset(
    specs=[_raw_spec("raw_aoty_albums", "AOTY albums: artist, title, date, label, genres, scores and tracklist."),
           _raw_spec("raw_aoty_reviews", "AOTY critic and user reviews: score, date and text.")],
    pool=DUCKDB_POOL,
)
def raw_aoty(context: dg.AssetExecutionContext, config: AotySourceConfig, warehouse_db: WarehouseResource,
             bucket: BucketResource):
    albums, albums_path = import_file(bucket, config.source, "aoty/albums.json", config.albums_path, "aoty",
                                      mf.read_aoty_albums)
    reviews, reviews_path = import_file(bucket, config.source, "aoty/reviews.json", config.reviews_path, "aoty",
                                        mf.read_aoty_reviews)
    with warehouse_db.get_connection() as con:
        n_albums = warehouse.replace_table(con, "raw.raw_aoty_albums", albums.tables["aoty_albums"], config.source)
        n_reviews = warehouse.replace_table(con, "raw.raw_aoty_reviews", reviews.tables["aoty_reviews"], config.source)
        warehouse.record_issues(con, "raw_aoty_albums", [albums_path], albums.issues)
        warehouse.record_issues(con, "raw_aoty_reviews", [reviews_path], reviews.issues)
        yield dg.MaterializeResult(asset_key="raw_aoty_albums",
                                   metadata=_finish(con, "raw.raw_aoty_albums", n_albums, albums.issues))
        yield dg.MaterializeResult(asset_key="raw_aoty_reviews",
                                   metadata=_finish(con, "raw.raw_aoty_reviews", n_reviews, reviews.issues))
