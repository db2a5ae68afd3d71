"""The context head on a real resolved catalog of the tiny world: features, labels, training, save/load."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from timbral_assets.resolution import catalog
from timbral_assets.resolution.context_head import (
    CONTEXT_FEATURES,
    ContextHead,
    build_variant_context,
    pair_features,
    train_head,
    truth_labels,
    world_plays_sql,
)
from timbral_assets.resolution.embeddings import TextEncoder
from timbral_assets.resolution.evaluation import world_scrobbles_sql
from timbral_assets.resolution.rules_file import load_rules


@pytest.fixture(scope="module")
def scored_world(tmp_path_factory, tiny_world):
    con = duckdb.connect(str(tmp_path_factory.mktemp("head") / "catalog.duckdb"))
    run = catalog.resolve_window(con, world_scrobbles_sql(tiny_world), "2025-03-01", load_rules())
    build_variant_context(con, world_plays_sql(tiny_world))
    features = pair_features(con, run.scores, TextEncoder())
    labels = truth_labels(con, features, tiny_world / "truth")
    yield features, labels
    con.close()


def test_features_carry_context_that_tells_matches_apart(scored_world):
    features, labels = scored_world
    assert features.num_rows == len(labels) > 1000 and 0 < labels.mean() < 1
    cosine = features["cosine"].to_numpy()
    assert cosine[labels == 1].mean() > cosine[labels == 0].mean()
    listeners = np.nan_to_num(features["listener_jaccard"].to_numpy(zero_copy_only=False))
    assert listeners[labels == 1].mean() > listeners[labels == 0].mean()


def test_heads_train_predict_and_round_trip(tmp_path, scored_world):
    features, labels = scored_world
    plain, contextual = train_head(features, labels, with_context=False), train_head(features, labels, with_context=True)
    assert not plain.uses_context and contextual.uses_context
    assert set(CONTEXT_FEATURES) <= set(contextual.feature_names)
    probability = contextual.predict(features)
    assert ((probability >= 0.5) == (labels == 1)).mean() > 0.95
    contextual.save(tmp_path / "head.json")
    assert np.allclose(ContextHead.load(tmp_path / "head.json").predict(features), probability)


def test_a_head_needs_both_classes(scored_world):
    features, labels = scored_world
    with pytest.raises(ValueError, match="both matching and non-matching"):
        train_head(features, np.ones_like(labels), with_context=True)
