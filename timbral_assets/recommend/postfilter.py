"""Post-filters every list passes through, in this order: drop what the user played recently, drop their active
do-not-recommend entries, then cap each artist at `per_artist` tracks in any `window` consecutive places.

The artist cap is greedy: walking the ranked candidates, a track is taken when its artist has fewer than
`per_artist` tracks among the last `window - 1` taken; otherwise it waits, and waiting tracks fill places later
when the cap allows. So the list keeps its order as far as the cap lets it, and no candidate is lost when the
list would otherwise come up short."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class FilterParams:
    recent_days: int = 60
    per_artist: int = 2
    window: int = 10


@dataclass(frozen=True)
class DoNotRecommend:
    user_id: str
    track_id: str
    expires_at: datetime | None  # None: until withdrawn

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def recently_played(history: Iterable[tuple[str, datetime]], now: datetime, days: int) -> set[str]:
    """Tracks of (track_id, last played) history played within `days` before `now`."""
    since = now - timedelta(days=days)
    return {track for track, played_at in history if played_at >= since}


def blocked_tracks(entries: Iterable[DoNotRecommend], user_id: str, now: datetime) -> set[str]:
    return {e.track_id for e in entries if e.user_id == user_id and e.active(now)}


def cap_artists(ranked: Sequence[str], artist_of: Mapping[str, str], per_artist: int, window: int, k: int) -> list[str]:
    taken: list[str] = []
    waiting: deque[str] = deque()
    span = window - 1
    recent: deque = deque()  # the artists of the last `span` tracks taken, and how often each occurs there
    counts: dict = {}

    def fits(track: str) -> bool:
        return span <= 0 or counts.get(artist_of.get(track), 0) < per_artist

    def take(track: str) -> None:
        taken.append(track)
        if span > 0:
            artist = artist_of.get(track)
            recent.append(artist)
            counts[artist] = counts.get(artist, 0) + 1
            if len(recent) > span:
                counts[recent.popleft()] -= 1

    for track in ranked:
        if len(taken) >= k:
            break
        # a waiting track goes first when it fits now: it ranked higher
        while waiting and len(taken) < k and fits(waiting[0]):
            take(waiting.popleft())
        if len(taken) >= k:
            break
        if fits(track):
            take(track)
        else:
            waiting.append(track)
    while waiting and len(taken) < k:
        placed = next((t for t in waiting if fits(t)), None)
        if placed is None:
            break  # only one artist left: a shorter list rather than a broken cap
        waiting.remove(placed)
        take(placed)
    return taken


def filter_list(ranked: Sequence[str], artist_of: Mapping[str, str], k: int, exclude: set[str],
                params: FilterParams = FilterParams()) -> list[str]:
    """The first k of `ranked` after the exclusions and the artist cap."""
    kept = [t for t in dict.fromkeys(ranked) if t not in exclude]
    return cap_artists(kept, artist_of, params.per_artist, params.window, k)
