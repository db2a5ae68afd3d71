"""The mood label rule (mood/labels.py), by hand."""

import numpy as np
import pytest

from timbral_assets.mood.labels import LABEL_TAG_WORDS, MOOD_LABELS, audio_labels, mood_labels, tag_labels


def _audio(**overrides):
    base = {"energy": 0.5, "valence": 0.5, "danceability": 0.5, "acousticness": 0.1, "mode": 1}
    base.update(overrides)
    return {k: [v] for k, v in base.items()}


@pytest.mark.parametrize("audio, expected", [
    (_audio(), set()),  # the middle of every scale: no mood
    (_audio(energy=0.7, valence=0.6, danceability=0.6), {"upbeat"}),
    (_audio(energy=0.7, valence=0.8, danceability=0.6), {"upbeat", "happy"}),
    (_audio(energy=0.3, acousticness=0.5), {"chill"}),
    (_audio(energy=0.3, valence=0.2, mode=0, acousticness=0.5), {"chill", "dark", "sad"}),
    (_audio(energy=0.9, valence=0.2, mode=1), {"aggressive"}),
    (_audio(energy=0.9, valence=0.2, mode=0), {"aggressive", "dark"}),
    (_audio(valence=0.3, energy=0.5), {"sad"}),  # both bounds inclusive
])
def test_audio_rule(audio, expected):
    row = audio_labels(audio)[0]
    assert {label for label, on in zip(MOOD_LABELS, row, strict=True) if on} == expected


def test_tags_add_labels_and_are_label_words():
    tags = [["Chill", "electronic"], ["metal"], [" feel  good "], []]
    by_tags = tag_labels(tags)
    assert by_tags.shape == (4, 6)
    assert by_tags[0].tolist() == [False, True, False, False, False, False]
    assert not by_tags[1].any() and not by_tags[3].any()
    assert by_tags[2][MOOD_LABELS.index("upbeat")]
    audio = {k: v * 4 for k, v in _audio().items()}
    assert mood_labels(audio, tags).sum() == 2  # the audio rule marks none of the four
    assert {"chill", "sad", "feel good"} <= LABEL_TAG_WORDS and "metal" not in LABEL_TAG_WORDS
    with pytest.raises(ValueError, match="3 tag lists for 4 tracks"):
        mood_labels(audio, tags[:3])


def test_missing_audio_columns_are_named():
    with pytest.raises(ValueError, match="danceability, acousticness"):
        audio_labels({"energy": [0.1], "valence": [0.2], "mode": [1]})
    assert audio_labels({c: np.array([]) for c in ("energy", "valence", "danceability", "acousticness",
                                                   "mode")}).shape == (0, 6)
