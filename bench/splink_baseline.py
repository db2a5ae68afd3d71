"""The plain splink baseline for MusicBrainz-20K: what a splink user gets out of the box.

No standardisation beyond lower case and trimmed whitespace (durations parsed to seconds, since splink's
numeric comparisons need a number), splink's library comparisons with their default thresholds, simple
blocking rules, u by random sampling, m by EM, and splink's own connected-components clustering.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from timbral_assets.resolution.records import parse_duration_s

logging.getLogger("splink").setLevel(logging.ERROR)


def _clean(value: str) -> str | None:
    value = " ".join(value.lower().split())
    return value or None


def read_raw(path: Path) -> pa.Table:
    columns: dict[str, list] = {"unique_id": [], "title": [], "artist": [], "album": [], "length": [], "year": []}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            columns["unique_id"].append(row["TID"])
            for name in ("title", "artist", "album", "year"):
                columns[name].append(_clean(row[name]))
            columns["length"].append(parse_duration_s(row["length"]))
    return pa.table({**{k: v for k, v in columns.items() if k != "length"},
                     "length": pa.array(columns["length"], pa.float64())})


def plain_splink_clusters(path: Path, thresholds: tuple[float, ...] = (0.5, 0.9)) -> dict[float, dict[str, str]]:
    """threshold -> record id -> cluster id, from splink's defaults end to end."""
    db_api = DuckDBAPI(duckdb.connect())
    records = db_api.register(read_raw(path))
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.JaroWinklerAtThresholds("title"), cl.JaroWinklerAtThresholds("artist"),
                     cl.JaroWinklerAtThresholds("album"),
                     # splink 5's library has no numeric-difference comparison; its level library does
                     cl.CustomComparison(output_column_name="length", comparison_levels=[
                         cll.NullLevel("length"), cll.AbsoluteDifferenceLevel("length", 2),
                         cll.AbsoluteDifferenceLevel("length", 10), cll.ElseLevel()]),
                     cl.ExactMatch("year")],
        blocking_rules_to_generate_predictions=[block_on("title"), block_on("artist"), block_on("album"),
                                                block_on("substr(title, 1, 4)"), block_on("length")],
    )
    linker = Linker(records, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match([block_on("title", "artist")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("title"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("artist"))
    predictions = linker.inference.predict(threshold_match_probability=min(thresholds))
    out = {}
    for threshold in thresholds:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
        rows = clusters.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall()
        out[threshold] = {str(u): str(c) for u, c in rows}
    return out
