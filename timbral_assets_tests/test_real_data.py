"""Import the real public data sets in ../shared/data and check the published counts (skipped when absent)."""

from __future__ import annotations

import pytest

from timbral_assets.sources import metadata_files as mf
from timbral_assets.sources.scrobble_files import ScrobbleFileReader

from .conftest import shared_file

pytestmark = pytest.mark.real_data


def _read(path):
    reader = ScrobbleFileReader(str(path))
    rows = sum(b.num_rows for b in reader.batches())
    return reader, rows


def test_lastfm_export_with_mbids():
    reader, rows = _read(shared_file("lastfm_scrobble_exports", "sachawheeler_scrobbles_with_mbids.csv"))
    assert (reader.fmt, rows, reader.records_read, len(reader.issues)) == ("scrobble_csv", 11_622, 11_622, 0)


def test_lastfm_headerless_export():
    reader, rows = _read(shared_file("lastfm_scrobble_exports", "pingw33n_lastfm_scrobbles.csv"))
    # 60,950 published rows; 303 carry no date and cannot be placed on a play date, so they are reported
    assert reader.records_read == 60_950
    assert rows == 60_950 - 303
    assert {(i.field, i.message) for i in reader.issues} == {("date", "is empty")} and len(reader.issues) == 303



def test_metal_export_with_a_row_number_column_and_iso_dates():
    reader, rows = _read(shared_file("lastfm_scrobble_exports", "zsteve_metal_scrobbles.csv"))
    assert (reader.fmt, rows, reader.records_read, len(reader.issues)) == ("scrobble_csv", 16_545, 16_545, 0)


def test_export_naming_its_columns_song_title_and_date_time():
    path = shared_file("lastfm_scrobble_exports", "erikwien_lastfm_data.csv")
    reader = ScrobbleFileReader(str(path))
    first = next(reader.batches()).slice(0, 1).to_pylist()[0]
    assert (first["artist_name"], first["track_name"]) == ("Charli XCX", "guess featuring billie eilish")
    assert first["played_at"].isoformat() == "2024-09-19T11:25:00+00:00"
    reader, rows = _read(path)
    assert (reader.fmt, rows, reader.records_read, len(reader.issues)) == ("scrobble_csv", 8_200, 8_200, 0)

def test_lastfm_1k_sample():
    reader, rows = _read(shared_file("lastfm_1k_sample", "userid-timestamp-artid-artname-traid-traname.head4997.tsv"))
    assert (reader.fmt, rows, len(reader.issues)) == ("lastfm_1k_tsv", 4_997, 0)


def test_hetrec_user_artists():
    imported = mf.read_user_artist_plays(shared_file("hetrec_lastfm_2k", "user_artists.dat"))
    table = imported.tables["user_artist_plays"]
    assert table.num_rows == 92_834 and not imported.issues
    assert table.column("artist_name").null_count == 0  # every artist id is named via artists.dat


def test_hetrec_tag_assignments():
    imported = mf.read_artist_tags(shared_file("hetrec_lastfm_2k", "user_taggedartists.dat"))
    # 186,479 published assignments; the file as shared holds one of those lines empty (where its two
    # halves were joined), which is reported with its line instead of silently dropped
    assert imported.records_read == 186_479
    assert imported.tables["artist_tags"].num_rows == 186_478
    assert [(i.line, i.message) for i in imported.issues] == [(108_471, "empty line")]
    tags = set(imported.tables["artist_tags"].column("tag").to_pylist())
    assert "chillout" in tags


def test_spotify_tracks():
    imported = mf.read_spotify_tracks_csv(shared_file("spotify_tracks", "spotify_tracks.csv.gz"))
    assert imported.tables["tracks"].num_rows == 102_197 and not imported.issues
    assert imported.tables["audio_features"].num_rows == 102_197
    # the row the data set calls all-empty has audio features but no artist, album or title
    empty = [r for r in imported.tables["tracks"].to_pylist() if r["spotify_track_id"] == "1kR4gIb7nGxHPI3D2ifs59"]
    assert len(empty) == 1 and empty[0]["artists"] is None and empty[0]["track_name"] is None


def test_audioscrobbler_plays_with_names():
    imported = mf.read_user_artist_plays(shared_file("audioscrobbler_small", "user_artist_data_small.txt"))
    table = imported.tables["user_artist_plays"]
    assert table.num_rows == 49_481
    assert all(i.file.endswith("artist_data_small.txt") for i in imported.issues)  # malformed name lines, reported


# the share of merged tracks the audit rule calls suspicious, measured 0% and 0.4% (docs/resolution.md): the
# issue's target of 1%. The rule misses unnamed mixes ("(Dongtool)") and title typos that are other songs
# ("Parabol" / "Parabola"), which the sample read by eye counts
@pytest.mark.parametrize("export, most_suspicious, one_library", [
    ("sachawheeler_scrobbles_with_mbids.csv", 0.01, False),
    ("pingw33n_lastfm_scrobbles.csv", 0.01, False),
    ("pingw33n_lastfm_scrobbles.csv", 0.01, True)])
def test_real_listening_keeps_different_recordings_apart(export, most_suspicious, one_library):
    """A real export through `resolve-names --entity track [--one-library]`'s code: no merged track holds two
    titles whose recording markers conflict (movements, parts, takes, remixers ...), few are suspicious by the
    audit rule (audit.py, independent of the markers), and the right merges stay."""
    from timbral_assets.resolution.audit import audit_resolve_names

    audit = audit_resolve_names(str(shared_file("lastfm_scrobble_exports", export)), one_library=one_library)
    assert audit.conflicting == []
    assert len(audit.merged) > 50 and audit.suspicious_share <= most_suspicious, audit.flagged
    merged_titles = [{t for _, t in m} for m in audit.merged]
    kept = {"sachawheeler": [{"Rock 'n' Roll Damnation", "Rock ’n’ Roll Damnation"},  # apostrophes
                             {"Two Angels", "01 - Two Angels"},  # a track number
                             {"Paranoid Android", "Paranoid Android (Remastered)"}],  # a remaster
            "pingw33n": [{"In The City (12 Version)", "In the City (extended version)"},  # a 12" is extended
                         {"Divers (Funky Lowlives Mix)", "Divers (The Funky Lowlives mix)"}]}[export.split("_")[0]]
    for titles in kept:
        assert any(titles <= m for m in merged_titles), titles
    if one_library:  # two titles of one album are two tracks, a typo within a word aside
        assert not any({"Night Intro", "Night Outro"} <= m for m in merged_titles)
        assert not any({"The Bell Tune", "The Tone Tune"} <= m for m in merged_titles)
        assert any({"A Circular Reeducation", "A Circular Reeduction"} <= m for m in merged_titles)
    if export.startswith("sacha"):  # "The Go-Go's" and "Go-Go's": one artist's one track
        assert any({a for a, _ in m} >= {"Go‐Go’s", "The Go‐Go’s"} for m in audit.merged)
