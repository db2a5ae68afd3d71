"""DJ sets for the synthetic world: tracklists where most "ID - ID" positions live, with their truth kept aside.

A DJ is one of the world's artists. Each set mixes the DJ's own tracks, tracks of artists on the DJ's label
and tracks of other artists of the DJ's genre, often two by one artist back to back. Some positions are
"ID - ID": unreleased own tracks most often, as in real sets. Some rows show the label, ID rows less often.
The format written is the one `raw_dj_tracklists` reads (docs/ingest.md): JSON Lines of
`set_id, dj, played_on, position, artist, title, label`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

UNKNOWN = "ID"


@dataclass(frozen=True)
class DjSetRates:
    dj_share: float = 0.04  # of the world's artists
    sets_per_dj: tuple[int, int] = (3, 9)
    set_length: tuple[int, int] = (12, 21)
    own: float = 0.22  # where a position's artist comes from: the DJ, the DJ's label, else the DJ's genre
    label_mate: float = 0.33
    back_to_back: float = 0.25  # the next track is by the same artist
    id_own: float = 0.40  # a position is "ID - ID": own tracks are often unreleased
    id_other: float = 0.08
    label_shown: float = 0.55
    label_shown_on_id: float = 0.35


def _weighted(rng: np.random.Generator, items: np.ndarray, weights: np.ndarray) -> int:
    cdf = np.cumsum(weights)
    return int(items[min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), len(items) - 1)])


def generate_dj_sets(cat, start_date, days: int, rng: np.random.Generator,
                     rates: DjSetRates = DjSetRates()) -> tuple[list[dict], pa.Table]:
    """(tracklist rows as the JSON Lines file holds them, the truth of every row)."""
    n_artists = len(cat.artist_name)
    originals = np.array([v == "original" for v in cat.track_version])
    tracks_of: dict[int, np.ndarray] = {}
    for t in np.nonzero(originals)[0]:
        tracks_of.setdefault(int(cat.track_artist[t]), []).append(int(t))
    tracks_of = {a: np.array(ts) for a, ts in tracks_of.items()}
    artists_with_tracks = np.array(sorted(tracks_of))
    label_of = np.array(cat.artist_label)
    n_djs = max(6, int(n_artists * rates.dj_share))
    djs = rng.choice(artists_with_tracks, size=min(n_djs, len(artists_with_tracks)), replace=False)

    rows: list[dict] = []
    truth: dict[str, list] = {k: [] for k in ("set_id", "position", "true_track_id", "true_artist_id", "artist",
                                              "title", "label", "is_id", "origin")}
    for d in sorted(int(x) for x in djs):
        genre_pool = artists_with_tracks[(cat.artist_genre[artists_with_tracks] == cat.artist_genre[d])
                                         & (artists_with_tracks != d)]
        label_pool = artists_with_tracks[(label_of[artists_with_tracks] == label_of[d]) & (artists_with_tracks != d)]
        for s in range(int(rng.integers(*rates.sets_per_dj))):
            set_id = f"set_{d:06d}_{s:02d}"
            played_on = (start_date + timedelta(days=int(rng.integers(0, days)))).isoformat()
            used: set[int] = set()
            previous = -1
            for position in range(1, int(rng.integers(*rates.set_length)) + 1):
                r = rng.random()
                if previous >= 0 and rng.random() < rates.back_to_back:
                    artist, origin = previous, "back_to_back"
                elif r < rates.own:
                    artist, origin = d, "own"
                elif r < rates.own + rates.label_mate and len(label_pool):
                    artist, origin = _weighted(rng, label_pool, cat.artist_pop[label_pool]), "label"
                elif len(genre_pool):
                    artist, origin = _weighted(rng, genre_pool, cat.artist_pop[genre_pool]), "genre"
                else:
                    artist, origin = d, "own"
                choices = np.array([t for t in tracks_of[artist] if t not in used])
                if not len(choices):
                    continue
                track = _weighted(rng, choices, cat.track_pop[choices])
                used.add(track)
                previous = artist
                is_id = rng.random() < (rates.id_own if artist == d else rates.id_other)
                shown = rng.random() < (rates.label_shown_on_id if is_id else rates.label_shown)
                label = str(label_of[artist])
                rows.append({"set_id": set_id, "dj": cat.artist_name[d], "played_on": played_on, "position": position,
                             "artist": UNKNOWN if is_id else cat.artist_name[artist],
                             "title": UNKNOWN if is_id else cat.track_title[track],
                             "label": label if shown else None})
                for key, value in (("set_id", set_id), ("position", position), ("true_track_id", f"trk_{track:07d}"),
                                   ("true_artist_id", f"art_{artist:06d}"), ("artist", cat.artist_name[artist]),
                                   ("title", cat.track_title[track]), ("label", label), ("is_id", is_id),
                                   ("origin", origin)):
                    truth[key].append(value)
    return rows, pa.table(truth)
