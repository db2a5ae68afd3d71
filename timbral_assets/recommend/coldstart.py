"""Lists for users with no listening history to learn from: seed tracks, then genres, then what is trending.

- Seeds (tracks the user picked, say in an onboarding survey): the tracks nearest the seeds' mean vector.
- Genres: the most-played tracks tagged with any of them, round-robin across the genres so one genre cannot
  fill the list.
- Neither: the tracks most played lately (`trending`).
Later sources fill what earlier ones leave, so a list is as long as the catalog allows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def seed_picks(seeds: Sequence[str], track_ids: Sequence[str], vectors: np.ndarray, k: int) -> list[str]:
    """Tracks by cosine to the mean of the seeds' unit vectors (the seeds themselves left out)."""
    position = {t: i for i, t in enumerate(track_ids)}
    rows = [position[s] for s in seeds if s in position]
    if not rows:
        return []
    centre = vectors[rows].mean(axis=0)
    order = np.argsort(-(vectors @ centre), kind="stable")
    chosen = set(seeds)
    return [track_ids[i] for i in order if track_ids[i] not in chosen][:k]


def genre_picks(genres: Sequence[str], tracks_by_genre: Mapping[str, Sequence[str]], k: int) -> list[str]:
    """Round-robin over the genres' own most-played lists."""
    lists = [list(tracks_by_genre.get(g.lower(), ())) for g in genres]
    picked: list[str] = []
    seen: set[str] = set()
    for rank in range(max((len(x) for x in lists), default=0)):
        for tracks in lists:
            if rank < len(tracks) and tracks[rank] not in seen:
                seen.add(tracks[rank])
                picked.append(tracks[rank])
        if len(picked) >= k:
            break
    return picked[:k]


def cold_start_list(seeds: Sequence[str], genres: Sequence[str], trending: Sequence[str], k: int,
                    track_ids: Sequence[str] = (), vectors: np.ndarray | None = None,
                    tracks_by_genre: Mapping[str, Sequence[str]] | None = None) -> tuple[list[str], str]:
    """Candidates best first (each source's first k, then the next source's), seeds left out, and the source
    that led them (`seeds`, `genres` or `trending`). The post-filters cut the list to its length."""
    sources = []
    if seeds and vectors is not None and len(track_ids):
        sources.append(("seeds", seed_picks(seeds, list(track_ids), vectors, k)))
    if genres and tracks_by_genre:
        sources.append(("genres", genre_picks(genres, tracks_by_genre, k)))
    sources.append(("trending", list(trending)))
    lead = next((name for name, picks in sources if picks), "trending")
    skip = set(seeds)
    listed = list(dict.fromkeys(t for _, picks in sources for t in picks if t not in skip))
    return listed, lead
