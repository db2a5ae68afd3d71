"""The recommender: thin wiring of `timbral_assets.recommend` to the warehouse and MLflow.

user_item_interactions    features.user_item_interactions    plays per (user, canonical track), confidence, last play
als_model                 models.als_training                trains implicit ALS, registers MLflow model als_model
als_user_factors          models.als_user_factors            a registered version's user factors
als_item_factors          models.als_item_factors            a registered version's item factors
session_coplay_similarity features.session_coplay_similarity top-k session neighbours per track
track_vector              features.track_vector              256-d vectors; FAISS index registered as track_vector_index
recs_for_you              recs.recs_for_you                  top 100 per active user, post-filtered
similar_tracks            recs.similar_tracks                top 50 per track, artist-capped
eval_metrics              evaluation.eval_metrics            the models side by side, hetrec and the last 30 days
"""

import json
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from ..recommend.coplay import CoplayParams
from ..recommend.postfilter import FilterParams
from ..resources import MlflowResource, WarehouseResource
from ..sample_checks import paired_not_worse
from ..warehouse import transaction
from .common import DUCKDB_POOL, column_schema, mlflow_tags, preview, rows_by_id, vector_matrix, writes

FEATURES, MODELS, RECS, EVALUATION = "features", "models", "recs", "evaluation"
FEEDBACK_TABLE = """CREATE TABLE IF NOT EXISTS recs.feedback (user_id VARCHAR NOT NULL, track_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP)"""
# what a new user told the onboarding survey (the API will write it): seed tracks and genres
ONBOARDING_TABLE = """CREATE TABLE IF NOT EXISTS recs.onboarding (user_id VARCHAR NOT NULL, seed_track_id VARCHAR,
    genre VARCHAR, created_at TIMESTAMP NOT NULL)"""


def _write_table(con, table: str, data: pa.Table) -> None:
    con.register("new_rows", data)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM new_rows")
    con.unregister("new_rows")


class InteractionsConfig(dg.Config):
    # 0: no decay; else a play's weight halves every this many days before the newest play
    recency_half_life_days: float = 0.0


@dg.asset(deps=["int_scrobble_tracks"], group_name=FEATURES, pool=DUCKDB_POOL, kinds={"duckdb"},
          metadata=writes("features.user_item_interactions"))
def user_item_interactions(context: dg.AssetExecutionContext, config: InteractionsConfig,
                           warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Plays per (user, canonical track) from mappings of quality high or better, with the confidence weight
    log(1 + plays) (decayed by recency when configured) and the first and last play, which the post-filters
    read ("played in the last 60 days")."""
    half_life = config.recency_half_life_days
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute("""
            CREATE OR REPLACE TABLE features.user_item_interactions AS
            WITH plays AS (
                SELECT user_id, track_id, artist_id, played_at,
                       max(played_at) OVER () AS newest
                FROM intermediate.int_scrobble_tracks WHERE resolution_quality IN ('exact', 'high'))
            SELECT user_id, track_id, any_value(artist_id) AS artist_id, count(*) AS plays,
                   min(played_at) AS first_played_at, max(played_at) AS last_played_at,
                   round(ln(1 + CASE WHEN $half_life > 0
                       THEN sum(pow(0.5, date_diff('second', played_at, newest) / 86400.0 / $half_life))
                       ELSE count(*) END), 6) AS confidence
            FROM plays GROUP BY user_id, track_id ORDER BY user_id, track_id""", {"half_life": half_life})
        users, tracks, rows, plays = con.execute(
            "SELECT count(DISTINCT user_id), count(DISTINCT track_id), count(*), coalesce(sum(plays), 0) "
            "FROM features.user_item_interactions").fetchall()[0]
        schema = column_schema(con, "features.user_item_interactions")
        sample = preview(con, "SELECT * FROM features.user_item_interactions ORDER BY plays DESC, user_id, track_id")
    density = rows / (users * tracks) if users and tracks else 0.0
    context.log.info(f"{rows:,} (user, track) pairs from {plays:,} plays: {users:,} users x {tracks:,} tracks")
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "dagster/column_schema": schema,
                                          "users": users, "tracks": tracks, "plays": int(plays),
                                          "density": round(density, 6), "recency_half_life_days": half_life,
                                          "preview": sample})


def _interactions(con):
    """The interactions table as an Interactions matrix of confidence-weighted plays (rows: users). DuckDB numbers
    the users and tracks (sorted ids), so millions of id strings never become Python objects."""
    import scipy.sparse as sp

    from ..recommend.interactions import Interactions

    user_ids = con.sql("SELECT DISTINCT user_id FROM features.user_item_interactions ORDER BY user_id"
                       ).to_arrow_table()["user_id"].to_numpy(zero_copy_only=False)
    item_ids = con.sql("SELECT DISTINCT track_id FROM features.user_item_interactions ORDER BY track_id"
                       ).to_arrow_table()["track_id"].to_numpy(zero_copy_only=False)
    table = con.sql("""
        WITH users AS (SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS r
                       FROM (SELECT DISTINCT user_id FROM features.user_item_interactions)),
             tracks AS (SELECT track_id, row_number() OVER (ORDER BY track_id) - 1 AS c
                        FROM (SELECT DISTINCT track_id FROM features.user_item_interactions))
        SELECT users.r, tracks.c, i.confidence FROM features.user_item_interactions i
        JOIN users USING (user_id) JOIN tracks USING (track_id)""").to_arrow_table()
    plays = np.expm1(table["confidence"].to_numpy())  # the decayed play count; log1p is applied by the models
    matrix = sp.csr_matrix((plays, (table["r"].to_numpy(), table["c"].to_numpy())),
                           shape=(len(user_ids), len(item_ids)))
    matrix.sum_duplicates()
    return Interactions(user_ids, item_ids, matrix)


class AlsConfig(dg.Config):
    # chosen by bench/recommend.py --tune (Optuna, NDCG@10 on a validation split; see docs/recommend.md)
    factors: int = 64
    regularization: float = 12.39
    alpha: float = 1.067
    iterations: int = 18
    seed: int = 0
    validation_share: float = 0.2  # per user, for the validation NDCG@10 logged with the model
    compare_bare_implicit: bool = True  # fit implicit directly on the same matrix too and report the overhead


@dg.asset(deps=[user_item_interactions], group_name=MODELS, pool=DUCKDB_POOL, kinds={"implicit", "mlflow", "duckdb"},
          metadata=writes("models.als_training"))
def als_model(context: dg.AssetExecutionContext, config: AlsConfig, warehouse_db: WarehouseResource,
              mlflow: MlflowResource) -> dg.MaterializeResult:
    """implicit ALS on log(1 + plays) confidence. Measures NDCG@10 on a seeded per-user validation split, then
    trains on every interaction and registers the next version of the MLflow model `als_model` with its
    parameters, metrics and loss-free factor file. One row per training goes to models.als_training."""
    from ..recommend.interactions import confidence, split_per_user
    from ..recommend.mlflow_models import ALS_ARTIFACT, ALS_MODEL, AlsFactors, AlsPyfuncModel
    from ..recommend.models import ALS, fit_implicit_als
    from ..recommend.tuning import validation_ndcg

    started = time.perf_counter()
    with warehouse_db.get_connection() as con:
        data = _interactions(con)
    if data.n_users < 2 or data.n_items < 2:
        raise dg.Failure("fewer than two users or tracks in features.user_item_interactions: materialize "
                         "user_item_interactions over some scrobbles first", allow_retries=False)
    loaded = time.perf_counter() - started
    params = {"factors": config.factors, "regularization": config.regularization, "alpha": config.alpha,
              "iterations": config.iterations}
    tracker = mlflow.tracker()
    fingerprint = fingerprint_of(data.user_ids, data.item_ids, data.plays, {**params, "seed": config.seed,
                                                                              "validation": config.validation_share})
    latest = tracker.latest_version_tag(ALS_MODEL, FINGERPRINT_TAG)
    if latest is not None and latest[1] == fingerprint:
        version = latest[0]
        context.log.info(f"the interactions and settings are those of {ALS_MODEL} version {version.version}: kept it")
        with warehouse_db.get_connection() as con, transaction(con):
            con.execute(ALS_TRAINING_TABLE)
            if not con.execute("SELECT count(*) FROM models.als_training WHERE model_version = ?",
                               [version.version]).fetchone()[0]:
                # a run died between registering this version and recording it: record it now, from MLflow
                validation = tracker.run_metrics(version.run_id)["validation_ndcg_at_10"]
                _record_als_training(con, version.version, data, params, validation, fingerprint)
        return dg.MaterializeResult(metadata={
            "model": f"{ALS_MODEL} version {version.version}", "model_version": version.version,
            "mlflow_run": dg.MetadataValue.url(tracker.run_url(version.run_id)), "mlflow_run_id": version.run_id,
            "unchanged": "the same interactions and settings as this version", "users": data.n_users,
            "tracks": data.n_items, "interactions": data.plays.nnz, **params})
    train, held = split_per_user(data.plays, config.validation_share, seed=config.seed)
    validation = validation_ndcg(ALS(**params, seed=config.seed), train, held)
    context.log.info(f"validation NDCG@10 {validation:.4f} ({data.n_users:,} users x {data.n_items:,} tracks)")
    fit_started = time.perf_counter()
    model = ALS(**params, seed=config.seed).fit(data.plays)
    fit_seconds = time.perf_counter() - fit_started
    metrics = {"validation_ndcg_at_10": validation, "users": data.n_users, "items": data.n_items,
               "interactions": data.plays.nnz, "fit_seconds": fit_seconds, "load_seconds": loaded}
    if config.compare_bare_implicit:
        matrix = confidence(data.plays)
        bare_started = time.perf_counter()
        fit_implicit_als(matrix, **params, seed=config.seed)
        metrics["bare_implicit_seconds"] = time.perf_counter() - bare_started
        metrics["fit_overhead_ratio"] = fit_seconds / max(metrics["bare_implicit_seconds"], 1e-9)
    factors = AlsFactors(data.user_ids, data.item_ids, model.user_factors, model.item_factors, params)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ALS_ARTIFACT
        factors.save(path)
        version = tracker.log_model_version("recommender", ALS_MODEL, AlsPyfuncModel(), {ALS_ARTIFACT: path},
                                            {**params, "seed": config.seed, "confidence": "log(1 + plays)"},
                                            metrics, tags={**mlflow_tags(context), FINGERPRINT_TAG: fingerprint})
    total = time.perf_counter() - started
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute(ALS_TRAINING_TABLE)
        _record_als_training(con, version.version, data, params, validation, fingerprint)
    return dg.MaterializeResult(metadata={
        "model": f"{ALS_MODEL} version {version.version}", "model_version": version.version,
        "mlflow_run": dg.MetadataValue.url(tracker.run_url(version.run_id)), "mlflow_run_id": version.run_id,
        "users": data.n_users, "tracks": data.n_items, "interactions": data.plays.nnz, **params,
        "validation_ndcg_at_10": round(validation, 4), "fit_seconds": round(fit_seconds, 2),
        "bare_implicit_seconds": round(metrics.get("bare_implicit_seconds", float("nan")), 2),
        "fit_overhead_ratio": round(metrics.get("fit_overhead_ratio", float("nan")), 3),
        "asset_seconds": round(total, 2)})


FINGERPRINT_TAG = "timbral/training_fingerprint"
# timings live in MLflow and the metadata: the table holds what a rerun on the same input reproduces
ALS_TRAINING_TABLE = """CREATE TABLE IF NOT EXISTS models.als_training (model_version INTEGER, users INTEGER,
    items INTEGER, interactions BIGINT, params JSON, validation_ndcg_at_10 DOUBLE, fingerprint VARCHAR,
    recorded_at TIMESTAMP)"""


def _record_als_training(con, version: int, data, params: dict, validation: float, fingerprint: str) -> None:
    con.execute("DELETE FROM models.als_training WHERE model_version = ?", [version])
    con.execute("INSERT INTO models.als_training VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [version, data.n_users, data.n_items, data.plays.nnz, json.dumps(params), round(validation, 6),
                 fingerprint])


def fingerprint_of(*parts) -> str:
    """A hash of a training's input arrays and settings, and of the recommend code: seeded training on one
    fingerprint gives the same model, so its version is kept rather than registered again."""
    import hashlib
    import inspect

    import scipy.sparse as sp

    from ..recommend import interactions, models, vectors

    digest = hashlib.blake2b(digest_size=16)
    for module in (interactions, models, vectors):
        digest.update(inspect.getsource(module).encode())
    for part in parts:
        if sp.issparse(part):
            part = part.tocsr()
            for array in (part.indptr, part.indices, part.data):
                digest.update(np.ascontiguousarray(array).tobytes())
        elif isinstance(part, np.ndarray) and part.dtype != object:
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part.tolist() if isinstance(part, np.ndarray) else part, sort_keys=True,
                                     default=str).encode())
    return digest.hexdigest()


class ModelVersionConfig(dg.Config):
    model_version: str = "latest"  # a registered version of the MLflow model als_model, or "latest"


def _load_als(mlflow: MlflowResource, version: str):
    from ..recommend.mlflow_models import ALS_ARTIFACT, ALS_MODEL, AlsFactors

    with tempfile.TemporaryDirectory() as tmp:
        try:
            found, path = mlflow.tracker().model_file(ALS_MODEL, version, ALS_ARTIFACT, Path(tmp))
        except LookupError as error:
            raise dg.Failure(f"{error}; materialize als_model to train one", allow_retries=False) from error
        return found, AlsFactors.load(path)


def _factor_table(ids: np.ndarray, factors: np.ndarray, id_column: str, version: int) -> pa.Table:
    width = factors.shape[1]
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(factors.astype(np.float32).ravel()), width)
    return pa.table({id_column: pa.array(ids.astype(str)), "model_version": pa.array([version] * len(ids), pa.int32()),
                     "factors": vectors})


def _factor_asset(kind: str):
    id_column = "user_id" if kind == "user" else "track_id"
    table = f"models.als_{kind}_factors"

    @dg.asset(name=f"als_{kind}_factors", deps=[als_model], group_name=MODELS, pool=DUCKDB_POOL,
              kinds={"mlflow", "duckdb"}, metadata=writes(table))
    def factors_asset(context: dg.AssetExecutionContext, config: ModelVersionConfig, warehouse_db: WarehouseResource,
                      mlflow: MlflowResource) -> dg.MaterializeResult:
        version, als = _load_als(mlflow, config.model_version)
        ids, factors = (als.user_ids, als.user_factors) if kind == "user" else (als.item_ids, als.item_factors)
        with warehouse_db.get_connection() as con, transaction(con):
            _write_table(con, table, _factor_table(ids, factors, id_column, version.version))
            schema = column_schema(con, table)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(ids), "dagster/column_schema": schema, "factors": int(factors.shape[1]),
            "model": f"{version.name} version {version.version}", "model_version": version.version,
            "model_run_id": version.run_id, "mean_norm": round(float(np.linalg.norm(factors, axis=1).mean()), 4)})

    factors_asset.__doc__ = (f"The {kind} factors of the registered als_model version the config names (default "
                             f"latest), one FLOAT[] row per {id_column}.")
    return factors_asset


als_user_factors = _factor_asset("user")
als_item_factors = _factor_asset("item")


class CoplayConfig(dg.Config):
    session_gap_minutes: float = 30.0
    skip_share: float = 0.5  # the next play starts before this share of the track passed: a skip
    window: int = 5  # each play pairs with the next plays of its session, up to this many
    per_user_cap: int = 3  # the most one user adds to one pair
    neighbours: int = 50  # per track and per kind (cross-artist, same-artist)

    def params(self) -> CoplayParams:
        return CoplayParams(session_gap_minutes=self.session_gap_minutes, skip_share=self.skip_share,
                            window=self.window, per_user_cap=self.per_user_cap, neighbours=self.neighbours)


SESSION_PLAYS_SQL = """SELECT s.user_id, s.played_at, s.track_id, s.artist_id,
           coalesce(s.duration_ms, t.duration_ms) AS duration_ms
    FROM intermediate.int_scrobble_tracks s LEFT JOIN marts.tracks_core t USING (track_id)
    WHERE s.resolution_quality IN ('exact', 'high') {where}"""


@dg.asset(deps=["int_scrobble_tracks", "tracks_core"], group_name=FEATURES, pool=DUCKDB_POOL, kinds={"duckdb"},
          metadata=writes("features.session_coplay_similarity"))
def session_coplay_similarity(context: dg.AssetExecutionContext, config: CoplayConfig,
                              warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Tracks played near each other in one session (a 30-minute gap ends it): skips left out, each user's
    share of a pair capped, scored by count / sqrt(plays_a * plays_b), and the top neighbours per track kept
    twice, cross-artist and same-artist (same_artist), so an artist's catalogue cannot crowd out the rest."""
    import polars as pl

    from ..recommend.coplay import coplay_neighbours, mark_sessions

    params = config.params()
    with warehouse_db.get_connection() as con:
        plays = pl.from_arrow(con.sql(SESSION_PLAYS_SQL.format(where="")).to_arrow_table())
    sessions = mark_sessions(plays, params)
    neighbours, n_pairs = coplay_neighbours(sessions, params)
    n_sessions = sessions.select(pl.struct("user_id", "session").n_unique()).item() if len(sessions) else 0
    with warehouse_db.get_connection() as con, transaction(con):
        _write_table(con, "features.session_coplay_similarity", neighbours.to_arrow())
        schema = column_schema(con, "features.session_coplay_similarity")
        sample = preview(con, "SELECT a.artist_name || ' - ' || a.title AS track, b.artist_name || ' - ' || b.title "
                              "AS neighbour, s.score, s.users, s.same_artist FROM features.session_coplay_similarity s "
                              "JOIN marts.tracks_core a USING (track_id) JOIN marts.tracks_core b "
                              "ON b.track_id = s.neighbour_id WHERE s.rank = 1 ORDER BY s.score DESC, a.track_id")
    skipped = int(sessions["skipped"].sum()) if len(sessions) else 0
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(neighbours), "dagster/column_schema": schema, "plays": len(sessions),
        "sessions": n_sessions, "skipped_plays": skipped, "pairs": n_pairs,
        "tracks_with_neighbours": neighbours["track_id"].n_unique() if len(neighbours) else 0,
        "same_artist_rows": int(neighbours["same_artist"].sum()) if len(neighbours) else 0, "preview": sample})


class TrackVectorConfig(dg.Config):
    dimensions: int = 256
    exact_limit: int = 100_000  # below: exact inner-product search; above: HNSW


@dg.asset(deps=["track_text_embedding", "track_mood_pred", "track_feature_view"], group_name=FEATURES,
          pool=DUCKDB_POOL, kinds={"faiss", "mlflow", "duckdb"}, metadata=writes("features.track_vector"))
def track_vector(context: dg.AssetExecutionContext, config: TrackVectorConfig, warehouse_db: WarehouseResource,
                 mlflow: MlflowResource) -> dg.MaterializeResult:
    """Text embedding ‖ mood predictions ‖ normalised audio features (where Spotify has them), reduced to
    `dimensions` by PCA and L2-normalised. The FAISS index over them (exact below 100k vectors, HNSW above) and
    the PCA are registered as the next version of the MLflow model `track_vector_index`; recall@10 against exact
    search is measured on 1,000 sampled queries."""
    from ..recommend.mlflow_models import (
        INDEX_MODEL,
    )
    from ..recommend.vectors import (
        AUDIO_FEATURES,
        MOOD_COLUMNS,
        TrackVectorModel,
        VectorParams,
        build_index,
        index_kind,
        join_blocks,
        recall_at_10,
    )

    params = VectorParams(dimensions=config.dimensions, exact_limit=config.exact_limit)
    with warehouse_db.get_connection() as con:
        table = con.sql(f"""SELECT e.track_id, e.embedding, {', '.join('m.' + c for c in MOOD_COLUMNS)},
                                   {', '.join('f.' + c for c in AUDIO_FEATURES)}
                            FROM features.track_text_embedding e JOIN features.track_mood_pred m USING (track_id)
                            JOIN marts.track_feature_view f USING (track_id) ORDER BY e.track_id""").to_arrow_table()
    n = table.num_rows
    if n < 2:
        raise dg.Failure("fewer than two tracks with a text embedding and a mood prediction: materialize "
                         "track_text_embedding and track_mood_pred first", allow_retries=False)
    text = vector_matrix(table, "embedding")
    mood = np.column_stack([table[c].to_numpy(zero_copy_only=False).astype(np.float32) for c in MOOD_COLUMNS])
    audio = np.column_stack([np.asarray(table[c].to_pandas(), dtype=np.float32) for c in AUDIO_FEATURES])
    joined = join_blocks(text, np.nan_to_num(mood), audio, params)
    track_ids = np.array(table["track_id"].to_pylist())
    tracker = mlflow.tracker()
    fingerprint = fingerprint_of(track_ids, joined, vars(params))
    latest = tracker.latest_version_tag(INDEX_MODEL, FINGERPRINT_TAG)
    pca = TrackVectorModel.fit(joined, params)
    vectors = pca.transform(joined)
    started = time.perf_counter()
    index = build_index(vectors, params)
    build_seconds = time.perf_counter() - started
    recall, qps = recall_at_10(index, vectors)
    metrics = {"tracks": n, "dimensions": vectors.shape[1], "explained_variance": pca.explained_variance_ratio,
               "recall_at_10": recall, "queries_per_second": qps, "index_build_seconds": build_seconds,
               "with_audio_features": int((~np.isnan(audio).any(axis=1)).sum())}
    if latest is not None and latest[1] == fingerprint:
        version = latest[0]  # the same vectors as that version's index: keep it
        context.log.info(f"the vectors are those of {INDEX_MODEL} version {version.version}: kept it")
    else:
        version = _register_index(context, tracker, index, track_ids, pca, params, metrics, fingerprint)
    with warehouse_db.get_connection() as con, transaction(con):
        vector_column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        _write_table(con, "features.track_vector", pa.table({
            "track_id": pa.array(track_ids), "index_version": pa.array([version.version] * n, pa.int32()),
            "vector": vector_column}))
        schema = column_schema(con, "features.track_vector")
    context.log.info(f"{n:,} track vectors ({vectors.shape[1]}-d), {index_kind(index)}, recall@10 {recall:.3f}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "dagster/column_schema": schema, "dimensions": int(vectors.shape[1]),
        "index": index_kind(index), "index_model": f"{INDEX_MODEL} version {version.version}",
        "index_version": version.version, "index_run_id": version.run_id,
        "recall_at_10_vs_exact": round(recall, 4), "queries_per_second": round(qps),
        "explained_variance": round(pca.explained_variance_ratio, 4),
        "tracks_with_audio_features": metrics["with_audio_features"]})


def _register_index(context, tracker, index, track_ids, pca, params, metrics, fingerprint):
    """The index, its track ids and the PCA as the next version of the MLflow model track_vector_index."""
    from ..recommend.mlflow_models import (
        INDEX_ARTIFACT,
        INDEX_IDS,
        INDEX_MODEL,
        PCA_ARTIFACT,
        TrackIndexPyfuncModel,
    )
    from ..recommend.vectors import index_kind, write_index

    with tempfile.TemporaryDirectory() as tmp:
        files = {INDEX_ARTIFACT: Path(tmp) / INDEX_ARTIFACT, INDEX_IDS: Path(tmp) / INDEX_IDS,
                 PCA_ARTIFACT: Path(tmp) / PCA_ARTIFACT}
        write_index(index, files[INDEX_ARTIFACT])
        np.save(files[INDEX_IDS], track_ids.astype(str))
        pca.save(files[PCA_ARTIFACT])
        return tracker.log_model_version("recommender", INDEX_MODEL, TrackIndexPyfuncModel(), files,
                                         {**vars(params), "index": index_kind(index)}, metrics,
                                         tags={**mlflow_tags(context), FINGERPRINT_TAG: fingerprint})


# the catalog hybrid's fusion weights (bench/recommend.py --tune-world, NDCG@10 on a validation split of the
# synthetic world's training side)
CATALOG_WEIGHTS = {"als": 0.9696, "item_knn": 0.5034, "content": 0.8933, "coplay": 0.028, "popularity": 1.0}


class RecsConfig(dg.Config):
    als_version: str = "latest"
    weight_als: float = CATALOG_WEIGHTS["als"]
    weight_item_knn: float = CATALOG_WEIGHTS["item_knn"]
    weight_content: float = CATALOG_WEIGHTS["content"]
    weight_coplay: float = CATALOG_WEIGHTS["coplay"]
    weight_popularity: float = CATALOG_WEIGHTS["popularity"]
    list_length: int = 100
    recent_days: int = 60
    per_artist: int = 2
    window: int = 10
    # "now" for the recent-play and do-not-recommend filters; empty: the newest play in the interactions
    as_of: str = ""

    def weights(self) -> dict[str, float]:
        return {"als": self.weight_als, "item_knn": self.weight_item_knn, "content": self.weight_content, "coplay": self.weight_coplay,
                "popularity": self.weight_popularity}


def _catalog_models(con, data, als, coplay_table: str = "features.session_coplay_similarity"):
    """The catalog hybrid's members over `data`'s users and tracks: the ALS factors (users or tracks the version
    does not know score 0), item-KNN, content by track vectors, session co-play and popularity."""
    import polars as pl

    from ..recommend.coplay import similarity_matrix
    from ..recommend.models import FactorScores, ItemKNN, ItemSimilarity, Popularity, VectorContent

    vectors = con.sql("SELECT track_id, vector FROM features.track_vector").to_arrow_table()
    item_vectors = rows_by_id(vectors["track_id"].to_pylist(), vector_matrix(vectors, "vector"), data.item_ids)
    neighbours = pl.from_arrow(con.sql(f"SELECT track_id, neighbour_id, score, same_artist FROM {coplay_table}"
                                       ).to_arrow_table())
    models = {"als": FactorScores(rows_by_id(als.user_ids, als.user_factors, data.user_ids),
                                  rows_by_id(als.item_ids, als.item_factors, data.item_ids)),
              "item_knn": ItemKNN(), "content": VectorContent(item_vectors=item_vectors),
              "coplay": ItemSimilarity(similarity=similarity_matrix(neighbours, data.item_ids)),
              "popularity": Popularity()}
    return {name: m.fit(data.plays) for name, m in models.items()}, item_vectors


@dg.asset(deps=[user_item_interactions, als_user_factors, als_item_factors, session_coplay_similarity, track_vector],
          group_name=RECS, pool=DUCKDB_POOL, kinds={"mlflow", "duckdb"}, metadata=writes("recs.recs_for_you"))
def recs_for_you(context: dg.AssetExecutionContext, config: RecsConfig, warehouse_db: WarehouseResource,
                 mlflow: MlflowResource) -> dg.MaterializeResult:
    """Top 100 per active user: α·CF (ALS and item-KNN) + β·cosine(track vector, user vector) + γ·session
    co-play + δ·popularity, each standardised per user, then the post-filters: no track played in the last 60 days, no
    active do-not-recommend entry from recs.feedback, at most 2 tracks per artist in any 10. A user whose
    history holds no canonical track gets a cold-start list (source cold_start:seeds|genres|trending): the
    tracks nearest the seed tracks they picked in recs.onboarding, else the most-played tracks of the genres
    they picked, else the tracks most played in the last 30 days."""
    import scipy.sparse as sp

    from ..recommend.coldstart import cold_start_list
    from ..recommend.evaluation import user_batch
    from ..recommend.fusion import fuse, standardize
    from ..recommend.postfilter import DoNotRecommend, blocked_tracks, filter_list, recently_played

    version, als = _load_als(mlflow, config.als_version)
    params = FilterParams(recent_days=config.recent_days, per_artist=config.per_artist, window=config.window)
    with warehouse_db.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS recs")
        con.execute(FEEDBACK_TABLE)
        data = _interactions(con)
        models, _ = _catalog_models(con, data, als)
        artist_of = dict(con.execute("SELECT track_id, artist_id FROM marts.tracks_core").fetchall())
        newest = con.execute("SELECT max(last_played_at) FROM features.user_item_interactions").fetchall()[0][0]
        now = datetime.fromisoformat(config.as_of) if config.as_of else newest
        # only what the recent-play filter can use
        history = con.execute("SELECT user_id, track_id, last_played_at FROM features.user_item_interactions "
                              "WHERE last_played_at >= ?", [now - timedelta(days=params.recent_days)]).fetchall()
        feedback = [DoNotRecommend(*row) for row in con.execute(
            "SELECT user_id, track_id, expires_at FROM recs.feedback WHERE kind = 'do_not_recommend'").fetchall()]
        con.execute(ONBOARDING_TABLE)
        # users with nothing the models learned from: plays that map to no canonical track, or only a survey
        cold = con.execute(
            "WITH users AS (SELECT DISTINCT user_id FROM staging.stg_scrobbles UNION "
            "SELECT DISTINCT user_id FROM recs.onboarding) "
            "SELECT u.user_id, list(DISTINCT o.seed_track_id) FILTER (WHERE o.seed_track_id IS NOT NULL), "
            "list(DISTINCT lower(o.genre)) FILTER (WHERE o.genre IS NOT NULL) FROM users u "
            "LEFT JOIN recs.onboarding o USING (user_id) WHERE u.user_id NOT IN "
            "(SELECT user_id FROM features.user_item_interactions) GROUP BY u.user_id ORDER BY u.user_id").fetchall()
        cold_users = [(u, sorted(seeds or []), sorted(genres or [])) for u, seeds, genres in cold]
        wanted = sorted({g for _, _, genres in cold_users for g in genres})
        tracks_by_genre = {g: tracks for g, tracks in con.execute(
            "SELECT lower(g.tag), list(g.track_id ORDER BY t.play_count DESC, g.weight DESC, g.track_id)[1:500] "
            "FROM marts.track_tags g JOIN marts.tracks_core t USING (track_id) WHERE lower(g.tag) IN "
            "(SELECT unnest(?::VARCHAR[])) GROUP BY 1", [wanted]).fetchall()} if wanted else {}
        vector_table = con.sql("SELECT track_id, vector FROM features.track_vector ORDER BY track_id"
                               ).to_arrow_table() if any(seeds for _, seeds, _ in cold_users) else None
        trending = [t for (t,) in con.execute(
            "SELECT track_id FROM features.user_item_interactions WHERE last_played_at >= ? GROUP BY track_id "
            "ORDER BY count(*) DESC, sum(plays) DESC, track_id LIMIT 1000", [now - timedelta(days=30)]).fetchall()]
    by_user: dict[str, list[tuple[str, datetime]]] = {}
    for user, track, played in history:
        by_user.setdefault(user, []).append((track, played))
    weights = config.weights()
    candidates = min(data.n_items, config.list_length * 4 + 100)
    users_col, tracks_col, ranks, scores, sources = [], [], [], [], []
    step = user_batch(data.n_items)
    for start in range(0, data.n_users, step):
        batch = np.arange(start, min(start + step, data.n_users))
        # recent plays leave by the filter; older favourites may come back, so nothing is masked as seen
        unmasked = sp.csr_matrix((len(batch), data.n_items))
        fused = fuse({n: standardize(m.scores(batch), unmasked) for n, m in models.items()}, weights)
        # the best `candidates` per user, then sorted: a full sort of a large catalog per user is the slow part
        top = np.argpartition(-fused, candidates - 1, axis=1)[:, :candidates] if candidates < data.n_items else \
            np.tile(np.arange(data.n_items), (len(batch), 1))
        top_scores = np.take_along_axis(fused, top, 1)
        # best first; equal scores by track order, as a full stable sort would give
        order = np.take_along_axis(top, np.lexsort((top, -top_scores), axis=1), 1)
        for row, u in enumerate(batch):
            user = str(data.user_ids[u])
            exclude = recently_played(by_user.get(user, []), now, params.recent_days) | blocked_tracks(
                feedback, user, now)
            ranked = [str(data.item_ids[i]) for i in order[row]]
            score_of = {str(data.item_ids[i]): float(fused[row, i]) for i in order[row]}
            for rank, track in enumerate(filter_list(ranked, artist_of, config.list_length, exclude, params), 1):
                users_col.append(user)
                tracks_col.append(track)
                ranks.append(rank)
                scores.append(round(score_of[track], 6))
                sources.append("hybrid")
        if (start // step) % max(1, (data.n_users // step) // 10) == 0 or batch[-1] + 1 == data.n_users:
            context.log.info(f"ranked {batch[-1] + 1:,} of {data.n_users:,} users")
    vector_ids, vectors = [], None
    if vector_table is not None and vector_table.num_rows:
        vector_ids = vector_table["track_id"].to_pylist()
        vectors = vector_matrix(vector_table, "vector")
    for user, seeds, genres in cold_users:
        candidates, lead = cold_start_list(seeds, genres, trending, config.list_length, vector_ids, vectors,
                                           tracks_by_genre)
        exclude = blocked_tracks(feedback, user, now)
        for rank, track in enumerate(filter_list(candidates, artist_of, config.list_length, exclude, params), 1):
            users_col.append(user)
            tracks_col.append(track)
            ranks.append(rank)
            scores.append(None)
            sources.append(f"cold_start:{lead}")
    table = pa.table({"user_id": pa.array(users_col, pa.string()), "track_id": pa.array(tracks_col, pa.string()),
                      "rank": pa.array(ranks, pa.int32()), "score": pa.array(scores, pa.float64()),
                      "source": pa.array(sources, pa.string()),
                      "als_version": pa.array([version.version] * len(users_col), pa.int32())})
    with warehouse_db.get_connection() as con, transaction(con):
        _write_table(con, "recs.recs_for_you", table)
        schema = column_schema(con, "recs.recs_for_you")
        sample = preview(con, "SELECT r.user_id, r.rank, t.artist_name, t.title, r.score, r.source FROM recs.recs_for_you r "
                              "JOIN marts.tracks_core t USING (track_id) WHERE r.user_id = (SELECT min(user_id) FROM "
                              "recs.recs_for_you) ORDER BY r.rank")
        index_version = con.execute("SELECT max(index_version) FROM features.track_vector").fetchall()[0][0]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": table.num_rows, "dagster/column_schema": schema, "users": data.n_users + len(cold_users),
        "cold_start_users": len(cold_users), "als_model": f"als_model version {version.version}",
        "als_version": version.version, "track_vector_index_version": index_version,
        "weights": dg.MetadataValue.json(weights), "as_of": str(now), "do_not_recommend_entries": len(feedback),
        "preview": sample})


class SimilarConfig(dg.Config):
    als_version: str = "latest"
    index_version: str = "latest"  # a registered version of the MLflow model track_vector_index
    list_length: int = 50
    weight_content: float = 1.0
    weight_coplay: float = 0.6
    weight_als: float = 0.6
    per_artist: int = 2
    window: int = 10


@dg.asset(deps=[als_item_factors, session_coplay_similarity, track_vector], group_name=RECS, pool=DUCKDB_POOL,
          kinds={"faiss", "duckdb"}, metadata=writes("recs.similar_tracks"))
def similar_tracks(context: dg.AssetExecutionContext, config: SimilarConfig, warehouse_db: WarehouseResource,
                   mlflow: MlflowResource) -> dg.MaterializeResult:
    """Top 50 per track: candidates from the FAISS index (the 200 nearest track vectors) and the session co-play
    neighbours, scored by weighted, standardised vector cosine, co-play and ALS item-item cosine, then capped at
    2 tracks per artist in any 10 (the seed track's artist included)."""
    import polars as pl

    from ..recommend.coplay import similarity_matrix
    from ..recommend.mlflow_models import INDEX_ARTIFACT, INDEX_IDS, INDEX_MODEL
    from ..recommend.models import unit_rows
    from ..recommend.postfilter import filter_list
    from ..recommend.vectors import read_index

    version, als = _load_als(mlflow, config.als_version)
    tracker = mlflow.tracker()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            index_model, index_file = tracker.model_file(INDEX_MODEL, config.index_version, INDEX_ARTIFACT, Path(tmp))
            _, ids_file = tracker.model_file(INDEX_MODEL, str(index_model.version), INDEX_IDS, Path(tmp))
        except LookupError as error:
            raise dg.Failure(f"{error}; materialize track_vector to build one", allow_retries=False) from error
        index, index_ids = read_index(index_file), np.load(ids_file, allow_pickle=False)
    with warehouse_db.get_connection() as con:
        vectors = con.sql("SELECT track_id, vector FROM features.track_vector ORDER BY track_id").to_arrow_table()
        neighbours = pl.from_arrow(con.sql("SELECT track_id, neighbour_id, score, same_artist "
                                           "FROM features.session_coplay_similarity").to_arrow_table())
        artist_of = dict(con.execute("SELECT track_id, artist_id FROM marts.tracks_core").fetchall())
    track_ids = np.array(vectors["track_id"].to_pylist())
    n = len(track_ids)
    if index.ntotal != n or not np.array_equal(index_ids, track_ids.astype(index_ids.dtype)):
        raise dg.Failure(f"{INDEX_MODEL} version {index_model.version} indexes {index.ntotal:,} tracks, not the "
                         f"{n:,} of features.track_vector: re-materialize track_vector, or name the version that "
                         "built it (index_version)", allow_retries=False)
    matrix = vector_matrix(vectors, "vector")
    k_search = min(n, 201)
    similarity, found = index.search(matrix, k_search)
    coplay = similarity_matrix(neighbours, track_ids, include_same_artist=True).tocsr()
    item_factors = unit_rows(rows_by_id(als.item_ids, als.item_factors, track_ids))

    def z(values: np.ndarray) -> np.ndarray:
        deviation = values.std()
        return (values - values.mean()) / deviation if deviation > 0 else values * 0

    # rows as track indices in preallocated arrays: a large catalog makes tens of millions of rows
    artist_index = {i: artist_of.get(t) for i, t in enumerate(track_ids.tolist())}
    params = FilterParams(per_artist=config.per_artist, window=config.window)
    seeds = np.full(n * config.list_length, -1, dtype=np.int64)
    similar = np.full(n * config.list_length, -1, dtype=np.int64)
    ranks = np.zeros(n * config.list_length, dtype=np.int32)
    scores = np.zeros(n * config.list_length, dtype=np.float64)
    filled = 0
    for i in range(n):
        row = coplay.getrow(i)
        candidate = np.unique(np.concatenate([found[i][found[i] >= 0], row.indices]))
        candidate = candidate[candidate != i]
        if not len(candidate):
            continue
        cosine = matrix[candidate] @ matrix[i]
        coplay_score = np.asarray(row[:, candidate].todense()).ravel()
        cf = item_factors[candidate] @ item_factors[i]
        score = config.weight_content * z(cosine) + config.weight_coplay * z(coplay_score) + config.weight_als * z(cf)
        order = np.argsort(-score, kind="stable")
        score_of = dict(zip(candidate[order].tolist(), score[order].tolist(), strict=True))
        # the seed's own artist counts toward the cap from the first place
        capped = filter_list([i, *candidate[order].tolist()], artist_index, config.list_length + 1, set(), params)[1:]
        m = len(capped)
        seeds[filled:filled + m] = i
        similar[filled:filled + m] = capped
        ranks[filled:filled + m] = np.arange(1, m + 1)
        scores[filled:filled + m] = [score_of[t] for t in capped]
        filled += m
        if (i + 1) % 20_000 == 0:
            context.log.info(f"similar tracks for {i + 1:,} of {n:,} tracks")
    table = pa.table({"track_id": pa.array(track_ids[seeds[:filled]]),
                      "similar_track_id": pa.array(track_ids[similar[:filled]]),
                      "rank": pa.array(ranks[:filled]), "score": pa.array(np.round(scores[:filled], 6))})
    with warehouse_db.get_connection() as con, transaction(con):
        _write_table(con, "recs.similar_tracks", table)
        schema = column_schema(con, "recs.similar_tracks")
        sample = preview(con, "SELECT a.artist_name || ' - ' || a.title AS track, s.rank, b.artist_name || ' - ' || "
                              "b.title AS similar FROM recs.similar_tracks s JOIN marts.tracks_core a USING (track_id) "
                              "JOIN marts.tracks_core b ON b.track_id = s.similar_track_id WHERE s.track_id = (SELECT "
                              "track_id FROM marts.tracks_core ORDER BY play_count DESC, track_id LIMIT 1) ORDER BY s.rank")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": table.num_rows, "dagster/column_schema": schema, "tracks": n,
        "als_version": version.version, "track_vector_index": f"{INDEX_MODEL} version {index_model.version}",
        "track_vector_index_version": index_model.version, "preview": sample})


def _default_hetrec() -> str:
    """TIMBRAL_HETREC_DIR ("off" or unset: protocol (a) is skipped). The asset never looks for benchmark data
    by itself: a run evaluates on hetrec only when told where it is."""
    configured = os.environ.get("TIMBRAL_HETREC_DIR", "")
    return "" if configured == "off" else configured


class EvalConfig(dg.Config):
    test_days: int = 30  # protocol (b): the last days of listening are the test slice
    hetrec_dir: str = ""  # protocol (a), e.g. ../shared/data/hetrec_lastfm_2k; empty: TIMBRAL_HETREC_DIR, else skipped
    hetrec_seed: int = 0
    hetrec_test_share: float = 0.2


HYBRID_FLOOR = "hybrid_beats_als_ndcg"
# one evaluation per (ALS version, index version): a rerun on the same versions replaces its rows; recorded_at
# is when it ran (the Dagster run and MLflow run are in the materialization's metadata)
EVAL_TABLE = """CREATE TABLE IF NOT EXISTS evaluation.eval_metrics (recorded_at TIMESTAMP, test_days DOUBLE,
    protocol VARCHAR, model VARCHAR, users INTEGER, "precision@10" DOUBLE, "recall@50" DOUBLE, "ndcg@10" DOUBLE,
    "map@10" DOUBLE, "coverage@10" DOUBLE, "popularity_bias@10" DOUBLE, "diversity@10" DOUBLE,
    als_version INTEGER, track_vector_index_version INTEGER)"""
METRIC_KEYS = ("precision@10", "recall@50", "ndcg@10", "map@10", "coverage@10", "popularity_bias@10", "diversity@10")


@dg.asset(deps=[recs_for_you, similar_tracks], group_name=EVALUATION, pool=DUCKDB_POOL,
          kinds={"mlflow", "duckdb"}, metadata=writes("evaluation.eval_metrics"),
          check_specs=[dg.AssetCheckSpec(HYBRID_FLOOR, asset="eval_metrics", blocking=True,
                                         description="the hybrid's NDCG@10 is at least ALS's, on every protocol: fails when "
                                                     "it is below with 95% confidence (paired over users), warns "
                                                     "when below but not significantly")])
def eval_metrics(context: dg.AssetExecutionContext, config: EvalConfig, warehouse_db: WarehouseResource,
                 mlflow: MlflowResource) -> dg.MaterializeResult:
    """The models side by side, full ranking with training items excluded: popularity, item-KNN, ALS, session
    co-play, content (track vectors) and the hybrid.
    (b) the world: every play before the last `test_days` days trains, the tracks a user first plays in those
        days are the test (co-play is rebuilt from the training days' sessions);
    (a) hetrec lastfm-2k, when configured (hetrec_dir or TIMBRAL_HETREC_DIR): a seeded per-user split, with the
        batch hybrid (recommend-batch's).
    Each run appends its rows to evaluation.eval_metrics with the time and model versions, and logs to MLflow
    with a plot."""
    from ..recommend.evaluation import evaluate, table_markdown

    started = time.perf_counter()
    with warehouse_db.get_connection() as con:
        oldest, newest = con.execute("SELECT min(played_at), max(played_at) FROM intermediate.int_scrobble_tracks"
                                     ).fetchall()[0]
        if newest is None:
            raise dg.Failure("no scrobbles in intermediate.int_scrobble_tracks to evaluate on", allow_retries=False)
        # a history shorter than three test slices keeps its last third for the test
        test_days = min(float(config.test_days), (newest - oldest).total_seconds() / 86400 / 3)
        cutoff = newest - timedelta(days=test_days)
        data, held, models, item_vectors = world_split(con, cutoff)
        versions = con.execute("SELECT (SELECT max(als_version) FROM recs.recs_for_you), "
                               "(SELECT max(index_version) FROM features.track_vector)").fetchall()[0]
    per_user: dict[str, dict[str, np.ndarray]] = {"world_last_days": {}}
    rows = [{"protocol": "world_last_days", **r}
            for r in evaluate(data.plays, held, models, RecsConfig().weights(), item_vectors=item_vectors,
                              ndcg_per_user=per_user["world_last_days"])]
    context.log.info(f"protocol (b): {len(data.user_ids):,} users, test slice of {test_days:.1f} days from {cutoff}")
    hetrec = config.hetrec_dir or _default_hetrec()
    if hetrec and Path(hetrec, "user_artists.dat").exists():
        per_user["hetrec_lastfm_2k"] = {}
        rows += _hetrec_rows(Path(hetrec), config.hetrec_seed, config.hetrec_test_share, per_user["hetrec_lastfm_2k"])
        context.log.info("protocol (a): hetrec lastfm-2k")
    else:
        context.log.info("protocol (a) skipped: no hetrec lastfm-2k folder (set hetrec_dir or TIMBRAL_HETREC_DIR)")
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute(EVAL_TABLE)
        con.execute("DELETE FROM evaluation.eval_metrics WHERE als_version IS NOT DISTINCT FROM ? AND "
                    "track_vector_index_version IS NOT DISTINCT FROM ?", list(versions))
        for r in rows:
            con.execute(f"INSERT INTO evaluation.eval_metrics VALUES (now()::TIMESTAMP, ?, ?, ?, ?, "
                        f"{', '.join('?' * len(METRIC_KEYS))}, ?, ?)",
                        [round(test_days, 4), r["protocol"], r["model"], r["users"],
                         *[r.get(k) for k in METRIC_KEYS], versions[0], versions[1]])
        schema = column_schema(con, "evaluation.eval_metrics")
    table_md = table_markdown(rows)
    # paired per user: the hybrid fails only if it is below ALS beyond what the users sampled can show
    verdicts = {p: paired_not_worse(users["hybrid"], users["als"]) for p, users in per_user.items()}
    tracker = mlflow.tracker()
    run_id = tracker.log_run("recommender", "eval_metrics", {"test_days": config.test_days, "hetrec": hetrec or "none",
                                                             "als_version": versions[0], "index_version": versions[1]},
                             {f"{r['protocol']}/{r['model']}/{k}": r[k] for r in rows for k in METRIC_KEYS if k in r},
                             json_artifacts={"eval_metrics.json": rows}, figures={"ndcg_at_10.png": _ndcg_figure(rows)})
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows), "dagster/column_schema": schema, "comparison": dg.MetadataValue.md(table_md),
        "mlflow_run": dg.MetadataValue.url(tracker.run_url(run_id)), "seconds": round(time.perf_counter() - started, 1),
        "als_version": versions[0], "track_vector_index_version": versions[1]},
        check_results=[_hybrid_floor_result(rows, verdicts)])


def _hybrid_floor_result(rows: list[dict], verdicts: dict) -> dg.AssetCheckResult:
    metadata = {}
    for p, verdict in sorted(verdicts.items()):
        metadata.update({f"{p}: hybrid ndcg@10": round(_ndcg(rows, p, "hybrid"), 4),
                         f"{p}: als ndcg@10": round(_ndcg(rows, p, "als"), 4),
                         f"{p}: users": verdict.sample,
                         f"{p}: 95% upper bound of hybrid - als": round(verdict.bound, 4)})
    if not all(v.passed for v in verdicts.values()):
        return dg.AssetCheckResult(check_name=HYBRID_FLOOR, passed=False, metadata=metadata)
    behind = sorted(p for p, v in verdicts.items() if v.beyond_floor)
    if behind:  # below ALS on these users, but within what chance gives on so few
        return dg.AssetCheckResult(check_name=HYBRID_FLOOR, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata=metadata, description=f"the hybrid's NDCG@10 is under ALS's on "
                                   f"{', '.join(behind)}, but not significantly")
    return dg.AssetCheckResult(check_name=HYBRID_FLOOR, passed=True, metadata=metadata)


def world_split(con, cutoff: datetime, until: datetime | None = None):
    """Protocol (b) at `cutoff`: plays before it train (co-play too, from those days' sessions); the tracks a
    user first plays from `cutoff` (until `until`) are held out. Returns the training interactions, the held-out
    sets, the fitted single models and the item vectors."""
    import polars as pl

    from ..recommend.coplay import coplay_neighbours, mark_sessions, similarity_matrix
    from ..recommend.interactions import Interactions
    from ..recommend.models import ALS, ItemKNN, ItemSimilarity, Popularity, VectorContent

    until = until or datetime.max
    quality = "resolution_quality IN ('exact', 'high')"
    train = con.sql(f"SELECT user_id, track_id, count(*) AS plays FROM intermediate.int_scrobble_tracks WHERE {quality} "
                    "AND played_at < $cutoff GROUP BY ALL", params={"cutoff": cutoff}).to_arrow_table()
    # held out: what a user first plays in the slice (an anti-join with their training plays)
    test = con.sql(f"""SELECT DISTINCT t.user_id, t.track_id FROM intermediate.int_scrobble_tracks t
                       ANTI JOIN (SELECT DISTINCT user_id, track_id FROM intermediate.int_scrobble_tracks
                                  WHERE {quality} AND played_at < $cutoff) p USING (user_id, track_id)
                       WHERE t.{quality} AND t.played_at >= $cutoff AND t.played_at < $until""",
                   params={"cutoff": cutoff, "until": until}).to_arrow_table()
    if not train.num_rows or not test.num_rows:
        raise dg.Failure(f"no plays on one side of the test cut {cutoff}: protocol (b) needs more listening "
                         "than its test slice", allow_retries=False)
    plays = pl.from_arrow(con.sql(SESSION_PLAYS_SQL.format(where="AND s.played_at < $cutoff"),
                                  params={"cutoff": cutoff}).to_arrow_table())
    catalog = con.sql("SELECT track_id FROM marts.tracks_core").to_arrow_table()["track_id"].to_numpy(
        zero_copy_only=False)
    vectors = con.sql("SELECT track_id, vector FROM features.track_vector").to_arrow_table()
    data = Interactions.from_triples(train["user_id"].to_numpy(zero_copy_only=False),
                                     train["track_id"].to_numpy(zero_copy_only=False), train["plays"].to_numpy(),
                                     item_ids=catalog)
    del train
    test_users = test["user_id"].to_numpy(zero_copy_only=False)
    test_tracks = test["track_id"].to_numpy(zero_copy_only=False)
    rows = np.searchsorted(data.user_ids, test_users)
    cols = np.searchsorted(data.item_ids, test_tracks)
    known = (rows < data.n_users) & (cols < data.n_items)
    known[known] &= (data.user_ids[rows[known]] == test_users[known]) & (data.item_ids[cols[known]] == test_tracks[known])
    held = [set() for _ in range(data.n_users)]
    for r, c in zip(rows[known].tolist(), cols[known].tolist(), strict=True):
        held[r].add(c)
    del test, test_users, test_tracks
    sessions = mark_sessions(plays)
    del plays
    neighbours, _ = coplay_neighbours(sessions)
    del sessions
    item_vectors = rows_by_id(vectors["track_id"].to_pylist(), vector_matrix(vectors, "vector"), data.item_ids)
    als = AlsConfig()
    models = {"popularity": Popularity(), "item_knn": ItemKNN(),
              "als": ALS(factors=als.factors, regularization=als.regularization, alpha=als.alpha,
                         iterations=als.iterations, seed=als.seed),
              "coplay": ItemSimilarity(similarity=similarity_matrix(neighbours, data.item_ids)),
              "content": VectorContent(item_vectors=item_vectors)}
    return data, held, {name: m.fit(data.plays) for name, m in models.items()}, item_vectors


def _ndcg(rows: list[dict], protocol: str, model: str) -> float:
    return next(r["ndcg@10"] for r in rows if r["protocol"] == protocol and r["model"] == model)


def _hetrec_rows(folder: Path, seed: int, test_share: float, ndcg_per_user: dict) -> list[dict]:
    """Protocol (a): the batch hybrid (recommend-batch's models and weights) and its members on hetrec."""
    from ..recommend.batch import default_components
    from ..recommend.evaluation import evaluate
    from ..recommend.hetrec import read_hetrec
    from ..recommend.hybrid import DEFAULT_WEIGHTS
    from ..recommend.interactions import split_per_user

    data, tags = read_hetrec(folder)
    train, held = split_per_user(data.plays, test_share, seed=seed)
    models = {name: factory().fit(train) for name, factory in default_components(tags).items()}
    return [{"protocol": "hetrec_lastfm_2k", **r}
            for r in evaluate(train, held, models, DEFAULT_WEIGHTS, ndcg_per_user=ndcg_per_user)]


def _ndcg_figure(rows: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = sorted({r["protocol"] for r in rows})
    fig, axes = plt.subplots(1, len(protocols), figsize=(5 * len(protocols), 3.5), squeeze=False)
    for ax, protocol in zip(axes[0], protocols, strict=True):
        part = [r for r in rows if r["protocol"] == protocol]
        ax.barh([r["model"] for r in part], [r["ndcg@10"] for r in part],
                color=["tab:orange" if r["model"] == "hybrid" else "tab:blue" for r in part])
        ax.set_title(protocol)
        ax.set_xlabel("NDCG@10")
    fig.tight_layout()
    return fig
