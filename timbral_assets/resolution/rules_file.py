"""The resolution rules file: which names belong together, which are not artists, what to replace.

Read from YAML, validated with clear errors, hashed into a version. `prepare` applies the artist-level
rules to one raw (artist, title) before standardisation; `credit_rules` feeds the credit parser.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .credits import DEFAULT_DELIMITERS, CreditRules
from .records import KnownAlbums, split_artist_title
from .text import fold_artist

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yaml")
_KNOWN_KEYS = {"belong_together", "not_an_artist", "replace_artist", "artist_in_title", "delimiters", "same_recording"}
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class RulesFileError(ValueError):
    pass


@dataclass(frozen=True)
class ResolutionRules:
    belong_together: tuple[str, ...] = ()
    not_an_artist: tuple[str, ...] = ()
    replace_artist: dict[str, str] = field(default_factory=dict)
    artist_in_title: tuple[str, ...] = ()
    delimiters: tuple[str, ...] = DEFAULT_DELIMITERS
    # MusicBrainz recordings known to be one (a duplicate awaiting its merge there): recording id -> the other
    same_recording: dict[str, str] = field(default_factory=dict)
    version: str = "none"

    def recording_ids(self) -> dict[str, str]:
        """Each recording id of `same_recording` -> one id for all the recordings known to be one."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                x = parent[x]
            return x

        for a, b in self.same_recording.items():
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        return {x: find(x) for x in parent}

    def credit_rules(self) -> CreditRules:
        return CreditRules(frozenset(fold_artist(n) for n in self.belong_together), self.delimiters)

    def prepare(self, artist: str, title: str, known_albums: KnownAlbums | None = None) -> tuple[str, str]:
        """Artist and title after not_an_artist, artist_in_title and replace_artist. A title that ends in a
        known album ("O Christmas Tree - Smooth Jazz Christmas") is not "Artist - Title"."""
        key = fold_artist(artist)
        not_artist = {fold_artist(n) for n in self.not_an_artist}
        in_title = {fold_artist(n) for n in self.artist_in_title}
        if key in not_artist or key in in_title:
            split = split_artist_title(title or "", known_albums)
            if split:
                artist, title = split
            elif key in not_artist:
                artist = ""
        replacements = {fold_artist(k): v for k, v in self.replace_artist.items()}
        artist = replacements.get(fold_artist(artist), artist)
        return artist, title


def _names(data: dict, key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesFileError(f"{path}: field '{key}' must be a list of non-empty strings")
    return tuple(value)


# bump when standardisation changes what it derives from a string (keys, versions, recording markers)
STANDARDISER_VERSION = "10"


def load_rules(path: Path | str | None = None) -> ResolutionRules:
    path = Path(path) if path else DEFAULT_RULES_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesFileError(f"{path}: cannot read the rules file ({error})") from error
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise RulesFileError(f"{path}{where}: not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise RulesFileError(f"{path}: the rules file must be a mapping of the fields {sorted(_KNOWN_KEYS)}")
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise RulesFileError(f"{path}: unknown field(s) {sorted(unknown)}; expected {sorted(_KNOWN_KEYS)}")
    replace = data.get("replace_artist") or {}
    if not isinstance(replace, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in replace.items()):
        raise RulesFileError(f"{path}: field 'replace_artist' must map raw names to canonical names")
    same = data.get("same_recording") or {}
    if not isinstance(same, dict) or not all(isinstance(k, str) and isinstance(v, str) and _MBID.match(k.lower())
                                             and _MBID.match(v.lower()) for k, v in same.items()):
        raise RulesFileError(f"{path}: field 'same_recording' must map MusicBrainz recording ids to recording ids")
    delimiters = data.get("delimiters", list(DEFAULT_DELIMITERS))
    if not isinstance(delimiters, list) or not all(isinstance(d, str) and d for d in delimiters):
        raise RulesFileError(f"{path}: field 'delimiters' must be a list of non-empty strings")
    return ResolutionRules(
        belong_together=_names(data, "belong_together", path),
        not_an_artist=_names(data, "not_an_artist", path),
        replace_artist=dict(replace),
        artist_in_title=_names(data, "artist_in_title", path),
        delimiters=tuple(delimiters),
        same_recording={k.lower(): v.lower() for k, v in same.items()},
        # the standardiser's own version is part of it: a catalog made by an older one is re-standardised
        version=hashlib.sha256((STANDARDISER_VERSION + "\n" + text).encode("utf-8")).hexdigest()[:16],
    )
