"""The mood model's evaluation: metrics against hand-computed examples, and artist-disjoint folds."""

import math

import numpy as np
import pytest

from timbral_assets.mood.evaluation import artist_folds, macro_f1, micro_f1, r2, rmse, track_artists


def test_rmse_and_r2_by_hand():
    assert rmse([0, 0, 1], [0, 1, 1]) == pytest.approx(math.sqrt(1 / 3))
    assert rmse([0.2, 0.4], [0.2, 0.4]) == 0.0
    # mean 2, total sum of squares 2, residual 1
    assert r2([1, 2, 3], [1, 2, 4]) == pytest.approx(0.5)
    assert r2([1, 2, 3], [2, 2, 2]) == pytest.approx(0.0)  # the mean itself
    assert r2([1, 2, 3], [3, 2, 1]) == pytest.approx(-3.0)  # residual 8 / total 2
    with pytest.raises(ValueError, match="undefined"):
        r2([1, 1], [1, 2])


def test_micro_and_macro_f1_by_hand():
    truth = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0]])
    predicted = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0]])
    # label 0: TP 3 -> F1 1; label 1: FN 1 -> F1 0; label 2 never true nor predicted: left out
    assert macro_f1(truth, predicted) == pytest.approx(0.5)
    # pooled: TP 3, FP 0, FN 1 -> 6 / 7
    assert micro_f1(truth, predicted) == pytest.approx(6 / 7)
    truth = np.array([[1, 0], [1, 1], [0, 0]])
    predicted = np.array([[1, 1], [0, 1], [0, 0]])
    # label 0: TP 1, FN 1 -> 2/3; label 1: TP 1, FP 1 -> 2/3; pooled TP 2, FP 1, FN 1 -> 4/6
    assert micro_f1(truth, predicted) == pytest.approx(2 / 3)
    assert macro_f1(truth, predicted) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="one shape"):
        micro_f1(truth, predicted[:, :1])


def test_a_featured_artist_keeps_its_tracks_out_of_the_other_folds_training():
    artist_lists = [["a"], ["b"], ["a", "c"], ["c"], ["d"], ["e"], [], ["f"]]
    folds = artist_folds(artist_lists, 5, seed=1)
    for train, test in folds:
        tested = {a for i in test for a in artist_lists[i]}
        assert not tested & {a for i in train for a in artist_lists[i]}
    fold_of = {int(i): k for k, (_, test) in enumerate(folds) for i in test}
    assert len(fold_of) == len(artist_lists)  # every track, the one with no artist too, is tested once
    # "a;c" is tested with a's tracks; c's own track is in its own fold, and trains nowhere a or c is tested
    assert fold_of[2] == fold_of[0]
    assert fold_of[3] != fold_of[0]
    a_fold_train, c_fold_train = folds[fold_of[0]][0].tolist(), folds[fold_of[3]][0].tolist()
    assert 3 not in a_fold_train  # c is tested in a's fold, through "a;c"
    assert 2 not in c_fold_train and 0 in c_fold_train  # "a;c" credits c; a alone does not


@pytest.mark.parametrize("seed", range(40))
def test_folds_are_artist_disjoint_and_cover_every_track_once(seed):
    """Random catalogs of 20-80 artists, one track in five with a random guest, so that collaborations
    chain most artists together, as they do on the real Spotify file."""
    rng = np.random.default_rng(seed)
    n_artists = int(rng.integers(20, 81))
    artist_lists = []
    for _ in range(int(rng.integers(100, 400))):
        main = int(rng.integers(n_artists))
        guests = [int(rng.integers(n_artists))] if rng.random() < 0.2 else []
        artist_lists.append([f"artist {a}" for a in dict.fromkeys([main, *guests])])
    folds = artist_folds(artist_lists, 5, seed)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(artist_lists)))  # each track tested exactly once
    for train, test in folds:
        assert len(test) and not set(train.tolist()) & set(test.tolist())
        train_artists = {a for i in train for a in artist_lists[i]}
        test_artists = {a for i in test for a in artist_lists[i]}
        assert not train_artists & test_artists  # the point of the folds
        # guests cost training tracks, not most of them: here at least 29% of all tracks train each fold
        # (on the real Spotify file, 80% of the other folds' tracks)
        assert len(train) > len(artist_lists) / 4
    assert artist_folds(artist_lists, 5, seed)[0][1].tolist() == folds[0][1].tolist()  # seeded


def test_too_few_artists_for_the_folds_is_an_error():
    with pytest.raises(ValueError, match="3 first-credited artists cannot fill 5 folds"):
        artist_folds([["a"], ["b"], ["c"], ["a", "b"]] + [["c"]] * 10, 5)


def test_folds_stay_near_equal_with_one_large_artist():
    artist_lists = [["big"]] * 40 + [[f"a{i}"] for i in range(160)]  # one artist with 40 tracks, 160 with one
    sizes = sorted(len(test) for _, test in artist_folds(artist_lists, 5, seed=3))
    assert sizes == [40, 40, 40, 40, 40]


def test_track_artists_folds_case_and_splits_credits():
    assert track_artists(["Ingrid Michaelson;ZAYN", "  ", "The  National"]) == [
        ["ingrid michaelson", "zayn"], [], ["the national"]]


def test_the_mood_package_imports_no_dagster():
    """The design rule: domain logic in plain modules (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = ("import sys, timbral_assets.mood.evaluation, timbral_assets.mood.features, timbral_assets.mood.labels, "
            "timbral_assets.mood.model; "
            "sys.exit(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster')[:1] or 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
