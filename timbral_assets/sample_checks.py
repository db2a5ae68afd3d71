"""Quality floors judged on a sample, with the sample's size taken into account.

A blocking check that compares a measured rate or mean with a floor fails a small world on noise alone: 2 false
merges among 40 hard-negative pairs is 5%, yet a resolver whose true rate is 1% makes 2 or more of 40 one time
in five. So a check blocks only on evidence: the figure must be beyond the floor at one-sided 95% confidence.
On a large sample the bound closes in on the figure itself, and the check is as strict as a plain comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: the figure, its bound on the side that could fail, and whether that bound clears the
    floor. `beyond_floor` says the figure itself is on the wrong side (a warning when not significant)."""

    passed: bool
    value: float
    bound: float
    sample: int
    beyond_floor: bool

    def metadata(self, name: str) -> dict:
        return {name: round(self.value, 4), f"{name}_bound": round(self.bound, 4), "sample": self.sample,
                "confidence": CONFIDENCE}


def rate_lower_bound(events: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """The one-sided Clopper-Pearson lower bound of a binomial rate: the smallest true rate under which seeing
    `events` or more of `trials` has probability at least 1 - confidence."""
    from scipy.special import betaincinv  # the beta quantile, without importing scipy.stats (a second)

    if trials <= 0 or events <= 0:
        return 0.0
    return float(betaincinv(events, trials - events + 1, 1 - confidence))


def rate_at_most(events: int, trials: int, ceiling: float, confidence: float = CONFIDENCE) -> Verdict:
    """Passes unless the rate is above `ceiling` with the confidence asked."""
    rate = events / trials if trials else 0.0
    bound = rate_lower_bound(events, trials, confidence)
    return Verdict(bound <= ceiling, rate, bound, trials, rate > ceiling)


def mean_upper_bound(values: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """The one-sided upper confidence bound of a mean (Student's t); the mean itself for fewer than two values."""
    from scipy.special import stdtrit  # Student's t quantile

    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else 0.0
    return float(x.mean() + stdtrit(len(x) - 1, confidence) * x.std(ddof=1) / np.sqrt(len(x)))


def paired_not_worse(better: Sequence[float], worse: Sequence[float], confidence: float = CONFIDENCE) -> Verdict:
    """Per-unit scores of two systems on the same units (users, say): passes unless `better` is below `worse`
    on average with the confidence asked (the upper bound of the mean difference under zero)."""
    differences = np.asarray(better, dtype=float) - np.asarray(worse, dtype=float)
    mean = float(differences.mean()) if len(differences) else 0.0
    bound = mean_upper_bound(differences, confidence)
    return Verdict(bound >= 0.0, mean, bound, len(differences), mean < 0.0)


def grouped_bootstrap_ratio(statistic: Callable[[np.ndarray], float], groups: Sequence, limit: float,
                            resamples: int = 400, seed: int = 0, confidence: float = CONFIDENCE) -> Verdict:
    """`statistic(rows)` is a ratio that must stay at or under `limit` (a model's RMSE over a baseline's, say).
    Rows are resampled by whole group (artists: their tracks' errors go together), and the check passes unless
    the ratio's lower bound over the resamples is above the limit."""
    unique, inverse = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(inverse, minlength=len(unique)))[:-1])
    value = statistic(np.arange(len(inverse)))
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(resamples):
        picked = rng.integers(0, len(members), len(members))
        ratios.append(statistic(np.concatenate([members[g] for g in picked])))
    bound = float(np.quantile(ratios, 1 - confidence)) if ratios else value
    return Verdict(bound <= limit, value, bound, len(members), value > limit)
