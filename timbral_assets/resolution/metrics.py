"""Entity-resolution metrics: pairwise precision / recall / F1 and B-cubed over clusters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": round(v, 4) for k, v in asdict(self).items()}


def _scores(tp: float, predicted: float, actual: float) -> Scores:
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1)


def _pairs_within(assignment: Mapping[str, object]) -> int:
    sizes = Counter(assignment.values())
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise_scores(predicted: Mapping[str, object], truth: Mapping[str, object]) -> Scores:
    """Pairs of records put together, against pairs that belong together; records missing from
    `predicted` count as singletons."""
    predicted = {r: predicted.get(r, ("singleton", r)) for r in truth}
    joint = Counter((predicted[r], truth[r]) for r in truth)
    tp = sum(n * (n - 1) // 2 for n in joint.values())
    return _scores(tp, _pairs_within(predicted), _pairs_within(truth))


def bcubed_scores(predicted: Mapping[str, object], truth: Mapping[str, object]) -> Scores:
    predicted = {r: predicted.get(r, ("singleton", r)) for r in truth}
    joint = Counter((predicted[r], truth[r]) for r in truth)
    pred_size = Counter(predicted.values())
    true_size = Counter(truth.values())
    precision = recall = 0.0
    for r in truth:
        overlap = joint[(predicted[r], truth[r])]
        precision += overlap / pred_size[predicted[r]]
        recall += overlap / true_size[truth[r]]
    n = len(truth) or 1
    p, rec = precision / n, recall / n
    return Scores(p, rec, 2 * p * rec / (p + rec) if p + rec else 0.0)


def pair_label_scores(predicted: Iterable[int], actual: Iterable[int]) -> Scores:
    """Precision / recall / F1 of 0/1 match decisions on labelled pairs."""
    tp = fp = fn = 0
    for p, a in zip(predicted, actual, strict=True):
        tp += p and a
        fp += p and not a
        fn += a and not p
    return _scores(tp, tp + fp, tp + fn)
