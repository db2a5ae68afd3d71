"""Tag drift: how far the catalog's tag distribution has moved since the mood model was trained.

A distribution is each tag's share of the summed tag weights (marts.track_tags), kept to the top `k` tags
with the rest pooled as OTHER, so it stays small enough to store in an asset's metadata and compare in a
sensor tick. The distance is the Jensen–Shannon distance (the square root of the JS divergence, base 2):
symmetric, defined when a tag is missing on one side, and bounded in [0, 1], so "5%" reads as 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

OTHER = "(other tags)"
TOP_K = 200
DRIFT_THRESHOLD = 0.05


def top_k_shares(weights: Mapping[str, float], k: int = TOP_K) -> dict[str, float]:
    """Each of the `k` heaviest tags' share of all weight (ties by name), the rest pooled as OTHER."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0:
        return {}
    ranked = sorted(((t, w) for t, w in weights.items() if w > 0), key=lambda tw: (-tw[1], tw[0]))
    shares = {t: w / total for t, w in ranked[:k]}
    rest = sum(w for _, w in ranked[k:]) / total
    if rest > 0:
        shares[OTHER] = rest
    return shares


def js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen–Shannon distance (base 2) between two share maps; tags missing on a side have share 0. Each
    side is renormalised first, so top-k maps compare fairly. An empty side is at distance 1 from any other
    (0 from another empty one)."""
    p_total, q_total = sum(p.values()), sum(q.values())
    if p_total <= 0 or q_total <= 0:
        return 0.0 if p_total <= 0 and q_total <= 0 else 1.0
    divergence = 0.0
    for tag in set(p) | set(q):
        a, b = p.get(tag, 0.0) / p_total, q.get(tag, 0.0) / q_total
        m = (a + b) / 2
        if a > 0:
            divergence += 0.5 * a * math.log2(a / m)
        if b > 0:
            divergence += 0.5 * b * math.log2(b / m)
    return math.sqrt(max(divergence, 0.0))
