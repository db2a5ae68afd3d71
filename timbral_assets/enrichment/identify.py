"""Unknown-artist identification ("ID - ID") from listening context, by a Fellegi–Sunter model trained with EM.

Each unknown play sits in a context: a DJ set's tracklist, or a listener's session (plays with gaps under 30
minutes). Its candidates are the artists of that context, the context's owner when the owner is an artist
(a DJ playing their own unreleased track) and, when the play shows a label, the artists of that label the
owner plays. Every (unknown, candidate) pair gets a comparison vector of discrete levels:

    adjacent    how many of the two neighbouring plays are by the candidate (0, 1, 2)
    in_context  other plays by the candidate in the same set or session (0, 1, 2+)
    label       the play's label against the candidate's known labels (differs, unknown, same)
    owner       the owner's relation to the candidate: plays them elsewhere never, < 2%, < 8%, more,
                or is the candidate (one feature, since a DJ always plays themselves a lot)

As in Fellegi–Sunter, each level has a probability m under "this candidate is the artist" and u under "it is
not", and the levels are independent given the class. Unlike record linkage, at most one candidate of an
unknown play is its artist, so the posterior is taken over the hypotheses "candidate i" and "none of them":

    P(i) = (1 - π0)/n · BF_i / (π0 + (1 - π0)/n · Σ_j BF_j),   BF = Π m / u

EM on unknown plays alone latches onto whatever explains them most simply (every ID is the DJ's), so the
model is anchored by self-supervision: known plays of the same contexts, masked one at a time, are pairs
whose answer is known. Their level counts are the prior (Dirichlet pseudo-counts, as many as there are
unknown plays) of a MAP-EM over the unknown plays, which then moves m, u and π0 to where the unknowns
differ (IDs are more often the DJ's own tracks than named plays are). One model per context kind (sets and
sessions differ). Fellegi–Sunter multiplies its evidence as if the comparisons were independent, which they are
not (a DJ's own tracks are also their neighbours'), so its posteriors are then calibrated by isotonic
regression on half of the masked plays; the other half checks the precision of what is accepted. The answer
is the most probable candidate, kept when its calibrated P >= 0.70 (medium) or > 0.85 (high).
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..resolution.text import fold

# how tracklists and scrobbles write an unknown artist ("ID - ID"), as the catalog's tb_is_placeholder reads
# them. Not names its normaliser empties: real artists are written in symbols only ("!!!", "ⒶⓁⒾⓈⓄⓃ"); read
# as unknown, they were confidently "identified" as others.
UNKNOWN_ARTIST_FORMS = ["id", "unknown", "unknown artist", "[unknown]", "?", "??", "???"]
FEATURES = ("adjacent", "in_context", "label", "owner")
N_LEVELS = (3, 3, 3, 5)
OWNER_LEVEL = 4
HIGH, MEDIUM = 0.85, 0.70
AFFINITY_CUTS = (0.0, 0.02, 0.08)  # share of the owner's other plays: 0 | (0, 2%) | [2%, 8%) | 8% and more


def tier(probability: float) -> str:
    return "high" if probability > HIGH else "medium" if probability >= MEDIUM else "rejected"


@dataclass
class Play:
    artist: str | None  # the candidate key of a known play; None for the unknown one(s)
    label: str | None = None
    occurrence_id: str | None = None  # set for unknown plays


@dataclass
class Context:
    context_id: str
    kind: str  # dj_set | session
    owner: str  # the DJ or the listener
    owner_artist: str | None  # the owner as a candidate key, when the owner is an artist
    plays: list[Play]


@dataclass
class Pairs:
    occurrence: list[str] = field(default_factory=list)
    context_kind: list[str] = field(default_factory=list)
    candidate: list[str] = field(default_factory=list)
    levels: list[tuple[int, ...]] = field(default_factory=list)
    masked: list[bool] = field(default_factory=list)  # a known play hidden for self-supervision
    is_match: list[bool] = field(default_factory=list)  # masked pairs only: the candidate is the hidden artist


def _affinity_level(share: float) -> int:
    return int(np.searchsorted(AFFINITY_CUTS, share, side="left")) if share > 0 else 0


def comparison_pairs(contexts: list[Context], artist_labels: dict[str, set[str]], max_label_candidates: int = 20,
                     masked_per_context: int = 4, owner_plays: dict[tuple[str, str], Counter] | None = None) -> Pairs:
    """Every (unknown play, candidate) with its comparison levels, plus the same for up to
    `masked_per_context` known plays of each context that holds an unknown one, hidden in turn.
    `owner_plays`: (kind, owner) -> plays per artist over the owner's whole history, when the contexts
    given are only part of it (a listener's sessions that hold an unknown play); else the contexts count."""
    owner_counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for c in contexts:
        if not owner_plays or (c.kind, c.owner) not in owner_plays:
            owner_counts[(c.kind, c.owner)].update(p.artist for p in c.plays if p.artist is not None)
    owner_counts.update(owner_plays or {})
    label_artists: dict[str, set[str]] = defaultdict(set)
    for artist, labels in artist_labels.items():
        for label in labels:
            label_artists[label].add(artist)
    pairs = Pairs()
    for c in contexts:
        here_all = Counter(p.artist for p in c.plays if p.artist is not None)
        elsewhere = owner_counts[(c.kind, c.owner)] - here_all
        total_elsewhere = max(1, sum(elsewhere.values()))
        known = [i for i, p in enumerate(c.plays) if p.artist is not None]
        step = max(1, len(known) // masked_per_context) if masked_per_context else 0
        hidden = set(known[::step][:masked_per_context]) if step else set()
        for pos, play in enumerate(c.plays):
            is_masked = pos in hidden
            if not is_masked and (play.artist is not None or play.occurrence_id is None):
                continue
            here = here_all - Counter([play.artist]) if is_masked else here_all
            shown = fold(play.label) if play.label else ""
            candidates = set(here) | ({c.owner_artist} if c.owner_artist else set())
            if shown:
                mates = [a for a in label_artists.get(shown, ()) if elsewhere.get(a)]
                candidates |= set(sorted(mates, key=lambda a: (-elsewhere[a], a))[:max_label_candidates])
            neighbours = [c.plays[i].artist for i in (pos - 1, pos + 1) if 0 <= i < len(c.plays)]
            occurrence = f"{c.context_id}#masked{pos}" if is_masked else play.occurrence_id
            for cand in sorted(candidates):
                adjacent = sum(n == cand for n in neighbours)
                in_context = min(2, here.get(cand, 0) - adjacent)
                labels = artist_labels.get(cand)
                label = 1 if not shown or not labels else (2 if shown in labels else 0)
                owner = OWNER_LEVEL if cand == c.owner_artist else _affinity_level(elsewhere.get(cand, 0) / total_elsewhere)
                pairs.occurrence.append(occurrence)
                pairs.context_kind.append(c.kind)
                pairs.candidate.append(cand)
                pairs.levels.append((adjacent, in_context, label, owner))
                pairs.masked.append(is_masked)
                pairs.is_match.append(is_masked and cand == play.artist)
    return pairs


def _initial(n_levels: int, rising: bool) -> np.ndarray:
    w = np.arange(1, n_levels + 1, dtype=float)
    w = w if rising else w[::-1]
    return w / w.sum()


@dataclass
class FellegiSunterModel:
    m: list[np.ndarray]
    u: list[np.ndarray]
    none_prior: float  # π0: the share of unknown plays whose artist is none of their candidates
    iterations: int = 0
    converged: bool = False

    def log_bayes_factors(self, levels: np.ndarray) -> np.ndarray:
        out = np.zeros(len(levels))
        for f in range(levels.shape[1]):
            out += np.log(self.m[f][levels[:, f]]) - np.log(self.u[f][levels[:, f]])
        return out

    def posteriors(self, levels: np.ndarray, group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        """(P(candidate is the artist) per pair, P(none of them) per group)."""
        n_in_group = np.bincount(group, minlength=n_groups).astype(float)
        log_w = np.log1p(-self.none_prior) - np.log(np.maximum(n_in_group[group], 1)) + self.log_bayes_factors(levels)
        # normalise per group in log space: the none hypothesis has weight π0
        top = np.full(n_groups, np.log(self.none_prior))
        np.maximum.at(top, group, log_w)
        w = np.exp(log_w - top[group])
        none = np.exp(np.log(self.none_prior) - top)
        denominator = none + np.bincount(group, weights=w, minlength=n_groups)
        return w / denominator[group], none / denominator

    def describe(self) -> dict:
        return {"none_prior": round(self.none_prior, 4), "iterations": self.iterations, "converged": self.converged,
                **{f"{name}_m": [round(float(x), 4) for x in self.m[f]] for f, name in enumerate(FEATURES)},
                **{f"{name}_u": [round(float(x), 4) for x in self.u[f]] for f, name in enumerate(FEATURES)}}


@dataclass
class Prior:
    """Pseudo-counts for MAP-EM: level counts of matching and non-matching pairs, and occurrences whose
    answer was (not) among the candidates."""
    m: list[np.ndarray]
    u: list[np.ndarray]
    none: float
    some: float

    @classmethod
    def from_masked(cls, levels: np.ndarray, is_match: np.ndarray, group: np.ndarray, n_groups: int,
                    strength: float) -> Prior:
        """The masked pairs' counts scaled so that they weigh as much as `strength` occurrences."""
        scale = strength / max(1, n_groups)
        answered = np.bincount(group, weights=is_match.astype(float), minlength=n_groups) > 0
        return cls([np.bincount(levels[is_match, f], minlength=n) * scale for f, n in enumerate(N_LEVELS)],
                   [np.bincount(levels[~is_match, f], minlength=n) * scale for f, n in enumerate(N_LEVELS)],
                   float((~answered).sum() * scale), float(answered.sum() * scale))


def fit_em(levels: np.ndarray, group: np.ndarray, n_groups: int, prior: Prior | None = None,
           max_iterations: int = 200, tolerance: float = 1e-6, smoothing: float = 0.5) -> FellegiSunterModel:
    """m, u and π0 by (MAP-)EM on the unknown pairs' levels. `smoothing` pseudo-counts keep every level's
    probability above zero, so a level unseen in one class does not veto a match."""
    zero = Prior([np.zeros(n) for n in N_LEVELS], [np.zeros(n) for n in N_LEVELS], 0.0, 0.0)
    prior = prior or zero
    if prior.m[0].sum() > 0:
        start = FellegiSunterModel([(c + smoothing) / (c.sum() + smoothing * len(c)) for c in prior.m],
                                   [(c + smoothing) / (c.sum() + smoothing * len(c)) for c in prior.u],
                                   float(np.clip((prior.none + 1) / (prior.none + prior.some + 2), 1e-3, 1 - 1e-3)))
    else:
        start = FellegiSunterModel([_initial(n, rising=True) for n in N_LEVELS],
                                   [_initial(n, rising=False) for n in N_LEVELS], 0.3)
    model = start
    if not len(levels):
        return model
    for it in range(1, max_iterations + 1):
        p, none = model.posteriors(levels, group, n_groups)
        q = 1.0 - p
        m_new, u_new = [], []
        for f, n in enumerate(N_LEVELS):
            m_counts = np.bincount(levels[:, f], weights=p, minlength=n) + prior.m[f] + smoothing
            u_counts = np.bincount(levels[:, f], weights=q, minlength=n) + prior.u[f] + smoothing
            m_new.append(m_counts / m_counts.sum())
            u_new.append(u_counts / u_counts.sum())
        none_prior = float(np.clip((none.sum() + prior.none) / (n_groups + prior.none + prior.some), 1e-3, 1 - 1e-3))
        change = max(max(np.abs(a - b).max() for a, b in zip(m_new, model.m, strict=True)),
                     max(np.abs(a - b).max() for a, b in zip(u_new, model.u, strict=True)),
                     abs(none_prior - model.none_prior))
        model = FellegiSunterModel(m_new, u_new, none_prior, it)
        if change < tolerance:
            model.converged = True
            break
    return model


@dataclass(frozen=True)
class Identification:
    occurrence_id: str
    context_kind: str
    best: str | None  # the most probable candidate, accepted or not
    probability: float  # of the best candidate
    tier: str  # high | medium | rejected
    runner_up: str | None
    runner_up_probability: float
    n_candidates: int

    @property
    def artist(self) -> str | None:
        """The best candidate when accepted (medium or high), else None: the play stays unknown."""
        return self.best if self.tier != "rejected" else None


def _best_per_group(p: np.ndarray, group: np.ndarray, n_groups: int, names: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: the row of its most probable candidate (ties to the name), the runner-up's row (-1 if none),
    and the group's size."""
    order = np.lexsort((names.astype(str), -p, group))
    first = np.r_[0, np.nonzero(np.diff(group[order]))[0] + 1] if len(order) else np.zeros(0, dtype=np.int64)
    counts = np.bincount(group, minlength=n_groups)
    best = np.full(n_groups, -1)
    second = np.full(n_groups, -1)
    for s in first:
        g = group[order[s]]
        best[g] = order[s]
        if counts[g] > 1:
            second[g] = order[s + 1]
    return best, second, counts


@dataclass
class Calibration:
    """Isotonic map from the model's posterior of the best candidate to the share of masked known plays it
    names right: Fellegi–Sunter multiplies evidence as if independent, which overstates it."""
    x: np.ndarray
    y: np.ndarray
    plays: int = 0

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.interp(p, self.x, self.y) if len(self.x) >= 2 else np.asarray(p, dtype=float)

    @classmethod
    def fit(cls, p: np.ndarray, right: np.ndarray, min_plays: int = 50) -> Calibration:
        if len(p) < min_plays:
            return cls(np.zeros(0), np.zeros(0), len(p))
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, right.astype(float))
        return cls(np.asarray(iso.X_thresholds_, dtype=float), np.asarray(iso.y_thresholds_, dtype=float), len(p))


def _masked_answers(model: FellegiSunterModel, levels: np.ndarray, is_match: np.ndarray, occ: np.ndarray,
                    names: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each masked known play: its id, the best candidate's posterior, and whether that candidate is right."""
    ids, group = np.unique(occ, return_inverse=True)
    p, _ = model.posteriors(levels, group, len(ids))
    best, _, _ = _best_per_group(p, group, len(ids), names)
    return ids, p[best], is_match[best]


def identify(pairs: Pairs, occurrences: list[tuple[str, str]]) -> tuple[list[Identification], dict[str, dict]]:
    """One Identification per unknown occurrence (id, context kind), in the order given, and per kind the
    fitted model, its calibration and a self-check: the masked known plays are split in two by their id's
    hash; one half calibrates the probabilities, the other measures the precision of what is accepted."""
    results: dict[str, Identification] = {}
    fitted: dict[str, dict] = {}
    kinds = np.array(pairs.context_kind, dtype=object)
    masked = np.array(pairs.masked, dtype=bool)
    is_match = np.array(pairs.is_match, dtype=bool)
    all_levels = np.array(pairs.levels, dtype=np.int64).reshape(-1, len(FEATURES))
    occurrence = np.array(pairs.occurrence, dtype=object)
    candidate = np.array(pairs.candidate, dtype=object)
    for kind in sorted(set(pairs.context_kind)):
        rows = np.nonzero((kinds == kind) & ~masked)[0]
        if not len(rows):
            continue
        ids, group = np.unique(occurrence[rows], return_inverse=True)
        known = np.nonzero((kinds == kind) & masked)[0]
        prior = None
        if len(known):
            known_ids, known_group = np.unique(occurrence[known], return_inverse=True)
            prior = Prior.from_masked(all_levels[known], is_match[known], known_group, len(known_ids), len(ids))
        model = fit_em(all_levels[rows], group, len(ids), prior)
        check = {"plays": 0, "accepted": 0, "right": 0, "precision": None}
        calibration = Calibration(np.zeros(0), np.zeros(0))
        if len(known):
            m_ids, m_p, m_right = _masked_answers(model, all_levels[known], is_match[known], occurrence[known],
                                                  candidate[known])
            half = np.array([zlib.crc32(str(i).encode()) % 2 for i in m_ids], dtype=bool)
            calibration = Calibration.fit(m_p[~half], m_right[~half])
            accepted = calibration(m_p[half]) >= MEDIUM
            check = {"plays": int(half.sum()), "accepted": int(accepted.sum()),
                     "right": int(m_right[half][accepted].sum()),
                     "precision": round(float(m_right[half][accepted].mean()), 4) if accepted.any() else None}
        fitted[kind] = {"model": model, "calibration": calibration, "check": check}
        p, _ = model.posteriors(all_levels[rows], group, len(ids))
        p = calibration(p)
        best, second, counts = _best_per_group(p, group, len(ids), candidate[rows])
        for g in range(len(ids)):
            prob = float(p[best[g]])
            name = str(candidate[rows[best[g]]])
            results[ids[g]] = Identification(
                str(ids[g]), kind, name, round(prob, 6), tier(prob),
                str(candidate[rows[second[g]]]) if second[g] >= 0 else None,
                round(float(p[second[g]]), 6) if second[g] >= 0 else 0.0, int(counts[g]))
    out = [results.get(o) or Identification(o, kind, None, 0.0, "rejected", None, 0.0, 0) for o, kind in occurrences]
    return out, fitted
