"""`timbral recommend-batch`: train the hybrid on a user-item-weight file and write top-k lists for given users.

TRAIN.tsv  user_id, item_id, weight   (a header; weights are play counts)
TAGS.tsv   item_id, tag, count        (optional: the tag content model)
USERS.txt  one user id per line       (blank lines skipped)
RECS.tsv   user_id, item_id, rank, score, with every training item of the user left out

Unknown users get the most-listened items (the popularity fallback). Bad rows are reported by file, line and
field and skipped; the rest of the file is used."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..sources.errors import FileFormatError, RowIssue
from .hybrid import DEFAULT_WEIGHTS, TUNED_ALS, HybridRecommender, RankerParams
from .interactions import Interactions
from .models import ALS, EASE, ItemKNN, Popularity, RP3beta, TagContent


def _rows(path: Path, columns: tuple[str, ...]):
    """(line number, row dict) for a tab-separated file whose header names `columns` (any order, extra ignored)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip().lower() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise FileFormatError(str(path), 1, missing[0], f"missing column (the header has {', '.join(header)})")
        where = [header.index(c) for c in columns]
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            yield line, {c: (row[i].strip() if i < len(row) else "") for c, i in zip(columns, where, strict=True)}


def _number(path: Path, line: int, field: str, text: str, issues: list[RowIssue]) -> float | None:
    try:
        value = float(text)
    except ValueError:
        issues.append(RowIssue(str(path), line, field, f"{text!r} is not a number"))
        return None
    if not math.isfinite(value) or value <= 0:
        issues.append(RowIssue(str(path), line, field, f"{text!r} is not a positive number"))
        return None
    return value


def read_train(path: Path) -> tuple[Interactions, list[RowIssue]]:
    users, items, weights, issues = [], [], [], []
    for line, row in _rows(path, ("user_id", "item_id", "weight")):
        if not row["user_id"] or not row["item_id"]:
            field = "user_id" if not row["user_id"] else "item_id"
            issues.append(RowIssue(str(path), line, field, "empty"))
            continue
        weight = _number(path, line, "weight", row["weight"], issues)
        if weight is not None:
            users.append(row["user_id"])
            items.append(row["item_id"])
            weights.append(weight)
    if not users:
        raise FileFormatError(str(path), 1, "weight", "no usable interaction rows")
    return Interactions.from_triples(np.array(users, dtype=object), np.array(items, dtype=object), weights), issues


def read_item_tags(path: Path, item_ids: np.ndarray) -> tuple[sp.csr_matrix, list[RowIssue]]:
    """An items × tags count matrix in `item_ids`' order; tags of items not in training are ignored."""
    position = {item: i for i, item in enumerate(item_ids.tolist())}
    rows, cols, counts, tags, issues = [], [], [], {}, []
    for line, row in _rows(path, ("item_id", "tag", "count")):
        count = _number(path, line, "count", row["count"], issues)
        if count is None or row["item_id"] not in position or not row["tag"]:
            continue
        rows.append(position[row["item_id"]])
        cols.append(tags.setdefault(row["tag"].lower(), len(tags)))
        counts.append(count)
    matrix = sp.csr_matrix((counts, (rows, cols)), shape=(len(item_ids), max(len(tags), 1)), dtype=np.float64)
    matrix.sum_duplicates()
    return matrix, issues


def read_users(path: Path) -> list[str]:
    """User ids in file order, blank lines skipped, repeats kept once (their first place)."""
    seen, users = set(), []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        user = line.strip()
        if user and user.lower() != "user_id" and user not in seen:
            seen.add(user)
            users.append(user)
    return users


def default_components(item_tags: sp.csr_matrix | None) -> dict[str, Callable[[], object]]:
    """The batch hybrid's models with the project's tuned settings (bench/recommend.py)."""
    components = {"als": lambda: ALS(**TUNED_ALS),
                  "ease": lambda: EASE(l2=4000.0), "rp3beta": lambda: RP3beta(alpha=0.8, beta=0.3),
                  "item_knn": lambda: ItemKNN(neighbours=100), "popularity": Popularity}
    if item_tags is not None and item_tags.nnz:
        components["tag_content"] = lambda: TagContent(item_tags=item_tags)
    return components


@dataclass
class BatchResult:
    rows: list[tuple[str, str, int, float]]
    known_users: int
    unknown_users: int
    users_with_nothing_left: int


def recommend_batch(data: Interactions, users: list[str], k: int, item_tags: sp.csr_matrix | None = None,
                    use_ranker: bool = False, progress: Callable[[str], None] = lambda _: None) -> BatchResult:
    components = default_components(item_tags)
    weights = {n: w for n, w in DEFAULT_WEIGHTS.items() if n in components}
    hybrid = HybridRecommender(components, weights, RankerParams() if use_ranker else None)
    hybrid.fit(data.plays, progress)
    index = {u: i for i, u in enumerate(data.user_ids.tolist())}
    known = [u for u in users if u in index]
    items, scores = hybrid.recommend(np.array([index[u] for u in known], dtype=np.int64), k)
    by_user = {u: (items[j], scores[j]) for j, u in enumerate(known)}
    listeners = data.item_popularity()
    popular = np.argsort(-listeners, kind="stable")[:k]
    rows, empty = [], 0
    for user in users:
        if user in by_user:
            user_items, user_scores = by_user[user]
            listed = [(int(i), float(s)) for i, s in zip(user_items, user_scores, strict=True) if i >= 0]
        else:  # no history here: the most-listened items, scored by their listener share
            listed = [(int(i), float(listeners[i] / data.n_users)) for i in popular]
        empty += not listed
        rows.extend((user, str(data.item_ids[i]), rank, round(score, 6))
                    for rank, (i, score) in enumerate(listed, start=1))
    return BatchResult(rows, len(known), len(users) - len(known), empty)


def write_recs(path: Path, rows: list[tuple[str, str, int, float]]) -> None:
    tmp = Path(path).with_name(Path(path).name + ".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["user_id", "item_id", "rank", "score"])
        writer.writerows(rows)
    tmp.replace(path)
