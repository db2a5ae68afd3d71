"""The recommender's pure parts: metrics by hand, each model on a small fixture, post-filters on hand-made
histories, session co-play, and `timbral recommend-batch` on real files."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from timbral_assets.cli import main
from timbral_assets.recommend import metrics
from timbral_assets.recommend.batch import read_train
from timbral_assets.recommend.coplay import (
    CoplayParams,
    coplay_neighbours,
    coplay_pairs,
    mark_sessions,
    neighbour_lists,
)
from timbral_assets.recommend.hybrid import DEFAULT_WEIGHTS, HybridRecommender, RankerParams
from timbral_assets.recommend.interactions import split_per_user
from timbral_assets.recommend.models import (
    ALS,
    EASE,
    ItemKNN,
    Popularity,
    RP3beta,
    TagContent,
    VectorContent,
    top_k,
)
from timbral_assets.recommend.postfilter import (
    DoNotRecommend,
    FilterParams,
    blocked_tracks,
    cap_artists,
    filter_list,
    recently_played,
)
from timbral_assets.recommend.vectors import VectorParams, build_index, recall_at_10

from .conftest import SHARED_DATA


def test_metrics_match_hand_computed_values():
    recommended = [[1, 2, 3, 4], [5, 6, 7, 8]]
    relevant = [{1, 3, 9}, {8}]
    assert metrics.precision_at_k(recommended, relevant, 4) == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert metrics.recall_at_k(recommended, relevant, 4) == pytest.approx((2 / 3 + 1) / 2)
    dcg_a = 1 + 1 / math.log2(4)
    ideal_a = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(recommended, relevant, 4) == pytest.approx((dcg_a / ideal_a + (1 / math.log2(5))) / 2)
    # AP: user a hits at ranks 1 and 3 -> (1/1 + 2/3) / min(3, 4); user b at rank 4 -> (1/4) / 1
    assert metrics.map_at_k(recommended, relevant, 4) == pytest.approx(((1 + 2 / 3) / 3 + 1 / 4) / 2)
    assert metrics.catalog_coverage(recommended, 16, 2) == pytest.approx(4 / 16)
    # users with nothing held out are skipped, not counted as zero
    assert metrics.precision_at_k([[1], [2]], [{1}, set()], 1) == 1.0
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert metrics.intra_list_diversity([[0, 1], [0, 2]], vectors, 2) == pytest.approx(0.5)
    assert metrics.popularity_bias([[2]], np.array([1, 5, 9]), 1) == 1.0
    with pytest.raises(ValueError):
        metrics.ndcg_at_k([[1]], [{1}, {2}], 1)


def _fixture(seed: int = 0, users: int = 60, items: int = 40) -> sp.csr_matrix:
    """Two taste groups: users of group g play mostly items of half g."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for u in range(users):
        half = u % 2
        for i in rng.choice(items // 2, size=8, replace=False):
            rows.append(u)
            cols.append(i + half * items // 2)
            vals.append(float(rng.integers(1, 50)))
    return sp.csr_matrix((vals, (rows, cols)), shape=(users, items))


@pytest.mark.parametrize("make", [Popularity, ItemKNN, lambda: RP3beta(beta=0.3), lambda: EASE(l2=10.0, min_listeners=1),
                                  lambda: ALS(factors=8, iterations=5)])
def test_each_model_scores_every_item_and_never_returns_training_items(make):
    plays = _fixture()
    train, held = split_per_user(plays, 0.25, seed=1)
    model = make().fit(train)
    users = np.arange(10)
    scores = model.scores(users)
    assert scores.shape == (10, 40) and np.isfinite(scores).all()
    best = top_k(scores, train[users], 5)
    for row, u in enumerate(users):
        assert not set(best[row].tolist()) & set(train[u].indices.tolist())
        assert len(set(best[row].tolist())) == 5


def test_collaborative_models_learn_the_taste_groups():
    plays = _fixture(users=80)
    train, held = split_per_user(plays, 0.25, seed=2)
    for model in (ItemKNN(), RP3beta(beta=0.3), ALS(factors=8, regularization=0.1, iterations=10)):
        model.fit(train)
        best = top_k(model.scores(np.arange(80)), train, 5)
        # nearly every recommendation comes from the user's own half of the catalog
        own_half = np.mean([(best[u] >= 20) == (u % 2 == 1) for u in range(80)])
        assert own_half > 0.9, model.name


def test_top_k_pads_when_the_user_has_seen_everything():
    seen = sp.csr_matrix(np.ones((1, 3)))
    assert top_k(np.zeros((1, 3), dtype=np.float32), seen, 2).tolist() == [[-1, -1]]


def test_content_models_rank_by_similarity_to_the_history():
    train = sp.csr_matrix(np.array([[5.0, 0, 0, 0], [0, 0, 3.0, 0]]))
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    scores = VectorContent(item_vectors=vectors).fit(train).scores(np.array([0, 1]))
    assert top_k(scores, train, 1).tolist() == [[1], [3]]
    tags = sp.csr_matrix(np.array([[3, 0], [2, 0], [0, 4], [0, 1]], dtype=float))
    scores = TagContent(item_tags=tags).fit(train).scores(np.array([0, 1]))
    assert top_k(scores, train, 1).tolist() == [[1], [3]]


def test_hybrid_lists_exclude_training_items_with_and_without_the_reranker():
    plays = _fixture(users=80)
    components = {"als": lambda: ALS(factors=8, iterations=5), "item_knn": ItemKNN, "popularity": Popularity}
    weights = {n: DEFAULT_WEIGHTS.get(n, 0.5) for n in components}
    for ranker in (None, RankerParams(candidates=15, trees=20, min_child_samples=5)):
        hybrid = HybridRecommender(components, weights, ranker).fit(plays)
        items, scores = hybrid.recommend(np.arange(80), 10)
        assert items.shape == scores.shape == (80, 10)
        for u in range(80):
            assert not set(items[u].tolist()) & set(plays[u].indices.tolist())
        assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_post_filters_on_hand_made_histories():
    now = datetime(2025, 6, 30)
    history = [("a", now - timedelta(days=10)), ("b", now - timedelta(days=59)), ("c", now - timedelta(days=61))]
    assert recently_played(history, now, 60) == {"a", "b"}
    entries = [DoNotRecommend("u1", "x", now + timedelta(days=1)), DoNotRecommend("u1", "y", now - timedelta(days=1)),
               DoNotRecommend("u1", "z", None), DoNotRecommend("u2", "w", None)]
    assert blocked_tracks(entries, "u1", now) == {"x", "z"}  # y expired; w is another user's
    artist = {f"{a}{i}": a for a in "PQR" for i in range(10)}
    ranked = ["P0", "P1", "P2", "P3", "Q0", "R0", "Q1", "Q2", "R1", "R2", "P4", "P5"]
    capped = cap_artists(ranked, artist, per_artist=2, window=10, k=12)
    for start in range(len(capped)):
        window = [artist[t] for t in capped[start:start + 10]]
        assert all(window.count(a) <= 2 for a in "PQR"), capped
    assert capped[:2] == ["P0", "P1"] and capped[2] == "Q0"  # order kept as far as the cap allows
    # a catalogue of one artist gives a short list rather than a broken cap
    assert cap_artists(["P0", "P1", "P2"], artist, 2, 10, 3) == ["P0", "P1"]
    listed = filter_list(["a", "c", "x", "z", "d"], {}, 10, recently_played(history, now, 60) | {"x", "z"},
                         FilterParams())
    assert listed == ["c", "d"]


def _plays(rows):
    return pl.DataFrame(rows, schema=["user_id", "played_at", "track_id", "artist_id", "duration_ms"], orient="row")


def test_sessions_skips_caps_and_same_artist_pairs():
    t0 = datetime(2025, 1, 1, 12)
    minute = timedelta(minutes=1)
    rows = [("u1", t0, "t1", "A", 180_000), ("u1", t0 + 4 * minute, "t2", "B", 180_000),
            # t3 is cut short: the next play starts 20 s later
            ("u1", t0 + 8 * minute, "t3", "C", 180_000), ("u1", t0 + 8 * minute + timedelta(seconds=20), "t4", "A", 180_000),
            # a 31-minute gap: a new session, so t4 and t5 never pair
            ("u1", t0 + 40 * minute, "t5", "D", 180_000)]
    # u2 plays t1 -> t2 ten times in ten sessions; the cap keeps their weight at 3
    rows += [("u2", t0 + timedelta(hours=2 * k), t, a, 180_000) for k in range(10)
             for t, a in (("t1", "A"),)]
    rows += [("u2", t0 + timedelta(hours=2 * k, minutes=3), "t2", "B", 180_000) for k in range(10)]
    sessions = mark_sessions(_plays(rows))
    u1 = sessions.filter(pl.col("user_id") == "u1").sort("played_at")
    assert u1["session"].to_list() == [0, 0, 0, 0, 1]
    assert u1["skipped"].to_list() == [False, False, True, False, False]
    pairs = coplay_pairs(sessions, CoplayParams(window=5, per_user_cap=3))
    counted = {(a, b): (c, n, same) for a, b, c, n, same in pairs.select(
        "track_a", "track_b", "count", "users", "same_artist").iter_rows()}
    assert ("t3", "t4") not in counted and ("t2", "t3") not in counted  # the skip pairs with nothing
    assert ("t4", "t5") not in counted  # different sessions
    assert counted[("t1", "t2")] == (1 + 3, 2, False)  # u1 once, u2 capped at 3
    assert counted[("t1", "t4")] == (1, 1, True)
    lists = neighbour_lists(sessions, pairs)
    t1 = lists.filter(pl.col("track_id") == "t1")
    assert set(t1.filter(~pl.col("same_artist"))["neighbour_id"]) == {"t2"}
    assert set(t1.filter(pl.col("same_artist"))["neighbour_id"]) == {"t4"}
    assert t1["rank"].min() == 1
    # the fast path (numbers until the end) gives the same lists
    fast, n_pairs = coplay_neighbours(sessions, CoplayParams(window=5, per_user_cap=3))
    assert fast.equals(neighbour_lists(sessions, pairs, CoplayParams(window=5, per_user_cap=3)))
    assert n_pairs == len(pairs)


def test_exact_index_below_the_limit_and_hnsw_above_with_measured_recall():
    vectors = np.random.default_rng(0).normal(size=(3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = build_index(vectors, VectorParams(exact_limit=10_000))
    approximate = build_index(vectors, VectorParams(exact_limit=1000))
    assert type(exact).__name__ == "IndexFlatIP" and type(approximate).__name__ == "IndexHNSWFlat"
    assert recall_at_10(exact, vectors, queries=200)[0] == 1.0
    assert 0.8 < recall_at_10(approximate, vectors, queries=200)[0] <= 1.0


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_recommend_batch_files(tmp_path, capsys):
    rng = np.random.default_rng(3)
    lines = ["user_id\titem_id\tweight"]
    for u in range(40):
        for i in rng.choice(20, size=6, replace=False):
            lines.append(f"u{u}\ti{i + (u % 2) * 20}\t{int(rng.integers(1, 90))}")
    lines.insert(5, "u1\ti3\tlots")  # non-numeric weight: named, skipped
    lines.insert(6, "")  # empty line: skipped
    lines.append("greedy\t" + "\ngreedy\t".join(f"i{i}\t1" for i in range(40)))  # has played every item
    train = _write(tmp_path / "train.tsv", "\n".join(lines) + "\n")
    tags = _write(tmp_path / "tags.tsv", "item_id\ttag\tcount\n" + "".join(
        f"i{i}\t{'rock' if i < 20 else 'jazz'}\t{3}\n" for i in range(40)))
    users = _write(tmp_path / "users.txt", "u0\n\nu1\nnobody\ngreedy\nu0\n")
    out = tmp_path / "recs.tsv"
    code = main(["recommend-batch", "--train", str(train), "--item-tags", str(tags), "--users", str(users),
                 "--k", "5", "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"{train}, line 6, field 'weight': 'lots' is not a number" in err
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0] == ["user_id", "item_id", "rank", "score"]
    by_user: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        by_user.setdefault(row[0], []).append(row)
    assert list(by_user) == ["u0", "u1", "nobody"]  # file order, repeats once, greedy has nothing left
    data, _ = read_train(train)
    for user in ("u0", "u1"):
        played = {str(data.item_ids[i]) for i in data.plays[list(data.user_ids).index(user)].indices}
        listed = [r[1] for r in by_user[user]]
        assert len(listed) == 5 and not set(listed) & played
        assert [int(r[2]) for r in by_user[user]] == [1, 2, 3, 4, 5]
        # the taste group's half of the catalog
        assert all((int(item[1:]) >= 20) == (user == "u1") for item in listed)
    popular = np.argsort(-data.item_popularity(), kind="stable")[:5]
    assert [r[1] for r in by_user["nobody"]] == [str(data.item_ids[i]) for i in popular]
    assert "1 unknown" in err and "1 with every item already played" in err


def test_recommend_batch_refuses_a_file_without_its_columns(tmp_path, capsys):
    train = _write(tmp_path / "train.tsv", "user\titem\tplays\nu\ti\t3\n")
    users = _write(tmp_path / "users.txt", "u\n")
    code = main(["recommend-batch", "--train", str(train), "--users", str(users), "--output", str(tmp_path / "o")])
    assert code == 2 and "field 'user_id': missing column" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.real_data
def test_hybrid_beats_every_member_on_hetrec():
    """Protocol (a) on a seeded split of hetrec lastfm-2k: the batch hybrid over ALS out of the box."""
    folder = SHARED_DATA / "hetrec_lastfm_2k"
    if not folder.exists():
        pytest.skip(f"needs hetrec_lastfm_2k under {SHARED_DATA}")
    from timbral_assets.recommend.batch import default_components
    from timbral_assets.recommend.evaluation import evaluate
    from timbral_assets.recommend.hetrec import read_hetrec

    data, tags = read_hetrec(folder)
    train, held = split_per_user(data.plays, 0.2, seed=5)
    models = {name: factory().fit(train) for name, factory in default_components(tags).items()}
    models["als_out_of_the_box"] = ALS(factors=64).fit(train)
    weights = {n: w for n, w in DEFAULT_WEIGHTS.items()}
    ndcg = {r["model"]: r["ndcg@10"] for r in evaluate(train, held, models, weights)}
    assert ndcg["hybrid"] > max(v for k, v in ndcg.items() if k != "hybrid")
    assert ndcg["hybrid"] >= 1.08 * ndcg["als_out_of_the_box"]


def test_cold_start_prefers_seeds_then_genres_then_trending():
    from timbral_assets.recommend.coldstart import cold_start_list, genre_picks

    ids = ["a", "b", "c", "d"]
    vectors = np.array([[1, 0], [0.95, 0.3], [0, 1], [0.3, 0.95]], dtype=np.float32)
    listed, lead = cold_start_list(["a"], [], ["c", "d"], 2, ids, vectors)
    assert lead == "seeds" and listed[0] == "b" and "a" not in listed
    by_genre = {"jazz": ["j1", "j2", "j3"], "metal": ["m1"]}
    assert genre_picks(["Jazz", "metal"], by_genre, 3) == ["j1", "m1", "j2"]
    listed, lead = cold_start_list([], ["metal"], ["t1"], 5, tracks_by_genre=by_genre)
    assert (listed, lead) == (["m1", "t1"], "genres")  # trending fills what the genre leaves
    assert cold_start_list(["unknown"], [], ["t1"], 5, ids, vectors) == (["t1"], "trending")
