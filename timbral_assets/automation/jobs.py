"""Jobs. Every job runs in process: DuckDB allows one writer process per file. Both are partitioned by
day, which Dagster infers from the daily partitioned assets they select."""

import dagster as dg

# Runs carrying this tag are limited to one at a time by dagster.yaml's run queue.
WRITES_DUCKDB = {"timbral/writes": "duckdb"}

main_job = dg.define_asset_job(
    name="timbral_main",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    tags=WRITES_DUCKDB,
    description="Materialize the whole asset graph for a range of play dates (make run uses the synthetic world's).",
)

# A day's scrobbles and all they feed, plus the staging models the marts join (Spotify, tags, AOTY): in a
# fresh home they must exist, and they are cheap to rebuild from whatever raw tables hold.
# Models are retrained when their training asset is materialized (by hand, schedule or sensor), not by
# every day's ingest: days are scored by the registered version.
MODELS = dg.AssetSelection.assets("track_matcher_model")
# The mood model learns from Spotify tracks with audio features, which an imported history need not have:
# it is trained, and the catalog re-scored, by `mood_retrain` (quarterly, on tag drift, or by hand) and by
# timbral_main; the daily jobs keep its inputs (text embeddings, tag distribution) current.
MOOD = dg.AssetSelection.assets("mood_model", "track_mood_pred")
# the recommender's nightly chain (nightly_cf): its own schedule, never a day's ingest
RECOMMENDER = dg.AssetSelection.assets("user_item_interactions", "als_model", "als_user_factors", "als_item_factors",
                                       "session_coplay_similarity", "track_vector", "recs_for_you", "similar_tracks",
                                       "eval_metrics")
DAILY = (dg.AssetSelection.assets("raw_scrobbles").downstream() | dg.AssetSelection.groups("staging")
         | dg.AssetSelection.assets("resolution_rules"))
# A day's ingest queues its new tracks and reads their titles' labels, but never waits on MusicBrainz or
# store pages (1 request/s): those lookups are enrichment_job's, launched by cooldown_retry_sensor.
TITLES_ONLY = {"ops": {"enrichment_status": {"config": {"max_remote_tracks": 0}}}}

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest",
    selection=DAILY - MODELS - MOOD - RECOMMENDER,
    executor_def=dg.in_process_executor,
    tags=WRITES_DUCKDB,
    config=TITLES_ONLY,
    description="Scrobbles for a range of days (one by the schedule, years by `timbral import`), then "
                "everything built from them, scored by the models' registered versions.",
)

# the first import into a home has no model version yet: it trains them too
first_import_job = dg.define_asset_job(
    name="first_import",
    selection=DAILY - MOOD - RECOMMENDER,
    executor_def=dg.in_process_executor,
    tags=WRITES_DUCKDB,
    config=TITLES_ONLY,
    description="daily_ingest plus the track matcher's training, for a home that has no registered model yet.",
)

# the mood model's retraining: the tag distribution it records, the training, and the scores of the new
# version (the quarterly schedule and the tag-drift sensor run it)
mood_retrain_job = dg.define_asset_job(
    name="mood_retrain",
    selection=dg.AssetSelection.assets("tag_distribution", "mood_model", "track_mood_pred"),
    executor_def=dg.in_process_executor,
    tags=WRITES_DUCKDB,
    description="Retrain mood_model (recording the tag distribution it was trained at) and re-score "
                "track_mood_pred with the new version.",
)

# interactions -> ALS -> co-play -> vectors -> recs -> eval, each night on the catalog as it stands
nightly_cf_job = dg.define_asset_job(
    name="nightly_cf",
    selection=RECOMMENDER,
    executor_def=dg.in_process_executor,
    tags=WRITES_DUCKDB,
    description="Rebuild interactions, retrain ALS (a new als_model version), session co-play, track vectors and "
                "their index, recs_for_you and similar_tracks, and evaluate them (eval_metrics).",
)

# the label hunter, its queue's statistics and unknown-artist identification; launched from the UI (with
# enrichment_status's config track_ids for a subset) or by cooldown_retry_sensor for the tracks due
ENRICHMENT = dg.AssetSelection.groups("enrichment")
enrichment_job = dg.define_asset_job(
    name="enrichment_job",
    selection=ENRICHMENT,
    executor_def=dg.in_process_executor,
    tags=WRITES_DUCKDB,
    description="Hunt labels for the tracks due (or the track_ids given in enrichment_status's config), update "
                "the cool-down queue and its statistics, and identify unknown artists.",
)
