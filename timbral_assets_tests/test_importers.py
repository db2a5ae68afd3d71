"""File importers: bad input names the file, line and field, and the good rows of the same file are kept."""

from __future__ import annotations

import gzip
import json

import pytest

from timbral_assets.sources import metadata_files as mf
from timbral_assets.sources.errors import FileFormatError
from timbral_assets.sources.scrobble_files import ScrobbleFileReader, detect_format, parse_played_at

HEADER = "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"


def good(i: int) -> str:
    return f'"{1720688852 + i}","11 Jul 2024, 09:07","Artist {i}","","Album","","Track {i}",""\n'


def read(path, **kw):
    reader = ScrobbleFileReader(str(path), **kw)
    rows = [r for b in reader.batches() for r in b.to_pylist()]
    return reader, rows


def test_good_export_reads_every_row(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text(HEADER + "".join(good(i) for i in range(5)))
    reader, rows = read(p)
    assert reader.fmt == "scrobble_csv"
    assert [r["track_name"] for r in rows] == [f"Track {i}" for i in range(5)]
    assert [r["source_line"] for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0]["user_id"] == "export" and not reader.issues


@pytest.mark.parametrize(
    "bad_line, field, message",
    [
        ('"1720688999","11 Jul 2024, 09:07","Cut Off"\n', "artist_mbid", "missing: the record has 3 of 8 fields"),
        ('"1720688999","11 Jul 2024, 09:07","' + "x" * 10_000_000 + '","","A","","T",""\n', "artist", "10,000,000 characters"),
        ('"1720688999","11 Jul 2024, 09:07","Nul\x00Band","","A","","T",""\n', "artist", "NUL byte"),
        ('"not-a-time","","Band","","A","","T",""\n', "uts", "not unix seconds"),
        ('"1720688999","","","","A","","T",""\n', "artist", "is empty"),
    ],
    ids=["truncated", "10MB field", "NUL", "bad timestamp", "empty artist"],
)
def test_bad_row_is_named_and_good_rows_kept(tmp_path, bad_line, field, message):
    p = tmp_path / "mixed.csv"
    p.write_text(HEADER + good(0) + good(1) + bad_line + good(3), encoding="utf-8")
    reader, rows = read(p)
    assert [r["track_name"] for r in rows] == ["Track 0", "Track 1", "Track 3"]
    assert len(reader.issues) == 1
    issue = reader.issues[0]
    assert (issue.file, issue.line, issue.field) == (str(p), 4, field)
    assert message in issue.message
    assert f"{p}, line 4, field '{field}'" in str(issue)


def test_wrong_encoding_costs_only_that_row(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes(HEADER.encode() + good(0).encode() + good(1).replace("Artist 1", "Bj\xf6rk").encode("latin-1")
                  + good(2).encode())
    reader, rows = read(p)
    assert [r["artist_name"] for r in rows] == ["Artist 0", "Artist 2"]
    issue = reader.issues[0]
    assert (issue.line, issue.field) == (3, "artist")
    assert "not valid utf-8 (byte 0xf6" in issue.message


def test_missing_column_rejects_the_file_naming_it(tmp_path):
    p = tmp_path / "no_track.csv"
    p.write_text("uts,artist,album\n1720688852,A,B\n")
    with pytest.raises(FileFormatError) as err:
        read(p)
    assert (err.value.file, err.value.line, err.value.field) == (str(p), 1, "track")
    assert "required column is missing" in str(err.value) and "found: uts, artist, album" in str(err.value)


def test_missing_time_column_and_empty_file(tmp_path):
    p = tmp_path / "no_time.csv"
    p.write_text("artist,track\nA,B\n")
    with pytest.raises(FileFormatError, match="field 'uts or date'"):
        read(p, fmt="scrobble_csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FileFormatError, match="the file is empty"):
        read(empty, fmt="scrobble_csv")


def test_headerless_and_1k_formats(tmp_path):
    headerless = tmp_path / "old.csv"
    headerless.write_text("Biome,Kora,Let Me,20 Nov 2020 09:35\nBiome,UNITY,Unity,\n")
    reader, rows = read(headerless)
    assert reader.fmt == "lastfm_headerless_csv"
    assert rows[0]["played_at"].isoformat() == "2020-11-20T09:35:00+00:00"
    assert [(i.line, i.field) for i in reader.issues] == [(2, "date")]
    tsv = tmp_path / "1k.tsv"
    tsv.write_text('user_000001\t2009-05-04T23:08:57Z\tmbid\tDeep "Dish"\t\tTrack\n')
    reader, rows = read(tsv)
    assert reader.fmt == "lastfm_1k_tsv" and rows[0]["artist_name"] == 'Deep "Dish"'  # quotes are literal in the TSV
    assert rows[0]["user_id"] == "user_000001"



def test_column_names_are_read_whatever_their_case_spacing_and_punctuation(tmp_path):
    p = tmp_path / "charts.csv"
    p.write_text("Artist,Album,Song Title,Date-Time\nKaltenkirchen,Planet Hyperphobia,Der letzte Song im Radio,"
                 "19 Sep 2024 07:11\n")
    reader, rows = read(p)
    assert reader.fmt == "scrobble_csv" and not reader.issues
    assert (rows[0]["track_name"], rows[0]["album_name"]) == ("Der letzte Song im Radio", "Planet Hyperphobia")
    assert rows[0]["played_at"].isoformat() == "2024-09-19T07:11:00+00:00"


def test_unix_time_is_read_in_a_date_column_and_bad_values_are_named(tmp_path):
    p = tmp_path / "published.csv"
    p.write_text("timestamp,artist,track\n"
                 "1720688852,A,Seconds\n"
                 "1720688852123,A,Milliseconds\n"
                 "2024-07-11 09:07:32,A,ISO in the same column\n"
                 "99999999999999,A,Too far\n"
                 "yesterday,A,Words\n")
    reader, rows = read(p)
    assert [(r["track_name"], r["played_at"].isoformat()) for r in rows] == [
        ("Seconds", "2024-07-11T09:07:32+00:00"), ("Milliseconds", "2024-07-11T09:07:32+00:00"),
        ("ISO in the same column", "2024-07-11T09:07:32+00:00")]
    assert [(i.line, i.field, i.message) for i in reader.issues] == [
        (5, "date", "99999999999999 is not unix time in 1970..2100"),
        (6, "date", "is not a date Timbral reads: 'yesterday'")]

def test_played_at_formats():
    assert parse_played_at("11 Jul 2024, 09:07") == 1720688820 * 1_000_000
    assert parse_played_at("2009-05-04T23:08:57Z") == 1241478537 * 1_000_000
    assert parse_played_at("1720688852") == 1720688852 * 1_000_000


def test_detect_format(tmp_path, tiny_world):
    assert detect_format(next((tiny_world / "scrobbles").glob("*.parquet"))) == "parquet"
    p = tmp_path / "x.csv"
    p.write_text("user,uts,artist,track\n")
    assert detect_format(p) == "scrobble_csv"


def test_spotify_csv_bad_numbers_and_gzip(tmp_path):
    p = tmp_path / "spotify.csv.gz"
    header = "track_id,artists,album_name,track_name,popularity,duration_ms,explicit,energy,valence,track_genre\n"
    rows = ["a1,A;B,Al,T1,50,200000,False,0.5,0.4,rock\n", "a2,A,Al,T2,fifty,200000,False,0.5,0.4,rock\n",
            "a3,A,Al,T3,40,210000,maybe,0.5,0.4,rock\n", "a4,C,Al,T4,30,190000,True,,,pop\n"]
    with gzip.open(p, "wt") as f:
        f.write(header + "".join(rows))
    imported = mf.read_spotify_tracks_csv(p)
    tracks = imported.tables["tracks"].to_pylist()
    assert [t["spotify_track_id"] for t in tracks] == ["a1", "a4"]
    assert tracks[0]["artists"] == ["A", "B"]
    assert [(i.line, i.field) for i in imported.issues] == [(3, "popularity"), (4, "explicit")]
    assert imported.tables["audio_features"].num_rows == 1  # a4 has no features


def test_aoty_json_array_and_lines(tmp_path):
    albums = tmp_path / "albums.json"
    albums.write_text(json.dumps([
        {"id": "x1", "title": "Alpha", "artist": "Band", "release_date": "2020-05-01", "genres": ["Shoegaze"],
         "critic_score": 80, "tracks": [{"number": 1, "title": "One", "length": "3:05"}]},
        {"id": "x2", "title": "Beta", "artist": "Band", "critic_score": 180},
        {"id": "x3", "artist": "Band"},
    ], indent=1))
    imported = mf.read_aoty_albums(albums)
    rows = imported.tables["aoty_albums"].to_pylist()
    assert [r["aoty_album_id"] for r in rows] == ["x1"] and rows[0]["tracks"][0]["length_s"] == 185
    assert [(i.field, i.message) for i in imported.issues] == [("critic_score", "180.0 is outside 0..100"),
                                                                ("title", "is missing")]
    assert imported.issues[0].line > 1  # the element's own line in the file
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text('{"id": "r1", "album_id": "x1", "score": 70, "text": "fine"}\n{"id": "r2", "album_id"\n')
    imported = mf.read_aoty_reviews(reviews)
    assert imported.tables["aoty_reviews"].num_rows == 1
    assert [(i.line, i.field) for i in imported.issues] == [(2, "(json)")]
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1},\n{"id": ]')
    with pytest.raises(FileFormatError, match="line 2, field '\\(json\\)': invalid JSON"):
        mf.read_aoty_albums(broken)


def test_import_of_a_file_that_yields_nothing_says_why(tmp_path, monkeypatch, capsys):
    from timbral_assets.cli import main

    monkeypatch.setenv("TIMBRAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    unreadable = tmp_path / "published.csv"
    unreadable.write_text("date,artist,track\n" + "".join(f"{day}/07/2024 09:07,A,T{day}\n" for day in range(1, 14)))
    assert main(["import", str(unreadable)]) == 2
    err = capsys.readouterr().err
    assert f"{unreadable}: no play could be read; 13 rows rejected, the first of them:" in err
    assert "  line 2, field 'date': is not a date Timbral reads: '1/07/2024 09:07'" in err
    assert "  line 11, field 'date'" in err and "line 12," not in err  # the first ten, in file order
    assert err.rstrip().endswith("error: the files hold no play that could be read")
