"""`timbral match-pairs`: score given record pairs with the same splink model code the assets use.

The model is trained, unsupervised, on the records of the input itself (u by random sampling, m by EM),
or loaded from a saved model JSON. Each pair is scored exactly as given: no blocking.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..sources.delimited import DelimitedRows
from ..sources.errors import RowIssue
from .matcher import MatcherConfig, TrackMatcher
from .pipeline import records_table
from .records import standardise

PAIR_FIELDS = ("title", "artist", "album", "duration_s", "genre", "released", "label")
PAIR_COLUMNS = tuple(f"{side}_{f}" for side in ("left", "right") for f in PAIR_FIELDS)


def read_pairs(path: Path) -> tuple[list[str], list[dict[str, str]], list[RowIssue]]:
    reader = DelimitedRows(str(path), columns={c: (c,) for c in PAIR_COLUMNS}, required=frozenset(PAIR_COLUMNS))
    rows = []
    for _, fields in reader:
        rows.append({name: (fields[i] if i < len(fields) else "") for i, name in enumerate(reader.header or [])})
    return list(reader.header or []), rows, reader.issues


def score_pairs(rows: list[dict[str, str]], model_json: dict | None = None, threshold: float = 0.5) -> list[float]:
    left = [standardise(f"L{i}", r["left_title"], r["left_artist"], r["left_album"], r["left_duration_s"],
                        r["left_released"]) for i, r in enumerate(rows)]
    right = [standardise(f"R{i}", r["right_title"], r["right_artist"], r["right_album"], r["right_duration_s"],
                         r["right_released"]) for i, r in enumerate(rows)]
    if not rows:
        return []
    import pyarrow as pa

    config = MatcherConfig(use_embeddings=False, u_max_pairs=min(1e6, max(1e4, len(rows) ** 2)), prior=None)
    matcher = TrackMatcher(records_table(left + right, None), config, model_json=model_json)
    if not matcher.trained:
        matcher.train()
    scored = matcher.score(pa.table({"unique_id_l": [f"L{i}" for i in range(len(rows))],
                                     "unique_id_r": [f"R{i}" for i in range(len(rows))]}))
    by_pair = {}
    for a, b, p in zip(scored["unique_id_l"].to_pylist(), scored["unique_id_r"].to_pylist(),
                       scored["match_probability"].to_pylist(), strict=True):
        by_pair[(a, b) if a.startswith("L") else (b, a)] = p
    return [by_pair.get((f"L{i}", f"R{i}"), 0.0) for i in range(len(rows))]


def write_pairs(path: Path, header: list[str], rows: list[dict[str, str]], probabilities: list[float],
                threshold: float = 0.5) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "match_probability", "is_match"])
        for row, p in zip(rows, probabilities, strict=True):
            writer.writerow([*(row.get(h, "") for h in header), f"{p:.6f}", int(p >= threshold)])
