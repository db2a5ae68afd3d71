"""The synthetic world: Timbral's embedded default data and the ground truth for evaluation.

`generate_world(WorldConfig(...), out_dir)` writes, deterministically per seed:

    manifest.json                      counts, dates and the config that made the world
    scrobbles/part-NNNNN.parquet       timestamped plays with messy strings (the raw input)
    spotify/tracks.csv                 Spotify-Tracks-format metadata and audio features
    aoty/albums.json, aoty/reviews.json  AOTY-style dumps (format in the README)
    dj_sets/tracklists.jsonl           DJ-set tracklists, some positions "ID - ID" (format in docs/ingest.md)
    hetrec/*.dat                       hetrec-format artists, aggregate plays, tags, tag assignments
    truth/*.parquet                    kept aside: canonical catalog, variants, scrobble -> variant, hard negatives, users,
                                       the DJ sets' true tracks

Scrobbles are generated one day at a time with numpy and streamed to Parquet, so memory stays flat
from 10k to 100M+ scrobbles.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...warehouse import write_atomically
from ..scrobble_files import SCROBBLE_SCHEMA
from . import names
from .djsets import generate_dj_sets
from .variants import DEFAULT_VARIANT_RATES, VARIANT_KINDS, CanonicalTrack, render_variants

MAX_DEFAULT_ARTISTS = 20_000
TRUTH_SCHEMA = pa.schema([("scrobble_id", pa.int64()), ("variant_id", pa.int32())])


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 42
    n_scrobbles: int = 200_000
    start_date: date = date(2025, 1, 1)
    days: int = 184
    variant_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_VARIANT_RATES))
    n_users: int | None = None
    n_artists: int | None = None
    rows_per_file: int = 5_000_000
    write_csv: bool = False  # also write scrobbles as CSV (for the CSV ingest benchmark)

    def resolved_users(self) -> int:
        return self.n_users or int(np.clip(self.n_scrobbles // 700, 30, 200_000))

    def resolved_artists(self) -> int:
        # the catalog stops growing at 20k artists (~0.5M tracks), so memory stays flat in the scrobble count
        return self.n_artists or int(np.clip(self.n_scrobbles // 400, 120, MAX_DEFAULT_ARTISTS))

    def end_date(self) -> date:
        return self.start_date + timedelta(days=self.days)

    def validate(self) -> None:
        unknown = set(self.variant_rates) - set(VARIANT_KINDS)
        if unknown:
            raise ValueError(f"unknown variant kinds in variant_rates: {sorted(unknown)}; known: {VARIANT_KINDS}")
        total = sum(self.variant_rates.values())
        if not 0.0 <= total <= 1.0 or any(v < 0 for v in self.variant_rates.values()):
            raise ValueError(f"variant rates must be >= 0 and sum to at most 1, got sum {total:.3f}")
        if self.n_scrobbles < 1_000 or self.days < 1:
            raise ValueError("a world needs at least 1,000 scrobbles and 1 day")


@dataclass
class Catalog:
    """Canonical entities, stored column-wise so the per-day sampler can index them with numpy."""

    artist_name: list[str]
    artist_alt: list[str]
    artist_genre: np.ndarray
    artist_pop: np.ndarray
    artist_mbid: list[str]
    artist_label: list[str]
    album_title: list[str]
    album_artist: np.ndarray
    album_year: np.ndarray
    album_kind: list[str]
    album_first_track: np.ndarray
    album_len: np.ndarray
    album_mbid: list[str]
    track_title: list[str]
    track_album: np.ndarray
    track_artist: np.ndarray
    track_duration_s: np.ndarray
    track_pop: np.ndarray
    track_featured: list[str | None]
    track_mbid: list[str]
    track_version: list[str]  # original | live | remix | cover
    hard_negatives: list[tuple[int, int, str]]

    @property
    def n_tracks(self) -> int:
        return len(self.track_title)


def _mbid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


KEYS = ["C major", "D minor", "E-flat major", "F sharp minor", "G major", "A minor", "B-flat major"]
TEMPI = ["Allegro", "Adagio", "Andante cantabile", "Scherzo: Allegro vivace", "Finale: Presto", "Largo",
         "Allegretto", "Menuetto"]
ROMAN = ["I", "II", "III", "IV", "V"]
# tails that name another recording with no English version word: a reworker, a session, a venue and date,
# an arrangement, a sped-up upload, and version words in other languages (issue 25's kinds, our own spellings)
OTHER_RECORDING_TAILS = [
    "({name}'s Reworking)", "(The {word} Morph)", "- Studio {n} Sessions", "(Performed on {word} Tonight)",
    "[{venue}, {day:02d}-{month:02d}-{year}]", "(Backing Track)", "(No Vocal)", "(hushed)", "(Studio)",
    "(Sped Up)", "(Slowed + Reverb)", "(Nightcore)", "(V2)", "- En Vivo", "- Maqueta", "(Versión de Estudio)",
    "(Version Acoustique)", "- En Public", "(Live-Version)", "(Neuaufnahme)", "(Ao Vivo)", "(Dal Vivo)",
    "(Nueva Mezcla)",
]


def _add_recording_siblings(cfg: WorldConfig, n_artists: int, originals_by_artist: dict[int, list[int]],
                            track_title: list[str], track_duration: list[float], album_year: list[int],
                            track_album: list[int], add_album, hard_negatives: list[tuple[int, int, str]]) -> None:
    """Recordings whose titles differ in one small marker, as real histories are full of: the movements of a
    work, numbered parts, takes, reprises and album-prefixed titles. Every two of one group are hard negatives
    of their kind. A generator of its own keeps the rest of the world as it was."""
    rng = np.random.default_rng([cfg.seed, 11])

    def group(artist: int, album: str, year: int, titles: list[str], kind: str, base_s: float) -> None:
        start = len(track_title)
        add_album(artist, album, year, "LP", [(t, round(base_s * rng.uniform(0.6, 1.5)), None, "original")
                                              for t in titles])
        hard_negatives.extend((start + i, start + j, kind) for i in range(len(titles))
                              for j in range(i + 1, len(titles)))

    artists = rng.permutation(n_artists)
    per_kind = max(1, n_artists // 60)
    for a in artists[:per_kind]:  # a work in movements
        work = f"Symphony No. {int(rng.integers(1, 10))} in {names.pick(rng, KEYS)}, Op. {int(rng.integers(10, 120))}"
        tempi = rng.choice(TEMPI, size=4, replace=False)
        group(int(a), work, int(rng.integers(1965, 2025)), [f"{work}: {ROMAN[k]}. {tempi[k]}" for k in range(4)],
              "movement", 420)
    for a in artists[per_kind:2 * per_kind]:  # numbered parts of one title
        title = names.track_title(rng)
        n = int(rng.integers(2, 4))
        style = int(rng.integers(0, 3))
        titles = [[f"{title}, Part {ROMAN[k]}", f"{title} (Part {k + 1})", f"{title} {ROMAN[k]}"][style] for k in range(n)]
        group(int(a), names.album_title(rng), int(rng.integers(1965, 2025)), titles, "part", 240)
    for a in artists[2 * per_kind:3 * per_kind]:  # takes from one session
        title = names.track_title(rng)
        group(int(a), f"{title} (Sessions)", int(rng.integers(1955, 2000)),
              [f"{title} (Take {k})" for k in range(1, int(rng.integers(3, 5)))], "take", 200)
    for a in artists[3 * per_kind:4 * per_kind]:  # a song and its reprise on one album
        originals = originals_by_artist.get(int(a), [])
        if not originals:
            continue
        t = int(rng.choice(originals))
        start = len(track_title)
        add_album(int(a), names.album_title(rng), int(album_year[track_album[t]]), "LP",
                  [(f"{track_title[t]} (Reprise)", round(track_duration[t] * rng.uniform(0.3, 0.6)), None, "original")])
        hard_negatives.append((t, start, "reprise"))
    for a in artists[4 * per_kind:5 * per_kind]:  # a soundtrack: "Album - Track" titles
        album = names.album_title(rng)
        titles: list[str] = []
        while len(titles) < 3 or (len(titles) < 5 and rng.random() < 0.5):
            title = f"{album} - {names.track_title(rng)}"
            if title not in titles:
                titles.append(title)
        group(int(a), album, int(rng.integers(1980, 2025)), titles, "album_prefix", 180)
    for a in artists[5 * per_kind:7 * per_kind]:  # another recording named by a tail without an English version word
        originals = originals_by_artist.get(int(a), [])
        if not originals:
            continue
        t = int(rng.choice(originals))
        tail = names.pick(rng, OTHER_RECORDING_TAILS).format(
            name=names.artist_name(rng)[0].split(" ")[-1], word=names.pick(rng, names.WORDS).title(),
            n=int(rng.integers(1, 9)), venue=names.pick(rng, names.VENUES), day=int(rng.integers(1, 29)),
            month=int(rng.integers(1, 13)), year=int(rng.integers(70, 100)))
        start = len(track_title)
        add_album(int(a), names.album_title(rng), int(album_year[track_album[t]]), "LP",
                  [(f"{track_title[t]} {tail}", round(track_duration[t] * rng.uniform(0.8, 1.25)), None, "original")])
        hard_negatives.append((t, start, "tail"))


def build_catalog(cfg: WorldConfig, rng: np.random.Generator) -> Catalog:
    n_artists = cfg.resolved_artists()
    n_genres = len(names.GENRES)
    labels = [names.label_name(rng) for _ in range(max(20, n_artists // 8))]

    artist_name: list[str] = []
    artist_alt: list[str] = []
    seen_names: set[str] = set()
    while len(artist_name) < n_artists:
        name, syllables = names.artist_name(rng)
        if name in seen_names:
            continue
        seen_names.add(name)
        if syllables is not None and rng.random() < 0.4:
            artist_name.append(names.to_katakana(syllables))  # a Japanese artist, romanised in many scrobbles
            artist_alt.append(name)
        elif syllables is not None:
            artist_name.append(name)
            artist_alt.append(names.to_katakana(syllables))
        else:
            artist_name.append(name)
            artist_alt.append(names.to_cyrillic(name))
    artist_genre = rng.integers(0, n_genres, size=n_artists)
    artist_pop = rng.pareto(1.2, size=n_artists) + 0.05
    artist_label = [labels[i] for i in rng.integers(0, len(labels), size=n_artists)]
    artist_mbid = [_mbid(rng) for _ in range(n_artists)]

    album_title: list[str] = []
    album_artist: list[int] = []
    album_year: list[int] = []
    album_kind: list[str] = []
    album_first: list[int] = []
    album_len: list[int] = []
    track_title: list[str] = []
    track_album: list[int] = []
    track_artist: list[int] = []
    track_duration: list[float] = []
    track_pop: list[float] = []
    track_featured: list[str | None] = []
    track_version: list[str] = []
    hard_negatives: list[tuple[int, int, str]] = []

    def add_album(artist: int, title: str, year: int, kind: str, tracks: list[tuple[str, float, str | None, str]]):
        album_title.append(title)
        album_artist.append(artist)
        album_year.append(year)
        album_kind.append(kind)
        album_first.append(len(track_title))
        album_len.append(len(tracks))
        album_id = len(album_title) - 1
        for pos, (t_title, dur, feat, version) in enumerate(tracks):
            track_title.append(t_title)
            track_album.append(album_id)
            track_artist.append(artist)
            track_duration.append(dur)
            track_pop.append(float(rng.pareto(1.5) + 0.1) * (1.6 if pos < 2 else 1.0))
            track_featured.append(feat)
            track_version.append(version)

    for a in range(n_artists):
        n_albums = int(rng.integers(1, 5))
        titles_used: set[str] = set()
        genre_mean = 170 + 25 * (artist_genre[a] % 7)
        for _ in range(n_albums):
            tracks = []
            for _ in range(int(rng.integers(6, 13))):
                title = names.track_title(rng)
                while title in titles_used:
                    title = names.track_title(rng)
                titles_used.add(title)
                feat = artist_name[int(rng.integers(0, n_artists))] if rng.random() < 0.1 else None
                if feat == artist_name[a]:
                    feat = None
                dur = float(np.clip(rng.normal(genre_mean, 55), 75, 720))
                tracks.append((title, round(dur), feat, "original"))
            add_album(a, names.album_title(rng), int(rng.integers(1965, 2025)), "LP", tracks)

    n_originals = len(track_title)
    originals_by_artist: dict[int, list[int]] = {}
    for t in range(n_originals):
        originals_by_artist.setdefault(track_artist[t], []).append(t)
    # Hard negatives: different recordings that share a title with an original.
    for a in range(n_artists):
        if rng.random() < 0.05:
            originals = originals_by_artist[a]
            chosen = rng.choice(originals, size=min(len(originals), int(rng.integers(3, 7))), replace=False)
            venue = names.pick(rng, names.VENUES)
            live_tracks = [
                (f"{track_title[t]} (Live)", round(track_duration[t] * rng.uniform(1.05, 1.3)), None, "live")
                for t in chosen
            ]
            start = len(track_title)
            add_album(a, f"Live at {venue}", int(rng.integers(1990, 2025)), "Live", live_tracks)
            hard_negatives.extend((int(t), start + i, "live") for i, t in enumerate(chosen))
    remix_sources = rng.choice(n_originals, size=max(1, n_originals // 35), replace=False)
    for t in remix_sources:
        a = track_artist[t]
        remixer = names.artist_name(rng)[0].split(" ")[-1]
        start = len(track_title)
        dur = round(track_duration[t] * rng.uniform(1.2, 1.8))
        add_album(a, f"{track_title[t]} (Remixes)", int(album_year[track_album[t]]) + 1, "EP",
                  [(f"{track_title[t]} ({remixer} Remix)", dur, None, "remix")])
        hard_negatives.append((int(t), start, "remix"))
    cover_sources = rng.choice(n_originals, size=max(1, n_originals // 50), replace=False)
    for t in cover_sources:
        coverer = int(rng.integers(0, n_artists))
        if coverer == track_artist[t]:
            continue
        start = len(track_title)
        dur = round(float(np.clip(track_duration[t] + rng.normal(0, 30), 75, 720)))
        add_album(coverer, f"{names.pick(rng, names.WORDS).title()} Covers", int(rng.integers(1990, 2025)), "LP",
                  [(track_title[t], dur, None, "cover")])
        hard_negatives.append((int(t), start, "cover"))
    _add_recording_siblings(cfg, n_artists, originals_by_artist, track_title, track_duration, album_year,
                            track_album, add_album, hard_negatives)

    n_tracks = len(track_title)
    return Catalog(
        artist_name=artist_name, artist_alt=artist_alt, artist_genre=artist_genre, artist_pop=artist_pop,
        artist_mbid=artist_mbid, artist_label=artist_label,
        album_title=album_title, album_artist=np.array(album_artist), album_year=np.array(album_year),
        album_kind=album_kind, album_first_track=np.array(album_first), album_len=np.array(album_len),
        album_mbid=[_mbid(rng) for _ in album_title],
        track_title=track_title, track_album=np.array(track_album), track_artist=np.array(track_artist),
        track_duration_s=np.array(track_duration, dtype=np.float64), track_pop=np.array(track_pop),
        track_featured=track_featured, track_mbid=[_mbid(rng) for _ in range(n_tracks)],
        track_version=track_version, hard_negatives=hard_negatives,
    )


@dataclass
class VariantTable:
    artist: pa.Array  # Arrow, not Python lists: millions of short strings at 100M-scrobble scale
    title: pa.Array
    album: pa.Array
    track: np.ndarray
    kind: np.ndarray
    start: np.ndarray  # [n_tracks, n_kinds] first variant row of (track, kind)
    count: np.ndarray  # [n_tracks, n_kinds] number of variants of (track, kind); 0 = kind does not apply


def build_variants(cat: Catalog, rng: np.random.Generator) -> VariantTable:
    kinds = list(VARIANT_KINDS)
    start = np.zeros((cat.n_tracks, len(kinds)), dtype=np.int64)
    count = np.zeros((cat.n_tracks, len(kinds)), dtype=np.int64)
    artist: list[str] = []
    title: list[str] = []
    album: list[str] = []
    track: list[int] = []
    kind: list[int] = []
    chunks: dict[str, list[pa.Array]] = {"artist": [], "title": [], "album": []}
    flushed = 0

    def flush() -> None:
        for name, values in (("artist", artist), ("title", title), ("album", album)):
            chunks[name].append(pa.array(values, pa.string()))
            values.clear()

    for t in range(cat.n_tracks):
        if len(artist) >= 200_000:
            flushed += len(artist)
            flush()
        a = int(cat.track_artist[t])
        alb = int(cat.track_album[t])
        canonical = CanonicalTrack(
            artist=cat.artist_name[a], title=cat.track_title[t], album=cat.album_title[alb],
            featured=cat.track_featured[t], label=cat.artist_label[a], release_year=int(cat.album_year[alb]),
            artist_alt_script=cat.artist_alt[a], is_live=cat.track_version[t] == "live",
            venue=cat.album_title[alb].removeprefix("Live at "),
        )
        for k, renders in render_variants(canonical, rng).items():
            ki = kinds.index(k)
            start[t, ki] = flushed + len(artist)
            count[t, ki] = len(renders)
            for ar, ti, al in renders:
                artist.append(ar)
                title.append(ti)
                album.append(al)
                track.append(t)
                kind.append(ki)
    flush()
    combined = {name: pa.concat_arrays(parts) for name, parts in chunks.items()}
    return VariantTable(combined["artist"], combined["title"], combined["album"], np.array(track, dtype=np.int32),
                        np.array(kind, dtype=np.int8), start, count)


@dataclass
class Users:
    user_id: list[str]
    taste_cdf: np.ndarray  # [n_users, n_genres]
    daily_rate: np.ndarray
    peak_hour: np.ndarray
    sends_duration: np.ndarray
    sends_mbids: np.ndarray
    country: list[str]


COUNTRIES = ["US", "GB", "DE", "JP", "BR", "SE", "FR", "PL", "MX", "KR", "CA", "AU", "NL", "ES", "RU"]


def build_users(cfg: WorldConfig, rng: np.random.Generator) -> Users:
    n = cfg.resolved_users()
    n_genres = len(names.GENRES)
    taste = rng.dirichlet(np.full(n_genres, 0.15), size=n)
    activity = rng.lognormal(0.0, 0.9, size=n)
    daily_rate = cfg.n_scrobbles * activity / activity.sum() / cfg.days / 1.05
    return Users(
        user_id=[f"user_{i:06d}" for i in range(n)],
        taste_cdf=np.cumsum(taste, axis=1),
        daily_rate=daily_rate,
        peak_hour=rng.choice([8.0, 13.0, 18.0, 21.0], size=n) + rng.normal(0, 1.0, size=n),
        sends_duration=rng.random(n) < 0.6,
        sends_mbids=rng.random(n) < 0.5,
        country=[COUNTRIES[i] for i in rng.integers(0, len(COUNTRIES), size=n)],
    )


PLAYERS_PER_USER = 3


def _uniform_hash(seed: int, *keys: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) for each row of the integer keys, the same for the same keys (splitmix64)."""
    with np.errstate(over="ignore"):
        h = np.full(len(keys[0]), np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
        for key in keys:
            h = (h ^ key.astype(np.uint64)) + np.uint64(0x9E3779B97F4A7C15)
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _weighted_choice_by_group(rng, group_of_item, weight, wanted_groups):
    """For each wanted group, draw one item of that group with probability proportional to weight."""
    out = np.empty(len(wanted_groups), dtype=np.int64)
    order = np.argsort(group_of_item, kind="stable")
    sorted_groups = group_of_item[order]
    for g in np.unique(wanted_groups):
        lo, hi = np.searchsorted(sorted_groups, [g, g + 1])
        members = order[lo:hi]
        mask = wanted_groups == g
        if len(members) == 0:
            out[mask] = rng.integers(0, len(group_of_item), size=mask.sum())
            continue
        cdf = np.cumsum(weight[members])
        picks = np.searchsorted(cdf, rng.random(mask.sum()) * cdf[-1], side="right")
        out[mask] = members[np.minimum(picks, len(members) - 1)]
    return out


@dataclass
class DayPlays:
    user: np.ndarray
    track: np.ndarray
    played_at_us: np.ndarray
    variant: np.ndarray


def simulate_day(
    day_index: int, cfg: WorldConfig, cat: Catalog, users: Users, variants: VariantTable, rng: np.random.Generator
) -> DayPlays:
    day_start = datetime.combine(cfg.start_date, datetime.min.time(), tzinfo=UTC) + timedelta(days=day_index)
    weekend = day_start.weekday() >= 5
    plays_per_user = rng.poisson(users.daily_rate * (1.15 if weekend else 1.0))
    active = np.nonzero(plays_per_user)[0]
    if len(active) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return DayPlays(empty, empty, empty, empty)
    counts = plays_per_user[active]
    n_sessions = np.maximum(1, np.round(counts / 8 * rng.uniform(0.6, 1.4, size=len(active)))).astype(np.int64)
    play_user = np.repeat(active, counts)
    play_sess_local = (rng.random(len(play_user)) * np.repeat(n_sessions, counts)).astype(np.int64)
    session_offset = np.zeros(len(users.user_id), dtype=np.int64)
    session_offset[active] = np.cumsum(n_sessions) - n_sessions
    play_session = session_offset[play_user] + play_sess_local
    order = np.argsort(play_session, kind="stable")
    play_user, play_session = play_user[order], play_session[order]

    n_total_sessions = int(n_sessions.sum())
    session_user = np.repeat(active, n_sessions)
    u = rng.random(n_total_sessions)
    session_genre = (users.taste_cdf[session_user] < u[:, None]).sum(axis=1)
    session_genre = np.minimum(session_genre, len(names.GENRES) - 1)
    session_artist = _weighted_choice_by_group(rng, cat.artist_genre, cat.artist_pop, session_genre)
    # each session plays one album of its artist in order (55%) or shuffles popular tracks of its genre
    album_pop = np.bincount(cat.track_album, weights=cat.track_pop, minlength=len(cat.album_title))
    session_album = _weighted_choice_by_group(rng, cat.album_artist, album_pop, session_artist)
    session_sequential = rng.random(n_total_sessions) < 0.55
    session_start_pos = rng.integers(0, 1 << 30, size=n_total_sessions)

    first_of_session = np.r_[0, np.nonzero(np.diff(play_session))[0] + 1]
    session_len = np.diff(np.r_[first_of_session, len(play_session)])
    position = np.arange(len(play_session)) - np.repeat(first_of_session, session_len)
    s = play_session
    alb = session_album[s]
    seq_track = cat.album_first_track[alb] + (session_start_pos[s] + position) % cat.album_len[alb]
    track_genre = cat.artist_genre[cat.track_artist]
    shuffle_track = _weighted_choice_by_group(rng, track_genre, cat.track_pop, session_genre[s])
    play_track = np.where(session_sequential[s], seq_track, shuffle_track)

    hour = (users.peak_hour[session_user] + rng.normal(0, 2.5, size=n_total_sessions)) % 24
    session_start_us = (day_start.timestamp() + hour * 3600) * 1e6
    duration_us = cat.track_duration_s[play_track] * 1e6 + rng.integers(0, 20_000_000, size=len(play_track))
    cum = np.cumsum(duration_us)
    before = cum - duration_us
    offset_in_session = before - np.repeat(before[first_of_session], session_len)
    played_at = ((session_start_us[s] + offset_in_session) // 1e6 * 1e6).astype(np.int64)  # Last.fm keeps seconds
    end_us = int((datetime.combine(cfg.end_date(), datetime.min.time(), tzinfo=UTC)).timestamp() * 1e6)
    keep = played_at < end_us

    kinds = list(VARIANT_KINDS)
    messy_kinds = [k for k in kinds if k != "clean"]
    rates = np.array([cfg.variant_rates.get(k, 0.0) for k in messy_kinds])
    cdf = np.cumsum(rates)
    # a player writes a track one way: the spelling is drawn once per (user, track, player), and a session is
    # played on one of the user's players, so one listening of an album spells each track once
    session_player = rng.integers(0, PLAYERS_PER_USER, size=n_total_sessions)
    spelling = _uniform_hash(cfg.seed, play_user, play_track, session_player[s])
    r = _uniform_hash(cfg.seed + 1, play_user, play_track, session_player[s])
    messy_idx = np.searchsorted(cdf, r, side="right")  # == len(messy_kinds) means clean
    kind_idx = np.where(messy_idx < len(messy_kinds), messy_idx + 1, 0)
    n_var = variants.count[play_track, kind_idx]
    kind_idx = np.where(n_var > 0, kind_idx, 0)
    n_var = variants.count[play_track, kind_idx]
    variant = variants.start[play_track, kind_idx] + (spelling * n_var).astype(np.int64)
    return DayPlays(play_user[keep], play_track[keep], played_at[keep], variant[keep])


def _dictionary_column(indices: np.ndarray, dictionary: pa.Array) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices, type=pa.int32()), dictionary).cast(pa.string())


def _nullable_take(values: pa.Array, indices: np.ndarray, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), values.take(pa.array(indices)), pa.scalar(None, pa.string()))


def _scrobble_batch(plays: DayPlays, first_id: int, cat: Catalog, users: Users, variants: VariantTable,
                    dicts: dict[str, pa.Array], rng: np.random.Generator) -> pa.Table:
    n = len(plays.track)
    kind = variants.kind[plays.variant]
    clean = kind == 0
    with_mbid = users.sends_mbids[plays.user] & clean
    with_dur = users.sends_duration[plays.user]
    dur_ms = (cat.track_duration_s[plays.track] * 1000 + rng.integers(-1500, 1500, size=n)).astype(np.int32)
    album_idx = cat.track_album[plays.track]
    return pa.table(
        {
            "scrobble_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            "user_id": _dictionary_column(plays.user, dicts["user"]),
            "played_at": pa.array(plays.played_at_us, type=pa.timestamp("us", tz="UTC")),
            "artist_name": _dictionary_column(plays.variant, dicts["v_artist"]),
            "track_name": _dictionary_column(plays.variant, dicts["v_title"]),
            "album_name": _dictionary_column(plays.variant, dicts["v_album"]),
            "artist_mbid": _nullable_take(dicts["artist_mbid"], cat.track_artist[plays.track], with_mbid),
            "track_mbid": _nullable_take(dicts["track_mbid"], plays.track, with_mbid),
            "album_mbid": _nullable_take(dicts["album_mbid"], album_idx, with_mbid),
            "duration_ms": pa.array(dur_ms, type=pa.int32(), mask=~with_dur),
        },
        schema=SCROBBLE_SCHEMA,
    )


def generate_world(
    cfg: WorldConfig, out_dir: Path, progress: Callable[[int, int, int], None] | None = None
) -> dict:
    """Write the whole world under out_dir and return its manifest. Same seed, same bytes."""
    cfg.validate()
    out_dir = Path(out_dir)
    for sub in ("scrobbles", "spotify", "aoty", "hetrec", "dj_sets", "truth/scrobble_truth"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    cat = build_catalog(cfg, np.random.default_rng([cfg.seed, 1]))
    variants = build_variants(cat, np.random.default_rng([cfg.seed, 2]))
    users = build_users(cfg, np.random.default_rng([cfg.seed, 3]))
    dicts = {
        "user": pa.array(users.user_id),
        "v_artist": variants.artist,
        "v_title": variants.title,
        "v_album": variants.album,
        "artist_mbid": pa.array(cat.artist_mbid),
        "track_mbid": pa.array(cat.track_mbid),
        "album_mbid": pa.array(cat.album_mbid),
    }

    user_artist_keys: list[np.ndarray] = []
    user_artist_counts: list[np.ndarray] = []
    n_artists = len(cat.artist_name)
    writer: pq.ParquetWriter | None = None
    truth_writer: pq.ParquetWriter | None = None
    csv_file = None
    file_index, rows_in_file, next_id = 0, 0, 0
    try:
        for day in range(cfg.days):
            plays = simulate_day(day, cfg, cat, users, variants, np.random.default_rng([cfg.seed, 100, day]))
            if len(plays.track) == 0:
                continue
            batch = _scrobble_batch(plays, next_id, cat, users, variants, dicts,
                                    np.random.default_rng([cfg.seed, 200, day]))
            if writer is None or rows_in_file >= cfg.rows_per_file:
                if writer is not None:
                    writer.close()
                    truth_writer.close()
                    file_index += 1
                writer = pq.ParquetWriter(out_dir / f"scrobbles/part-{file_index:05d}.parquet", SCROBBLE_SCHEMA)
                truth_writer = pq.ParquetWriter(out_dir / f"truth/scrobble_truth/part-{file_index:05d}.parquet",
                                                TRUTH_SCHEMA)
                rows_in_file = 0
            writer.write_table(batch, row_group_size=1_000_000)
            truth_writer.write_table(pa.table({"scrobble_id": batch["scrobble_id"],
                                               "variant_id": pa.array(plays.variant.astype(np.int32))}))
            if cfg.write_csv:
                csv_file = _append_csv(out_dir / "scrobbles_csv", batch, csv_file)
            keys = plays.user.astype(np.int64) * n_artists + cat.track_artist[plays.track]
            k, c = np.unique(keys, return_counts=True)
            user_artist_keys.append(k)
            user_artist_counts.append(c)
            if len(user_artist_keys) >= 16:
                user_artist_keys, user_artist_counts = _merge_counts(user_artist_keys, user_artist_counts)
            next_id += len(plays.track)
            rows_in_file += len(plays.track)
            if progress:
                progress(day + 1, cfg.days, next_id)
    finally:
        if writer is not None:
            writer.close()
            truth_writer.close()
        if csv_file is not None:
            csv_file.close()
    (keys,), (counts,) = _merge_counts(user_artist_keys, user_artist_counts)

    tag_rng = np.random.default_rng([cfg.seed, 4])
    _write_truth(out_dir, cat, variants, users)
    spotify_rows = _write_spotify(out_dir / "spotify/tracks.csv", cat, np.random.default_rng([cfg.seed, 5]))
    n_albums, n_reviews = _write_aoty(out_dir / "aoty", cat, np.random.default_rng([cfg.seed, 6]),
                                      np.random.default_rng([cfg.seed, 8]).random(len(cat.album_title)) < AOTY_LABEL_SHARE)
    set_rows, set_truth = generate_dj_sets(cat, cfg.start_date, cfg.days, np.random.default_rng([cfg.seed, 7]))
    write_atomically(out_dir / "dj_sets/tracklists.jsonl",
                     "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in set_rows))
    pq.write_table(set_truth, out_dir / "truth/dj_tracklists.parquet")
    n_tag_assignments = _write_hetrec(out_dir / "hetrec", cfg, cat, users, keys, counts, tag_rng)

    manifest = {
        "config": {**asdict(cfg), "start_date": cfg.start_date.isoformat()},
        "start_date": cfg.start_date.isoformat(),
        "end_date": cfg.end_date().isoformat(),
        "counts": {
            "scrobbles": next_id,
            "users": len(users.user_id),
            "artists": n_artists,
            "albums": len(cat.album_title),
            "tracks": cat.n_tracks,
            "variants": len(variants.artist),
            "hard_negative_pairs": len(cat.hard_negatives),
            "genres": len(names.GENRES),
            "spotify_tracks": spotify_rows,
            "aoty_albums": n_albums,
            "aoty_reviews": n_reviews,
            "user_artist_pairs": len(keys),
            "tag_assignments": n_tag_assignments,
            "dj_set_positions": len(set_rows),
            "dj_set_ids": sum(r["artist"] == "ID" for r in set_rows),
        },
    }
    # written last, atomically: it marks the world done (a killed generation leaves none, and is redone)
    write_atomically(out_dir / "manifest.json", json.dumps(manifest, indent=2))
    return manifest


def _merge_counts(keys: list[np.ndarray], counts: list[np.ndarray]):
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    all_counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(all_keys, return_inverse=True)
    return [uniq], [np.bincount(inverse, weights=all_counts, minlength=len(uniq)).astype(np.int64)]


CSV_HEADER = ["scrobble_id", "user", "uts", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid",
              "duration_ms"]


def _append_csv(folder: Path, batch: pa.Table, handle):
    if handle is None:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / "scrobbles.csv", "w", newline="", encoding="utf-8")
        csv.writer(handle).writerow(CSV_HEADER)
    cols = batch.to_pydict()
    w = csv.writer(handle)
    uts = (batch["played_at"].cast(pa.int64()).to_numpy() // 1_000_000).tolist()
    w.writerows(zip(cols["scrobble_id"], cols["user_id"], uts, cols["artist_name"], cols["artist_mbid"],
                    cols["album_name"], cols["album_mbid"], cols["track_name"], cols["track_mbid"],
                    cols["duration_ms"], strict=True))
    return handle


def _write_truth(out_dir: Path, cat: Catalog, variants: VariantTable, users: Users) -> None:
    t = np.arange(cat.n_tracks)
    pq.write_table(pa.table({
        "true_track_id": [f"trk_{i:07d}" for i in t],
        "artist": [cat.artist_name[a] for a in cat.track_artist],
        "true_artist_id": [f"art_{a:06d}" for a in cat.track_artist],
        "title": cat.track_title,
        "album": [cat.album_title[a] for a in cat.track_album],
        "true_album_id": [f"alb_{a:06d}" for a in cat.track_album],
        "duration_s": cat.track_duration_s,
        "featured": cat.track_featured,
        "version": cat.track_version,
        "genre": [names.GENRES[cat.artist_genre[a]] for a in cat.track_artist],
        "label": [cat.artist_label[a] for a in cat.track_artist],
        "release_year": cat.album_year[cat.track_album],
        "track_mbid": cat.track_mbid,
    }), out_dir / "truth/tracks.parquet")
    track_ids = pa.array([f"trk_{i:07d}" for i in range(cat.n_tracks)])
    pq.write_table(pa.table({
        "variant_id": np.arange(len(variants.artist), dtype=np.int32),
        "true_track_id": track_ids.take(pa.array(variants.track)),
        "variant_kind": pa.DictionaryArray.from_arrays(pa.array(variants.kind.astype(np.int32)),
                                                       pa.array(VARIANT_KINDS)).cast(pa.string()),
        "artist": variants.artist, "title": variants.title, "album": variants.album,
    }), out_dir / "truth/variants.parquet")
    pq.write_table(pa.table({
        "track_id": [f"trk_{a:07d}" for a, _, _ in cat.hard_negatives],
        "other_track_id": [f"trk_{b:07d}" for _, b, _ in cat.hard_negatives],
        "kind": [k for _, _, k in cat.hard_negatives],
    }), out_dir / "truth/hard_negatives.parquet")
    taste = np.diff(np.c_[np.zeros(len(users.user_id)), users.taste_cdf], axis=1)
    pq.write_table(pa.table({
        "user_id": users.user_id,
        "country": users.country,
        "daily_rate": users.daily_rate,
        "top_genre": [names.GENRES[i] for i in taste.argmax(axis=1)],
        "taste": [row.tolist() for row in taste.round(4)],
    }), out_dir / "truth/users.parquet")


SPOTIFY_COLUMNS = ["track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit",
                   "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                   "instrumentalness", "liveness", "valence", "tempo", "time_signature", "track_genre"]
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _write_spotify(path: Path, cat: Catalog, rng: np.random.Generator) -> int:
    pop_rank = np.argsort(np.argsort(cat.track_pop * cat.artist_pop[cat.track_artist]))
    popularity = (100 * pop_rank / max(1, cat.n_tracks - 1)).astype(int)
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(SPOTIFY_COLUMNS)
        for t in range(cat.n_tracks):
            if rng.random() > 0.9:
                continue  # Spotify does not carry every track
            a = int(cat.track_artist[t])
            genre = names.GENRES[cat.artist_genre[a]]
            energy_c, valence_c = names.GENRE_MOOD_CENTRE[names.genre_family(genre)]
            energy = float(np.clip(rng.normal(energy_c, 0.12), 0, 1))
            valence = float(np.clip(rng.normal(valence_c, 0.15), 0, 1))
            live = cat.track_version[t] == "live"
            artists = cat.artist_name[a] + (f";{cat.track_featured[t]}" if cat.track_featured[t] else "")
            title = cat.track_title[t] + (f" - Remastered {int(cat.album_year[cat.track_album[t]]) + 20}"
                                          if rng.random() < 0.05 and cat.album_year[cat.track_album[t]] < 2000 else "")
            w.writerow([
                "".join(_B62[i] for i in rng.integers(0, 62, size=22)), artists,
                cat.album_title[cat.track_album[t]], title, int(popularity[t]),
                int(cat.track_duration_s[t] * 1000 + rng.integers(-1500, 1500)),
                bool(genre in ("hip hop", "trap") and rng.random() < 0.6),
                round(float(np.clip(0.35 + 0.4 * energy * valence + rng.normal(0, 0.1), 0, 1)), 3),
                round(energy, 3), int(rng.integers(0, 12)),
                round(float(-22 + 17 * energy + rng.normal(0, 1.5)), 3), int(rng.random() < 0.6),
                round(float(np.clip((0.3 if genre in ("hip hop", "trap") else 0.05) + rng.normal(0, 0.03), 0, 1)), 4),
                round(float(np.clip(1 - energy + rng.normal(0, 0.1), 0, 1)), 4),
                round(float(np.clip((0.7 if genre in ("ambient", "classical", "techno", "idm") else 0.02)
                                    + rng.normal(0, 0.05), 0, 1)), 4),
                round(float(np.clip((0.75 if live else 0.12) + rng.normal(0, 0.05), 0, 1)), 3),
                round(valence, 3), round(float(np.clip(rng.normal(80 + 70 * energy, 12), 50, 210)), 3),
                4 if rng.random() < 0.9 else 3, genre,
            ])
            rows += 1
    return rows


REVIEW_PHRASES = {
    "high_energy": ["relentless", "explosive", "driving", "euphoric", "ferocious"],
    "low_energy": ["hushed", "meditative", "sparse", "gentle", "slow-burning"],
    "happy": ["joyful", "sun-drenched", "playful", "uplifting", "warm"],
    "sad": ["melancholic", "bleak", "heartbroken", "brooding", "haunting"],
}


# AOTY names the label of few albums, so most tracks arrive without one: the label hunter's work
AOTY_LABEL_SHARE = 0.08


def _write_aoty(folder: Path, cat: Catalog, rng: np.random.Generator, label_listed: np.ndarray) -> tuple[int, int]:
    albums, reviews = [], []
    for alb in range(len(cat.album_title)):
        a = int(cat.album_artist[alb])
        genre = names.GENRES[cat.artist_genre[a]]
        if rng.random() > 0.7:
            continue  # AOTY lists most, not all, albums
        first, n = int(cat.album_first_track[alb]), int(cat.album_len[alb])
        energy_c, valence_c = names.GENRE_MOOD_CENTRE[names.genre_family(genre)]
        critic = int(np.clip(rng.normal(70, 10), 20, 100))
        album_id = f"aoty-{alb:06d}"
        year = int(cat.album_year[alb])
        albums.append({
            "id": album_id,
            "title": cat.album_title[alb],
            "artist": cat.artist_name[a],
            "release_date": f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}",
            "type": cat.album_kind[alb],
            "label": cat.artist_label[a] if label_listed[alb] else None,
            "genres": [genre] + ([names.pick(rng, names.GENRES)] if rng.random() < 0.3 else []),
            "critic_score": critic if rng.random() < 0.8 else None,
            "user_score": int(np.clip(critic + rng.normal(0, 8), 10, 100)),
            "ratings_count": int(rng.pareto(1.3) * 50),
            "tracks": [
                {"number": i + 1, "title": cat.track_title[first + i],
                 "length": f"{int(cat.track_duration_s[first + i]) // 60}:{int(cat.track_duration_s[first + i]) % 60:02d}"}
                for i in range(n)
            ],
        })
        for r in range(int(rng.integers(0, 4))):
            e_word = names.pick(rng, REVIEW_PHRASES["high_energy" if energy_c > 0.6 else "low_energy"])
            v_word = names.pick(rng, REVIEW_PHRASES["happy" if valence_c > 0.55 else "sad"])
            score = int(np.clip(critic + rng.normal(0, 10), 0, 100))
            reviews.append({
                "id": f"{album_id}-r{r}",
                "album_id": album_id,
                "author": f"critic_{int(rng.integers(0, 500)):03d}",
                "source": "critic" if rng.random() < 0.5 else "user",
                "score": score,
                "date": f"{min(2025, year + int(rng.integers(0, 3)))}-{int(rng.integers(1, 13)):02d}-15",
                "text": f"A {e_word}, {v_word} {genre} record. {cat.artist_name[a]} sound "
                        f"{'at their best' if score > 75 else 'uneven'} on '{cat.track_title[first]}'.",
            })
    (folder / "albums.json").write_text(json.dumps(albums, ensure_ascii=False))
    (folder / "reviews.json").write_text(json.dumps(reviews, ensure_ascii=False))
    return len(albums), len(reviews)


def _write_hetrec(folder: Path, cfg: WorldConfig, cat: Catalog, users: Users, keys: np.ndarray, counts: np.ndarray,
                  rng: np.random.Generator) -> int:
    n_artists = len(cat.artist_name)
    user_idx, artist_idx = keys // n_artists, keys % n_artists
    with open(folder / "artists.dat", "w", encoding="utf-8", newline="") as f:
        f.write("id\tname\turl\tpictureURL\n")
        for a, name in enumerate(cat.artist_name):
            f.write(f"{a + 1}\t{name}\thttp://www.last.fm/music/{name.replace(' ', '+')}\t\n")
    with open(folder / "user_artists.dat", "w", encoding="utf-8", newline="") as f:
        f.write("userID\tartistID\tweight\n")
        for lo in range(0, len(keys), 1_000_000):  # in chunks: tens of millions of pairs at 100M scrobbles
            hi = lo + 1_000_000
            f.write("".join(f"{u + 1}\t{a + 1}\t{c}\n" for u, a, c in zip(
                user_idx[lo:hi].tolist(), artist_idx[lo:hi].tolist(), counts[lo:hi].tolist(), strict=True)))
    vocab: list[str] = []
    for g in names.GENRES:
        vocab.append(g)
        vocab.extend(t for t in names.GENRE_MOOD_TAGS[names.genre_family(g)] if t not in vocab)
    vocab = list(dict.fromkeys(vocab))
    tag_id = {t: i + 1 for i, t in enumerate(vocab)}
    with open(folder / "tags.dat", "w", encoding="latin-1", newline="") as f:
        f.write("tagID\ttagValue\n")
        for t, i in tag_id.items():
            f.write(f"{i}\t{t}\n")
    n = 0
    with open(folder / "user_taggedartists.dat", "w", encoding="utf-8", newline="") as f:
        f.write("userID\tartistID\ttagID\tday\tmonth\tyear\n")
        tagging = (counts >= 5) & (rng.random(len(counts)) < 0.25)
        for u, a in zip(user_idx[tagging].tolist(), artist_idx[tagging].tolist(), strict=True):
            genre = names.GENRES[cat.artist_genre[a]]
            options = [genre] + names.GENRE_MOOD_TAGS[names.genre_family(genre)]
            when = cfg.start_date + timedelta(days=int(rng.integers(0, cfg.days)))
            for t in rng.choice(options, size=int(rng.integers(1, 4)), replace=False):
                f.write(f"{u + 1}\t{a + 1}\t{tag_id[str(t)]}\t1\t{when.month}\t{when.year}\n")
                n += 1
    return n
