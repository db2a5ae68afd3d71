"""Recording markers: what in a title says "another recording", even when the rest of it is the same.

Listening histories are full of titles that differ in one small token: "Synchronicity I" / "II", "Final
(Take 1)" / "(Take 2)", "Hour 1" / "Hour 2", "Sweet Thing" / "Sweet Thing (reprise)", the movements of one
work ("Messa da Requiem: Dies irae" / ": Sanctus"), remixes by different remixers. Every string matcher
scores such pairs as near-identical; they are different recordings all the same, so no tier may merge them.

`recording_markers` reads these markers from a title:
  numbers   one marker per kind: part, movement, act, take, no ("No. n", "#n", a bare trailing number or
            roman numeral, also glued: "Revolution 9", "Synchronicity II", "Orbiter2"), disc/CD, hour,
            chapter, volume, episode, scene, stage, level, day, session, round, time ("12:31"), side ("A1 -",
            "Side B", "7” b1"), a final capital letter ("Omega X" / "Omega Y").
            Roman numerals and number words count as numbers ("Part II" = "Pt. 2" = "Part Two")
  opus, catalogue  a work's opus and catalogue numbers (Op., K., BWV, D., Hob.)
  section   the text after a work title: "Work: Movement", "Work, Op. 43: No. 1, Von ewiger Liebe",
            "Stabat Mater. II. Cuius animam", "The Hours - Choosing Life"; after a comma only when nothing
            else separates them ("New Cities in Ancient Lands, China"), and then compared only with another
            comma section (comma_section)
  date      a date in the title: "Solid Steel Radio Show 9/11/2018 Hour 2" is another show than 16/11/2018
  remixer   who made a remix and which cut: "(Notuv Remix)" and "(trorez Remix)" are two recordings, as are
            "(Dub)" and "(Teddy G. Dub)", or a remix's vocal and instrumental mixes
  remixed   always present (yes or no): a remix however written ("SPEEDDIALER_RMX", "(cv313 Reshape)")
  reprise   always present (yes or no): a reprise or a coda is another recording of the song
  intro     always present (the word or no): an intro, outro, prologue, epilogue or interlude that ends the
            title proper makes a track of its own ("9:20" / "9:20 Intro", "Night Intro" / "Night Outro"); in
            a closing bracket it is a version ("Hometown (Intro)", versions.py)
  digits    every digit of the title outside brackets, in order ("sic_m_008_01_Friend": 00801)
  tail      a bracket that ends the title and names no version, which in dance music names a mix by
            its remixer alone: "(cv313 Reduction)", "(Dongtool)"; compared like a section

`conflicting` says whether two marker sets keep two records apart: a kind both have, with values that
cannot be one recording's (`compatible`). A kind on one side only decides nothing, since titles leave
out what others write ("Le Nozze di Figaro: Dove sono" is "Le Nozze di Figaro, K. 492: Dove sono", and an
album appended to a title brings its own numbers), except a number in the title proper, outside brackets
and sections: "Revolution 9", "Kappsta 2" and "Souljacker, Part I" name other recordings than "Revolution",
"Kappsta" and "Souljacker", and a bracket that holds only a number: "Poor Girl (#1)" and "Mysteries (1)" may
be "Poor Girl (#2)" as well as "Poor Girl", so they join neither. Clustering keeps every cluster's markers
consistent.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from functools import lru_cache

from rapidfuzz import fuzz

from .text import fold
from .versions import DIFFERENT, SOFT, Title, parse_title

_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_LABELS = {
    "part": "part", "pt": "part", "parts": "part", "movement": "movement", "mvt": "movement", "mov": "movement",
    "act": "act", "take": "take", "no": "no", "nr": "no", "number": "no", "num": "no", "#": "no",
    "disc": "disc", "disk": "disc", "cd": "disc", "hour": "hour", "chapter": "chapter", "ch": "chapter",
    "volume": "volume", "vol": "volume", "episode": "episode", "ep": "episode", "scene": "scene",
    "stage": "stage", "level": "level", "day": "day", "reel": "reel", "session": "session", "round": "round",
    "op": "opus", "opus": "opus", "k": "catalogue", "kv": "catalogue", "bwv": "catalogue", "d": "catalogue",
    "hob": "catalogue", "rv": "catalogue", "hwv": "catalogue", "s": "catalogue",
}
_WORDS = {w: n for n, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                      "eleven", "twelve"], 1)}
_NUMBER = r"(\d+(?:-\d+)?[a-z]?|[ivxlc]+|" + "|".join(_WORDS) + r")\b"  # "Level 7-1" is not "Level 7-2"
# a label, then its number: "Part II", "pt. 2", "No.3", "#5", "Op. 74", "K. 620", "BWV 1007"
_LABELLED = re.compile(r"(?:(?<![\w#])(" + "|".join(sorted((k for k in _LABELS if k != "#"), key=len, reverse=True))
                       + r")\.?\s*|(#)\s*)" + _NUMBER, re.I)
# labels that are also ordinary words need their number right after a dot or a space, and a digit for the
# one-letter catalogue labels ("D. 960", not "D. Dog")
_SHORT_LABELS = {"d", "s", "k", "ch", "ep", "no"}
# a number that ends the title, also glued to a word ("Orbiter2", "gates p1", "Rnd v3", "(01)")
_TRAILING_NUMBER = re.compile(r"(?:(?<=[^\d\s.,])\s*|(?<=[.,])\s+)(\d{1,4})$")
# a vinyl side and position in front: "A1 - Untitled", "b2-Untitled" ("01 - Title" is a track number: same song)
_SIDE = re.compile(r"^([A-Da-d]\d{1,2})\s*[-–._]\s*(?=\S)|^([A-Da-d])\s+[-–]\s+(?=\S)")
_GENERIC_VERSION_WORDS = re.compile(r"\b(version|mix|edit|remix|rmx|the|s)\b")
_NAMED_SIDE = re.compile(r"\bside\s+([a-d]|\d{1,2})\b|\s([a-d]\d)\s*$", re.I)
_FINAL_LETTER = re.compile(r"(?<=[a-z]{2})(?<![Ss]ide)\s+([A-HJ-UW-Z])$")  # not a roman I or V
_SQUARE = re.compile(r"\[[^\]]*\]")
_TRAILING_CLOSERS = re.compile(r"[\s)\]}\"'”.!?]+$")
_WHOLE_ROMAN = re.compile(r"^(I|[IVX]{2,5})$")  # a title that is only a numeral: "II", "III"
_YEAR = re.compile(r"\b(19|20)\d\d\b")
# upper case only ("Synchronicity II", not "... i"); of the single letters only I ("Malcolm X" is a name)
_TRAILING_ROMAN = re.compile(r"(?<=\S)\s+(I|[IVX]{2,4})$")
# where a work title ends and a section begins: ": ", " - ", or ". " before a movement numeral
_SECTION = re.compile(r":\s+|\s+[-–—|]\s+|\.\s+(?=[IVXLC]+\.\s)")
_COMMA = re.compile(r",\s+")
_APOSTROPHE = re.compile(r"['’‘`´]")  # "Summer of '69" has the number 69
WORK_NUMBERS = ("opus", "catalogue")
_MOVEMENT_PREFIX = re.compile(r"^\s*([IVXLC]+|\d{1,2})\.\s+", re.I)  # "IV. Finale", also "iv. finale"
_REMIX_WORDS = re.compile(r"\b(remix|rmx|mix|rework|dub|vip|edit|version|bootleg)\b")
# a bracket or dash segment anywhere in the title that names a remix ("(Axel B. Remix)(m)")
_REMIX_WORD = r"\b(?:remix|rmx|mix|rework|dub|bootleg)\b"
_REMIX_SEGMENT = re.compile(r"[(\[]([^()\[\]]*" + _REMIX_WORD + r"[^()\[\]]*)[)\]]"
                            r"|\s[-–—]\s([^-–—]*" + _REMIX_WORD + r"[^-–—]*)$"
                            r"|[(\[]([^)\]]*" + _REMIX_WORD + r"[^)\]]*)$"  # cut off
                            r"|(?<=[a-z0-9)])-([a-z0-9][^-–—()\[\]]*" + _REMIX_WORD + r"[^-–—()\[\]]*)$",  # glued on
                            re.I)
# what is left of "(Original Mix)", "(Album Version)" ... once the remix words are gone: the original recording
_NOT_A_REMIX = re.compile(r"^(original|album|radio|single|extended|club|lp|main)$")
# someone else's version, however it is written: "SPEEDDIALER_RMX", "(reconstructed by c0ma)", "(cv313 Reshape)"
_REMIXED = re.compile(r"\b(remix(ed)?|rmx|rework(ed)?|bootleg|refix|reshape|re ?version|revision|reconstruct(ed|ion)?|remake|rerub|"
                      r"re ?edit|remodel(led)?)\b")
_REMIX_BY = re.compile(r"\b(?:remix(?:ed)?|rmx|reworked|mixed)\s+by\s+([^()\[\]]+?)\s*[)\]]?\s*$", re.I)
_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])")  # "12:31" is not "21:31"
_ONLY_DIGITS = re.compile(r"^\d{1,6}$")
_REPRISE = re.compile(r"\b(reprise|coda)\b")  # "For the Damaged Coda" is a track of its own
_INTRO = re.compile(r"(?:^|\s)(intro|outro|prologue|epilogue|interlude)$")  # ending the title proper
# the cuts of one remix, which are recordings of their own
_CUTS = {"vocal": "vocal", "instrumental": "instrumental", "inst": "instrumental", "dub": "dub",
         "acapella": "acapella", "accapella": "acapella", "extended": "extended", "edit": "edit"}
_DATE = re.compile(r"(?<![\d/.-])(\d{1,4})([/.-])(\d{1,2})\2(\d{2,4})(?![\d/.-])")
# rapidfuzz token_set_ratio from which two sections (or remixers) are one: word order, a typo and extra
# words pass (an album appended to one title, "Dies irae" / "Dies Irae - Tuba mirum")
SECTION_ALIKE = 85


def roman_value(text: str) -> int | None:
    """The value of a roman numeral ("xiv" -> 14), None when the text is not one."""
    values = [_ROMAN.get(ch) for ch in text.lower()]
    if not values or None in values:
        return None
    total = 0
    for i, v in enumerate(values):
        total += -v if i + 1 < len(values) and v < values[i + 1] else v
    return total if total > 0 else None


def _number(text: str) -> str | None:
    if text.lower() in _WORDS:
        return str(_WORDS[text.lower()])
    if text[0].isdigit():
        digits = re.match(r"\d+(?:-\d+)?", text).group(0)
        return "-".join(str(int(d)) for d in digits.split("-")) + text[len(digits):].lower()
    value = roman_value(text)
    return None if value is None else str(value)


def number_word(word: str) -> str | None:
    """A word's number: "two", "2", "ii" -> "2"; None for any other word."""
    return _number(word) if word and (word in _WORDS or word.isdigit() or _WHOLE_ROMAN.match(word.upper())) else None


def _numbered(text: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for match in _LABELLED.finditer(text):
        label = (match.group(1) or match.group(2)).lower()
        raw_number = match.group(3)
        if label in _SHORT_LABELS and not raw_number[0].isdigit():
            continue
        if label in {"d", "s", "k"} and not re.match(r"[dsk]\.?\s*\d", match.group(0), re.I):
            continue
        number = _number(raw_number)
        if number is not None:
            found.setdefault(_LABELS[label], []).append(number)
    return {kind: ",".join(values) for kind, values in found.items()}


def _section(base: str) -> tuple[str, str, bool]:
    """(work, section, whether a comma separates them) of a title, or (title, '', False) when it has no
    section. A comma separates a section only when nothing else does ("New Cities in Ancient Lands, Africa")."""
    match = _SECTION.search(base)
    comma = match is None
    match = match or _COMMA.search(base)
    if not match or match.start() == 0:
        return base, "", False
    return base[: match.start()].strip(), base[match.end():].strip(), comma


def _section_key(section: str) -> str:
    """The section as compared: folded, without its movement numeral (which is a marker of its own)."""
    return fold(_MOVEMENT_PREFIX.sub("", section))


def _remixer(segment: str) -> str:
    """Who made a remix, and which cut of it: "mad professor mazaruni +vocal" (cut words after a +). A
    string cut off inside a second bracket ("2LS mix (compilat") counts up to that bracket."""
    segment = re.split(r"[(\[]", segment, maxsplit=1)[0]
    words = _REMIX_WORDS.sub(" ", segment).split()
    name = [w for w in words if w not in _CUTS and w not in ("the", "s")]
    cuts = sorted({_CUTS[w] for w in fold(segment).split() if w in _CUTS})
    return " ".join(name + [f"+{c}" for c in cuts])


def _numbers_of(text: str, numbered: dict[str, set], markers: dict[str, str]) -> None:
    """Collect the numbers of one part of a title (its base, a store tag, a version text) into `numbered`,
    and its dates and work numbers into `markers`."""
    dates = [f"{int(m.group(1))}-{int(m.group(3))}-{int(m.group(4))}" for m in _DATE.finditer(text)]
    if dates:
        markers["date"] = ",".join(sorted(set(markers.get("date", "").split(",") + dates) - {""}))
    text = _DATE.sub(" ", text).strip()
    for m in _TIME.finditer(text):
        numbered["time"].add(":".join(str(int(g)) for g in m.groups() if g is not None))
    text = _TIME.sub(" ", text).strip()
    side = _SIDE.match(text)
    if side:
        numbered["side"].add((side.group(1) or side.group(2)).lower())
        text = text[side.end():]
    for named_side in _NAMED_SIDE.finditer(text):  # "Promo 5 - Side A" is not "Side B", "7” a1" not "7” b1"
        numbered["side"].add((named_side.group(1) or named_side.group(2)).lower())
    letter = _FINAL_LETTER.search(text)
    if letter:  # "Omega X" is not "Omega Y"
        numbered["letter"].add(letter.group(1))
    text = _SQUARE.sub(lambda m: _YEAR.sub(" ", m.group(0)), text)  # "[Electronic 2009]" is a store tag
    for kind, values in _numbered(text).items():
        if kind in WORK_NUMBERS:  # a work's own numbers are often left out: only two different ones conflict
            markers[kind] = values
        else:
            numbered[kind].add(values)
    end = _TRAILING_CLOSERS.sub("", text)
    trailing = (_ONLY_DIGITS.match(end) or _TRAILING_NUMBER.search(end) or _TRAILING_ROMAN.search(end)
                or _WHOLE_ROMAN.match(end))
    if trailing and not _LABELLED.search(end[max(0, trailing.start() - 12):]):
        number = _number(trailing.group(1) if trailing.groups() else trailing.group(0))
        if number is not None and not numbered["no"]:
            numbered["no"].add(number)


# a title with none of these cannot carry a marker (most titles): it skips the parsing below
_MAYBE_MARKED = re.compile(r"[\d#:,(\[\]{}|.–—]|\s-\s|[a-z)]-[A-Z]|\b[IVXLC]+\b|\bside\b|reprise|coda|\s[A-Z]$|mix|rmx|dub|bootleg|rework|refix|reshape|"
                           r"reconstruct|remake|rerub|re ?edit|remodel|intro|outro|prologue|epilogue|interlude|_|\b(?:" + "|".join(_WORDS) + r")\b", re.I)
_UNMARKED = {"remixed": "no", "reprise": "no", "intro": "no"}
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\]]*\]|\{[^}]*\}")
_DIGIT_RUN = re.compile(r"\d+")
_TAIL = re.compile(r"(?<=\S)\s*[(\[]([^()\[\]]+)[)\]]?\s*$")  # also cut off: "Song (Lackluster Limp"
_FEATURING = re.compile(r"^\s*(feat|ft|featuring|with|prod)(?![a-z])", re.I)
STRICT = "proper_"  # marker key prefix: the kind's number is in the title proper (see conflicting)
_NAMED_PART_WORDS = {kind: re.compile(pattern, re.I) for kind, pattern in (
    ("part", r"\b(part|pt)\b"), ("movement", r"\b(movement|mvt)\b"), ("act", r"\bact\b"), ("take", r"\btake\b"))}
_NAMED_PARTS = frozenset(_NAMED_PART_WORDS)
# "(1)", "(#2)", "[No. 3]"; not "(01)", which is a track number
_BRACKETED_NUMBER = re.compile(r"[(\[]\s*(?:#|no\.?\s*|nr\.?\s*)?[1-9]\d{0,2}\s*[)\]]", re.I)
_CATCH_ALL = frozenset({"digits", "tail"})
# kinds whose values are words, compared by their likeness (`compatible`); and the always-present flag kinds
TEXT_KINDS = frozenset({"section", "comma_section", "remixer", "tail"})
FLAG_KINDS = frozenset({"remixed", "reprise", "intro"})


def recording_markers(title: str) -> dict[str, str]:
    """The markers of a title (see the module's docstring); keys are marker kinds, values folded text."""
    if not _MAYBE_MARKED.search(title or ""):
        return dict(_UNMARKED)
    return _parsed_markers(title)


def _parsed_markers(title: str) -> dict[str, str]:
    # the parse standardise made of the same title (cached); apostrophes go after it, since no tail it
    # cuts depends on them
    parsed = parse_title(title or "")
    base = " ".join(_APOSTROPHE.sub("", parsed.base).split())
    markers: dict[str, str] = {}
    numbered: dict[str, set] = defaultdict(set)
    _numbers_of(base, numbered, markers)
    # numbers count in a [bracket] that names no version ("[Part 2]") and in another recording's version text
    # ("Radio - Mini Mix 10"), though not the years of store tags and concerts
    label_tag = _APOSTROPHE.sub("", parsed.label_tag) if parsed.label_tag else None
    for extra in (label_tag, parsed.detail if parsed.relation == DIFFERENT else None):
        if extra and _YEAR.sub(" ", extra).strip():
            _numbers_of(_YEAR.sub(" ", extra).strip(), numbered, markers)
    _, section, comma = _section(base)
    if section:
        movement = _MOVEMENT_PREFIX.match(section)
        number = _number(movement.group(1)) if movement else None
        if number is not None and not numbered["movement"]:
            numbered["movement"].add(number)
        key = _section_key(section)
        if key:
            # a comma is a weaker separator: its sections are only compared with other comma sections
            markers["comma_section" if comma else "section"] = key
    for kind, values in numbered.items():
        if values:
            markers[kind] = ",".join(sorted(values))
    # the digits of the title outside brackets, in order: "sic_m_008_01_Friend" is not "sic_m_008_02_Shadows",
    # "Special Q - 12th Street" not "Special Q - 2112" (compared only when both titles have digits)
    digits = "".join(_DIGIT_RUN.findall(_BRACKETED.sub(" ", base)))
    if digits:
        markers["digits"] = digits
    # a bracket that ends the title and names no version is often a mix by a name alone ("(cv313 Reduction)",
    # "(Dongtool)"): two different ones are two recordings, and so are such a mix and an edit ("(12 Edit)");
    # one on one side only decides nothing
    tail = _TAIL.search(base)
    if tail and not _FEATURING.match(tail.group(1)) and fold(tail.group(1)):
        markers["tail"] = fold(tail.group(1))
    # a number in the title proper, outside brackets and sections, is part of its name: "Kappsta 2" is not
    # "Kappsta", though "Title - Anthology, Volume 7" is "Title"
    proper: dict[str, set] = defaultdict(set)
    _numbers_of(_BRACKETED.sub(" ", _SECTION.split(base, maxsplit=1)[0]), proper, {})
    for kind, values in proper.items():
        if values and kind in markers and kind != "letter":  # "Don't 12 Lose U" is "Don't 12 lose u"
            markers[STRICT + kind] = "yes"
    # a part, movement, act or take named with its word counts anywhere: "The Burglar [Part 2]" is not
    # "The Burglar"; so does a bracket holding only a number: "Poor Girl (#1)" is one of two on its album
    for kind in _NAMED_PARTS & markers.keys():
        if _NAMED_PART_WORDS[kind].search(title or ""):
            markers[STRICT + kind] = "yes"
    if "no" in markers and _BRACKETED_NUMBER.search(title or ""):
        markers[STRICT + "no"] = "yes"
    remixed = _REMIXED.search(fold(title or "")) is not None or parsed.version == "remix"
    remixed_by = _REMIX_BY.search(title or "")
    if remixed_by:  # "(Remix) - Production & Remix By Sofus F & DJ Ilz": the credit names the remixer
        markers["remixer"] = _remixer(fold(remixed_by.group(1)))
        remixed = True
    for segment in ([] if remixed_by else _REMIX_SEGMENT.finditer(title or "")):
        text = next(group for group in segment.groups() if group)
        if not _NOT_A_REMIX.match(" ".join(_REMIX_WORDS.sub(" ", fold(text)).split())):
            remixed = True
            # present whenever the title names a remix: "(Dub)" is not "(Teddy G. Dub)"
            markers["remixer"] = _remixer(fold(text))
            break
    if "tail" not in markers:
        version_tail = _version_tail(markers.get("remixer"), parsed)
        if version_tail is not None:
            markers["tail"] = version_tail
    markers["remixed"] = "yes" if remixed else "no"
    markers["reprise"] = "yes" if _REPRISE.search(fold(title or "")) else "no"
    intro = _INTRO.search(fold(_BRACKETED.sub(" ", _SECTION.split(base, maxsplit=1)[-1])))
    markers["intro"] = intro.group(1) if intro else "no"
    return markers


def _version_tail(remixer: str | None, parsed: Title) -> str | None:
    """The tail of a title whose closing bracket names a version: its remixer (the remix it came from, when a
    title names two: "(X mix) (Remix You)"), else an edit's or another version's own words ("(Live at Wembley)"
    is not "(Live in Tokyo)") or the original mix said out loud ("(Original Mix)" is not "(Holden Bass Tool)");
    "(12 Version)" is "(Extended Version)"."""
    if remixer is not None:
        return remixer.split(" +")[0] or remixer
    words = " ".join(_GENERIC_VERSION_WORDS.sub(" ", parsed.detail).split())
    if words and (parsed.relation in (SOFT, DIFFERENT) or (parsed.version == "album_version" and "original" in words)):
        return "extended" if parsed.version == "extended" else words
    return None


_WORK_KINDS = ("movement", "opus", "catalogue", "section")
ARTIST_SIDE = "artist_"  # marker key prefix: read from the artist field, which holds a work when the two are swapped


def work_markers(artist: str) -> dict[str, str]:
    """The markers of an artist field that holds a work and its movement (artist and title swapped:
    "Symphony No. 3, Op. 48: II. Menuetto" by "Michi"), keyed `artist_<kind>` and compared for equality.
    Only a field with "Work: Section" and a movement, opus or catalogue number is read: names such as
    "Sum 41", "D12", "K5" or "K. V. Narayanaswami" (all in the real data) read nothing. The colon check comes
    first, since every record's artist passes here."""
    if ": " not in (artist or ""):
        return {}
    found = recording_markers(artist)
    if not any(kind in found for kind in ("movement", "opus", "catalogue")):
        return {}
    return {ARTIST_SIDE + kind: found[kind] for kind in _WORK_KINDS if kind in found}


def format_markers(markers: Mapping[str, str]) -> str:
    """One string for a table column: "movement=4;no=6;reprise=no" (sorted, so equal sets write alike)."""
    return ";".join(f"{k}={v}" for k, v in sorted(markers.items()))


def parse_markers(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


@lru_cache(maxsize=1 << 18)  # clustering asks about the same values again at every merge it tries
def compatible(kind: str, a: str, b: str) -> bool:
    """Whether two values of one marker kind can belong to one recording. Numbers must be equal; sections
    and remixers alike in their words (a typo, another word order or an extra word is allowed: "Molto
    Allegro" and "I. Allegro molto", "Funky Lowlives" and "The Funky Lowlives"), and anything else equal."""
    if a == b:
        return True
    if kind == "remixer":
        (name_a, *cuts_a), (name_b, *cuts_b) = a.split(" +", 1) if " +" in a else [a], b.split(" +", 1) if " +" in b else [b]
        if cuts_a != cuts_b or not name_a or not name_b:
            return False
        a, b = name_a, name_b
    if kind in TEXT_KINDS:
        return max(fuzz.token_set_ratio(a, b), fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""))) >= SECTION_ALIKE
    return False


def conflicting(a: Mapping[str, str], b: Mapping[str, str]) -> str | None:
    """The first marker kind that keeps two records apart (see `conflicting_sets`)."""
    return conflicting_sets({k: (v,) for k, v in a.items()}, {k: (v,) for k, v in b.items()})


def conflicting_sets(a: Mapping[str, Collection[str]], b: Mapping[str, Collection[str]]) -> str | None:
    """The first marker kind that keeps two records, or two clusters (kind -> the values their records
    carry), apart: both have it with values that cannot be one recording's, or one has a number of that
    kind in its title proper and the other none of that kind."""
    for kind in sorted(a.keys() & b.keys(), key=lambda k: (k in _CATCH_ALL, k)):  # the most telling kind first
        if len(a[kind]) == 1 and set(a[kind]) == set(b[kind]):  # the usual case: one and the same value
            continue
        if any(not compatible(kind, x, y) for x in a[kind] for y in b[kind]):
            return kind
    for one, other in ((a, b), (b, a)):
        for key in sorted(one):
            if key.startswith(STRICT) and key[len(STRICT):] not in other:
                return key[len(STRICT):]
    return None
