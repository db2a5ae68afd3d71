"""Checks judged on a sample take its size into account (timbral_assets/sample_checks.py): a small world's
few hard negatives or users do not fail a check on noise, and a check still fails where the evidence is clear.
That the 5k and 20k worlds complete with their checks passing is tested beside the tests that share those
worlds' runs: test_reliability.py (5k) and test_cli.py (20k)."""

from __future__ import annotations

import numpy as np

from timbral_assets.sample_checks import (
    grouped_bootstrap_ratio,
    mean_upper_bound,
    paired_not_worse,
    rate_at_most,
    rate_lower_bound,
)


def test_a_rate_fails_only_on_evidence():
    # 2 of 40 is 5%, five times a 1% ceiling, yet a 1% resolver does that one time in five
    assert rate_at_most(2, 40, 0.01).passed and rate_at_most(2, 40, 0.01).beyond_floor
    # the same 5% on 1,000 pairs is evidence
    assert not rate_at_most(50, 1000, 0.01).passed
    # under the ceiling passes, with no warning
    verdict = rate_at_most(5, 1000, 0.01)
    assert verdict.passed and not verdict.beyond_floor and verdict.bound < verdict.value
    assert rate_lower_bound(0, 100) == 0.0 and rate_lower_bound(100, 100) > 0.97
    # the bound is the Clopper-Pearson one: P(X >= k | n, bound) = 5%
    from math import comb

    bound = rate_lower_bound(3, 40)
    tail = 1 - sum(comb(40, i) * bound ** i * (1 - bound) ** (40 - i) for i in range(3))
    assert abs(tail - 0.05) < 1e-6


def test_a_paired_mean_fails_only_when_clearly_below():
    rng = np.random.default_rng(0)
    als = rng.uniform(0, 1, 30)
    slightly_worse = als - 0.01 + rng.normal(0, 0.1, 30)  # 30 users cannot tell 0.01 apart
    assert paired_not_worse(slightly_worse, als).passed
    clearly_worse = als - 0.2 + rng.normal(0, 0.05, 300)[:30]
    assert not paired_not_worse(clearly_worse, als).passed
    assert mean_upper_bound([1.0]) == 1.0 and mean_upper_bound([1.0, 1.0, 1.0]) == 1.0


def test_a_ratio_bootstrap_keeps_groups_whole_and_is_seeded():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), 10).astype(str)
    truth = rng.normal(size=400)
    model = truth + rng.normal(0, 1.0, 400)
    baseline = truth + rng.normal(0, 1.0, 400)

    def ratio(rows):
        return float(np.sqrt(np.mean((truth[rows] - model[rows]) ** 2) / np.mean((truth[rows] - baseline[rows]) ** 2)))

    verdict = grouped_bootstrap_ratio(ratio, groups, limit=1.02)
    assert verdict.passed and verdict.sample == 40 and verdict.bound <= verdict.value
    assert grouped_bootstrap_ratio(ratio, groups, limit=1.02) == verdict  # the same resamples every time
    far_worse = truth + rng.normal(0, 2.0, 400)
    assert not grouped_bootstrap_ratio(
        lambda rows: float(np.sqrt(np.mean((truth[rows] - far_worse[rows]) ** 2)
                                   / np.mean((truth[rows] - baseline[rows]) ** 2))), groups, limit=1.02).passed
