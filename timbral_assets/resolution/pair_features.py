"""Features of one record pair for the supervised pair model.

Records from stores are often "dirty": the artist, album, price, length or date sit inside the title
field and the other fields are empty. Every feature is therefore robust to values in the wrong field:
titles are compared by their common start (a moved value is appended after the title, never before),
fields are compared against the other record's whole text when their own field is empty, and lengths
and years are read from anywhere in the record. A missing comparison is NaN, never 0, so the model
learns "unknown" apart from "different".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from .markers import FLAG_KINDS, TEXT_KINDS, conflicting, recording_markers
from .records import parse_duration_s, parse_year
from .text import fold, fold_artist
from .versions import DIFFERENT, VERSION_KINDS

PAIR_FIELDS = ("title", "artist", "album", "duration_s", "genre", "released", "label")
_CLOCK = re.compile(r"(?<![\d:])(\d{1,2}):([0-5]\d)(?![\d:])")
_YEAR4 = re.compile(r"(?<!\d)(19[3-9]\d|20[0-4]\d)(?!\d)")
_YEAR2_DATE = re.compile(r"\b\d{1,2}-[A-Za-z]{3}-(\d{2})\b")
# where a title stops and moved values start: a bracket, a dash, a price, a clock time, a year, a (C)
_TITLE_END = re.compile(r"\s[(\[]|\s[-–—]\s|\$\s?\d|(?<![\d:])\d{1,2}:\d{2}|(?<!\d)(19|20)\d\d(?!\d)|\(\s?[cCpP]\s?\)")
_FEAT = re.compile(r"[(\[]\s*(feat|ft|featuring|with)\b[^)\]]*[)\]]", re.I)
_MOVED_VALUE = re.compile(r"\$\s?\d|(?<![\d:])\d{1,2}:\d{2}|(?<!\d)(19|20)\d\d(?!\d)|\(\s?[cCpP]\s?\)|\b\d{1,2}-[A-Za-z]{3}-\d{2}\b")
# a recording by someone else in the artist's name: never the artist's own recording
_SOMEONE_ELSE = re.compile(r"\bkaraoke\b|\btribute\b|\bin the style of\b|\bmade famous by\b|\boriginally performed\b"
                           r"|\bcover version\b", re.I)
# the marker kinds that cap a pair: those that number a recording (part, movement, take ...) and, as in the
# catalog, a remix against its original or two remixers; sections, reprises, intros and closing brackets are
# left to the model, since store listings append edition notes at will
_TEXT_MARKERS = (TEXT_KINDS | FLAG_KINDS) - {"remixer", "remixed"}


@dataclass(frozen=True)
class Side:
    """One record of a pair, as given: every field a string, any of them possibly empty."""

    title: str = ""
    artist: str = ""
    album: str = ""
    duration_s: str = ""
    genre: str = ""
    released: str = ""
    label: str = ""

    @classmethod
    def from_row(cls, row: dict[str, str], prefix: str) -> Side:
        return cls(**{f: " ".join((row.get(f"{prefix}{f}") or "").split()) for f in PAIR_FIELDS})

    @cached_property
    def everything(self) -> str:
        return " ".join(getattr(self, f) for f in PAIR_FIELDS if getattr(self, f))

    @cached_property
    def folded_all(self) -> str:
        return fold(self.everything)

    @cached_property
    def folded_title(self) -> str:
        return fold(_FEAT.sub(" ", self.title))

    @cached_property
    def title_core(self) -> str:
        """The title up to the first sign of a moved value, folded."""
        raw = _FEAT.sub(" ", self.title)
        cut = _TITLE_END.search(" " + raw)
        return fold(raw[: max(cut.start() - 1, 0)] if cut and cut.start() > 1 else raw)

    @cached_property
    def durations(self) -> set[int]:
        found = {int(m) * 60 + int(s) for m, s in _CLOCK.findall(self.everything)}
        parsed = parse_duration_s(self.duration_s)
        if parsed:
            found.add(round(parsed))
        return found

    @cached_property
    def years(self) -> set[int]:
        found = {int(y) for y in _YEAR4.findall(self.everything)}
        found |= {2000 + int(y) if int(y) < 50 else 1900 + int(y) for y in _YEAR2_DATE.findall(self.everything)}
        parsed = parse_year(self.released)
        if parsed:
            found.add(parsed)
        return found

    @cached_property
    def markers(self) -> dict[str, str]:
        """The title's recording markers, read before the first moved value (a price, time, year, date)."""
        title = _FEAT.sub(" ", self.title)
        cut = _MOVED_VALUE.search(title)
        return recording_markers(title[: cut.start()] if cut else title)

    @cached_property
    def by_someone_else(self) -> bool:
        return bool(_SOMEONE_ELSE.search(self.title) or _SOMEONE_ELSE.search(self.album))

    @cached_property
    def versions(self) -> frozenset[str]:
        """Different-recording version kinds named anywhere in the title (live, remix, acoustic ...)."""
        text = fold(self.title)
        return frozenset(kind for kind, pattern, relation in VERSION_KINDS if relation == DIFFERENT and pattern.search(text))


def _common_prefix_tokens(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _field_vs_record(field_a: str, field_b: str, all_a: str, all_b: str, folder=fold) -> float:
    """Similarity of one field, falling back on finding one record's field inside the other's text."""
    fa, fb = folder(field_a), folder(field_b)
    if fa and fb:
        return fuzz.token_set_ratio(fa, fb) / 100
    if fa and all_b:
        return fuzz.partial_ratio(fa, all_b) / 100 if len(fa) >= 3 else math.nan
    if fb and all_a:
        return fuzz.partial_ratio(fb, all_a) / 100 if len(fb) >= 3 else math.nan
    return math.nan


def _min_gap(a: set[int], b: set[int]) -> float:
    return float(min(abs(x - y) for x in a for y in b)) if a and b else math.nan


FEATURE_NAMES = (
    "title_core_jw", "title_core_equal", "title_core_token_set", "title_prefix_tokens", "title_prefix_share",
    "title_prefix_chars_share", "short_title_is_prefix", "title_partial", "title_in_other_record",
    "title_len_ratio", "artist_sim", "album_sim", "label_sim", "all_token_set", "all_token_sort",
    "duration_gap_s", "year_gap", "version_conflict", "feat_overlap",
)


def never_one_recording(a: Side, b: Side) -> str | None:
    """Why two records cannot be one recording, whatever else they share: one side is a karaoke, tribute
    or "in the style of" recording and the other is not, or their titles number different parts, movements,
    takes ..., name two remixers or a remix and its original (the resolver's recording markers; only when
    both records keep artist and album in their fields, since a title that carries moved values may carry the
    album's "Vol. 1" or "(Remixes)"). The pair model's score is
    capped, not learned: a few hundred labelled pairs hold one or two such pairs."""
    if a.by_someone_else != b.by_someone_else:
        return "performed_by_someone_else"
    if not (a.artist and b.artist and a.album and b.album):  # else the title may hold the album's "Vol. 1"
        return None
    conflict = conflicting(a.markers, b.markers)
    return conflict if conflict is not None and conflict not in _TEXT_MARKERS else None


def pair_features(a: Side, b: Side) -> list[float]:
    ta, tb = a.folded_title.split(), b.folded_title.split()
    ca, cb = a.title_core, b.title_core
    prefix = _common_prefix_tokens(ta, tb)
    shorter = min(len(ta), len(tb)) or 1
    chars = 0
    for x, y in zip(a.folded_title, b.folded_title, strict=False):
        if x != y:
            break
        chars += 1
    short_core = ca if len(ca) <= len(cb) else cb
    long_title = b.folded_title if short_core is ca else a.folded_title
    other_all = b.folded_all if short_core is ca else a.folded_all
    feat_a = {m.group(0).lower() for m in _FEAT.finditer(a.title)}
    feat_b = {m.group(0).lower() for m in _FEAT.finditer(b.title)}
    return [
        JaroWinkler.similarity(ca, cb) if ca and cb else math.nan,
        float(ca == cb) if ca and cb else math.nan,
        fuzz.token_set_ratio(ca, cb) / 100 if ca and cb else math.nan,
        float(prefix),
        prefix / shorter,
        chars / (min(len(a.folded_title), len(b.folded_title)) or 1),
        float(bool(short_core) and (long_title + " ").startswith(short_core + " ")),
        fuzz.partial_ratio(ca, cb) / 100 if ca and cb else math.nan,
        float(bool(short_core) and f" {short_core} " in f" {other_all} "),
        min(len(ca), len(cb)) / (max(len(ca), len(cb)) or 1),
        _field_vs_record(a.artist, b.artist, a.folded_all, b.folded_all, fold_artist),
        _field_vs_record(a.album, b.album, a.folded_all, b.folded_all),
        _field_vs_record(a.label, b.label, a.folded_all, b.folded_all),
        fuzz.token_set_ratio(a.folded_all, b.folded_all) / 100,
        fuzz.token_sort_ratio(a.folded_all, b.folded_all) / 100,
        _min_gap(a.durations, b.durations),
        _min_gap(a.years, b.years),
        float(len(a.versions ^ b.versions)),
        (len(feat_a & feat_b) / len(feat_a | feat_b)) if feat_a or feat_b else math.nan,
    ]
