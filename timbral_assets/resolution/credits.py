"""Artist credits: "Beyoncé feat. JAY-Z", "Calvin Harris x Dua Lipa", "Simon & Garfunkel".

Explicit featuring markers always split. "&", "x", "+", "/", "vs" and "," split only when every part is
an artist the catalog already knows and the whole is not one: "Simon & Garfunkel" is one act,
"Jay-Z & Kanye West" two. Names listed as belonging together never split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .text import fold_artist

_FEAT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring|with|w/)\s+", re.I)
DEFAULT_DELIMITERS = (" & ", " x ", " X ", " + ", " / ", " vs. ", " vs ", ", ", " and ", "; ")
DEFAULT_BELONG_TOGETHER = (
    "AC/DC", "Simon & Garfunkel", "Earth, Wind & Fire", "Crosby, Stills, Nash & Young", "Hall & Oates",
    "Mumford & Sons", "Florence + the Machine", "Tyler, the Creator", "Nick Cave & the Bad Seeds",
    "Echo & the Bunnymen", "Belle & Sebastian", "Sly & the Family Stone", "Kool & the Gang", "Sam & Dave",
    "Iron & Wine", "Peter, Paul and Mary", "Emerson, Lake & Palmer", "Blood, Sweat & Tears",
)


@dataclass(frozen=True)
class CreditRules:
    belong_together: frozenset[str] = field(default_factory=lambda: frozenset(fold_artist(n) for n in DEFAULT_BELONG_TOGETHER))
    delimiters: tuple[str, ...] = DEFAULT_DELIMITERS

    @classmethod
    def with_names(cls, names: Iterable[str], delimiters: tuple[str, ...] = DEFAULT_DELIMITERS) -> CreditRules:
        return cls(frozenset(fold_artist(n) for n in (*DEFAULT_BELONG_TOGETHER, *names)), delimiters)


@dataclass(frozen=True)
class Credit:
    primary: tuple[str, ...]  # as written, in order; usually one
    featured: tuple[str, ...]

    @property
    def key(self) -> str:
        return fold_artist(self.primary[0]) if self.primary else ""


def _split_known(part: str, rules: CreditRules, known: frozenset[str]) -> list[str]:
    if fold_artist(part) in rules.belong_together or fold_artist(part) in known:
        return [part]
    for delimiter in rules.delimiters:
        if delimiter in part:
            pieces = [p.strip() for p in part.split(delimiter) if p.strip()]
            if len(pieces) > 1 and all(fold_artist(p) in known or fold_artist(p) in rules.belong_together
                                       for p in pieces):
                return pieces
    return [part]


def artist_keys(names: Iterable[str]) -> frozenset[str]:
    """The catalog's artists in matching form, folded once for many parse_credit calls."""
    return frozenset(fold_artist(n) for n in names)


def parse_credit(artist: str, rules: CreditRules | None = None, known: frozenset[str] = frozenset()) -> Credit:
    """`known` holds the catalog's artists as artist_keys(...) returns them."""
    rules = rules or CreditRules()
    text = " ".join((artist or "").split())
    if fold_artist(text) in rules.belong_together:
        return Credit((text,), ())
    parts = _FEAT.split(text, maxsplit=1)
    primary = _split_known(parts[0], rules, known)
    featured: list[str] = []
    if len(parts) == 2:
        for piece in re.split(r",\s*|\s+&\s+|\s+and\s+", parts[1]):
            if piece.strip():
                featured.append(piece.strip())
        joined = parts[1].strip()
        if fold_artist(joined) in rules.belong_together:
            featured = [joined]
    return Credit(tuple(primary), tuple(featured))
