"""Metadata features of the mood model (mood/features.py)."""

import math

import numpy as np
import pytest

from timbral_assets.mood.features import (
    MetadataFeaturizer,
    TrackMeta,
    title_cues,
    with_embeddings,
    year_bucket,
)


def _tracks():
    return [
        TrackMeta("t1", "A", "Al", "Ghost - Acoustic", "acoustic", 55, 149_610, False, 2019, ("folk", "chill", "sad")),
        TrackMeta("t2", "B;C", "Bl", "Fire (feat. D)", "metal", 70, 200_000, True, 1987, ("metal", "hip hop")),
        TrackMeta("t3", "E", "", "Quiet", "acoustic", None, None, None, None, ()),
    ]


def test_columns_values_and_missing_flags():
    featurizer = MetadataFeaturizer().fit(_tracks())
    matrix, columns = featurizer.transform(_tracks())
    assert matrix.shape == (3, len(columns)) and len(set(columns)) == len(columns)
    row = dict(zip(columns, matrix.toarray()[0], strict=True))
    assert row["genre=acoustic"] == 1 and row["genre=metal"] == 0
    assert row["popularity"] == pytest.approx(0.55) and row["missing_popularity"] == 0
    assert row["log_duration"] == pytest.approx(math.log(149.61), rel=1e-5)
    assert row["year=2010s"] == 1 and row["cue=acoustic"] == 1 and row["explicit"] == 0
    assert row["tag=folk"] > 0
    second = dict(zip(columns, matrix.toarray()[1], strict=True))
    assert second["tag=hip_hop"] > 0 and second["cue=feat"] == 1 and second["explicit"] == 1
    assert second["year=1980s"] == 1
    third = dict(zip(columns, matrix.toarray()[2], strict=True))
    assert third["missing_popularity"] == third["missing_duration"] == third["missing_explicit"] == 1
    assert third["year=unknown"] == 1 and third["popularity"] == 0


def test_no_feature_holds_a_label_word():
    """"chill" and "sad" define mood labels (labels.py): a tag feature of theirs would leak the label."""
    _, columns = MetadataFeaturizer().fit(_tracks()).transform(_tracks())
    assert "tag=chill" not in columns and "tag=sad" not in columns and "tag=metal" in columns


def test_unseen_genre_and_no_tags():
    featurizer = MetadataFeaturizer().fit([TrackMeta("t", genre="jazz"), TrackMeta("u", genre="pop")])
    matrix, columns = featurizer.transform([TrackMeta("v", genre="polka")])
    assert not any(c.startswith("tag=") for c in columns)  # no training track had tags
    assert matrix[0, columns.index("genre=jazz")] == 0 and matrix[0, columns.index("genre=pop")] == 0


def test_max_tags_keeps_the_most_frequent_terms():
    tracks = [TrackMeta(str(i), tags=("rock",) + (("indie",) if i % 2 else ())) for i in range(10)]
    tracks.append(TrackMeta("x", tags=("zydeco",)))
    _, columns = MetadataFeaturizer(max_tags=2).fit(tracks).transform(tracks)
    assert [c for c in columns if c.startswith("tag=")] == ["tag=indie", "tag=rock"]


def test_embeddings_append_as_dense_columns():
    featurizer = MetadataFeaturizer().fit(_tracks())
    matrix, columns = with_embeddings(*featurizer.transform(_tracks()), np.ones((3, 4)))
    assert columns[-4:] == ["emb_0", "emb_1", "emb_2", "emb_3"] and matrix.shape[1] == len(columns)
    with pytest.raises(ValueError, match="2 embeddings for 3 tracks"):
        with_embeddings(*featurizer.transform(_tracks()), np.ones((2, 4)))


@pytest.mark.parametrize("title, cues", [
    ("Song (Live at Wembley)", ["live"]), ("Song - 2011 Remaster", ["remaster"]), ("Song (Acoustic)", ["acoustic"]),
    ("Song (Notuv Remix) (feat. Y)", ["remix", "feat"]), ("Song (Radio Edit)", ["edit"]), ("Song", []),
])
def test_title_cues(title, cues):
    assert list(title_cues(title)) == cues


def test_year_buckets():
    assert [year_bucket(y) for y in (1955, 1960, 1999, 2024, 2031, None, 0)] == [
        "before 1960", "1960s", "1990s", "2020s", "2020s", "unknown", "unknown"]
