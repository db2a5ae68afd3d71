"""Version suffixes: which ones name the same recording and which a different one.

"Song - 2011 Remaster", "Song (1999)" and "Song - Album Version" are the song. "Song (Live at Wembley)",
"Song (DJ Koze Remix)", "Song - Acoustic" are other recordings. A radio or single edit is the song cut
shorter: the same entity unless the durations say otherwise, so it is `soft`. A trailing [bracket] that
names no version is a label or store tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .text import fold

_GLUED_MIX = re.compile(r"\b[a-z]+(mix|mx)\b")  # "(Jazzy Gentle solareMix)", "(Lackluster Wavplayermx)"
# what an edit or version may be called and still be the artist's own cut
_PLAIN_QUALIFIERS = ("radio", "single", "clean", "album", "original", "short", "shortened", "long", "full", "length",
                     "club", "dj", "promo", "main", "vocal", "dirty", "lp", "ep", "mono", "stereo", "video", "censored",
                     "uncensored", "edited", "remastered", "remaster", "digital", "new", "final", "bonus", "us", "uk",
                     "cd", "vinyl", "inch", "in", "quick", "fade", "edit", "mix", "tv", "amended", "the", "a", "cut")
# kind -> (pattern on the folded suffix text, relation to the original recording)
SAME, SOFT, DIFFERENT = "same", "soft", "different"
VERSION_KINDS: list[tuple[str, re.Pattern[str], str]] = [
    ("live", re.compile(r"\blive\b|\bin concert\b|\bunplugged\b"), DIFFERENT),
    # a radio or studio session by its name alone: "(Daytrotter Session)", "(BBC Radio One)"; not "(In Session)"
    ("session", re.compile(r"^(?!in |the )[a-z0-9]+ sessions?$|^bbc radio \w+$"), DIFFERENT),
    # "Original Mix" and "Album Mix" name the original recording (album_version below)
    ("remix", re.compile(r"\bremix\b|\brmx\b|(?<!original )(?<!album )\bmix\b|\bdub\b|\brework\b|\bvip\b"
                         r"|\bbootleg\b|\bflip\b|\btool\b|\brefix\b|\breshape\b|\brerub\b|\bre ?version\b|\brevision\b"), DIFFERENT),
    ("cover", re.compile(r"\bcover\b"), DIFFERENT),
    # a stage cast's recording of a band's song: "(Original Broadway Cast Recording)", "(feat. …, Company)"
    ("cast", re.compile(r"\b(?:original|broadway|london|west end|cast) cast\b|\bcast (?:recording|version|album)\b"
                        r"|\belenco original\b"), DIFFERENT),
    ("remix", _GLUED_MIX, DIFFERENT),
    ("acoustic", re.compile(r"\bacoustic\b"), DIFFERENT),
    ("demo", re.compile(r"\bdemo\b"), DIFFERENT),
    ("instrumental", re.compile(r"\binstrumental\b|\bkaraoke\b|[a-z]*apella\b|\bcappella\b"), DIFFERENT),
    ("rerecorded", re.compile(r"\bre ?recorded\b|\btaylors version\b"), DIFFERENT),
    # a 12" long version is the extended one: "(Original 12' Long Version)"
    ("extended", re.compile(r"\bextended\b|\bext\b|\blong version\b|\b12 ?(inch|in)?( long)?( version| mix)\b"), DIFFERENT),
    ("reprise", re.compile(r"\breprise\b"), DIFFERENT),
    ("outtake", re.compile(r"\bout ?takes?\b|\balt(ernate)? take\b"), DIFFERENT),
    # an album's intro or outro to a song is a track of its own: "Hometown (Intro)", "Lineage (Prologue)"
    ("interlude", re.compile(r"\b(interlude|intro|outro|prologue|epilogue)\b"), DIFFERENT),
    # a numbered or alternate version is another take: "(Baby Mammoth Version 3)", "(Alternate Version)"
    ("alternate", re.compile(r"\bversion \d+\b|\balternat(e|ive)\b|\bearly (version|mix)\b|\bvariation\b"),
     DIFFERENT),
    ("revisited", re.compile(r"\brevisited\b|\breimagined\b|\breversed\b|\bbackwards\b|\brevised\b"), DIFFERENT),
    ("language", re.compile(r"\b(spanish|english|french|german|italian|japanese|portuguese|korean|russian|ukrainian) "
                            r"version\b|^(ukr|rus|eng|esp|ita|fra|ger|jpn|kor)$"), DIFFERENT),
    # an edit or version named after someone or something is theirs: "(Prins Thomas Sneaky Edit)", "(Dogg
    # edit)", "(Xoki Heavy Metal Version)"; not a radio, single, album, 7" ... one
    ("named_version", re.compile(r"\b(?!(?:" + "|".join(_PLAIN_QUALIFIERS) + r")\b)[a-z][a-z0-9]*\s+(edit|version)\b"),
     DIFFERENT),
    ("edit", re.compile(r"\b(radio|single) edit\b|(?<!clean )\bedit\b"), SOFT),  # a clean edit is the clean one
    ("remaster", re.compile(r"\bremaster(ed)?\b|\bdigital(ly)? remaster"), SAME),
    ("album_version", re.compile(r"\b(album|single|lp|original|mono|stereo|main) (version|mix)\b|\bmono\b|\bstereo\b"), SAME),
    ("explicit", re.compile(r"\bexplicit\b|\bclean\b|\bdirty\b"), SAME),
    ("year", re.compile(r"^(19|20)\d\d$"), SAME),  # "Song - 2011"; "2112" is a title
]
# a word every pattern above needs (tested against them in test_resolution_rules.py)
_ANY_VERSION_WORD = re.compile(r"mix|rmx|dub|rework|vip|bootleg|flip|tool|refix|reshape|rerub|version|live|concert|"
                               r"unplugged|acoustic|demo|instrumental|karaoke|apella|cappella|recorded|ext|reprise|take|"
                               r"interlude|intro|outro|prologue|epilogue|alternat|early|variation|revisited|reimagined|reversed|backwards|revised|revision|"
                               r"cover|edit|remaster|mono|stereo|explicit|clean|dirty|mx\b|session|bbc|cast|elenco|"
                               r"^(19|20)\d\d$|^(ukr|rus|eng|esp|ita|fra|ger|jpn|kor)$")
_LOOSE = {n for n, (kind, pattern, _) in enumerate(VERSION_KINDS)
          if kind in ("alternate", "named_version", "session") or pattern is _GLUED_MIX}
_FEAT = re.compile(r"^(feat|ft|featuring|with)\b\.?\s*(.*)$", re.I)
# a producer credit names who made the recording, not another one: "(prod. Metro Boomin)", "Song PROD. X"
_PRODUCER = re.compile(r"\s*[(\[]\s*prod(?:uced)?\b\.?(?:\s+by)?\s+[^()\[\]]+[)\]]\s*$|\s+(?:PROD\.?|Prod\.|prod\.)\s+\S.*$")
# the explicit mark streaming services print after a title: a circled or squared capital E
_EXPLICIT_MARK = re.compile(r"\s*[\u24ba\U0001F174\U0001F134]\s*$")
_BRACKETED_TAIL = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$")
_DASH_TAIL = re.compile(r"\s+[-–—]\s+([^-–—]+)$")
_OPEN_TAIL = re.compile(r"\s*[(\[](.+)$")
# a version glued on with a bare hyphen: "Hide And Seek-Club Mix" (taken only when it names a version)
_GLUED_TAIL = re.compile(r"(?<=[a-z0-9)])-([A-Z0-9][^-–—()\[\]]*\s[^-–—()\[\]]+)$")
_NUMBERED = re.compile(r"\d|\b[ivx]+\b", re.I)
_INLINE_FEAT = re.compile(r"\s+(feat\.?|ft\.?|featuring)\s+(.+?)(?=\s+[-–—]\s+\S|$)", re.I)


@dataclass(frozen=True)
class Title:
    base: str  # the title without credits, versions and tags, as written
    version: str | None  # the strongest version kind found (live, remix, edit, remaster ...), None for the original
    relation: str  # SAME, SOFT or DIFFERENT: how this version relates to the original recording
    detail: str  # what the version text said, folded ("live at wembley", "dj koze remix")
    featured: tuple[str, ...]
    label_tag: str | None  # a trailing [bracket] that names no version

    @property
    def key(self) -> str:
        """Folded base plus, for a different recording, its version kind (and a remix its remixer): the
        rules tier's title key."""
        if self.relation != DIFFERENT:
            return fold(self.base)
        specific = f" {_specific(self)}" if self.version == "remix" and _specific(self) else ""
        return fold(self.base) + f" [{self.version}{specific}]"


@lru_cache(maxsize=1 << 16)
def version_kind(text: str) -> tuple[str, str] | None:
    """(kind, relation) of a version text such as "Live at Budokan" or "2011 Remaster"; None if it names none."""
    folded = fold(text)
    if not _ANY_VERSION_WORD.search(folded):  # most texts (titles, albums) name none: one search, not twenty
        return None
    # a long tail with a colon is an album or a compilation ("Mastermix Classic Cuts 96: Rare and Collectables",
    # "Planet Dance, Version 3.0: ..."): the loosest patterns read only tails of five words or fewer
    loose_ok = len(folded.split()) <= 5 and ":" not in text
    for n, (kind, pattern, relation) in enumerate(VERSION_KINDS):
        if pattern.search(folded) and (loose_ok or n not in _LOOSE):
            return kind, relation
    return None


# a featured credit that is a stage cast, not a person: the cast recording of a musical is another recording
CAST_CREDITS = frozenset({"company", "the company", "cast", "original cast", "ensemble", "the ensemble", "troupe",
                          "elenco", "reparto", "original broadway cast", "original london cast"})


@lru_cache(maxsize=1 << 16)  # standardise and recording_markers parse the same title
def parse_title(title: str) -> Title:
    rest = " ".join((title or "").split())
    rest = _PRODUCER.sub("", _EXPLICIT_MARK.sub("", rest)) or rest
    if "_" in rest and " " not in rest:  # a file name: "days_to_come_(feat_bajka)"
        rest = rest.replace("_", " ")
    versions: list[tuple[str, str, str]] = []
    featured: list[str] = []
    label_tag = None
    while True:
        m = _BRACKETED_TAIL.search(rest) or _DASH_TAIL.search(rest)
        if not m:
            glued = _GLUED_TAIL.search(rest)
            # of a title of two words or more ("Re-Mix Me" is a title)
            m = glued if glued and " " in rest[: glued.start()] and version_kind(glued.group(1)) else None
        if not m or m.start() == 0:
            break
        inner = m.group(1).strip()
        feat = _FEAT.match(inner)
        kind = version_kind(inner)
        if feat:
            featured.extend(p.strip() for p in re.split(r",|&| and ", feat.group(2)) if p.strip())
        elif kind:
            versions.append((kind[0], kind[1], fold(inner)))
        elif m.group(0).lstrip().startswith("[") and label_tag is None:
            label_tag = inner
        elif (not versions and not featured and not _NUMBERED.search(inner)
              and _names_a_version_before(rest[: m.start()].rstrip())):
            # "Song (X Mix) - Album Name": an album or tag after the version. Not one with a number, which
            # may tell recordings apart ("Song (Live) (Part 2)")
            pass
        else:
            break  # a real part of the title, e.g. "(I Can't Get No) Satisfaction" or "Part 2"
        rest = rest[: m.start()].rstrip()
    if not versions:  # a version inside nested or cut-off brackets: "Song (Live at Folsom (1st Show) - 1968)"
        opened = _OPEN_TAIL.search(rest)
        kind = version_kind(opened.group(1)) if opened and opened.start() > 0 else None
        cut_feat = _FEAT.match(opened.group(1)) if opened and opened.start() > 0 and not kind else None
        if cut_feat:  # a credit cut off: "Wait For Now (feat. Tawi"
            featured.append(cut_feat.group(2).strip())
            rest = rest[: opened.start()].rstrip()
        elif kind and kind[1] == DIFFERENT:
            versions.append((kind[0], kind[1], fold(opened.group(1))))
            rest = rest[: opened.start()].rstrip()
    inline_feat = _INLINE_FEAT.search(rest)
    if inline_feat:
        featured.extend(p.strip() for p in re.split(r",|&", inline_feat.group(2)) if p.strip())
        # what follows the credit after a dash stays: "Michel feat. Die Turen - Trotzdem Pop"
        rest = rest[: inline_feat.start()] + rest[inline_feat.end():]
    order = {DIFFERENT: 0, SOFT: 1, SAME: 2}
    if any(fold(name) in CAST_CREDITS for name in featured):  # "(feat. John Gallagher Jr., …, Company)"
        versions.append(("cast", DIFFERENT, "cast"))
    versions.sort(key=lambda v: order[v[1]])
    version, relation, detail = versions[0] if versions else (None, SAME, "")
    return Title(rest.strip(), version, relation, detail, tuple(featured), label_tag)


def _names_a_version_before(rest: str) -> bool:
    """Whether the segment before a tail names a different recording (remix, live ...) in brackets."""
    m = _BRACKETED_TAIL.search(rest)
    kind = version_kind(m.group(1)) if m and m.start() > 0 else None
    return kind is not None and kind[1] == DIFFERENT


def _specific(t: Title) -> str:
    """What the version text says beyond its keyword: "live at budokan" -> "at budokan", "live" -> ""."""
    for kind, pattern, _ in VERSION_KINDS:
        if kind == t.version:
            return " ".join(pattern.sub(" ", t.detail).split())
    return t.detail


def same_recording(a: Title, b: Title, duration_a_s: float | None = None, duration_b_s: float | None = None,
                   tolerance_s: float = 15.0) -> bool | None:
    """True / False when the versions decide it, None when only other evidence can (different base titles
    are not this function's business: it compares versions of one title)."""
    if a.relation == DIFFERENT or b.relation == DIFFERENT:
        specific_a, specific_b = _specific(a), _specific(b)
        return a.version == b.version and (specific_a == specific_b or not specific_a or not specific_b)
    if SOFT in (a.relation, b.relation) and duration_a_s and duration_b_s:
        return abs(duration_a_s - duration_b_s) <= tolerance_s
    return True


# The closed set of tails that leave the recording as it was, in the main languages (folded: no accents, lower
# case). Any other words that one title adds after another ("- Original Florida Session", "(V2)", "(Voices)",
# "- No Bass / 1998 Demos", "(Someone's Reworking)") name another recording. Remasters, years, album, single and
# original versions, explicit and clean, mono and stereo are parsed out of a title key before it gets here
# (VERSION_KINDS); these are what the version patterns do not take.
_SAME_RECORDING_TAIL = re.compile(
    r"^(?:"
    r"(?:digital(?:ly)? )?remaster\w*(?: (?:19|20)\d\d)?|(?:19|20)\d\d(?: (?:digital )?remaster\w*)?"  # remaster(ed) + year
    r"|remasteris\w*|remasterizad[oa]|remasterizzat[oa]|neu abgemischt|digital(?:ly)? remastered"
    r"|(?:album|single|lp|ep|original|main|radio|singolo|albumversion|singleversion)(?: version| mix| edit)?"
    r"|version (?:del |de l |do |dell )?(?:album|single|original|originale|sencillo|lp)|versao (?:do )?(?:album|single)"
    r"|versione (?:album|singolo|originale)|(?:album|single)fassung|original(?:fassung|version)"
    r"|explicit\w*|explizit|clean|dirty|censored|mono|stereo|estereo"
    r"|bonus(?: track)?|bonustrack|titelsong|title track"
    r"|(?:from|aus|theme from|tema de|de la pelicula|du film|dal film|aus dem film|from the)\b.*"  # a soundtrack note
    r"|.*\b(?:ost|soundtrack|bso|banda sonora|bande originale|colonna sonora)"  # "High-Rise OST"
    r"|.*\b(?:records|recordings|music group)"  # the label: "- Good Looking Records"
    r"|.*\b[a-z0-9-]+ (?:com|net|org|ru|de|fm|info|biz)\b.*"  # a download site's tag: "[musicore.net]"
    r")$")


def is_same_recording_tail(text: str) -> bool:
    """Whether a tail such as "2015 Remaster", "Single Version" or "Bonus Track" leaves the recording as it was."""
    return bool(_SAME_RECORDING_TAIL.match(fold(text)))


def tail_names_another_recording(short_key: str, long_key: str) -> bool:
    """Whether `long_key` is `short_key` with words added at its end that name another recording: anything
    but a same-recording tail (`_SAME_RECORDING_TAIL`). "commando v2" is not "commando"; "drive from the
    assassination of gianni versace" is "drive"."""
    if not long_key.startswith(short_key + " ") or not short_key:
        return False
    tail = long_key[len(short_key) + 1:].strip(" -[]")
    return bool(tail) and not _SAME_RECORDING_TAIL.match(tail)
