"""Text folding for matching: Unicode NFKC, diacritics, other scripts, punctuation, articles.

`fold` is the matching form of any name or title; it never decides identity on its own, it only makes
equal what differs by spelling conventions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_APOSTROPHES = re.compile(r"['’‘`´ʼ]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_LEADING_ARTICLE = re.compile(r"^the\s+")
_TRAILING_ARTICLE = re.compile(r",\s*the$")  # "Beatles, The" (library sort order)
_TOPIC_CHANNEL = re.compile(r"\s+-\s+topic$", re.I)  # YouTube's channel of an artist's releases: "Artist - Topic"


def script_of(text: str) -> str:
    """The dominant script of the letters in text: latin, cyrillic, greek, katakana, hiragana, cjk, hangul, other."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        for script, marker in (("latin", "LATIN"), ("cyrillic", "CYRILLIC"), ("greek", "GREEK"),
                               ("katakana", "KATAKANA"), ("hiragana", "HIRAGANA"), ("cjk", "CJK"),
                               ("hangul", "HANGUL")):
            if name.startswith(marker) or f" {marker} " in f" {name} ":
                counts[script] = counts.get(script, 0) + 1
                break
        else:
            counts["other"] = counts.get("other", 0) + 1
    return max(counts, key=counts.get) if counts else "none"


# Cyrillic and Greek letters drawn like Latin ones (Unicode's confusables): inside a Latin word they are the
# Latin letter ("Sуlo" with a Cyrillic у is "Sylo"); a word in Cyrillic or Greek alone is transliterated as such
_LOOKALIKES = str.maketrans(
    "аАвВеЕкКмМнНоОрРсСтТуУхХіІјЈѕЅԁһԛԝїЇёЁ" "αΑβΒεΕηΗιΙκΚμΜνΝοΟρΡτΤυΥχΧζΖ",
    "aABBeEkKmMhHoOpPcCtTyYxXiIjJsSdhqwiIeE" "aABBeEnHiIkKuMvNoOpPtTuYxXzZ")
_WORD = re.compile(r"\w+")


def _is_latin(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")


def _latin_lookalikes(text: str) -> str:
    """Mixed-script words with their Cyrillic and Greek lookalike letters read as the Latin ones."""
    def repair(match: re.Match) -> str:
        word = match.group(0)
        if word.isascii() or not any(ch.isalpha() and _is_latin(ch) for ch in word):
            return word
        mapped = word.translate(_LOOKALIKES)
        return mapped if all(not ch.isalpha() or _is_latin(ch) for ch in mapped) else word
    return _WORD.sub(repair, text)


@lru_cache(maxsize=1 << 18)
def fold(text: str | None) -> str:
    """Matching form: NFKC (full-width and half-width forms), transliteration of every script to ASCII,
    lower case, apostrophes dropped, '&' and '+' as 'and', other punctuation as one space."""
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text)
    if not s.isascii():
        s = _latin_lookalikes(s)
    s = _APOSTROPHES.sub("", s)
    s = anyascii(s).lower()
    s = s.replace("&", " and ").replace("+", " and ")
    s = _APOSTROPHES.sub("", s)  # anyascii writes some marks as apostrophes (e.g. soft sign, dakuten)
    return " ".join(_NOT_WORD.sub(" ", s).split())


def fold_artist(text: str | None) -> str:
    """`fold`, then without a leading or trailing 'The' ("The Cure", "Cure, The" and "Cure" meet)."""
    raw = _TOPIC_CHANNEL.sub("", " ".join((text or "").split()))
    if _TRAILING_ARTICLE.search(raw.lower()):
        raw = raw[: raw.rfind(",")]
    return _LEADING_ARTICLE.sub("", fold(raw))
