"""The single models the hybrid fuses. Each learns from a training play matrix (users × items) and scores every
item for a batch of its users; `top_k` then ranks and leaves out the training items.

popularity  listeners per item (log)
item_knn    cosine item-item neighbours over log-confidence
rp3beta     three-step random walk user → item → user → item, divided by popularity^beta
ease        closed-form item-item regression (Steck 2019), over the items with enough listeners
als         implicit's alternating least squares on log(1 + plays) confidence
tag_content a TF-IDF tag profile of each user's items against each item's tags
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..threads import cpu_threads
from .interactions import confidence


def _row_normalize(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    return sp.diags(np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0)) @ m


def _unit_sparse_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Each row scaled to unit L2 norm (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1), 0)) @ m).tocsr()


def keep_top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The k largest entries of each row (a neighbour list); the rest dropped."""
    m = m.tocsr()
    m.sort_indices()
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        start, end = m.indptr[r], m.indptr[r + 1]
        if end == start:
            continue
        data = m.data[start:end]
        take = np.argpartition(-data, k - 1)[:k] if end - start > k else np.arange(end - start)
        rows.append(np.full(len(take), r))
        cols.append(m.indices[start:end][take])
        vals.append(data[take])
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape,
                         dtype=np.float32)


def item_item_top_k(left: sp.csr_matrix, right: sp.csr_matrix, k: int, scale_block=None,
                    block_rows: int | None = None) -> sp.csr_matrix:
    """The k largest entries per row of left @ right (items × items, diagonal left out), computed a block of rows
    at a time so that the full product never sits in memory. `scale_block(block, first_row)` may rescale each
    block before pruning."""
    left, right = left.tocsr(), right.tocsr()
    n = left.shape[0]
    if block_rows is None:  # about 50M products per block
        work = max(1, int(np.diff(left.indptr).mean() * max(np.diff(right.indptr).mean(), 1)))
        block_rows = int(min(n, max(256, 50_000_000 // work)))
    parts = []
    for start in range(0, n, block_rows):
        block = (left[start:start + block_rows] @ right).tocsr().astype(np.float32)
        if scale_block is not None:
            block = scale_block(block, start).tocsr()
        rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        block.data[block.indices == rows + start] = 0  # no item is its own neighbour
        block.eliminate_zeros()
        parts.append(keep_top_k_per_row(block, k))
    return sp.vstack(parts).tocsr() if parts else sp.csr_matrix((n, right.shape[1]), dtype=np.float32)


class Recommender:
    name = "model"

    def fit(self, train: sp.csr_matrix) -> Recommender:
        raise NotImplementedError

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) scores for rows of the training matrix; higher is better."""
        raise NotImplementedError


class Popularity(Recommender):
    name = "popularity"

    def fit(self, train):
        self.popularity = np.log1p(np.asarray((train > 0).sum(axis=0)).ravel()).astype(np.float32)
        return self

    def scores(self, users):
        return np.tile(self.popularity, (len(users), 1))


@dataclass
class ItemKNN(Recommender):
    neighbours: int = 100
    shrink: float = 10.0
    max_user_items: int = 500  # a heavy listener's most-played items shape the neighbours; all of them score
    name = "item_knn"

    def fit(self, train):
        self.user_items = confidence(train).tocsr()
        x = keep_top_k_per_row(self.user_items, self.max_user_items).T.tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel()).astype(np.float32)

        def cosine(block, first):
            coo = block.tocoo()
            coo.data = coo.data / (norms[coo.row + first] * norms[coo.col] + self.shrink)
            return coo

        self.similarity = item_item_top_k(x, x.T.tocsr(), self.neighbours, cosine)
        return self

    def scores(self, users):
        return np.asarray((self.user_items[users] @ self.similarity).todense(), dtype=np.float32)


@dataclass
class RP3beta(Recommender):
    alpha: float = 1.0
    beta: float = 0.5
    neighbours: int = 200
    max_user_items: int = 500  # as ItemKNN: the walk goes through each user's most-played items
    name = "rp3beta"

    def fit(self, train):
        self.user_items = _row_normalize((train > 0).astype(np.float32).tocsr()).tocsr()
        binary = (keep_top_k_per_row(train.tocsr(), self.max_user_items) > 0).astype(np.float32).tocsr()
        p_ui = _row_normalize(binary).tocsr()
        p_iu = _row_normalize(binary.T.tocsr()).tocsr()
        if self.alpha != 1.0:
            p_ui.data **= self.alpha
            p_iu.data **= self.alpha
        popularity = np.asarray(binary.sum(axis=0)).ravel()
        penalty = sp.diags(np.power(np.maximum(popularity, 1.0), -self.beta).astype(np.float32))
        walk = item_item_top_k(p_iu, p_ui, self.neighbours, lambda block, _: block @ penalty)
        self.similarity = _row_normalize(walk).tocsr()
        return self

    def scores(self, users):
        return np.asarray((self.user_items[users] @ self.similarity).todense(), dtype=np.float32)


@dataclass
class EASE(Recommender):
    """B = I − P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹. The inverse is dense, so only items with at least
    `min_listeners` listeners (capped at `max_items`, the most listened first) take part; the rest score 0."""

    l2: float = 200.0
    min_listeners: int = 2
    max_items: int = 12_000
    name = "ease"

    def fit(self, train):
        self.n_items = train.shape[1]
        x = confidence(train)
        listeners = np.asarray((train > 0).sum(axis=0)).ravel()
        eligible = np.flatnonzero(listeners >= self.min_listeners)
        if len(eligible) > self.max_items:
            eligible = eligible[np.argsort(-listeners[eligible], kind="stable")[:self.max_items]]
        self.items = np.sort(eligible)
        sub = x[:, self.items].astype(np.float64)
        gram = np.asarray((sub.T @ sub).todense())
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        b[np.diag_indices_from(b)] = 0.0
        self.weights = b.astype(np.float32)
        self.user_items = sub.astype(np.float32).tocsr()
        return self

    def scores(self, users):
        out = np.zeros((len(users), self.n_items), dtype=np.float32)
        out[:, self.items] = self.user_items[users] @ self.weights
        return out


@dataclass
class ALS(Recommender):
    factors: int = 64
    regularization: float = 0.01
    alpha: float = 1.0
    iterations: int = 15
    seed: int = 0
    threads: int = 0
    name = "als"

    def fit(self, train):
        self.model = fit_implicit_als(confidence(train), self.factors, self.regularization, self.alpha,
                                      self.iterations, self.seed, self.threads)
        self.user_factors = np.asarray(self.model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(self.model.item_factors, dtype=np.float32)
        return self

    def scores(self, users):
        return self.user_factors[users] @ self.item_factors.T


@dataclass
class TagContent(Recommender):
    """Items described by tags (an items × tags count matrix in the training columns' order); each user is the
    play-weighted sum of their items' TF-IDF rows, scored by cosine against every item."""

    item_tags: sp.csr_matrix | None = None
    name = "tag_content"

    def fit(self, train):
        if self.item_tags is None:
            raise ValueError("TagContent needs item_tags")
        tags = self.item_tags.tocsr().astype(np.float32)
        tags.data = np.log1p(tags.data)
        document_frequency = np.asarray((tags > 0).sum(axis=0)).ravel()
        idf = np.log((tags.shape[0] + 1) / (document_frequency + 1)) + 1.0
        tfidf = (tags @ sp.diags(idf.astype(np.float32))).tocsr()
        self.item_vectors = _unit_sparse_rows(tfidf)
        self.user_items = confidence(train)
        return self

    def scores(self, users):
        profile = (self.user_items[users] @ self.item_vectors).tocsr()
        profile = _unit_sparse_rows(profile)
        return np.asarray((profile @ self.item_vectors.T).todense(), dtype=np.float32)


def fit_implicit_als(user_items: sp.csr_matrix, factors: int, regularization: float, alpha: float, iterations: int,
                     seed: int, threads: int = 0, callback=None):
    """implicit's CPU ALS on a confidence matrix, with BLAS held to one thread while it runs (implicit has its
    own threads; BLAS threads only contend with them)."""
    import warnings

    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(1, "blas"):
        warnings.filterwarnings("ignore", message="OpenBLAS is configured")
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                        iterations=iterations, random_state=seed,
                                        num_threads=threads or cpu_threads(),
                                        calculate_training_loss=False)
        model.fit(user_items.astype(np.float32), show_progress=False, callback=callback)
    return model


def top_k(scores: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """Each row's k best items, best first, leaving out the row's `seen` items (nonzeros of the same rows of the
    training matrix). Rows with fewer than k unseen items are padded with -1."""
    scores = scores.copy()
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    scores[rows, seen.indices] = -np.inf
    k_eff = min(k, scores.shape[1])
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1)
    best[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
    if k_eff < k:
        best = np.hstack([best, np.full((best.shape[0], k - k_eff), -1)])
    return best


@dataclass
class ItemSimilarity(Recommender):
    """Scores from a given item-item similarity matrix (session co-play, say): the user's log-confidence
    history times the matrix."""

    similarity: sp.csr_matrix | None = None
    name: str = "coplay"

    def fit(self, train):
        if self.similarity is None:
            raise ValueError("ItemSimilarity needs a similarity matrix")
        self.user_items = confidence(train)
        return self

    def scores(self, users):
        return np.asarray((self.user_items[users] @ self.similarity).todense(), dtype=np.float32)


@dataclass
class VectorContent(Recommender):
    """Cosine between each item's vector and the user's vector, the play-weighted (log confidence) mean of
    their items' unit vectors. Items without a vector (a zero row) score 0."""

    item_vectors: np.ndarray | None = None
    name: str = "content"

    def fit(self, train):
        if self.item_vectors is None:
            raise ValueError("VectorContent needs item vectors")
        self.unit = unit_rows(self.item_vectors)
        self.user_items = confidence(train)
        return self

    def user_vectors(self, users) -> np.ndarray:
        return unit_rows(np.asarray(self.user_items[users] @ self.unit, dtype=np.float32))

    def scores(self, users):
        return self.user_vectors(users) @ self.unit.T


def unit_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


@dataclass
class FactorScores(Recommender):
    """Scores from already-trained factors (a registered ALS version), user rows aligned with the matrix."""

    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    name: str = "als"

    def fit(self, train):
        return self

    def scores(self, users):
        return self.user_factors[users] @ self.item_factors.T
