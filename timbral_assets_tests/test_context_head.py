"""The context head on a real resolved catalog of the tiny world: features, labels, training, save/load."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from timbral_assets.resolution.context_head import (
    CONTEXT_FEATURES,
    ContextHead,
    build_variant_context,
    resolve_world_pairs,
    train_head,
    world_plays_sql,
)
from timbral_assets.resolution.embeddings import TextEncoder


@pytest.fixture(scope="module")
def scored_world(tmp_path_factory, tiny_world):
    con = duckdb.connect(str(tmp_path_factory.mktemp("head") / "catalog.duckdb"))
    pairs = resolve_world_pairs(con, tiny_world, TextEncoder(), window_start="2025-03-01")
    yield pairs.features, pairs.labels
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


def test_cli_trains_a_head_that_the_assets_apply(tmp_path, tiny_world, world_in_bucket, capsys):
    """`train-context-head` on the world, then entity_match_scores of one partition through real Dagster
    with the head configured: the stored probabilities are the head's, splink's weight stays beside them."""
    import dagster as dg

    from timbral_assets.cli import main
    from timbral_assets.definitions import all_assets
    from timbral_assets.resources import ResolutionResource, local_resources

    head_file = tmp_path / "head.json"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train-context-head", "--world", str(tiny_world), "--output", str(head_file), "--mlflow-uri", uri]) == 0
    assert "training accuracy" in capsys.readouterr().out and ContextHead.load(head_file).uses_context
    assert main(["train-context-head", "--world", str(tmp_path), "--output", str(tmp_path / "x.json")]) == 2

    assets = all_assets
    resources = local_resources(world_in_bucket, resolution=ResolutionResource(
        timbral_home=str(world_in_bucket), semantic_tier=False, context_head_file=str(head_file)))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, selection=["raw_scrobbles", "stg_scrobbles", "resolution_rules",
                                                   "entity_candidates", "track_matcher_model", "entity_match_scores"],
                                partition_key="2025-03-03", resources=resources, instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node("entity_match_scores")[0].metadata
    assert meta["context_head"].value == str(head_file)
    con = duckdb.connect(str(world_in_bucket / "warehouse.duckdb"), read_only=True)
    rows = con.sql("SELECT match_weight, match_probability FROM resolution.entity_match_scores").fetchall()
    con.close()
    assert rows
    splink = np.array([1 / (1 + 2 ** -w) for w, _ in rows])
    head = np.array([p for _, p in rows])
    # the head, not splink, decided: its log-odds are not splink's match weight (most pairs are far from 0.5,
    # where probabilities alone differ by little: 2e-37 against 1e-5)
    head_log2_odds = np.log2(np.clip(head, 1e-300, None)) - np.log2(np.clip(1 - head, 1e-300, None))
    assert np.median(np.abs(head_log2_odds - np.array([w for w, _ in rows]))) > 1
    assert ((splink >= 0.5) == (head >= 0.5)).mean() > 0.8  # and mostly agrees with it


def test_splink_itself_compares_embeddings_and_listening_context(tiny_world):
    """The probabilistic tier's optional comparisons: embedding cosine, shared listeners, shared session
    neighbours and a shared label, learned by EM from the world's real scrobbles."""
    from timbral_assets.resolution.matcher import MatcherConfig
    from timbral_assets.resolution.metrics import pairwise_scores
    from timbral_assets.resolution.pipeline import resolve
    from timbral_assets.resolution.records import standardise
    from timbral_assets.resolution.text import fold

    con = duckdb.connect()
    build_variant_context(con, world_plays_sql(tiny_world))
    truth = tiny_world / "truth"
    rows = con.sql(f"""
        WITH tracks AS (SELECT * FROM read_parquet('{truth / "tracks.parquet"}') ORDER BY true_track_id LIMIT 200)
        SELECT DISTINCT v.artist, v.title, v.album, t.duration_s, t.label, t.true_track_id, c.listeners, c.neighbours
        FROM read_parquet('{truth / "variants.parquet"}') v JOIN tracks t USING (true_track_id)
        JOIN variant_context c ON c.artist_raw = v.artist AND c.track_raw = v.title
        WHERE v.variant_kind <> 'unknown_id' ORDER BY ALL""").fetchall()
    records, context, true_track = [], {}, {}
    for i, (artist, title, album, duration, label, track, listeners, neighbours) in enumerate(rows):
        records.append(standardise(f"r{i}", title, artist, album, duration))
        context[f"r{i}"] = {"top_users": listeners[:5], "neighbours": neighbours, "label_key": fold(label or "")}
        true_track[f"r{i}"] = track
    result = resolve(records, encoder=TextEncoder(), context=context,
                     matcher_config=MatcherConfig(use_embeddings=True, use_context=True, u_max_pairs=1e5))
    names = {c["output_column_name"] for c in result.model_json["comparisons"]}
    assert {"embedding", "top_users", "neighbours", "label_key"} <= names
    weights = {(r["comparison"], r["level"]): r["match_weight"] for r in result.m_u}
    assert any(c == "top_users" and w is not None and w > 0 for (c, _), w in weights.items())
    assert any(c == "embedding" and w is not None and w > 0 for (c, _), w in weights.items())
    assert pairwise_scores(result.assignment, true_track).f1 > 0.9
