"""Features and the mood/energy model: thin wiring of `timbral_assets.mood` to the warehouse and MLflow.

tag_distribution      features.tag_distribution   each tag's weight over the catalog (the drift sensor's input)
track_text_embedding  features.track_text_embedding  one sentence embedding per canonical track
mood_model            models.mood_model_evaluation   trains, cross-validates and registers MLflow model mood_model
track_mood_pred       features.track_mood_pred    every canonical track scored by a registered version
"""

import dataclasses
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from ..mood import drift
from ..mood.dataset import LabelledSet, labelled_set, read_labelled_spotify, top_tags_by_artist
from ..mood.evaluation import BASELINE_BOUNDS, baseline_ratio_bounds, track_artists
from ..mood.features import TrackMeta
from ..mood.labels import MOOD_LABELS
from ..mood.text import text_of
from ..resolution.embeddings import TextEncoder
from ..resources import MlflowResource, ResolutionResource, WarehouseResource
from ..warehouse import transaction
from .common import DUCKDB_POOL, column_schema, mlflow_tags, preview, vector_matrix, writes

FEATURES = "features"
MODELS = "models"

# two review snippets per (artist, title), newest first, through the AOTY album that lists the track
SNIPPETS_SQL = """
    SELECT a.artist_norm, a.title_norm,
           list(r.text ORDER BY r.review_date DESC NULLS LAST, r.review_id)[1:2] AS snippets
    FROM staging.stg_aoty_album_tracks a JOIN raw.raw_aoty_reviews r USING (aoty_album_id)
    WHERE r.text IS NOT NULL AND trim(r.text) <> ''
    GROUP BY ALL"""


@dg.asset(deps=["track_tags"], group_name=FEATURES, pool=DUCKDB_POOL, kinds={"duckdb"},
          metadata=writes("features.tag_distribution"))
def tag_distribution(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Each tag's summed weight and track count over marts.track_tags. Its metadata holds the top-k shares
    (`top_tag_shares`), which mood_model stores at training and tag_drift_sensor compares with the current
    ones, so a sensor tick reads two events, never the warehouse."""
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute("CREATE OR REPLACE TABLE features.tag_distribution AS SELECT tag, round(sum(weight), 6) AS weight, "
                    "count(*) AS tracks FROM marts.track_tags GROUP BY tag ORDER BY weight DESC, tag")
        weights = dict(con.execute("SELECT tag, weight FROM features.tag_distribution").fetchall())
        top = preview(con, "SELECT * FROM features.tag_distribution ORDER BY weight DESC, tag LIMIT 15")
    shares = drift.top_k_shares(weights)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(weights), "top_tag_shares": dg.MetadataValue.json(shares), "preview": top,
        "top_k": drift.TOP_K})


class TextEmbeddingConfig(dg.Config):
    # empty: ResolutionResource.text_encoder_model, which mood_model reads too
    encoder_model: str = ""


def _encoder(context: dg.AssetExecutionContext, config_model: str, resolution: ResolutionResource) -> TextEncoder:
    """The configured sentence encoder over TIMBRAL_HOME/embeddings.duckdb, the cache the resolver uses."""
    encoder = resolution.text_encoder(config_model)
    encoder.log = context.log.info
    return encoder


def _progress(context: dg.AssetExecutionContext, what: str):
    return lambda done, total: context.log.info(f"{what}: encoded {done:,} of {total:,} new texts")


CATALOG_TRACKS_SQL = f"""
    WITH snippets AS ({SNIPPETS_SQL}),
    genre AS (
        SELECT c.track_id, tb_most_common(histogram(s.genre)) AS genre
        FROM marts.tracks_core c JOIN staging.stg_spotify_tracks s USING (artist_norm, title_norm)
        WHERE s.genre IS NOT NULL GROUP BY c.track_id)
    SELECT f.track_id, f.artist_name, f.title, f.album, f.top_tags, f.spotify_popularity, f.duration_ms,
           f.explicit, f.release_year, coalesce(g.genre, '') AS genre, coalesce(s.snippets, []) AS snippets
    FROM marts.track_feature_view f JOIN marts.tracks_core c USING (track_id)
    LEFT JOIN genre g USING (track_id)
    LEFT JOIN snippets s ON s.artist_norm = c.artist_norm AND s.title_norm = c.title_norm
    ORDER BY f.track_id"""


def _catalog_tracks(con) -> tuple[list[TrackMeta], list[list[str]]]:
    tracks, snippets = [], []
    for row in con.sql(CATALOG_TRACKS_SQL).to_arrow_table().to_pylist():
        tracks.append(TrackMeta(
            track_id=row["track_id"], artists=row["artist_name"] or "", album_name=row["album"] or "",
            track_name=row["title"] or "", genre=row["genre"], popularity=row["spotify_popularity"],
            duration_ms=row["duration_ms"], explicit=row["explicit"], year=row["release_year"],
            tags=tuple(row["top_tags"])))
        snippets.append(row["snippets"])
    return tracks, snippets


@dg.asset(deps=["track_feature_view", "raw_aoty_reviews", "stg_spotify_tracks"], group_name=FEATURES,
          pool=DUCKDB_POOL, kinds={"duckdb", "numpy"}, metadata=writes("features.track_text_embedding"))
def track_text_embedding(context: dg.AssetExecutionContext, config: TextEmbeddingConfig,
                         warehouse_db: WarehouseResource, resolution: ResolutionResource) -> dg.MaterializeResult:
    """One sentence embedding per canonical track of its text: artist, title, album, top tags (without the
    mood label words) and up to two AOTY review snippets (mood.text). Vectors come from the embedding cache
    shared with the resolver's semantic tier, keyed by the text's hash, so a re-materialization encodes
    only texts that changed."""
    encoder = _encoder(context, config.encoder_model, resolution)
    encoder.progress = _progress(context, "track texts")
    with warehouse_db.get_connection() as con:
        tracks, snippets = _catalog_tracks(con)
    texts = [text_of(t, s) for t, s in zip(tracks, snippets, strict=True)]
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    seconds = time.perf_counter() - started
    table = pa.table({"track_id": [t.track_id for t in tracks], "text": texts,
                      "encoder_model": [encoder.model] * len(tracks),
                      "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])})
    with warehouse_db.get_connection() as con, transaction(con):
        con.register("new_embeddings", table)
        con.execute("CREATE OR REPLACE TABLE features.track_text_embedding AS SELECT * FROM new_embeddings")
        con.unregister("new_embeddings")
        schema = column_schema(con, "features.track_text_embedding")
        sample = preview(con, "SELECT track_id, text FROM features.track_text_embedding ORDER BY track_id LIMIT 10")
    context.log.info(f"{len(texts):,} track texts embedded in {seconds:.1f}s ({encoder.encoded_count:,} encoded, "
                     f"the rest from the cache)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(texts), "dagster/column_schema": schema, "preview": sample,
        "encoder_model": encoder.model, "dimensions": int(vectors.shape[1]),
        "encoded_now": encoder.encoded_count, "from_cache": len(texts) - encoder.encoded_count,
        "seconds": round(seconds, 2), "texts_per_second": round(len(texts) / seconds, 1) if seconds > 0 else None})


class MoodModelConfig(dg.Config):
    n_estimators: int = 300
    learning_rate: float = 0.08
    max_depth: int = 6
    num_leaves: int = 63
    n_folds: int = 5
    seed: int = 0
    use_text_embedding: bool = True
    encoder_model: str = ""  # empty: ResolutionResource.text_encoder_model, as track_text_embedding
    max_training_tracks: int = 0  # 0: every labelled Spotify track; else a seeded sample of this many
    # a Spotify Tracks CSV to learn from instead of the warehouse's Spotify tracks (raw_spotify), e.g.
    # ../shared/data/spotify_tracks/spotify_tracks.csv.gz; its artists are tagged from raw.raw_artist_tags
    spotify_file: str = ""
    # the same training input and settings as the latest version give the same (seeded) model: keep that
    # version, unless this is set
    retrain_unchanged: bool = False
    # the design's targets, checked (as warnings) on the cross-validated figures
    energy_rmse_target: float = 0.10
    mood_micro_f1_target: float = 0.62

    def model_params(self):
        """mood.model.ModelParams from the fields of the same names (the rest keep their defaults)."""
        from ..mood.model import ModelParams

        return ModelParams(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ModelParams)
                              if f.name in type(self).model_fields})


TRAINING_SQL = f"""
    WITH artist_tags AS (
        SELECT artist_norm, list(tag ORDER BY taggers DESC, tag)[1:10] AS tags
        FROM staging.stg_artist_tags GROUP BY artist_norm),
    albums AS (
        SELECT artist_norm, title_norm, list_distinct(flatten(list(genres))) AS genres,
               min(release_year) AS release_year
        FROM staging.stg_aoty_album_tracks GROUP BY ALL),
    snippets AS ({SNIPPETS_SQL})
    SELECT s.spotify_track_id, array_to_string(s.artists, ';') AS artists, s.album_name, s.track_name, s.genre,
           s.popularity, s.duration_ms, s.explicit, s.energy, s.valence, s.danceability, s.acousticness,
           s."mode", al.release_year, coalesce(t.tags, []) AS artist_tags, coalesce(al.genres, []) AS album_genres,
           coalesce(sn.snippets, []) AS snippets
    FROM staging.stg_spotify_tracks s
    LEFT JOIN artist_tags t USING (artist_norm)
    LEFT JOIN albums al USING (artist_norm, title_norm)
    LEFT JOIN snippets sn USING (artist_norm, title_norm)
    WHERE s.energy IS NOT NULL AND s.valence IS NOT NULL
    ORDER BY s.spotify_track_id, s.genre"""


def _training_set(con) -> tuple[LabelledSet, dict[str, list[str]]]:
    """The labelled Spotify tracks, tagged as track_tags tags them (the Spotify genre, AOTY album genres,
    Last.fm artist tags); the label tags are the AOTY and Last.fm ones, never the genre, which is a feature.
    Returns the set and each track's review snippets."""
    rows = con.sql(TRAINING_SQL).to_arrow_table().to_pylist()
    label_tags = []
    for row in rows:
        label_tags.append(row["artist_tags"] + row["album_genres"])
        row["tags"] = list(dict.fromkeys(([row["genre"]] if row["genre"] else []) + label_tags[-1]))
    data = labelled_set(rows, label_tags)
    snippets = {r["spotify_track_id"]: r["snippets"] for r in rows}
    return data, snippets


def _table_rows(rows: list[dict], version: int) -> pa.Table:
    return pa.table({"model_version": [version] * len(rows), "target": [r["target"] for r in rows],
                     "predictor": [r["predictor"] for r in rows]}
                    | {k: pa.array([r.get(k) for r in rows], pa.float64())
                       for k in ("rmse", "r2", "micro_f1", "macro_f1", *BASELINE_BOUNDS)})


def _metric(rows: list[dict], target: str, predictor: str, key: str) -> float:
    return next(r[key] for r in rows if r["target"] == target and r["predictor"] == predictor)


BEATS_BASELINES = "mood_model_beats_baselines"
# the genre mean is a strong baseline (the synthetic world draws energy from the genre alone, so there it is
# the best any predictor can do): the model may not be more than 2% worse than it
GENRE_MEAN_TOLERANCE = 1.02
DESIGN_TARGETS = "mood_model_design_targets"


@dg.asset(deps=["stg_spotify_tracks", "stg_artist_tags", "stg_aoty_album_tracks", "raw_aoty_reviews",
                tag_distribution],
          group_name=MODELS, pool=DUCKDB_POOL, kinds={"xgboost", "lightgbm", "mlflow", "duckdb"},
          metadata=writes("models.mood_model_evaluation"),
          check_specs=[
              dg.AssetCheckSpec(BEATS_BASELINES, asset="mood_model", blocking=True,
                                description="artist-disjoint CV: energy and valence RMSE under the constant "
                                            "baseline's and at most 2% over the genre mean's; mood micro-F1 over "
                                            "the majority baseline's"),
              dg.AssetCheckSpec(DESIGN_TARGETS, asset="mood_model",
                                description="the design's targets (energy RMSE <= 0.10, mood micro-F1 >= 0.62); "
                                            "a warning, since metadata alone does not reach them yet")])
def mood_model(context: dg.AssetExecutionContext, config: MoodModelConfig, warehouse_db: WarehouseResource,
               mlflow: MlflowResource, resolution: ResolutionResource) -> dg.MaterializeResult:
    """Energy and valence by XGBoost, six mood labels by LightGBM, from metadata only (genre, bag-of-tags,
    text embedding, popularity, duration, explicit, year, title cues), trained on the labelled Spotify tracks
    (raw_spotify: the synthetic world's file by default, ../shared/data/spotify_tracks when configured).
    Evaluated by artist-disjoint k-fold against baselines, logged to MLflow with the table, a predicted-vs-true
    plot and feature importances, and registered as the next version of the MLflow model `mood_model`."""
    # the model libraries load when a model trains, not with the definitions every process reads
    from ..mood.mlflow_model import ARTIFACT, MODEL_NAME, MoodPyfuncModel
    from ..mood.model import (
        choose_tuning,
        cross_validate,
        table_markdown,
        train_mood_model,
        training_fingerprint,
    )
    from ..mood.plots import importance_figure, predicted_vs_true_figure

    started = time.perf_counter()
    with warehouse_db.get_connection() as con:
        if config.spotify_file:
            tags = top_tags_by_artist(con.execute("SELECT artist_name, tag, count(DISTINCT user_id) FROM "
                                                  "raw.raw_artist_tags GROUP BY ALL").fetchall())
            try:
                data, snippets = read_labelled_spotify(Path(config.spotify_file), tags), {}
            except (OSError, ValueError) as error:
                raise dg.Failure(f"cannot read spotify_file: {error}", allow_retries=False) from error
        else:
            data, snippets = _training_set(con)
        tag_event = context.instance.get_latest_materialization_event(dg.AssetKey("tag_distribution"))
    if len(data) < 50:
        raise dg.Failure(f"only {len(data)} Spotify tracks with audio features to learn from: materialize "
                         "raw_spotify (and stg_spotify_tracks) first", allow_retries=False)
    if config.max_training_tracks and len(data) > config.max_training_tracks:
        rows = np.sort(np.random.default_rng(config.seed).permutation(len(data))[:config.max_training_tracks])
        data = data.subset(rows)
    context.log.info(f"{len(data):,} labelled tracks by {data.n_artists:,} artists")
    embeddings, encoder_model, encoded = None, None, 0
    if config.use_text_embedding:
        encoder = _encoder(context, config.encoder_model, resolution)
        encoder.progress = _progress(context, "training texts")
        embeddings = encoder.encode([text_of(t, snippets.get(t.track_id, ())) for t in data.tracks])
        encoder_model, encoded = encoder.model, encoder.encoded_count
        context.log.info(f"training texts embedded ({encoder.encoded_count:,} encoded, the rest cached)")
    params = config.model_params()
    training_shares = (tag_event.asset_materialization.metadata["top_tag_shares"].value
                       if tag_event is not None and "top_tag_shares" in tag_event.asset_materialization.metadata else {})
    fingerprint = training_fingerprint(data.tracks, data.energy, data.valence, data.labels, embeddings, params,
                                       config.n_folds, encoder_model)
    tracker = mlflow.tracker()
    metadata = {"training_tracks": len(data), "artists": data.n_artists, "encoder_model": encoder_model or "none",
                "features": "metadata" + (" + text embedding" if embeddings is not None else ""),
                "texts_encoded": encoded, "texts_from_cache": len(data) - encoded if embeddings is not None else 0,
                "training_tag_shares": dg.MetadataValue.json(training_shares), "training_fingerprint": fingerprint}
    latest = tracker.latest_version_tag(MODEL_NAME, FINGERPRINT_TAG)
    unchanged = latest is not None and latest[1] == fingerprint and not config.retrain_unchanged
    rows = _stored_rows(warehouse_db, latest[0].version) if unchanged else None
    if unchanged and not rows:
        # a run died between registering this version and recording its evaluation: record it from MLflow
        rows = tracker.run_json(latest[0].run_id, "evaluation.json")
        _store_rows(warehouse_db, rows, latest[0].version)
    if rows:
        # seeded training on the same input gives the same model: keep its version rather than register a copy
        version = latest[0]
        context.log.info(f"the training input and settings are those of {version.name} version {version.version}: "
                         "kept it (set retrain_unchanged to register a new version anyway)")
        metadata["unchanged"] = f"the same training input and settings as version {version.version}"
    else:
        tuning = choose_tuning(data.tracks, data.energy, data.valence, data.labels, embeddings, params)
        cv = cross_validate(data.tracks, data.energy, data.valence, data.labels, embeddings, config.n_folds, params,
                            tuning)
        context.log.info("cross-validated:\n" + cv.table_markdown())
        bounds = baseline_ratio_bounds({"energy": data.energy, "valence": data.valence}, cv.predictions,
                                       [a[0] if a else "" for a in track_artists([t.artists for t in data.tracks])])
        rows = [{**r, **bounds[r["target"]]} if r["predictor"] == "model" and r["target"] in bounds else r
                for r in cv.rows]
        model = train_mood_model(data.tracks, data.energy, data.valence, data.labels, embeddings, params,
                                 encoder_model, tuning)
        importances = model.feature_importances()
        metrics = {f"{r['target']}/{r['predictor'].split(' ')[0]}/{k}": r[k] for r in rows
                   for k in ("rmse", "r2", "micro_f1", "macro_f1") if r.get(k) is not None}
        metrics.update({"training_tracks": len(data), "artists": data.n_artists,
                        "label_rate_mean": float(data.labels.mean())})
        run_params = {**dataclasses.asdict(params), "n_folds": config.n_folds, "features": metadata["features"],
                      "encoder_model": encoder_model or "none", "trees": model.trees,
                      "thresholds": dict(zip(MOOD_LABELS, np.round(model.thresholds, 2).tolist(), strict=True))}
        with tempfile.TemporaryDirectory() as tmp:
            model_file = Path(tmp) / ARTIFACT
            model.save(model_file)
            version = tracker.log_model_version(
                "mood", MODEL_NAME, MoodPyfuncModel(), {ARTIFACT: model_file}, run_params, metrics,
                tags={**mlflow_tags(context), FINGERPRINT_TAG: fingerprint},
                json_artifacts={"evaluation.json": rows, "feature_importances.json": importances,
                                "training_tag_shares.json": training_shares},
                figures={"predicted_vs_true.png": predicted_vs_true_figure(data.energy, cv.energy_pred, data.valence,
                                                                            cv.valence_pred),
                         "feature_importances.png": importance_figure(importances)})
        _store_rows(warehouse_db, rows, version.version)
        metadata["top_features"] = dg.MetadataValue.md(_importance_markdown(importances))
    with warehouse_db.get_connection() as con:
        metadata["dagster/column_schema"] = column_schema(con, "models.mood_model_evaluation")
    energy_rmse = _metric(rows, "energy", "model", "rmse")
    micro = _metric(rows, "moods", "model", "micro_f1")
    beats, beats_metadata = _beats_baselines(rows)
    metadata.update({
        "model": f"{version.name} version {version.version}", "model_version": version.version,
        "evaluation": dg.MetadataValue.md(table_markdown(rows)),
        "energy_rmse": round(energy_rmse, 4), "mood_micro_f1": round(micro, 4),
        "seconds": round(time.perf_counter() - started, 1), "mlflow_run_id": version.run_id,
        "mlflow_run": dg.MetadataValue.url(tracker.run_url(version.run_id))})
    return dg.MaterializeResult(metadata=metadata, check_results=[
        dg.AssetCheckResult(check_name=BEATS_BASELINES, passed=beats, metadata={
            "energy_rmse": round(energy_rmse, 4), "mood_micro_f1": round(micro, 4), **beats_metadata}),
        dg.AssetCheckResult(check_name=DESIGN_TARGETS, severity=dg.AssetCheckSeverity.WARN,
                            passed=energy_rmse <= config.energy_rmse_target and micro >= config.mood_micro_f1_target,
                            metadata={"energy_rmse": round(energy_rmse, 4), "target_rmse": config.energy_rmse_target,
                                      "mood_micro_f1": round(micro, 4), "target_f1": config.mood_micro_f1_target})])


def _beats_baselines(rows: list[dict]) -> tuple[bool, dict]:
    """Energy and valence RMSE under the constant baseline's and at most GENRE_MEAN_TOLERANCE times the genre
    mean's, judged by the lower bounds of the ratios over a bootstrap of artists (mood.evaluation.
    baseline_ratio_bounds) where the rows carry them (every version trained since), else by the figures; and
    mood micro-F1 over the majority baseline's."""
    passed, metadata = True, {}
    for target in ("energy", "valence"):
        model = next(r for r in rows if r["target"] == target and r["predictor"] == "model")
        over_genre = model["rmse"] / _metric(rows, target, "genre mean", "rmse")
        over_constant = model["rmse"] / _metric(rows, target, "constant (training mean)", "rmse")
        genre_bound = model.get("over_genre_mean_bound")
        constant_bound = model.get("over_constant_bound")
        genre_bound = over_genre if genre_bound is None else genre_bound
        constant_bound = over_constant if constant_bound is None else constant_bound
        passed &= genre_bound <= GENRE_MEAN_TOLERANCE and constant_bound < 1.0
        metadata.update({f"{target}: rmse over genre mean": round(over_genre, 4),
                         f"{target}: its 95% lower bound": round(genre_bound, 4),
                         f"{target}: rmse over constant": round(over_constant, 4),
                         f"{target}: its 95% lower bound (constant)": round(constant_bound, 4)})
    passed &= _metric(rows, "moods", "model", "micro_f1") > _metric(rows, "moods", "majority", "micro_f1")
    return bool(passed), metadata


FINGERPRINT_TAG = "timbral/training_fingerprint"
EVALUATION_TABLE = """CREATE TABLE IF NOT EXISTS models.mood_model_evaluation (model_version INTEGER, target VARCHAR,
    predictor VARCHAR, rmse DOUBLE, r2 DOUBLE, micro_f1 DOUBLE, macro_f1 DOUBLE, over_genre_mean_bound DOUBLE,
    over_constant_bound DOUBLE);
    -- homes made before the bounds were kept
    ALTER TABLE models.mood_model_evaluation ADD COLUMN IF NOT EXISTS over_genre_mean_bound DOUBLE;
    ALTER TABLE models.mood_model_evaluation ADD COLUMN IF NOT EXISTS over_constant_bound DOUBLE"""


def _store_rows(warehouse_db: WarehouseResource, rows: list[dict], version: int) -> None:
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute(EVALUATION_TABLE)
        con.execute("DELETE FROM models.mood_model_evaluation WHERE model_version = ?", [version])
        con.register("evaluation_rows", _table_rows(rows, version))
        con.execute("INSERT INTO models.mood_model_evaluation BY NAME SELECT * FROM evaluation_rows")
        con.unregister("evaluation_rows")


def _stored_rows(warehouse_db: WarehouseResource, version: int) -> list[dict]:
    """A registered version's comparison rows from models.mood_model_evaluation (none if never stored)."""
    with warehouse_db.get_connection() as con:
        con.execute(EVALUATION_TABLE)
        table = con.sql("SELECT * EXCLUDE (model_version) FROM models.mood_model_evaluation "
                        "WHERE model_version = $version", params={"version": int(version)}).to_arrow_table()
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


def _importance_markdown(importances: list[dict], top: int = 10) -> str:
    lines = ["| model | feature | share of gain |", "|---|---|---|"]
    for model_name in ("energy", "valence", "moods"):
        for row in [r for r in importances if r["model"] == model_name][:top]:
            lines.append(f"| {model_name} | {row['feature']} | {row['importance']:.3f} |")
    return "\n".join(lines)


class MoodScoringConfig(dg.Config):
    model_version: str = "latest"  # a registered version of the MLflow model mood_model, or "latest"


@dg.asset(deps=[mood_model, track_text_embedding, "track_feature_view"], group_name=FEATURES, pool=DUCKDB_POOL,
          kinds={"mlflow", "duckdb"}, metadata=writes("features.track_mood_pred"))
def track_mood_pred(context: dg.AssetExecutionContext, config: MoodScoringConfig, warehouse_db: WarehouseResource,
                    mlflow: MlflowResource) -> dg.MaterializeResult:
    """Every canonical track (marts.tracks_core) scored by the registered version of `mood_model` that the
    config names: energy, valence, the six mood probabilities and labels, and a confidence. A track with
    little to go on (no Spotify metadata, no tag beyond a genre) gets its genre's prior, flagged low."""
    from ..mood.mlflow_model import ARTIFACT, MODEL_NAME
    from ..mood.model import MoodModel

    with tempfile.TemporaryDirectory() as tmp:
        try:
            version, model_file = mlflow.tracker().model_file(MODEL_NAME, config.model_version, ARTIFACT, Path(tmp))
        except LookupError as error:
            raise dg.Failure(f"{error}; materialize mood_model to train one", allow_retries=False) from error
        model = MoodModel.load(model_file)
    with warehouse_db.get_connection() as con:
        tracks, _ = _catalog_tracks(con)
        embeddings = None
        if model.embedding_dim:
            stored = con.sql("SELECT track_id, encoder_model, embedding FROM features.track_text_embedding"
                                 ).to_arrow_table()
            models = set(stored["encoder_model"].to_pylist())
            if models - {model.encoder_model}:
                raise dg.Failure(f"features.track_text_embedding holds vectors of {', '.join(sorted(models))}, but "
                                 f"{version.name} version {version.version} reads {model.encoder_model}: "
                                 "re-materialize track_text_embedding with that encoder", allow_retries=False)
            by_id = dict(zip(stored["track_id"].to_pylist(), range(stored.num_rows), strict=True))
            matrix = vector_matrix(stored, "embedding") if stored.num_rows else None
            embeddings = np.zeros((len(tracks), model.embedding_dim), dtype=np.float32)
            missing = [i for i, t in enumerate(tracks) if t.track_id not in by_id]
            if missing:
                raise dg.Failure(f"{len(missing):,} tracks have no text embedding (e.g. {tracks[missing[0]].track_id}): "
                                 "materialize track_text_embedding first", allow_retries=False)
            for i, t in enumerate(tracks):
                embeddings[i] = matrix[by_id[t.track_id]]
    started = time.perf_counter()
    predicted = model.predict(tracks, embeddings) if tracks else None
    seconds = time.perf_counter() - started
    n = len(tracks)
    columns = {"track_id": [t.track_id for t in tracks], "model_version": [version.version] * n}
    if predicted is not None:
        columns |= {"pred_energy": predicted.energy.round(6), "pred_valence": predicted.valence.round(6)}
        columns |= {f"prob_{m}": predicted.probabilities[:, k].round(6) for k, m in enumerate(MOOD_LABELS)}
        columns |= {"moods": [[m for k, m in enumerate(MOOD_LABELS) if row[k]] for row in predicted.labels],
                    "confidence": predicted.confidence.round(4), "low_confidence": predicted.low_confidence}
    table = pa.table(columns) if predicted is not None else pa.table({
        "track_id": pa.array([], pa.string()), "model_version": pa.array([], pa.int64()),
        **{c: pa.array([], pa.float64()) for c in ("pred_energy", "pred_valence", *(f"prob_{m}" for m in MOOD_LABELS))},
        "moods": pa.array([], pa.list_(pa.string())), "confidence": pa.array([], pa.float64()),
        "low_confidence": pa.array([], pa.bool_())})
    with warehouse_db.get_connection() as con, transaction(con):
        con.register("new_predictions", table)
        con.execute("CREATE OR REPLACE TABLE features.track_mood_pred AS SELECT * FROM new_predictions")
        con.unregister("new_predictions")
        schema = column_schema(con, "features.track_mood_pred")
        sample = preview(con, "SELECT f.artist_name, f.title, p.pred_energy, p.pred_valence, p.moods, p.confidence, "
                              "p.low_confidence FROM features.track_mood_pred p JOIN marts.track_feature_view f "
                              "USING (track_id) ORDER BY f.play_count DESC, p.track_id LIMIT 10")
    low = int(predicted.low_confidence.sum()) if predicted is not None else 0
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "dagster/column_schema": schema, "preview": sample,
        "model": f"{version.name} version {version.version}", "model_version": version.version,
        "model_run_id": version.run_id, "low_confidence_tracks": low,
        "scoring_seconds": round(seconds, 3),
        "tracks_per_second": round(n / seconds) if seconds > 0 and n else None,
        "mood_shares": dg.MetadataValue.json({m: round(float(predicted.labels[:, k].mean()), 4) if n else 0.0
                                              for k, m in enumerate(MOOD_LABELS)})})
