"""Entity resolution assets: thin wiring of `timbral_assets.resolution` to the warehouse.

resolution_rules -> entity_candidates -> entity_match_scores -> entity_clusters -> resolution_report.

Resolution is incremental over the catalog, not per day, so these assets are not partitioned: each run
resolves every variant that has no cluster row yet (new strings from any day of stg_scrobbles, and any a
run that died left behind) against the catalog built so far. entity_candidates, entity_match_scores and
window_queries hold the current batch, labelled (`window_start`) with the newest play date it saw.
"""

import json
import tempfile
from pathlib import Path

import dagster as dg
import pyarrow as pa

from ..resolution import catalog, context_head, evaluation, store
from ..resolution.matcher import match_weight_figure
from ..resolution.rules_file import RulesFileError, load_rules
from ..resources import BucketResource, MlflowResource, ResolutionResource, WarehouseResource
from ..sample_checks import rate_at_most
from ..warehouse import transaction
from .common import DUCKDB_POOL, column_schema, mlflow_tags, preview, writes
from .ingest import WORLD_POINTER, current_world

GROUP = "resolution"
_RESOLUTION = dict(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb", "python"})
# who played what, when and from which album: the listening context of the context head and the clustering
LISTENING_SQL = ("SELECT artist_raw, track_raw, album_raw, user_id, played_at FROM staging.stg_scrobbles "
                 "WHERE NOT is_unidentified")


def _batch_date(con) -> str:
    """The label of a resolution batch: the newest play date in stg_scrobbles (deterministic, unlike now())."""
    newest = con.sql("SELECT max(play_date) FROM staging.stg_scrobbles").fetchall()[0][0]
    return str(newest or "1970-01-01")


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"yaml", "duckdb"}, metadata=writes("resolution.rules"))
def resolution_rules(context: dg.AssetExecutionContext, resolution: ResolutionResource,
                     warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """The rules file (belong_together, not_an_artist, replace_artist, artist_in_title, delimiters), versioned
    by content hash. When the version changes, the next entity_candidates run re-resolves past variants."""
    try:
        rules = load_rules(resolution.rules_file or None)
    except RulesFileError as error:
        raise dg.Failure(str(error), allow_retries=False) from error
    with warehouse_db.get_connection() as con, transaction(con):
        con.execute("INSERT OR IGNORE INTO resolution.rules (version, body) VALUES (?, ?)",
                    [rules.version, json.dumps({"belong_together": rules.belong_together,
                                                "not_an_artist": rules.not_an_artist,
                                                "replace_artist": rules.replace_artist,
                                                "artist_in_title": rules.artist_in_title,
                                                "delimiters": rules.delimiters})])
    return dg.MaterializeResult(
        data_version=dg.DataVersion(rules.version),
        metadata={"rules_version": rules.version, "belong_together": len(rules.belong_together),
                  "not_an_artist": len(rules.not_an_artist), "replace_artist": len(rules.replace_artist)})


@dg.asset(deps=["stg_scrobbles", resolution_rules], **_RESOLUTION,
          metadata=writes("resolution.entity_candidates", "resolution.variants", "resolution.window_queries",
                          "resolution.batch", "resolution.semantic_index"))
def entity_candidates(context: dg.AssetExecutionContext, resolution: ResolutionResource,
                      warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Candidate pairs for every unresolved (artist, title) variant (the window's new ones, and any a run
    that died left behind), variants whose rules changed and the unmatched queue: blocking passes plus
    sentence-embedding nearest neighbours."""
    rules = load_rules(resolution.rules_file or None)
    encoder = resolution.encoder()
    if encoder is not None:
        encoder.progress = lambda done, total: context.log.info(f"encoded {done:,} of {total:,} new strings")
        encoder.log = context.log.info
    with warehouse_db.get_connection(transform=True) as con, transaction(con):
        # add_variants keeps only strings not in the catalog yet, so reading every play costs what is new
        opened = catalog.open_batch(con, """
            SELECT artist_raw, track_raw, album_raw, duration_ms, track_mbid, artist_mbid, user_id
            FROM staging.stg_scrobbles WHERE NOT is_unidentified""", _batch_date(con), rules, encoder,
            resolution.semantic_query_budget)
        if opened.candidates is None:
            pairs = con.sql("SELECT count(*) FROM resolution.entity_candidates").fetchall()[0][0]
            return dg.MaterializeResult(metadata={
                "dagster/row_count": pairs, "new_variants": 0,
                "batch": "nothing to resolve: no new or unresolved variant, no rules change; the last batch stands"})
        schema = column_schema(con, "resolution.entity_candidates")
    query, search = opened.query, opened.search
    return dg.MaterializeResult(metadata={
        "dagster/row_count": opened.candidates.num_rows, "batch": opened.batch_date, "new_variants": len(query.new),
        "rules_changed_variants": len(query.changed),
        "left_unresolved_by_earlier_runs": len(set(query.query) - set(query.new) - set(query.changed) - set(query.queue)),
        "retried_from_queue": len(query.queue), "pairs_by_pass": dg.MetadataValue.json(opened.pairs_by_pass()),
        "dagster/column_schema": schema,
        "strings_encoded": encoder.encoded_count if encoder else 0,
        "semantic_tier": _semantic_summary(search, resolution.semantic_query_budget) if encoder else "off"})


def _semantic_summary(search: catalog.SemanticSearch, budget: int) -> str:
    line = (f"searched {search.searched:,} of {search.residual:,} strings that blocking left unpaired; "
            f"{search.indexed_now:,} catalog strings added to its index; {search.embedding_s:.1f} s encoding")
    if search.searched < search.residual:
        line += (f". {search.residual - search.searched:,} strings over the batch's query budget ({budget:,}, "
                 "rarest artist spellings first) stay unsearched; raise semantic_query_budget to search more")
    return line


@dg.asset(deps=[entity_candidates], group_name=GROUP, pool=DUCKDB_POOL, kinds={"splink", "mlflow", "duckdb"})
def track_matcher_model(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
    """The splink track matcher trained on the whole catalog (u by random sampling, m by EM, term
    frequencies), logged to MLflow and registered as the next version of the model `track_matcher`.
    Retraining is re-materializing this asset; the daily job leaves it out, so days are scored with the
    version the last training registered."""
    from ..resolution.matcher_model import ARTIFACT, MODEL_NAME, TrackMatcherModel

    with warehouse_db.get_connection(transform=True) as con:
        variants = con.sql("SELECT count(*) FROM resolution.variants").fetchall()[0][0]
        if variants == 0:
            raise dg.Failure("the catalog has no variants to train on: materialize entity_candidates first",
                             allow_retries=False)
        candidates = catalog.batch_candidates(con)
        model_json, m_u = catalog.train_matcher(con, candidates)
    params = {f"m_u/{r['comparison']}/{r['level']}"[:250]: f"m={r['m']:.4g} u={r['u']:.4g}"
              for r in m_u if r["m"] is not None and r["u"] is not None}
    params["prior"] = model_json.get("probability_two_random_records_match")
    tracker = mlflow.tracker()
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / ARTIFACT
        model_file.write_text(json.dumps(model_json, indent=1))
        version = tracker.log_model_version(
            "entity_resolution", MODEL_NAME, TrackMatcherModel(), {ARTIFACT: model_file}, params,
            {"training_variants": variants, "training_candidate_pairs": candidates.num_rows},
            tags=mlflow_tags(context), json_artifacts={"m_u.json": m_u},
            figures={"match_weights.png": match_weight_figure(m_u)})
    return dg.MaterializeResult(metadata={
        "model": f"{version.name} version {version.version}", "model_version": version.version,
        "training_variants": variants, "prior": params["prior"], "mlflow_run_id": version.run_id,
        "mlflow_run": dg.MetadataValue.url(tracker.run_url(version.run_id))})


@dg.asset(deps=[entity_candidates, track_matcher_model], **_RESOLUTION,
          metadata=writes("resolution.entity_match_scores"))
def entity_match_scores(context: dg.AssetExecutionContext, resolution: ResolutionResource,
                        warehouse_db: WarehouseResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    """splink 5 scores of the batch's candidate pairs, by the registered version of `track_matcher` that
    `ResolutionResource.matcher_version` names ("latest" by default), recorded in the metadata."""
    from ..resolution.matcher_model import ARTIFACT, MODEL_NAME

    head = resolution.context_head()
    metadata: dict = {"context_head": resolution.context_head_file or "none (splink's probability decides)"}

    def load_model() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                version, model_file = mlflow.tracker().model_file(MODEL_NAME, resolution.matcher_version, ARTIFACT,
                                                                  Path(tmp))
            except LookupError as error:
                raise dg.Failure(f"{error}; materialize track_matcher_model to train one", allow_retries=False) from error
            metadata.update({"model": f"{version.name} version {version.version}", "model_version": version.version,
                             "model_run_id": version.run_id})
            return json.loads(model_file.read_text())

    with warehouse_db.get_connection(transform=True) as con, transaction(con):
        adjust = None
        if head is not None:
            def adjust(scores: pa.Table) -> pa.Table:
                return context_head.adjust_scores(con, scores, head, resolution.encoder(required=True), LISTENING_SQL)
        scores = catalog.score_batch(con, load_model, adjust)
        if scores is None:
            metadata["dagster/row_count"] = con.sql("SELECT count(*) FROM resolution.entity_match_scores").fetchall()[0][0]
            metadata["batch"] = "already scored: nothing new since" if store.batch_state(con) else "no batch yet"
            return dg.MaterializeResult(metadata=metadata)
        schema = column_schema(con, "resolution.entity_match_scores")
    metadata["dagster/row_count"] = scores.num_rows
    metadata["dagster/column_schema"] = schema
    metadata["pairs_above_0_5"] = sum(p >= 0.5 for p in scores["match_probability"].to_pylist())
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(deps=[entity_match_scores], **_RESOLUTION, metadata=writes("resolution.entity_clusters"))
def entity_clusters(context: dg.AssetExecutionContext, resolution: ResolutionResource,
                    warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    """Each variant's canonical track and artist with tier, method, confidence and quality level, by
    constrained clustering (no chaining through one bad link); existing ids never change and manual
    overrides always win."""
    with warehouse_db.get_connection(transform=True) as con, transaction(con):
        clustered = catalog.cluster_batch(
            con, same_recording=load_rules(resolution.rules_file or None).recording_ids(), plays_sql=LISTENING_SQL)
        total = con.sql("SELECT count(*) FROM resolution.entity_clusters").fetchall()[0][0]
        if clustered is None:
            batch = store.batch_state(con)
            why = ("no batch yet" if batch is None else "already clustered: nothing new since" if batch.clustered
                   else "the batch is not scored yet")
            return dg.MaterializeResult(metadata={"dagster/row_count": total, "batch": why})
        result = clustered.result
        metadata = {
            "dagster/row_count": total, "resolved_variants": len(clustered.batch.query),
            "by_tier": dg.MetadataValue.json(result.tiers), "by_quality": dg.MetadataValue.json(result.qualities),
            "manual_overrides": clustered.manual_overrides, "unmatched_queue": store.unmatched_queue(con).num_rows,
            "dagster/column_schema": column_schema(con, "resolution.entity_clusters"),
            "preview": preview(con, "SELECT v.artist_raw, v.track_raw, c.track_id, c.tier, c.confidence, c.quality "
                                    "FROM resolution.entity_clusters c JOIN resolution.variants v USING (variant_id) "
                                    "WHERE c.resolved_in = $s ORDER BY c.confidence, v.variant_id LIMIT 10",
                              {"s": clustered.batch.date}),
        }
    return dg.MaterializeResult(metadata=metadata)


TRACKS_F1_FLOOR = "tracks_f1_floor"
FALSE_MERGE_CEILING = "hard_negative_false_merges_ceiling"


@dg.asset(deps=[entity_clusters], **_RESOLUTION, check_specs=[
    dg.AssetCheckSpec(TRACKS_F1_FLOOR, asset="resolution_report", blocking=True,
                      description="tracks pairwise F1 against the world's truth is at least ResolutionResource."
                                  "tracks_f1_floor (not measured without a truth)"),
    dg.AssetCheckSpec(FALSE_MERGE_CEILING, asset="resolution_report", blocking=True,
                      description="hard-negative pairs (covers, live takes, remixes, one title by two artists) "
                                  "merged: at most ResolutionResource.max_false_merge_rate of them. Fails when the "
                                  "rate is above the ceiling at 95% confidence (its one-sided Clopper-Pearson lower "
                                  "bound), so that a small world's few pairs do not fail on noise; warns when only "
                                  "the observed rate is above"),
])
def resolution_report(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource, bucket: BucketResource,
                      mlflow: MlflowResource, resolution: ResolutionResource) -> dg.MaterializeResult:
    """How well the catalog is resolved: the share of scrobbles per tier always; and, when the scrobbles come
    from the synthetic world, precision / recall / F1 by entity type and variant kind and the false-merge
    rate on hard negatives, against the world's truth. Logged to MLflow (experiment resolution_evaluation)."""
    truth = current_world(bucket) / "truth" if bucket.bucket().exists(WORLD_POINTER) else None
    with warehouse_db.get_connection() as con:
        batch = _batch_date(con)
        shares = evaluation.tier_shares(con)
        report = evaluation.evaluate_catalog(con, truth) if truth is not None and truth.exists() else None
    metadata: dict = {"scrobble_share_by_tier": dg.MetadataValue.json({k: round(v, 4) for k, v in shares.items()})}
    if report is None or report.variants_evaluated == 0:
        why = "no ground truth for these scrobbles (only the synthetic world carries one)"
        metadata["evaluation"] = why
        return dg.MaterializeResult(metadata=metadata, check_results=[
            dg.AssetCheckResult(check_name=name, passed=True, description=f"not measured: {why}",
                                metadata={"measured": False}) for name in (TRACKS_F1_FLOOR, FALSE_MERGE_CEILING)])
    tracker = mlflow.tracker()
    run_id = tracker.log_run("resolution_evaluation", f"catalog_{batch}", {"truth": str(truth)}, report.metrics(),
                             json_artifacts={"report.json": report.as_json()}, tags=mlflow_tags(context))
    metadata.update({
        "report": dg.MetadataValue.md(report.markdown()),
        "track_f1": dg.MetadataValue.float(round(report.tracks.f1, 4)),
        "artist_f1": dg.MetadataValue.float(round(report.artists.f1, 4)),
        "hard_negative_false_merge_rate": dg.MetadataValue.float(round(report.hard_negative_false_merge_rate, 4)),
        "variants_evaluated": report.variants_evaluated,
        "mlflow_run_id": run_id, "mlflow_run": dg.MetadataValue.url(tracker.run_url(run_id)),
    })
    f1 = report.tracks.f1
    return dg.MaterializeResult(metadata=metadata, check_results=[
        dg.AssetCheckResult(check_name=TRACKS_F1_FLOOR, passed=f1 >= resolution.tracks_f1_floor,
                            metadata={"measured": True, "tracks_f1": round(f1, 4), "floor": resolution.tracks_f1_floor}),
        _false_merge_result(report.hard_negative_false_merges, report.hard_negative_pairs,
                            resolution.max_false_merge_rate)])


def _false_merge_result(merged: int, pairs: int, ceiling: float) -> dg.AssetCheckResult:
    verdict = rate_at_most(merged, pairs, ceiling)
    metadata = {"measured": True, "false_merge_rate": round(verdict.value, 4),
                "false_merge_rate_lower_bound": round(verdict.bound, 4), "false_merges": merged,
                "hard_negative_pairs": pairs, "ceiling": ceiling}
    if verdict.passed and verdict.beyond_floor:  # above the ceiling, but not beyond what chance gives on so few
        return dg.AssetCheckResult(check_name=FALSE_MERGE_CEILING, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata=metadata, description=f"{merged} of {pairs} pairs merged: above the "
                                   "ceiling, but not significantly (the world may be too small to tell)")
    return dg.AssetCheckResult(check_name=FALSE_MERGE_CEILING, passed=verdict.passed, metadata=metadata)
