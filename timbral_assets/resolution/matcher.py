"""The probabilistic tier: a splink 5 Fellegi-Sunter model over standardised track records, in DuckDB.

u comes from random sampling, m from EM on blocking passes that each leave some comparisons free;
title, artist and album carry term-frequency adjustments. The comparisons cover title, artist, album,
duration difference, release year, the version kind, embedding cosine similarity and, when the records
carry it, listening context (shared users, shared session neighbours, a shared label).

Candidate pairs come from our own blocking (`candidates.py`), which includes the semantic tier's
nearest neighbours, and are registered with splink so it scores exactly those pairs.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

for _name in ("splink", "splink.internals"):
    logging.getLogger(_name).setLevel(logging.WARNING)

import splink.comparison_level_library as cll  # noqa: E402
import splink.comparison_library as cl  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402
from splink.internals.exceptions import EMTrainingException  # noqa: E402

TF_COLUMNS = ["title_key", "artist_key", "album_key"]  # the comparisons with term-frequency adjustments


@dataclass(frozen=True)
class MatcherConfig:
    use_embeddings: bool = True
    use_context: bool = False
    u_max_pairs: float = 2e6
    em_max_pairs: float = 2e6  # EM samples this many blocked pairs at most; common titles block millions
    seed: int = 42
    prior: float | None = None  # probability two random records match; estimated when None


TITLE_LOOSE_M = 2e-4  # titles only loosely alike (JW 0.85-0.95) are siblings ("Let's Follow" / "Let's Forget"), not typos
# Share of true matches whose titles are wholly different. Swapped fields are scored with the fields put
# back (the `swapped` blocking pass), so what is left is small. It must outweigh artist, album and length
# agreeing together: those are not independent given a non-match (one artist's album, similar lengths),
# which the Fellegi-Sunter product assumes. Swept on MusicBrainz-20K and held-out synthetic worlds:
# 1e-5 costs MusicBrainz recall (sources that write other titles), 2e-3 lets one artist's songs merge.
TITLE_DIFFERENT_M = 6e-4
DURATION_DIFFERENT_M = 0.03  # share of true matches more than 30 s apart (radio edits, bad tags)
ALBUM_DIFFERENT_M = 0.05  # one recording on several releases (single, album, compilation); EM sees too few


def _edits_apart(column: str, edits: int, min_length: int, label: str):
    # the length tests come first: they are cheap and rule out most pairs before the edit distance
    return cll.CustomLevel(f"abs(length({column}_l) - length({column}_r)) <= {edits} "
                           f"AND least(length({column}_l), length({column}_r)) >= {min_length} "
                           f"AND damerau_levenshtein({column}_l, {column}_r) <= {edits}", label_for_charts=label)


def _title_comparison():
    return cl.CustomComparison(
        output_column_name="title",
        comparison_levels=[
            cll.NullLevel("title_key"),
            cll.ExactMatchLevel("title_key").configure(tf_adjustment_column="title_key"),
            # typos: one edit ("Hnoey", "Dn't Hold Me") or two in a long title; Jaro-Winkler alone puts
            # short typos beside sibling titles ("Let's Follow" / "Let's Forget")
            _edits_apart("title_key", 1, min_length=5, label="one edit apart"),
            _edits_apart("title_key", 2, min_length=10, label="two edits apart"),
            cll.JaroWinklerLevel("title_key", 0.95),
            cll.ExactMatchLevel("title_sorted"),
            cll.ExactMatchLevel("title_head"),
            cll.JaroWinklerLevel("title_key", 0.85).configure(m_probability=TITLE_LOOSE_M, fix_m_probability=True),
            # Fixed, not learned: EM over album and duration blocks finds "same album, same length" pairs
            # and would learn that a wholly different title is common among matches. It is not.
            cll.ElseLevel().configure(m_probability=TITLE_DIFFERENT_M, fix_m_probability=True),
        ],
    )


def _artist_comparison():
    return cl.CustomComparison(
        output_column_name="artist",
        comparison_levels=[
            cll.NullLevel("artist_key"),
            cll.ExactMatchLevel("artist_key").configure(tf_adjustment_column="artist_key"),
            cll.JaroWinklerLevel("artist_key", 0.92),
            cll.JaroWinklerLevel("artist_key", 0.80),
            cll.ElseLevel(),
        ],
    )


def _numeric_difference(column: str, name: str, thresholds: list[float], else_m: float | None = None):
    levels = [cll.NullLevel(column), cll.ExactMatchLevel(column)]
    levels += [cll.CustomLevel(f"abs({column}_l - {column}_r) <= {t}", label_for_charts=f"{name} within {t}")
               for t in thresholds]
    levels.append(cll.ElseLevel() if else_m is None else cll.ElseLevel().configure(m_probability=else_m,
                                                                                  fix_m_probability=True))
    return cl.CustomComparison(output_column_name=name, comparison_levels=levels)


def comparisons(config: MatcherConfig) -> list:
    out = [
        _title_comparison(),
        _artist_comparison(),
        cl.CustomComparison(output_column_name="album", comparison_levels=[
            cll.NullLevel("album_key"),
            cll.ExactMatchLevel("album_key").configure(tf_adjustment_column="album_key"),
            cll.JaroWinklerLevel("album_key", 0.9),
            cll.ElseLevel().configure(m_probability=ALBUM_DIFFERENT_M, fix_m_probability=True),
        ]),
        _numeric_difference("duration_s", "duration", [3, 10, 30], else_m=DURATION_DIFFERENT_M),
        _numeric_difference("year", "year", [1, 3]),
        cl.ExactMatch("version"),
    ]
    if config.use_embeddings:
        out.append(cl.CosineSimilarityAtThresholds("embedding", [0.95, 0.88, 0.75]))
    if config.use_context:
        out += [cl.ArrayIntersectAtSizes("top_users", [3, 1]),
                cl.ArrayIntersectAtSizes("neighbours", [2, 1]),
                cl.ExactMatch("label_key")]
    return out


def settings(config: MatcherConfig) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(config),
        blocking_rules_to_generate_predictions=[block_on("title_key"), block_on("artist_key", "title_head")],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        probability_two_random_records_match=config.prior or 1e-4,
    )


class TrackMatcher:
    """Trains or loads a splink model on a records table and scores candidate pairs."""

    def __init__(self, records: pa.Table, config: MatcherConfig = MatcherConfig(),
                 model_json: dict | None = None, con: duckdb.DuckDBPyConnection | None = None,
                 term_frequencies: Mapping[str, pa.Table] | None = None):
        """`term_frequencies[column]` (columns `column`, `tf_column`) replaces the frequencies splink would
        compute from `records`: scoring a few records against a large catalog needs the catalog's."""
        self.config = config
        # an in-memory database spills to ./.tmp unless told otherwise
        self.con = con or duckdb.connect(config={"memory_limit": "4GB",
                                                 "temp_directory": str(Path(tempfile.gettempdir()) / "timbral_duckdb")})
        self.con.execute("SET enable_progress_bar = false")
        self.db_api = DuckDBAPI(self.con)
        self.records = self.db_api.register(records)
        self.linker = Linker(self.records, model_json if model_json is not None else settings(config),
                             log_level=None, validate_settings=False)
        for column, table in (term_frequencies or {}).items():
            self.linker.table_management.register_term_frequency_lookup(self.db_api.register(table), column)
        self.trained = model_json is not None

    def train(self) -> None:
        """Estimate the prior, u and m. EM runs on one thread: parallel sums add the pairs in a different
        order on every run, and the last bits of m would differ between two trainings on the same records."""
        threads = self.con.sql("SELECT current_setting('threads')").fetchall()[0][0]
        self.con.execute("SET threads = 1")
        try:
            self._train()
        finally:
            self.con.execute(f"SET threads = {int(threads)}")

    def _train(self) -> None:
        training = self.linker.training
        if self.config.prior is None:
            settings = self.linker._settings_obj
            default_prior = settings._probability_two_random_records_match
            try:
                training.estimate_probability_two_random_records_match(
                    [block_on("title_key", "artist_key")], recall=0.8)
            except ValueError:
                # a handful of records, most of them sharing keys: more exact matches than any recall
                # allows. The default prior stands; such inputs rest on the rules tier
                pass
            if not 0.0 < settings._probability_two_random_records_match < 1.0:
                # no exact pair at all in a handful of records: a prior of 0 has no match weight
                settings._probability_two_random_records_match = default_prior
        training.estimate_u_using_random_sampling(max_pairs=self.config.u_max_pairs, seed=self.config.seed)
        # each EM pass blocks on some fields and estimates m for the others
        settings_obj = self.linker._settings_obj
        for rule in (block_on("title_key"), block_on("artist_key", "album_key")):
            # splink's EM session drops the blocked comparisons from the linker's own settings before it
            # finds out that the rule yields no pairs; without the restore a failed pass loses them for good
            before = settings_obj.core_model_settings.copy()
            try:
                training.estimate_parameters_using_expectation_maximisation(
                    rule, fix_probability_two_random_records_match=True, max_pairs=self.config.em_max_pairs)
            except EMTrainingException:
                settings_obj.core_model_settings = before
                continue  # too few pairs in a small catalog; the other pass and the defaults still stand
        self.trained = True

    def score(self, pairs: pa.Table, detail: bool = False, chunk_pairs: int = 1_000_000) -> pa.Table:
        """Match weight and probability, plus each comparison's level, for (unique_id_l, unique_id_r) pairs.
        `detail` keeps splink's intermediate columns (per-comparison match weights, compared values).
        Pairs are scored in chunks so that memory stays flat however many candidates a window has."""
        if pairs.num_rows == 0:
            return pa.table({"unique_id_l": pa.array([], pa.string()), "unique_id_r": pa.array([], pa.string()),
                             "match_weight": pa.array([], pa.float64()),
                             "match_probability": pa.array([], pa.float64())})
        parts = []
        for offset in range(0, pairs.num_rows, chunk_pairs):
            chunk = pairs.slice(offset, chunk_pairs)
            blocked = pa.table({"match_key": pa.array(["0"] * chunk.num_rows),
                                "join_key_l": chunk["unique_id_l"], "join_key_r": chunk["unique_id_r"]})
            self.linker.table_management.register_blocked_pairs_for_predict(self.db_api.register(blocked))
            predictions = self.linker.inference.predict()
            try:
                relation = predictions.as_duckdbpyrelation()
                if not detail:
                    keep = ["unique_id_l", "unique_id_r", "match_weight", "match_probability",
                            *(c for c in relation.columns if c.startswith("gamma_"))]
                    relation = relation.select(", ".join(keep))
                parts.append(relation.to_arrow_table())
            finally:
                predictions.drop_table_from_database_and_remove_from_cache()
        return pa.concat_tables(parts)

    def model_json(self) -> dict:
        return self.linker.misc.save_model_to_json()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_json(), indent=1))

    def m_u_table(self) -> list[dict]:
        """One row per comparison level: m, u and the Bayes factor as match weight, for reports and MLflow."""
        rows = []
        for comparison in self.linker._settings_obj.comparisons:
            for level in comparison.comparison_levels:
                if level.is_null_level:
                    continue
                m, u = level.m_probability, level.u_probability
                weight = math.log2(m / u) if m and u else None
                rows.append({"comparison": comparison.output_column_name, "level": level.label_for_charts,
                             "m": m, "u": u, "match_weight": weight})
        return rows


def match_weight_figure(m_u_rows: list[dict]):
    """The match weight of every comparison level as horizontal bars (splink's match-weight chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in m_u_rows if r["match_weight"] is not None]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1), dpi=90)
    labels = [f"{r['comparison']}: {r['level']}"[:60] for r in rows]
    weights = [r["match_weight"] for r in rows]
    ax.barh(range(len(rows)), weights, color=["#4c72b0" if w >= 0 else "#dd8452" for w in weights])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("match weight (log2 Bayes factor)")
    fig.tight_layout()
    return fig
