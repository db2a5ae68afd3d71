"""Labels written into titles: "Night Drive [Glass Records]", "Night Drive (Glass Recordings)". Instant and free,
so the label hunter tries it first."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..resolution.text import fold

# bracket words that name a version or a credit, never a label
_NOT_LABEL = re.compile(r"\b(live|remix|rmx|mix|mixed|edit|version|remaster(ed)?|acoustic|demo|feat|ft|featuring|with|"
                        r"bonus|explicit|clean|instrumental|mono|stereo|deluxe|reprise|interlude|intro|outro|cover|"
                        r"session|take|part|pt|vol|original|extended|dub|dubplate|vip|bootleg|official|video|lyrics?|"
                        r"hd|hq|premiere|pre-?order|out now|free|download|d/?l|cd-?r|hidden track|untitled|no label|"
                        r"showreel|mash-?up|exclusives?|vs|side [a-d]\d?|season|likes|facebook|compiled|clips?|"
                        r"forthcoming|bandcamp|out (now|soon|on)|\d{4})\b|^f\.\s|^[\d\s.,:_-]+$|^.{0,2}$|^(uk|us|eu)$",
                        re.I)
# words that end most label names: "(Glass Records)" is a label even in round brackets
LABEL_SUFFIX = re.compile(r"\b(records|recordings|music|sound|sounds|audio|tapes|editions|label|entertainment|"
                          r"music group|productions|collective)\s*$", re.I)
_SQUARE = re.compile(r"\[\s*([^\[\]]{2,60}?)\s*\]\s*$")
_ROUND = re.compile(r"\(\s*([^()]{2,60}?)\s*\)\s*$")
_DASH = re.compile(r"\s[-–—]\s+([^-–—]{2,60}?)\s*$")

BRACKET_CONFIDENCE = 0.80  # a trailing [X] that names no version: usually a label, sometimes a store tag
SUFFIX_CONFIDENCE = 0.90  # "(X Records)": a label by its own name
AGREEMENT_BONUS = 0.05  # two or more spellings of the track name the same label
MAX_CONFIDENCE = 0.95


@dataclass(frozen=True)
class TitleLabel:
    label: str
    confidence: float
    form: str  # square | round | dash


def _tidy(label: str) -> str:
    label = " ".join(label.split())
    return label.title() if label.isupper() and len(label) > 3 else label


def _not_label(text: str) -> bool:
    return bool(_NOT_LABEL.search(text.replace("_", " ").strip()))


def parse_title_label(title: str | None) -> TitleLabel | None:
    """The label a single title carries, if any."""
    if not title:
        return None
    m = _SQUARE.search(title)
    if m and not _not_label(m.group(1)):
        name = m.group(1)
        confidence = SUFFIX_CONFIDENCE if LABEL_SUFFIX.search(name) else BRACKET_CONFIDENCE
        return TitleLabel(_tidy(name), confidence, "square")
    for form, pattern in (("round", _ROUND), ("dash", _DASH)):
        m = pattern.search(title)
        if m and LABEL_SUFFIX.search(m.group(1)) and not _not_label(m.group(1)):
            return TitleLabel(_tidy(m.group(1)), SUFFIX_CONFIDENCE, form)
    return None


def label_from_titles(titles: list[str]) -> TitleLabel | None:
    """The label the spellings of one track agree on: the most common parsed label (ties to the higher
    confidence, then the name), with a bonus when several spellings name it."""
    found = [t for t in (parse_title_label(x) for x in titles) if t is not None]
    if not found:
        return None
    votes = Counter(fold(t.label) for t in found)
    best_key = max(votes, key=lambda k: (votes[k], max(t.confidence for t in found if fold(t.label) == k), k))
    best = max((t for t in found if fold(t.label) == best_key), key=lambda t: (t.confidence, t.label))
    bonus = AGREEMENT_BONUS if votes[best_key] >= 2 else 0.0
    return TitleLabel(best.label, round(min(MAX_CONFIDENCE, best.confidence + bonus), 2), best.form)
