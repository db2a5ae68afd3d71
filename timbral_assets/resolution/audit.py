"""An audit rule for merged tracks, independent of the resolver's own recording markers.

A merged track (a canonical entity with two or more distinct titles) is *suspicious* when two of its titles
differ in any of:
  1. the numbers they carry, read in order: digits ("Part 2" vs "Part 3", "Revolution" vs "Revolution 9";
     "Don't 1 2 Lose U" is "Don't 12 Lose U"), and roman numerals of two letters or more, or an "I" that ends
     the title outside brackets ("Synchronicity I" vs "II", not "Who Am I (Animatrix Edit)");
  2. the words that name another recording: reprise, remix, mix, dub, live, demo, instrumental, acoustic,
     outtake, interlude, intro, outro, prologue, epilogue, bootleg, rework, VIP, extended (and "long version"), alternate, coda, cover, and, with a number after them, take, part, act, movement,
     disc, CD, hour ("Take 2", not "Take Care On The Corner"); session, karaoke, backing track, sped up,
     slowed, nightcore; and the same words in Spanish, Portuguese, Italian, French, German, Japanese and
     Russian (`SIGNAL_EQUIVALENTS`: "En Vivo", "Ao Vivo", "ライブ", "Version Acoustique", "Maqueta",
     "Neuaufnahme"), written here apart from the resolver's lists;
  3. their remixes: the text of remix brackets (also cut off at the end) or else of a dash tail, without the
     words remix / rmx / mix, "of", "by" and "the". Two differ unless one's words hold the other's, give or
     take a typo (token set ratio 90): "(Notuv Remix)" vs "(trorez Remix)" and "(Remix)" vs "(Notuv Remix)"
     differ; "(Funcy Technicians Remix)" vs "(Funky Technicians Remix)" and "(Boys Noize Classic Mix)" vs
     "(Boys Noize remix)" do not;
  4. the text after a work title (": ", " - "), when both have one ("Requiem: Sanctus" vs ": Dies irae");
  5. one word of the title outside brackets, all others equal and in place, when the two words start with
     other letters, are not alike (ratio under 85) and neither ends the other (a first letter dropped: "O
     Caminho" / "No Caminho"): "East Side Wall" vs "West Side Wall", "S-bahn" vs "U-bahn" (added with the
     resolver's `one_word_apart`, which also lets two letters swapped, "n" / "and" and a word written over
     its neighbour through).
Before comparing, a title loses what names the same recording: a leading track number ("01 - ", or zero-padded "01 Title"),
apostrophes, vinyl sizes ("7 Master"; a "12 Version" is an extended version), and bracketed or dashed tails about remasters, years,
explicit/clean, mono/stereo, album, single or original versions and mixes, featured artists, bonus tracks,
editions and web addresses.

The rule is independent of the resolver's markers and blunter than them: a catalogue number or a date in a
bracket on one side only ("(Lackluster Limp 150603)") is suspicious. It exists to count, and to pick the
sample read by eye (docs/resolution.md). Until commit 1b0f9e8 it compared remix texts exactly and counted
part / take / ... without a number, which flagged right merges ("Rmx of Benjamin Dauer").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from .text import fold

SIGNAL_WORDS = frozenset({"reprise", "remix", "rmx", "mix", "dub", "live", "demo", "instrumental", "acoustic",
                          "outtake", "interlude", "intro", "outro", "prologue", "epilogue", "bootleg", "rework", "vip", "extended", "alternate", "coda", "cover",
                          "rerecorded", "slowed", "nightcore", "session", "karaoke"})
# the same words in other languages and scripts, as `fold` writes them (Katakana and Cyrillic transliterated),
# each read as the English word it means: "- En Vivo", "(Ao Vivo)", "(ライブ)" are live; "(Version Acoustique)"
# acoustic; "- Maqueta" a demo; "(Neuaufnahme)" a re-recording; and uploads sped up, slowed or nightcore
SIGNAL_EQUIVALENTS = {
    "vivo": "live", "directo": "live", "raibu": "live", "zhivoy": "live", "zhivaya": "live",
    "acustico": "acoustic", "acustica": "acoustic", "acoustique": "acoustic", "akustik": "acoustic",
    "akustisch": "acoustic", "akustika": "acoustic", "akosuteitku": "acoustic", "unplugged": "acoustic",
    "maqueta": "demo", "remezcla": "remix", "rimitkusu": "remix", "remiks": "remix", "mezcla": "mix",
    "neuaufnahme": "rerecorded", "regrabado": "rerecorded", "regrabada": "rerecorded",
    "instrumentale": "instrumental", "sped": "sped up", "sessions": "session", "backing": "backing track",
}
_PHRASES = ((re.compile(r"\ben public\b"), "live"), (re.compile(r"\bre recorded\b"), "rerecorded"))
NUMBERED_WORDS = frozenset({"take", "part", "pt", "act", "movement", "mvt", "disc", "cd", "hour"})
_ABBREVIATED = {"pt": "part", "mvt": "movement", "cd": "disc"}  # "Pt. 3" is "Part 3"
ANOTHER_WORD = 85  # rapidfuzz ratio under which one word is another, not the same one mistyped (rule 5)
SAME_REMIX = 90  # rapidfuzz token_set_ratio from which two remix texts are one
_NEUTRAL = re.compile(
    r"\s*(?:[(\[{][^()\[\]{}]*|\s-\s[^-]*?)\b(remaster(ed)?|\d{4}|explicit|clean|mono|stereo|album version|"
    r"single version|original (mix|version)|album mix|feat\.?|ft\.?|featuring|bonus track|edition|"
    r"\w+\.(?:net|com|org|ru|info))\b"
    r"[^()\[\]{}]*[)\]}]?\s*$", re.I)
_TRACK_NUMBER = re.compile(r"^\s*(?:\d{1,3}\s*[-.]\s*|0\d\s+(?=[^\W\d_]))")  # "01 - ", "01. ", "01 Title"
_APOSTROPHES = re.compile(r"['’‘`´]")
_ROMAN = re.compile(r"^(?:[IVXLC]{2,}|I)$")
_REMIX = r"\b(?:remix|rmx|mix|dub|rework|bootleg)\b"
_REMIX_BRACKET = re.compile(r"[(\[]([^()\[\]]*" + _REMIX + r"[^()\[\]]*)(?:[)\]]|$)", re.I)
_REMIX_DASH_TAIL = re.compile(r"\s[-–—]\s([^-–—]*" + _REMIX + r"[^-–—]*)$", re.I)
_REMIX_FILLER = frozenset({"remix", "rmx", "mix", "the", "of", "by"})
_TWELVE_INCH = re.compile(r"\b12\s*(?:inch|in)?\s*(?:long\s+)?version\b", re.I)  # the 12" version is the extended one
_VINYL_SIZE = re.compile(r"\b(?:7|10|12)\s*(?:inch|in)?\s*(?=(?:version|mix|edit|master|long|extended|vinyl|single)\b)",
                         re.I)
# a version glued on with a bare hyphen is a dash tail: "Machine Gun-16 Bit Remix", "Hide And Seek-Album Radio"
_GLUED_VERSION = re.compile(r"(?<=[a-z0-9)])-(?=[A-Z0-9][^-–—()\[\]]*\b(?i:remix|rmx|mix|edit|version|dub|radio)\b"
                            r"[^-–—()\[\]]*$)")
_BRACKETS = re.compile(r"[(\[{][^()\[\]{}]*[)\]}]?")
_SECTION = re.compile(r":\s+|\s+[-–—]\s+")


def _cleaned(title: str) -> str:
    text = _GLUED_VERSION.sub(" - ", _APOSTROPHES.sub("", _TRACK_NUMBER.sub("", title or "")))
    while True:
        stripped = _NEUTRAL.sub("", text)
        if stripped == text:
            return text.strip()
        text = stripped


def signature(title: str) -> tuple:
    """What the rule compares of a title: (numbers, signal words, remix texts, section or None, the words
    outside brackets)."""
    text = _VINYL_SIZE.sub("", _TWELVE_INCH.sub("extended version", _cleaned(title)))
    remix_texts = [m.group(1) for m in _REMIX_BRACKET.finditer(text)]
    if remix_texts:
        text = _REMIX_BRACKET.sub("", text)
    elif tail := _REMIX_DASH_TAIL.search(text):
        remix_texts, text = [tail.group(1)], text[: tail.start()]
    remixes = frozenset(" ".join(w for w in fold(r).split() if w not in _REMIX_FILLER) for r in remix_texts)
    raw_tokens = re.findall(r"[0-9]+|[A-Za-z]+", text)
    last_outside_brackets = (re.findall(r"[0-9]+|[A-Za-z]+", _BRACKETS.sub(" ", text)) or [""])[-1]
    digits = "".join(str(int(t)) for t in raw_tokens if t.isdigit())
    romans = frozenset(t for t in raw_tokens if _ROMAN.match(t) and (t != "I" or last_outside_brackets == "I"))
    folded = fold(text).replace("long version", "extended version")
    for phrase, word in _PHRASES:
        folded = phrase.sub(word, folded)
    words = folded.split()
    signal = frozenset(SIGNAL_EQUIVALENTS.get(w) or _ABBREVIATED.get(w, w) for i, w in enumerate(words)
                       if w in SIGNAL_WORDS or w in SIGNAL_EQUIVALENTS or (
        w in NUMBERED_WORDS and i + 1 < len(words) and re.fullmatch(r"\d+|[ivxlc]+", words[i + 1])))
    section = _SECTION.split(text, maxsplit=1)
    plain_words = tuple(re.sub(r"[^\w\s]", " ", fold(_BRACKETS.sub(" ", text))).split())
    return ((digits, romans), signal, remixes, fold(section[1]) if len(section) == 2 and section[0].strip() else None,
            plain_words)


def _another_word(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if len(a) != len(b):
        return False
    changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(changed) != 1:
        return False
    x, y = changed[0]
    return (x[0] != y[0] and not (x.isdigit() or y.isdigit() or x.endswith(y) or y.endswith(x))
            and fuzz.ratio(x, y) < ANOTHER_WORD)


def _same_remixes(a: frozenset, b: frozenset) -> bool:
    if a == b:
        return True
    if len(a) != len(b) or not all(a | b):  # "(Remix)" names no remixer: it is not "(Notuv Remix)"
        return False
    return all(any(fuzz.token_set_ratio(x, y) >= SAME_REMIX for y in b) for x in a)


def suspicious(titles: Iterable[str]) -> bool:
    """Whether a merged track's distinct titles differ by the rule."""
    signatures = [signature(t) for t in set(titles)]
    first = signatures[0]
    if any(s[:2] != first[:2] or not _same_remixes(s[2], first[2]) for s in signatures[1:]):
        return True
    sections = {s[3] for s in signatures if s[3] is not None}
    if len(sections) > 1:
        return True
    return any(_another_word(a[4], b[4]) for i, a in enumerate(signatures) for b in signatures[i + 1:])


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


def export_recording_ids(path: str) -> dict[tuple[str, str], str]:
    """(artist, title) -> the MusicBrainz recording id its plays carry most often, where they carry one."""
    from collections import Counter

    from ..sources.scrobble_files import ScrobbleFileReader

    plays: Counter = Counter()
    for batch in ScrobbleFileReader(path).batches():
        columns = batch.select(["artist_name", "track_name", "track_mbid"]).to_pydict().values()
        plays.update(row for row in zip(*columns, strict=True) if row[2])
    best: dict[tuple[str, str], tuple[int, str]] = {}
    for (artist, title, recording), n in plays.items():
        if (n, recording) > best.get((artist, title), (0, "")):
            best[artist, title] = (n, recording)
    return {key: recording for key, (_, recording) in best.items()}


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


def audit_resolve_names(path: str, one_library: bool = False) -> MergeAudit:
    """A scrobble file's distinct strings through `timbral resolve-names --entity track [--one-library]`'s code."""
    from .name_resolution import TrackName, resolve_track_names

    strings = export_strings(path)
    recordings = export_recording_ids(path)
    resolved = resolve_track_names([TrackName(str(i), t, a, al, recording_id=recordings.get((a, t), ""))
                                    for i, (a, t, al) in enumerate(strings)], one_library=one_library)
    return audit_merges(strings, [r.canonical_id for r in resolved])
