"""The text a track's embedding is made of: artist, title, album, tags and review snippets, in one string.

The same function builds the text for training tracks, for the catalog's tracks and for mood-predict's
rows, so that one string always gets one vector (the embedding cache is keyed by the text's hash). The
label tag words (labels.LABEL_TAG_WORDS) are left out of the tags: a label's own word in the text would
leak the label into the features.
"""

from __future__ import annotations

from collections.abc import Sequence

from .features import TrackMeta
from .labels import LABEL_TAG_WORDS

MAX_TAGS = 10
MAX_SNIPPET_CHARS = 300  # all-MiniLM-L6-v2 reads 256 word pieces; the names and tags come first


def track_text(artists: str, title: str, album: str = "", tags: Sequence[str] = (),
               snippets: Sequence[str] = ()) -> str:
    """'<artists> - <title> (album: <album>). tags: <t1>, <t2>. <snippet> <snippet>', parts left out when empty.
    Artists given as "A;B" read "A, B"."""
    names = ", ".join(a.strip() for a in artists.split(";") if a.strip())
    text = f"{names} - {title.strip()}" if names else title.strip()
    if album and album.strip():
        text += f" (album: {album.strip()})"
    kept = [t for t in dict.fromkeys(" ".join(t.lower().split()) for t in tags) if t and t not in LABEL_TAG_WORDS]
    if kept:
        text += ". tags: " + ", ".join(kept[:MAX_TAGS])
    snippet = " ".join(" ".join(s.split()) for s in snippets if s and s.strip())
    if len(snippet) > MAX_SNIPPET_CHARS:
        snippet = snippet[:MAX_SNIPPET_CHARS].rsplit(" ", 1)[0]  # whole words
    if snippet:
        text += ". " + snippet
    return text


def text_of(track: TrackMeta, snippets: Sequence[str] = ()) -> str:
    """A track's text: its tags, or its genre when it has no tags (mood-predict's rows)."""
    return track_text(track.artists, track.track_name, track.album_name,
                      track.tags or ((track.genre,) if track.genre else ()), snippets)
