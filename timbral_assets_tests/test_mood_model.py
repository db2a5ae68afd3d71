"""The mood/energy model trains on a small fixture; predictions have the right shape and range; its
cross-validation is artist-disjoint and compares with its baselines."""

import numpy as np
import pytest

from timbral_assets.mood.features import TrackMeta
from timbral_assets.mood.labels import MOOD_LABELS, mood_labels
from timbral_assets.mood.model import ModelParams, cross_validate, train_mood_model

FAST = ModelParams(n_estimators=25, num_leaves=7, max_depth=3)


def _fixture(n=240, seed=0):
    """Genres with their own energy and valence, tags that say a little more, 40 artists."""
    rng = np.random.default_rng(seed)
    genres = {"metal": (0.9, 0.3), "ambient": (0.2, 0.4), "pop": (0.7, 0.8), "folk": (0.35, 0.5)}
    names = list(genres)
    tracks, energy, valence, dance, acoustic, mode = [], [], [], [], [], []
    for i in range(n):
        genre = names[i % 4]
        e, v = genres[genre]
        e, v = np.clip(e + rng.normal(0, 0.08), 0, 1), np.clip(v + rng.normal(0, 0.08), 0, 1)
        tags = ("loud",) if e > 0.8 else (("soft",) if e < 0.3 else ())
        tracks.append(TrackMeta(f"t{i}", f"artist {i % 40}", f"album {i % 60}", f"song {i}", genre, float(rng.integers(100)),
                                float(rng.integers(120_000, 400_000)), bool(rng.random() < 0.1), 1980 + i % 40, tags))
        energy.append(e), valence.append(v), dance.append(rng.random()), acoustic.append(1 - e), mode.append(i % 2)
    labels = mood_labels({"energy": energy, "valence": valence, "danceability": dance, "acousticness": acoustic,
                          "mode": mode})
    return tracks, np.array(energy), np.array(valence), labels


def test_the_model_trains_and_predicts_in_range():
    tracks, energy, valence, labels = _fixture()
    model = train_mood_model(tracks, energy, valence, labels, params=FAST)
    predicted = model.predict(tracks[:50])
    assert predicted.energy.shape == predicted.valence.shape == (50,)
    assert predicted.probabilities.shape == predicted.labels.shape == (50, len(MOOD_LABELS))
    for values in (predicted.energy, predicted.valence, predicted.probabilities):
        assert values.min() >= 0.0 and values.max() <= 1.0
    assert ((model.thresholds > 0) & (model.thresholds < 1)).all()
    metal = [i for i, t in enumerate(tracks[:50]) if t.genre == "metal"]
    ambient = [i for i, t in enumerate(tracks[:50]) if t.genre == "ambient"]
    assert predicted.energy[metal].mean() > predicted.energy[ambient].mean() + 0.4  # it learned the genres
    assert not predicted.low_confidence.any()


def test_a_track_with_only_a_genre_gets_the_genre_prior():
    tracks, energy, valence, labels = _fixture()
    model = train_mood_model(tracks, energy, valence, labels, params=FAST)
    predicted = model.predict([TrackMeta("x", genre="metal"), TrackMeta("y", genre="unheard of")])
    assert predicted.low_confidence.tolist() == [True, True]
    metal = np.array([t.genre == "metal" for t in tracks])
    assert predicted.energy[0] == pytest.approx(energy[metal].mean())
    assert predicted.energy[1] == pytest.approx(energy.mean())  # an unknown genre: the overall mean
    assert predicted.probabilities[0] == pytest.approx(labels[metal].mean(axis=0))


def test_cross_validation_is_artist_disjoint_and_beats_the_constant():
    tracks, energy, valence, labels = _fixture()
    cv = cross_validate(tracks, energy, valence, labels, params=FAST)
    for train, test in cv.folds:
        assert not {tracks[i].artists for i in train} & {tracks[i].artists for i in test}
    rows = {(r["target"], r["predictor"]): r for r in cv.rows}
    assert rows["energy", "model"]["rmse"] < rows["energy", "constant (training mean)"]["rmse"]
    assert rows["moods", "model"]["micro_f1"] > rows["moods", "majority"]["micro_f1"]
    assert "| energy | genre mean |" in cv.table_markdown()
    assert cv.energy_pred.shape == energy.shape


def test_a_label_never_seen_in_training_is_an_error():
    tracks, energy, valence, labels = _fixture()
    labels[:, 0] = False
    with pytest.raises(ValueError, match="upbeat is off for every training track"):
        train_mood_model(tracks, energy, valence, labels, params=FAST)
