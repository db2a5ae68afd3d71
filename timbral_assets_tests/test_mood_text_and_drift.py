"""The track text behind the embedding, the tag-drift distance and mood-predict's input reader, by hand."""

import gzip
import math

import pytest

from timbral_assets.mood import drift
from timbral_assets.mood.dataset import labelled_set, read_predict_input
from timbral_assets.mood.features import TrackMeta
from timbral_assets.mood.text import MAX_SNIPPET_CHARS, text_of, track_text
from timbral_assets.sources.errors import FileFormatError


def test_track_text_reads_names_tags_and_snippets_without_label_words():
    text = track_text("Ingrid Michaelson;ZAYN", "To Begin Again", "To Begin Again",
                      ["Acoustic", "sad", "singer  songwriter", "acoustic", "Chill"], ["A quiet, lovely record."])
    assert text == ("Ingrid Michaelson, ZAYN - To Begin Again (album: To Begin Again). "
                    "tags: acoustic, singer songwriter. A quiet, lovely record.")
    assert track_text("", "Untitled") == "Untitled"
    long = track_text("A", "B", snippets=["word " * 200])
    assert len(long) < len("A - B. ") + MAX_SNIPPET_CHARS + 1 and long.endswith("word")  # whole words


def test_text_of_falls_back_to_the_genre_when_a_row_has_no_tags():
    assert text_of(TrackMeta("t", "Björk", "Homogenic", "Jóga", genre="electronic")) == \
        "Björk - Jóga (album: Homogenic). tags: electronic"


def test_js_distance_by_hand():
    assert drift.js_distance({"a": 1.0}, {"a": 1.0}) == 0.0
    assert drift.js_distance({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)  # disjoint: the maximum
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4); JS = 1/2 [1/2 log2(2/3) + 1/2 log2(2)] + 1/2 log2(4/3)
    divergence = 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)) + 0.5 * math.log2(1 / 0.75)
    assert drift.js_distance({"a": 0.5, "b": 0.5}, {"a": 1.0}) == pytest.approx(math.sqrt(divergence))
    assert drift.js_distance({"a": 2, "b": 2}, {"a": 0.5, "b": 0.5}) == 0.0  # renormalised first
    assert drift.js_distance({}, {}) == 0.0 and drift.js_distance({}, {"a": 1}) == 1.0


def test_top_k_shares_pool_the_tail():
    shares = drift.top_k_shares({"rock": 6, "pop": 3, "jazz": 1, "noise": 0}, k=2)
    assert shares == {"rock": 0.6, "pop": 0.3, drift.OTHER: pytest.approx(0.1)}
    assert drift.top_k_shares({}) == {}


def test_predict_input_keeps_every_record_and_names_bad_values(tmp_path):
    path = tmp_path / "in.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        f.write("extra,track_id,artists,album_name,track_name,popularity,duration_ms,explicit,track_genre\n"
                "x,a,Sigur Rós,Ágætis byrjun,Olsen Olsen,61,480000,False,Post-Rock\n"
                "x,b,Someone,,Song,high,,yes?,pop\n"
                "\n"
                "x,c,Cut Off\n")
    tracks, issues = read_predict_input(path)
    assert [t.track_id for t in tracks] == ["a", "b", "c"]
    assert tracks[0].genre == "post-rock" and tracks[0].popularity == 61 and tracks[0].explicit is False
    assert tracks[1].popularity is None and tracks[1].explicit is None
    assert [(i.line, i.field) for i in issues] == [(3, "popularity"), (3, "explicit"), (5, "album_name")]
    (tmp_path / "bad.csv").write_text("track_id,artists\n1,a\n")
    with pytest.raises(FileFormatError, match="field 'album_name'.*required column is missing"):
        read_predict_input(tmp_path / "bad.csv")


def test_labelled_set_skips_rows_without_targets_and_repeated_ids():
    rows = [{"spotify_track_id": "1", "artists": ["A"], "track_name": "x", "genre": "pop", "energy": 0.9,
             "valence": 0.8, "danceability": 0.7, "acousticness": 0.1, "mode": 1},
            {"spotify_track_id": "1", "artists": ["A"], "track_name": "x", "genre": "dance", "energy": 0.9,
             "valence": 0.8, "danceability": 0.7, "acousticness": 0.1, "mode": 1},
            {"spotify_track_id": "2", "artists": "B;C", "track_name": "y", "genre": "pop", "energy": None,
             "valence": 0.2, "danceability": 0.5, "acousticness": 0.5, "mode": 0},
            {"spotify_track_id": "3", "artists": "B;C", "track_name": "z", "genre": "pop", "energy": 0.2,
             "valence": 0.1, "danceability": 0.5, "acousticness": 0.5, "mode": 0}]
    data = labelled_set(rows, [[], [], [], ["Aggressive"]])
    assert [t.track_id for t in data.tracks] == ["1", "3"] and data.tracks[1].artists == "B;C"
    assert data.labels[0].tolist() == [True, False, False, True, False, False]  # upbeat, happy
    assert data.labels[1].tolist() == [False, True, True, False, True, True]  # chill, dark, sad; aggressive by tag
    assert data.n_artists == 3
