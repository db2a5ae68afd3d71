"""What a written artist name may stand for: repaired encodings, credits, "Last, First", readings.

Users type artist names into players and taggers, and the damage follows a few patterns:
  - encodings: "The%20Alarm" (URL-encoded), "Nattvindens GrÃ¥t" (UTF-8 read as Latin-1),
    "Å®×ÓÊ®¶þÀÖ·»" (GBK read as Latin-1);
  - extras around the artist: "Band (UK)", "08- Band", "Band - Song Title", "Smith, John",
    "A feat. B", "A & B", "A vs B", "A presents B", "X & His Orchestra", "The X Band";
  - other scripts: "相川七瀬" is "Aikawa Nanase", and a Japanese name is often written family name last.

`repair` undoes what is certain (URL and UTF-8 mojibake) and so changes a name's key. Everything else is
an alias *form*: a name the written one may stand for, which the resolver links only to an artist that is
written on its own somewhere in the same input, never to a name it invents.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from functools import lru_cache

from .text import fold, fold_artist, script_of

_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_BRACKETED = re.compile(r"\s*[\(\[\{][^\)\]\}]*[\)\]\}]?\s*")
_TRACK_NUMBER = re.compile(r"^\s*(?:\d{1,2}\.)?\d{1,2}\s*[-.)_]\s*(?=\D)")  # "08- Band", "1.04- Band"
_ARTIST_TITLE = re.compile(r"\s+[-–—]+\s*|\s*[-–—]+\s+")  # "Band - Song", "Band -Song"
_LAST_FIRST = re.compile(r"^([^,&]+),\s*([^,&]+?)(\s+(?:&|and)\s+.+)?$", re.I)  # "Smith, John [& X]"
_FEATURING = re.compile(r"\s+(?:feat\.?|ft\.?|f\.|featuring|f/|w/|vs\.?|versus|presents|pres\.|meets)\s+"
                        r"|\s*\((?:feat\.?|ft\.?|featuring|with|w/)\s+", re.I)
_AND = re.compile(r"\s+(?:&|and|x|\+|with)\s+", re.I)  # "Trouble with Sweeney" is a band
_LISTED = re.compile(r"\s*[;/]\s*|\s*,\s+(?!the$)", re.I)
_BACKING = re.compile(r"^(?:the|his|her)\s", re.I)  # "Prince & The Revolution": a backing band
_ENSEMBLE = re.compile(r"\s+(?:(?:&|and)\s+(?:his|her|their)\s+.+|(?:band|orchestra|trio|quartet|quintet|sextet|"
                       r"group|ensemble|big band|and friends|& friends)\s*)$", re.I)
_HALF_WIDTH_KANA = re.compile(r"[\uff61-\uff9f]")
_LEGACY_CODECS = ("gbk", "big5", "cp932", "euc_jp", "euc_kr")
_CJK_SCRIPTS = frozenset({"cjk", "katakana", "hiragana", "hangul"})

# each kind of form, with the confidence of a link made through it
FORM_CONFIDENCE = {
    "bracket": 0.9, "track_number": 0.9, "last_first": 0.9, "ensemble": 0.85, "credit": 0.8,
    "artist_title": 0.8, "legacy_encoding": 0.8, "reading": 0.8,
}


def repair(name: str) -> str:
    """The name with certain damage undone: URL escapes decoded, UTF-8 mojibake (ftfy) fixed."""
    text = name
    if _URL_ESCAPE.search(text):
        if _valid_utf8_escapes(text):
            text = urllib.parse.unquote(text, errors="strict")
    if any(0x80 <= ord(c) <= 0xFF for c in text):
        import ftfy

        fixed = ftfy.fix_encoding(text)
        if fixed != text and not _HALF_WIDTH_KANA.search(fixed):
            text = fixed
    return " ".join(text.split()).strip(" -")


def _valid_utf8_escapes(text: str) -> bool:
    try:
        urllib.parse.unquote(text, errors="strict")
        return True
    except UnicodeDecodeError:
        return False


def legacy_decodings(name: str) -> list[str]:
    """Readings of a name whose East Asian bytes were shown as Latin-1 ("½ÅÈ­" is EUC-KR "신화"): one per
    codec that gives only CJK, kana or hangul letters. Several codecs may; only a known name decides."""
    high = sum(0x80 <= ord(c) <= 0xFF for c in name)
    if high < 2 or any(ord(c) > 0xFF for c in name):
        return []
    out = []
    for codec in _LEGACY_CODECS:
        try:
            decoded = name.encode("latin-1").decode(codec)
        except UnicodeError:
            continue
        letters = [c for c in decoded if c.isalpha() and ord(c) > 0x7F]
        if (letters and not _HALF_WIDTH_KANA.search(decoded) and decoded not in out
                and all(script_of(c) in _CJK_SCRIPTS for c in letters)
                and not any(unicodedata.category(c) in ("Cc", "Co", "Cn") for c in decoded)):
            out.append(decoded)
    return out


def _forms_once(name: str) -> list[tuple[str, str, str]]:
    forms: list[tuple[str, str] | tuple[str, str, str]] = []
    without_brackets = _BRACKETED.sub(" ", name).strip()
    if without_brackets and without_brackets != name:
        forms.append((without_brackets, "bracket"))
    without_number = _TRACK_NUMBER.sub("", name)
    if without_number != name:
        forms.append((without_number, "track_number"))
    flipped = _LAST_FIRST.match(name)
    if flipped and len(flipped.group(2).split()) <= 3:
        forms.append((f"{flipped.group(2).strip()} {flipped.group(1).strip()}{flipped.group(3) or ''}", "last_first"))
    ensemble = _ENSEMBLE.sub("", name)
    if ensemble != name and ensemble.strip():
        forms.append((ensemble.strip(), "ensemble"))
    parts = _FEATURING.split(name, maxsplit=1)  # the primary artist of a credit; featuring is the surer split
    if len(parts) > 1:
        forms.append((parts[0].strip(), "credit"))
    for joiner in (_AND, _LISTED):
        parts = joiner.split(name, maxsplit=1)
        if len(parts) > 1:
            # "Angels & Agony" is one act: a one-word primary joined by "&" (or a short one in a list) counts
            # only when its partner is an artist too, or a backing band ("& The Revolution")
            one_word = len(parts[0].split()) == 1
            doubtful = one_word and (joiner is _AND or sum(c.isalpha() for c in fold(parts[0])) < 6)
            partner = _LISTED.split(_AND.split(parts[1], maxsplit=1)[0], maxsplit=1)[0].strip()
            forms.append((parts[0].strip(), "credit",
                          partner if doubtful and not _BACKING.match(partner) else ""))
            break
    sides = _ARTIST_TITLE.split(name)
    if len(sides) > 1:
        forms.append((sides[0].strip(), "artist_title"))
        if len(sides[0].split()) >= 3:  # "Lucy in the Sky with Diamonds - William Shatner": title first
            forms.append((sides[-1].strip(), "artist_title"))
    forms += [(decoded, "legacy_encoding") for decoded in legacy_decodings(name)]
    return [(f[0], f[1], f[2] if len(f) > 2 else "") for f in forms if sum(c.isalpha() for c in fold(f[0])) >= 3]


@lru_cache(maxsize=1 << 16)
def alias_forms(name: str) -> tuple[tuple[str, str, str], ...]:
    """The names a written artist name may stand for, most certain first, as (form, kind, partner): a
    partner, when not empty, must be written on its own too for the form to count.

    Forms of forms count too ("Dylan, Bob & Joan Baez" -> "Bob Dylan & Joan Baez" -> "Bob Dylan"), each
    keeping the kind of its first step. A credit stands for its primary (first) artist only.
    """
    seen = {fold_artist(name)}
    out: list[tuple[str, str, str]] = []
    frontier = [(name, "")]
    for _ in range(3):
        following = []
        for text, kind in frontier:
            for form, form_kind, partner in _forms_once(text):
                key = fold_artist(form)
                if key and key not in seen:
                    seen.add(key)
                    out.append((form, kind or form_kind, partner))
                    following.append((form, kind or form_kind))
        frontier = following
    return tuple(out)


_ROMAJI_SPELLINGS = tuple((re.compile(p), r) for p, r in (
    (r"[^a-z0-9]", ""), (r"ou", "o"), (r"oo", "o"), (r"uu", "u"), (r"oh(?=[^aeiou]|$)", "o"), (r"ei", "e"),
    (r"si", "shi"), (r"ti", "chi"), (r"tu", "tsu"), (r"hu", "fu"), (r"zi", "ji"), (r"sshi", "shi"),
    (r"chhi", "chi"), (r"tsshi", "tsu"), (r"n(?=[bmp])", "m")))


def _romaji(token: str) -> str:
    """One spelling for long vowels and the Hepburn and Kunrei forms ("Ohkawa", "Ookawa", "Okawa")."""
    token = token.lower()
    for pattern, replacement in _ROMAJI_SPELLINGS:
        token = pattern.sub(replacement, token)
    return token


@lru_cache(maxsize=1)
def _kakasi():
    import pykakasi

    return pykakasi.kakasi()


def is_japanese(name: str) -> bool:
    """Written mostly in kana or kanji (kanji read as Japanese: most East Asian names in scrobbles are)."""
    return script_of(name) in ("katakana", "hiragana", "cjk")


@lru_cache(maxsize=1 << 16)
def reading_key(name: str) -> str:
    """A name's sound in order-free romaji: "相川七瀬", "Aikawa Nanase" and "Nanase Aikawa" share it.

    Kanji and kana are read as Japanese (pykakasi), other names folded; long vowels and the Hepburn and
    Kunrei spellings are made one ("Ohkawa", "Ookawa", "Okawa"). Empty for a name under four letters.
    """
    if is_japanese(name):
        tokens = [t for item in _kakasi().convert(name) for t in re.split(r"[\s・･&]+", item["hepburn"])]
    else:
        tokens = fold_artist(name).split()
    tokens = [r for r in (_romaji(t) for t in tokens) if r]
    key = "".join(sorted(tokens))
    return key if sum(c.isalpha() for c in key) >= 4 else ""
