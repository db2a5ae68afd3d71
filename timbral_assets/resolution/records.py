"""Standardised track records: the one shape every source is brought into before matching.

Sources write the same song differently: "Artist - Title" in the title field with no artist, a track
number in front ("001-Deja Vu"), lengths as "3m 36sec", "04:04", "4.367" minutes or milliseconds, years as
"'11" or "75", an album with its year in brackets. `standardise` undoes these conventions; it never
decides identity, it only gives the matcher comparable fields.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .credits import CreditRules, parse_credit
from .markers import format_markers, number_word, recording_markers, work_markers
from .text import fold, fold_artist
from .versions import DIFFERENT, SOFT, is_same_recording_tail, parse_title, version_kind

# "012-", "0004-", "0a1-" (typo); and a zero-padded number before words ("02 Carry Me Home"): a file's track
# number, since a title that starts with a number writes it unpadded ("7 Seconds", "99 Luftballons")
_TRACK_NUMBER = re.compile(r"^\s*(?:\d[\da-z]?\d{1,2}\s*[-.]\s*(?=\S)|0\d\s+(?=[^\W\d_]))", re.I)
_BARE_TRACK_NUMBER = re.compile(r"^\s*0\d{1,3}(-\d+)?\s*$")  # "012", "00-1": a number where the title was lost
_MIN_SEC = re.compile(r"^\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s(?:ec)?)?\s*$", re.I)
_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{2})\s*$")
_ALBUM_YEAR = re.compile(r"\s*\((\d{4}|unknown)\)\s*$", re.I)
_ALBUM_EDITION = re.compile(r"\s*[(\[][^()\[\]]*(edition|version|deluxe|remaster|explicit|disc|cd ?\d)[^()\[\]]*[)\]]\s*$", re.I)
_PLACEHOLDER = re.compile(r"^\s*(\[?unknown\]?|null|none|n/?a|unk\.?|-+|\?+)\s*$", re.I)
_WORD = re.compile(r"[0-9a-z]+")
_SEPARATED = re.compile(r"^\s*[-–—:|/]\s*\S")
_BARE_MARKER = re.compile(r"^\s*(?:(?:part|pt|no|act|take|disc|cd|vol)\.?\s*)?(?:\d+|[IVXivx]+)\s*$", re.I)


def clean_text(value: object) -> str:
    """The value as text, or '' for the placeholders sources use for 'missing'."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return "" if _PLACEHOLDER.match(text) else text


def parse_duration_s(value: object) -> float | None:
    """Seconds from the length formats seen in the wild; None when the value cannot be a track length."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        text = None
    else:
        text = clean_text(value)
        if not text:
            return None
        clock = _CLOCK.match(text)
        if clock:
            hours, minutes, seconds = clock.groups()
            return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
        if re.search(r"[ms]", text, re.I):
            m = _MIN_SEC.match(text)
            if m and (m.group(1) or m.group(2)):
                return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    if text is not None and "." in text and number < 60:
        return round(number * 60)  # decimal minutes, "4.367"
    if number > 10_000:
        number /= 1000  # milliseconds
    return number if 0 < number <= 6 * 3600 else None


def parse_year(value: object, pivot: int = 30) -> int | None:
    """Four-digit year from "1997", "'11", "75" or "05" (two digits below `pivot` are 20xx)."""
    text = clean_text(value).lstrip("'’")
    m = re.search(r"\d{4}|\d{2}", text)
    if not m:
        return None
    year = int(m.group(0))
    if len(m.group(0)) == 2:
        year += 2000 if year < pivot else 1900
    return year if 1900 <= year <= 2100 else None


@dataclass(frozen=True)
class TrackRecord:
    record_id: str
    artist: str  # as written, after splitting "Artist - Title"
    title: str
    album: str
    duration_s: float | None
    year: int | None
    artist_key: str  # folded primary artist
    title_key: str  # folded base title, plus the version kind for a different recording
    title_head: str  # folded title up to the first " - ", "(" or ":" (catches "Title - Album" fields)
    title_sorted: str  # folded title words in sorted order (catches reordered strings)
    version: str  # version kind of a different recording, or 'original'
    album_key: str
    source: str | None = None
    markers: str = ""  # recording markers (markers.py), as format_markers writes them

    @property
    def embedding_text(self) -> str:
        return embedding_text(self.artist, self.title)


def embedding_text(artist: str | None, title: str | None) -> str:
    """The one text a sentence encoder sees for a track string; embeddings are cached by its hash, so every
    tier must write it alike."""
    return f"{artist} - {title}" if artist else (title or "")


def _strip_appended(title: str, album: str, artist: str) -> str:
    """Some sources glue the album or artist onto the title ("Sandstorm X-Treme Big Hits 2000"). An album
    that names another recording ("Song - Live at Red Rocks" on "Live at Red Rocks") stays in the title."""
    for extra in (album, artist):
        kind = version_kind(extra)
        if kind and kind[1] == DIFFERENT:
            continue
        key = fold(extra)
        words = title.split()
        if len(key) < 3 or fold(title) == key:
            continue
        for k in range(1, len(words)):
            if fold(" ".join(words[-k:])) == key and not words[-k - 1].endswith(":"):
                # "Sandstorm X-Treme Big Hits 2000"; not the section of a work ("Messa da Requiem: Requiem")
                rest = " ".join(words[:-k]).strip(" -–:")
            elif fold(" ".join(words[:k])) == key and (_SEPARATED.match(" ".join(words[k:]))
                                                        or words[k - 1].endswith((":", "-", "–"))):
                # "Album - Track" only with a separator: "Synchronicity II" on "Synchronicity" is a title
                rest = " ".join(words[k:]).strip(" -–:")
            else:
                continue
            # never leave only a numeral or a part ("II", "Part 2"), nor only the artist: in "Artist A1 Song"
            # filed with the album "A1 Song" the album field holds the title; nor only a version: "The Number
            # of the Beast - 2015 Remaster" is the title track, not a song called "2015 Remaster"
            if (not _BARE_MARKER.match(rest) and fold_artist(rest) != fold_artist(artist)
                    and not is_same_recording_tail(rest)):
                title = rest
            break
    return title


_ALBUM_TAIL = re.compile(r"\s+[-–—]\s+(.+)$|\s*\(([^()]+)\)\s*$")


KnownAlbums = Mapping[str, frozenset[str]]  # folded album -> the folded titles recorded on it


def album_keys(titles_and_albums: Iterable[tuple[object, object]]) -> KnownAlbums:
    """The titles each album holds, from records that fill both fields, in the matching form that
    `standardise(known_albums=...)` takes. Short albums say nothing and are left out."""
    keys: dict[str, set[str]] = {}
    for title, album in titles_and_albums:
        album_key = fold(_album_and_year(clean_text(album))[0])
        title_key = fold(_TRACK_NUMBER.sub("", clean_text(title)))
        if len(album_key) >= 4 and title_key:
            keys.setdefault(album_key, set()).add(title_key)
    return {album: frozenset(titles) for album, titles in keys.items()}


def _album_and_year(album_text: str) -> tuple[str, str | None]:
    """The album without a trailing "(1997)" or edition tag, and that year as written (or None)."""
    year = _ALBUM_YEAR.search(album_text)
    if year:
        album_text = album_text[: year.start()].strip()
    return _ALBUM_EDITION.sub("", album_text), year.group(1) if year else None


def split_artist_title(title: str, known_albums: KnownAlbums | None = None) -> tuple[str, str] | None:
    """(artist, title) of "Artist - Title" written in a title field; None when it has no " - " or when
    what follows is a known album of that title ("O Christmas Tree - Smooth Jazz Christmas")."""
    if " - " not in title or (known_albums and known_album_tail(title, known_albums)):
        return None
    artist, rest = title.split(" - ", 1)
    return artist.strip(), rest.strip()


def known_album_tail(title: str, known_albums: KnownAlbums) -> str | None:
    """The "- Album" or "(Album)" at the end of a title, when another record has that title (give or take
    a typo) on that album: "Clover - Head to the Sky" is "Clover" from Head to the Sky when some record says
    so. Any known album would not do: a single shares its name with its album ("La-Carte - Hypnotize" is
    artist and title)."""
    m = _ALBUM_TAIL.search(title) if known_albums else None
    if not m or m.start() == 0:
        return None
    tail = (m.group(1) or m.group(2)).strip()
    titles = known_albums.get(fold(tail))
    if not titles:
        return None
    head = fold(_TRACK_NUMBER.sub("", title[: m.start()]))
    return tail if head in titles or process.extractOne(head, titles, scorer=fuzz.ratio, score_cutoff=85) else None


def _head(folded_title: str, raw_title: str) -> str:
    cut = re.split(r"\s+[-–—]\s+|\s*[(\[:]", raw_title, maxsplit=1)[0]
    return fold(cut) or folded_title


def standardise(record_id: object, title: object, artist: object = None, album: object = None,
                duration: object = None, year: object = None, source: object = None,
                rules: CreditRules | None = None, known_artists: frozenset[str] = frozenset(),
                known_albums: KnownAlbums | None = None) -> TrackRecord:
    """`known_albums` (see `album_keys`) lets a title carry its album when the album field is empty:
    "Flowers in the Dirt - The Game" is the song on the album The Game when another record says so, not
    the song "The Game" by "Flowers in the Dirt"."""
    title_text, artist_text, album_text = clean_text(title), clean_text(artist), clean_text(album)
    appended_album = known_album_tail(title_text, known_albums) if known_albums and not album_text else None
    if appended_album:
        album_text = appended_album
    elif not artist_text and (split := split_artist_title(title_text)):
        artist_text, title_text = split
    title_text = "" if _BARE_TRACK_NUMBER.match(title_text) else _TRACK_NUMBER.sub("", title_text)
    album_text, album_year = _album_and_year(album_text)
    year_value = parse_year(year)
    if year_value is None and album_year:
        year_value = parse_year(album_year)
    title_text = _strip_appended(title_text, album_text, artist_text)
    markers = format_markers(recording_markers(title_text) | work_markers(artist_text))
    parsed = parse_title(title_text)
    title_key = _numbered_parts(parsed.key)
    credit = parse_credit(artist_text, rules, known_artists)
    words = sorted(_WORD.findall(fold(parsed.base)))
    return TrackRecord(
        record_id=str(record_id),
        artist=artist_text,
        title=title_text,
        album=album_text,
        duration_s=parse_duration_s(duration),
        year=year_value,
        artist_key=credit.key or fold_artist(artist_text),
        title_key=title_key,
        title_head=_head(fold(parsed.base), parsed.base),
        title_sorted=" ".join(words),
        # an edit is another recording (MusicBrainz keeps radio and single edits apart; issue 25's closed set of
        # same-recording tails has none), unless pair matching finds both lengths alike (versions.same_recording)
        version=parsed.version if parsed.relation in (DIFFERENT, SOFT) and parsed.version else "original",
        album_key=fold(album_text),
        source=None if source is None else str(source),
        markers=markers,
    )


_PART = re.compile(r"\b(?:pt|part)\s+([0-9]+|[ivxlc]+|one|two|three|four|five|six|seven|eight|nine|ten)\b")


def _numbered_parts(key: str) -> str:
    """One spelling of a part number in a title key: "pt 2", "part ii" and "part two" are "part 2"."""
    return _PART.sub(lambda m: f"part {number_word(m.group(1)) or m.group(1)}", key) if "p" in key else key


def content_hash(*parts: object) -> str:
    """Stable short hash of the parts, for ids that must survive re-runs."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=8).hexdigest()
