"""The synthetic world: deterministic, realistic in shape, and honest about its ground truth."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import duckdb
import pyarrow.parquet as pq
import pytest

from timbral_assets.sources.synthetic import VARIANT_KINDS, WorldConfig, generate_world
from timbral_assets.sources.synthetic.names import GENRES
from timbral_assets.sources.synthetic.variants import strip_diacritics

MEDIUM = WorldConfig(seed=11, n_scrobbles=30_000, start_date=date(2025, 1, 1), days=60)


@pytest.fixture(scope="module")
def medium_world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("medium")
    generate_world(MEDIUM, folder)
    return folder


def _digest(folder, rel):
    return hashlib.sha256((folder / rel).read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    cfg = WorldConfig(seed=3, n_scrobbles=3_000, days=10)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_world(cfg, a)
    generate_world(cfg, b)
    generate_world(WorldConfig(seed=4, n_scrobbles=3_000, days=10), c)
    for rel in ("scrobbles/part-00000.parquet", "spotify/tracks.csv", "aoty/albums.json", "hetrec/user_artists.dat",
                "truth/variants.parquet"):
        assert _digest(a, rel) == _digest(b, rel), rel
    assert _digest(a, "scrobbles/part-00000.parquet") != _digest(c, "scrobbles/part-00000.parquet")


def test_defaults_cover_30_genres_and_six_months():
    cfg = WorldConfig()
    assert len(GENRES) >= 30
    assert (cfg.end_date() - cfg.start_date).days >= 183


def test_scrobbles_span_the_window_with_sessions_and_a_daily_rhythm(medium_world):
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    scan = f"read_parquet('{medium_world}/scrobbles/*.parquet')"
    n, days, lo, hi = con.execute(
        f"SELECT count(*), count(DISTINCT played_at::DATE), min(played_at::DATE), max(played_at::DATE) FROM {scan}"
    ).fetchall()[0]
    assert 25_000 < n < 35_000
    assert days == 60 and lo == date(2025, 1, 1) and hi == date(2025, 3, 1)
    hours = dict(con.execute(f"SELECT hour(played_at), count(*) FROM {scan} GROUP BY 1").fetchall())
    assert max(hours.values()) > 2.5 * min(hours.values())  # evenings are busier than 4 am
    # sessions: most consecutive plays of a user start a few minutes apart (one track's length)
    gap_share = con.execute(f"""
        SELECT avg(CASE WHEN gap BETWEEN 60 AND 800 THEN 1 ELSE 0 END) FROM (
          SELECT epoch(played_at) - lag(epoch(played_at)) OVER (PARTITION BY user_id ORDER BY played_at) AS gap
          FROM {scan}) WHERE gap IS NOT NULL""").fetchall()[0][0]
    assert gap_share > 0.6
    manifest = json.loads((medium_world / "manifest.json").read_text())
    assert manifest["counts"]["scrobbles"] == n and manifest["counts"]["genres"] >= 30


def test_every_variant_kind_appears_and_is_what_it_claims(medium_world):
    con = duckdb.connect()
    rows = con.execute(f"""
        SELECT v.variant_kind, v.artist, v.title, t.artist, t.title, t.label, t.featured, count(*) AS plays
        FROM read_parquet('{medium_world}/truth/scrobble_truth/*.parquet') s
        JOIN read_parquet('{medium_world}/truth/variants.parquet') v USING (variant_id)
        JOIN read_parquet('{medium_world}/truth/tracks.parquet') t USING (true_track_id)
        GROUP BY ALL""").fetchall()
    seen = {r[0] for r in rows}
    assert seen == set(VARIANT_KINDS)
    for kind, v_artist, v_title, artist, title, label, featured, _ in rows:
        if kind == "clean":
            assert (v_artist, v_title) == (artist, title)
        elif kind == "swapped":
            assert (v_artist, v_title) == (title, artist)
        elif kind == "unknown_id":
            assert (v_artist, v_title) == ("ID", "ID")
        elif kind == "label_bracket":
            assert v_title.lower() == f"{title} [{label}]".lower()
        elif kind == "diacritics":
            assert strip_diacritics(v_artist) == strip_diacritics(artist) and (v_artist, v_title) != (artist, title)
        elif kind == "feat":
            assert featured and (featured in v_artist or featured in v_title)
        elif kind == "other_script":
            assert v_artist != artist and (not v_artist.isascii() or not artist.isascii())
        elif kind == "version_suffix":
            assert v_title.startswith(title.split(" (Live")[0]) and len(v_title) > len(title.split(" (Live")[0])
        else:
            assert (v_artist, v_title) != (artist, title)


def test_hard_negatives_are_distinct_recordings(medium_world):
    con = duckdb.connect()
    rows = con.execute(f"""
        SELECT h.kind, a.artist, a.title, b.artist, b.title
        FROM read_parquet('{medium_world}/truth/hard_negatives.parquet') h
        JOIN read_parquet('{medium_world}/truth/tracks.parquet') a ON a.true_track_id = h.track_id
        JOIN read_parquet('{medium_world}/truth/tracks.parquet') b ON b.true_track_id = h.other_track_id""").fetchall()
    kinds = {r[0] for r in rows}
    assert kinds == {"cover", "remix", "live", "movement", "part", "take", "reprise", "album_prefix", "tail"}
    from timbral_assets.resolution.markers import conflicting, recording_markers
    from timbral_assets.resolution.records import standardise
    from timbral_assets.resolution.versions import tail_names_another_recording

    for kind, artist, title, other_artist, other_title in rows:
        if kind == "cover":
            assert title == other_title and artist != other_artist
        elif kind in ("remix", "live", "reprise"):
            assert artist == other_artist and other_title.startswith(title) and other_title != title
        elif kind == "tail":  # the title, then words that name another recording, in one of several languages
            assert artist == other_artist and other_title.startswith(title + " ")
            keys = [standardise(str(n), t, artist, "").title_key for n, t in enumerate((title, other_title))]
            # a different key always; where the tail names no version the resolver knows, the tail rule decides
            assert keys[0] != keys[1] and (standardise("x", other_title, artist, "").version != "original"
                                           or tail_names_another_recording(*keys)
                                           or other_title.endswith("]")), (title, other_title)
        else:  # one work, session or soundtrack: titles that differ in a marker only
            assert artist == other_artist and other_title != title
            assert conflicting(recording_markers(title), recording_markers(other_title)), (title, other_title)


def test_variant_rates_are_configurable(tmp_path):
    cfg = WorldConfig(seed=5, n_scrobbles=5_000, days=10, variant_rates={"typo": 0.5})
    generate_world(cfg, tmp_path)
    con = duckdb.connect()
    share = con.execute(f"""
        SELECT avg(CASE WHEN v.variant_kind = 'typo' THEN 1 ELSE 0 END)
        FROM read_parquet('{tmp_path}/truth/scrobble_truth/*.parquet') s
        JOIN read_parquet('{tmp_path}/truth/variants.parquet') v USING (variant_id)""").fetchall()[0][0]
    assert 0.45 < share < 0.55


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown variant kinds"):
        WorldConfig(variant_rates={"emoji": 0.1}).validate()
    with pytest.raises(ValueError, match="sum to at most 1"):
        WorldConfig(variant_rates={"typo": 0.7, "swapped": 0.6}).validate()


def test_streams_into_several_files_without_losing_rows(tmp_path):
    cfg = WorldConfig(seed=9, n_scrobbles=4_000, days=12, rows_per_file=1_000, write_csv=True)
    manifest = generate_world(cfg, tmp_path)
    files = sorted((tmp_path / "scrobbles").glob("*.parquet"))
    assert len(files) >= 3
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == manifest["counts"]["scrobbles"]
    ids = duckdb.connect().execute(
        f"SELECT count(DISTINCT scrobble_id) FROM read_parquet('{tmp_path}/scrobbles/*.parquet')").fetchall()[0][0]
    assert ids == manifest["counts"]["scrobbles"]
    csv_rows = sum(1 for _ in open(tmp_path / "scrobbles_csv" / "scrobbles.csv", encoding="utf-8")) - 1
    assert csv_rows == manifest["counts"]["scrobbles"]
