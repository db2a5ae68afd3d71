"""An audit rule for merged tracks, independent of the resolver's own recording markers.

A merged track (a canonical entity with two or more distinct titles) is *suspicious* when two of its titles
differ in any of:
  1. the numbers they carry: digits, and roman numerals of two letters or more or a final "I"
     ("Part 2" vs "Part 3", "Revolution" vs "Revolution 9", "Synchronicity I" vs "II");
  2. the words that name another recording: reprise, take, part, act, movement, disc, CD, hour, remix,
     mix, dub, live, demo, instrumental, acoustic, outtake, interlude, bootleg, rework, VIP;
  3. the text of a remix bracket or dash tail ("(Notuv Remix)" vs "(trorez Remix)"; "Rmx", "Mix" and
     "Remix" count as one word);
  4. the text after a work title (": ", " - "), when both have one ("Requiem: Sanctus" vs ": Dies irae").
Before comparing, a title loses what names the same recording: a leading track number ("01 - "),
apostrophes, and bracketed or dashed tails about remasters, years, explicit/clean, mono/stereo, album,
single or original versions and mixes, featured artists, bonus tracks, editions and web addresses.

The rule is deliberately blunt: a title with "(1)" against one without is suspicious, though often the
same recording. It exists to count, and to pick the sample read by eye (docs/resolution.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .text import fold

SIGNAL_WORDS = frozenset({"reprise", "take", "part", "pt", "act", "movement", "mvt", "disc", "cd", "hour", "remix",
                          "rmx", "mix", "dub", "live", "demo", "instrumental", "acoustic", "outtake", "interlude",
                          "bootleg", "rework", "vip"})
_NEUTRAL = re.compile(
    r"\s*(?:[(\[{][^()\[\]{}]*|\s-\s[^-]*?)\b(remaster(ed)?|\d{4}|explicit|clean|mono|stereo|album version|"
    r"single version|original (mix|version)|album mix|feat\.?|ft\.?|featuring|bonus( track)?|edition|"
    r"\w+\.(?:net|com|org|ru|info))\b"
    r"[^()\[\]{}]*[)\]}]?\s*$", re.I)
_TRACK_NUMBER = re.compile(r"^\s*\d{1,3}\s*[-.]\s*")
_APOSTROPHES = re.compile(r"['’‘`´]")
_ROMAN = re.compile(r"^(?:[IVXLC]{2,}|I)$")
_REMIX_BRACKET = re.compile(r"[(\[]([^()\[\]]*\b(?:remix|rmx|mix|dub|rework|bootleg)\b[^()\[\]]*)[)\]]"
                            r"|\s[-–—]\s([^-–—]*\b(?:remix|rmx|mix|dub|rework|bootleg)\b[^-–—]*)$", re.I)
_REMIX_SYNONYMS = re.compile(r"\b(remix|rmx|mix)\b")
_SECTION = re.compile(r":\s+|\s+[-–—]\s+")


def _cleaned(title: str) -> str:
    text = _APOSTROPHES.sub("", _TRACK_NUMBER.sub("", title or ""))
    while True:
        stripped = _NEUTRAL.sub("", text)
        if stripped == text:
            return text.strip()
        text = stripped


def signature(title: str) -> tuple:
    """What the rule compares of a title: (numbers, signal words, remix brackets, section or None)."""
    text = _cleaned(title)
    remixes = frozenset(" ".join(w for w in _REMIX_SYNONYMS.sub("remix", fold(m.group(1) or m.group(2))).split()
                                 if w != "the") for m in _REMIX_BRACKET.finditer(text))
    text = _REMIX_BRACKET.sub("", text)
    raw_tokens = re.findall(r"[0-9]+|[A-Za-z]+", text)
    numbers = frozenset(str(int(t)) if t.isdigit() else t for i, t in enumerate(raw_tokens)
                        if t.isdigit() or (_ROMAN.match(t) and (t != "I" or i == len(raw_tokens) - 1)))
    words = frozenset(t for t in fold(text).split() if t in SIGNAL_WORDS)
    section = _SECTION.split(text, maxsplit=1)
    return numbers, words, remixes, fold(section[1]) if len(section) == 2 and section[0].strip() else None


def suspicious(titles: Iterable[str]) -> bool:
    """Whether a merged track's distinct titles differ by the rule."""
    signatures = [signature(t) for t in set(titles)]
    if len({s[:3] for s in signatures}) > 1:
        return True
    sections = {s[3] for s in signatures if s[3] is not None}
    return len(sections) > 1


@dataclass
class MergeAudit:
    """The merged tracks of one resolution of a listening history, audited by the rule above."""

    strings: int  # distinct (artist, title) strings resolved
    merged: list[list[tuple[str, str]]]  # each merged track's distinct (artist, title) strings
    flagged: list[list[tuple[str, str]]]  # the suspicious ones
    conflicting: list[list[tuple[str, str]]]  # merged tracks whose recording markers conflict (must be none)

    @property
    def suspicious_share(self) -> float:
        return len(self.flagged) / len(self.merged) if self.merged else 0.0


def export_strings(path: str) -> list[tuple[str, str, str]]:
    """The distinct (artist, title) strings of a scrobble file, each with its most played album."""
    from collections import Counter

    from ..sources.scrobble_files import ScrobbleFileReader

    plays: Counter = Counter()
    for batch in ScrobbleFileReader(path).batches():
        columns = batch.select(["artist_name", "track_name", "album_name"]).to_pydict().values()
        plays.update(zip(*columns, strict=True))
    albums: dict[tuple[str, str], tuple[int, str]] = {}
    for (artist, title, album), n in plays.items():
        key = (artist, title)
        if key not in albums or (n, album or "") > albums[key]:
            albums[key] = (n, album or "")
    return [(artist, title, album) for (artist, title), (_, album) in sorted(albums.items())]


def audit_merges(strings: list[tuple[str, str, str]], track_of: list[str]) -> MergeAudit:
    """Audit a resolution: `track_of[i]` is the canonical track of `strings[i]`."""
    from collections import defaultdict

    from .markers import conflicting, parse_markers
    from .records import standardise

    members: dict[str, list[tuple[str, str]]] = defaultdict(list)
    markers_of: dict[tuple[str, str], dict[str, str]] = {}
    for (artist, title, album), track in zip(strings, track_of, strict=True):
        members[track].append((artist, title))
        if (artist, title) not in markers_of:
            # as the resolver reads them: from the title once an appended artist or album is cut off
            markers_of[artist, title] = parse_markers(standardise("", title, artist, album).markers)
    merged = [sorted(m) for m in members.values() if len({t for _, t in m}) > 1]
    merged.sort()
    flagged = [m for m in merged if suspicious(t for _, t in m)]
    clashing = []
    for track in merged:
        markers = [markers_of[string] for string in dict.fromkeys(track)]
        if any(conflicting(a, b) for i, a in enumerate(markers) for b in markers[i + 1:]):
            clashing.append(track)
    return MergeAudit(len(strings), merged, flagged, clashing)


def audit_resolve_names(path: str) -> MergeAudit:
    """A scrobble file's distinct strings through `timbral resolve-names --entity track`'s code."""
    from .name_resolution import TrackName, resolve_track_names

    strings = export_strings(path)
    resolved = resolve_track_names([TrackName(str(i), t, a, al) for i, (a, t, al) in enumerate(strings)])
    return audit_merges(strings, [r.canonical_id for r in resolved])
