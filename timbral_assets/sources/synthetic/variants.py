"""Messy renderings of one canonical track, the way scrobblers and stores really write them.

Every function takes the canonical strings and a seeded generator and returns (artist, title, album)
triples. The kind names here are the ground-truth labels kept aside for evaluation.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

VARIANT_KINDS: tuple[str, ...] = (
    "clean",
    "case_punct",
    "diacritics",
    "feat",
    "version_suffix",
    "typo",
    "other_script",
    "swapped",
    "unknown_id",
    "label_bracket",
)

# Share of scrobbles rendered with each messy kind; the rest are clean.
DEFAULT_VARIANT_RATES: dict[str, float] = {
    "case_punct": 0.08,
    "diacritics": 0.03,
    "feat": 0.04,
    "version_suffix": 0.04,
    "typo": 0.03,
    "other_script": 0.02,
    "swapped": 0.01,
    "unknown_id": 0.005,
    "label_bracket": 0.02,
}

FEAT_FORMS = [" feat. ", " ft. ", " featuring ", " Feat. ", " FT ", " & ", " x ", " with "]
TITLE_FEAT_FORMS = [" (feat. {f})", " [ft. {f}]", " (featuring {f})", " (with {f})"]
SUFFIX_FORMS = [
    " - Remastered {y}", " ({y} Remaster)", " - {y} Remaster", " (Remastered)", " ({y})", " - Single Version",
    " - Album Version",
]
LIVE_SUFFIX_FORMS = [" - Live", " (Live)", " [Live]", " - Live at {venue}"]
ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}


@dataclass(frozen=True)
class CanonicalTrack:
    artist: str
    title: str
    album: str
    featured: str | None
    label: str
    release_year: int
    artist_alt_script: str  # the same name in another script: romanised for native-script artists, else Katakana/Cyrillic
    is_live: bool
    venue: str


def strip_diacritics(text: str) -> str:
    """Drop accents from Latin letters only: Katakana voicing marks (ビ vs ヒ) change the name, not its spelling."""
    out = []
    for c in text:
        base = unicodedata.normalize("NFKD", c)[0]
        out.append(base if base.isascii() and base.isalpha() else c)
    return "".join(out)


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(0, len(items)))]


def _case_punct(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    style = int(rng.integers(0, 5))
    if style == 0:
        return t.artist.lower(), t.title.lower(), t.album.lower()
    if style == 1:
        return t.artist.upper(), t.title.upper(), t.album
    if style == 2:
        return f"  {t.artist} ", t.title.replace(" ", "  "), t.album + " "
    if style == 3:
        strip = str.maketrans("", "", "'’.,!?&/")
        return t.artist.translate(strip), t.title.translate(strip), t.album.translate(strip)
    return t.artist.replace("'", "’"), t.title.replace("'", "’").title(), t.album.title()


def _diacritics(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    plain = strip_diacritics(t.artist)
    if plain != t.artist:
        return plain, strip_diacritics(t.title), t.album
    chars = list(t.artist)
    positions = [i for i, c in enumerate(chars) if c.lower() in ACCENTED]
    if positions:
        i = positions[int(rng.integers(0, len(positions)))]
        accented = ACCENTED[chars[i].lower()]
        chars[i] = accented.upper() if chars[i].isupper() else accented
    return "".join(chars), t.title, t.album


def _feat(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    if rng.random() < 0.5:
        return t.artist + _pick(rng, FEAT_FORMS) + t.featured, t.title, t.album
    return t.artist, t.title + _pick(rng, TITLE_FEAT_FORMS).format(f=t.featured), t.album


def _version_suffix(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    if t.is_live:
        base = t.title.split(" (Live")[0]
        return t.artist, base + _pick(rng, LIVE_SUFFIX_FORMS).format(venue=t.venue), t.album
    year = int(t.release_year + rng.integers(0, 25))
    return t.artist, t.title + _pick(rng, SUFFIX_FORMS).format(y=year), t.album


def _typo_word(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    op = int(rng.integers(0, 4))
    if op == 0:
        return word[:i] + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i] + word[i:]
    if op == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    letter = "etaoinshrdlu"[int(rng.integers(0, 12))]
    return word[:i] + letter + word[i + 1 :]


def _typo(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    if rng.random() < 0.6:
        words = t.title.split(" ")
        j = max(range(len(words)), key=lambda k: len(words[k]))
        words[j] = _typo_word(words[j], rng)
        return t.artist, " ".join(words), t.album
    words = t.artist.split(" ")
    j = max(range(len(words)), key=lambda k: len(words[k]))
    words[j] = _typo_word(words[j], rng)
    return " ".join(words), t.title, t.album


def _other_script(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    return t.artist_alt_script, t.title, t.album


def _swapped(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    return t.title, t.artist, t.album


def _unknown_id(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    return "ID", "ID", ""


def _label_bracket(t: CanonicalTrack, rng: np.random.Generator) -> tuple[str, str, str]:
    label = t.label if rng.random() < 0.7 else t.label.upper()
    return t.artist, f"{t.title} [{label}]", t.album


_MAKERS = {
    "case_punct": _case_punct,
    "diacritics": _diacritics,
    "feat": _feat,
    "version_suffix": _version_suffix,
    "typo": _typo,
    "other_script": _other_script,
    "swapped": _swapped,
    "unknown_id": _unknown_id,
    "label_bracket": _label_bracket,
}


def render_variants(
    t: CanonicalTrack, rng: np.random.Generator, per_kind: int = 2
) -> dict[str, list[tuple[str, str, str]]]:
    """Up to `per_kind` distinct renderings per kind; kinds that do not apply get none."""
    out: dict[str, list[tuple[str, str, str]]] = {"clean": [(t.artist, t.title, t.album)]}
    for kind, maker in _MAKERS.items():
        if kind == "feat" and not t.featured:
            continue
        n = 1 if kind in ("swapped", "unknown_id", "other_script") else per_kind
        seen: list[tuple[str, str, str]] = []
        for _ in range(n * 2):
            v = maker(t, rng)
            if v not in seen and v[:2] != (t.artist, t.title):  # a variant must change what identifies the track
                seen.append(v)
            if len(seen) >= n:
                break
        if seen:
            out[kind] = seen
    return out
