"""The user × item play matrix, its confidence weights and the seeded per-user hold-out split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """Plays per (user, item) as a CSR matrix whose rows are `user_ids` and columns `item_ids` (both sorted)."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    plays: sp.csr_matrix

    @classmethod
    def from_triples(cls, users: Sequence, items: Sequence, weights: Sequence[float],
                     item_ids: Sequence | None = None) -> Interactions:
        """Repeated (user, item) pairs add up. `item_ids` widens the columns to a catalog beyond the played."""
        users, items = np.asarray(users), np.asarray(items)
        weights = np.asarray(weights, dtype=np.float64)
        user_ids, rows = np.unique(users, return_inverse=True)
        catalog = np.unique(np.concatenate([items, np.asarray(item_ids)])) if item_ids is not None else np.unique(items)
        cols = np.searchsorted(catalog, items)
        plays = sp.csr_matrix((weights, (rows, cols)), shape=(len(user_ids), len(catalog)), dtype=np.float64)
        plays.sum_duplicates()
        plays.eliminate_zeros()
        return cls(user_ids, catalog, plays)

    @property
    def n_users(self) -> int:
        return self.plays.shape[0]

    @property
    def n_items(self) -> int:
        return self.plays.shape[1]

    def item_popularity(self) -> np.ndarray:
        """Listeners per item."""
        return np.asarray((self.plays > 0).sum(axis=0)).ravel()


def confidence(plays: sp.csr_matrix) -> sp.csr_matrix:
    """log(1 + plays): a user who played a track 500 times likes it more than one who played it 5 times, but
    not a hundred times more."""
    out = plays.astype(np.float32, copy=True)
    out.data = np.log1p(out.data)
    return out


def decayed(plays: sp.csr_matrix, age_days: sp.csr_matrix | None, half_life_days: float | None) -> sp.csr_matrix:
    """Plays weighted by 0.5 ** (age / half-life), with `age_days` aligned to `plays`' nonzeros."""
    if not half_life_days or age_days is None:
        return plays
    out = plays.astype(np.float64, copy=True)
    out.data = out.data * np.power(0.5, age_days.data / half_life_days)
    return out


def split_per_user(plays: sp.csr_matrix, test_share: float = 0.2, seed: int = 0,
                   min_items: int = 2) -> tuple[sp.csr_matrix, list[set[int]]]:
    """Each user with at least `min_items` items gives a seeded `test_share` of them (at least one) to the test
    side; the rest stay in training. Returns the training matrix and the held-out item sets."""
    rng = np.random.default_rng(seed)
    plays = plays.tocsr()
    keep = np.ones(plays.nnz, dtype=bool)
    held: list[set[int]] = []
    for u in range(plays.shape[0]):
        start, end = plays.indptr[u], plays.indptr[u + 1]
        n = end - start
        if n < min_items:
            held.append(set())
            continue
        n_test = max(1, int(round(n * test_share)))
        chosen = start + rng.choice(n, size=n_test, replace=False)
        keep[chosen] = False
        held.append(set(plays.indices[chosen].tolist()))
    coo = plays.tocoo()
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=plays.shape)
    return train, held
