"""Tracks in and out of the mood model: the labelled training set, and the rows `timbral mood-predict` reads.

A labelled set is Spotify tracks with audio features: energy and valence are the regression targets, the
six mood labels come from the audio rule and label tags (labels.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sources.errors import FileFormatError, RowIssue
from .evaluation import track_artists
from .features import TrackMeta
from .labels import AUDIO_COLUMNS, mood_labels

PREDICT_COLUMNS = ("track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit",
                   "track_genre")


def split_artists(artists: str | Sequence[str] | None) -> list[str]:
    """Spotify's "A;B" credit (or a list) as names."""
    if artists is None:
        return []
    parts = artists.split(";") if isinstance(artists, str) else artists
    return [a.strip() for a in parts if a and a.strip()]


@dataclass
class LabelledSet:
    tracks: list[TrackMeta]
    energy: np.ndarray
    valence: np.ndarray
    labels: np.ndarray  # tracks x MOOD_LABELS

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def n_artists(self) -> int:
        return len({a for artists in track_artists([t.artists for t in self.tracks]) for a in artists})

    def subset(self, rows: np.ndarray) -> LabelledSet:
        return LabelledSet([self.tracks[i] for i in rows], self.energy[rows], self.valence[rows], self.labels[rows])


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def labelled_set(rows: Iterable[Mapping], label_tags: Sequence[Sequence[str]] | None = None) -> LabelledSet:
    """A labelled set from rows with the keys of staging.stg_spotify_tracks (spotify_track_id, artists, album_name,
    track_name, genre, popularity, duration_ms, explicit, the audio columns; optional release_year and tags).
    Rows without energy or valence are left out, and so is a track id seen before (Spotify lists a track once
    per genre). `label_tags`, one list per row, are tags that may set a label (never the Spotify genre, which
    is a feature)."""
    tracks, audio, tag_lists = [], {c: [] for c in AUDIO_COLUMNS}, []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        track_id = str(row.get("spotify_track_id") or row.get("track_id") or "")
        values = {c: _number(row.get(c)) for c in AUDIO_COLUMNS}
        if values["energy"] is None or values["valence"] is None or track_id in seen:
            continue
        seen.add(track_id)
        for c in AUDIO_COLUMNS:
            audio[c].append(values[c] if values[c] is not None else np.nan)
        tag_lists.append(list(label_tags[i]) if label_tags is not None else [])
        year = _number(row.get("release_year"))
        explicit = row.get("explicit")
        tracks.append(TrackMeta(
            track_id=track_id, artists=";".join(split_artists(row.get("artists"))),
            album_name=row.get("album_name") or "", track_name=row.get("track_name") or "",
            genre=row.get("genre") or row.get("track_genre") or "", popularity=_number(row.get("popularity")),
            duration_ms=_number(row.get("duration_ms")), explicit=None if explicit is None else bool(explicit),
            year=int(year) if year is not None else None, tags=tuple(row.get("tags") or ())))
    arrays = {c: np.asarray(v, dtype=float) for c, v in audio.items()}
    labels = mood_labels(arrays, tag_lists if label_tags is not None else None)
    return LabelledSet(tracks, arrays["energy"], arrays["valence"], labels)


def fold_name(name: str) -> str:
    return " ".join(name.casefold().split())


def top_tags_by_artist(rows: Iterable[tuple[str, str, int]], k: int = 10) -> dict[str, list[str]]:
    """(artist name, tag, taggers) rows -> each artist's (folded name) k tags with the most taggers."""
    taggers: dict[str, dict[str, int]] = {}
    for artist, tag, count in rows:
        if artist and tag and tag.strip():
            by_tag = taggers.setdefault(fold_name(artist), {})
            tag = " ".join(tag.lower().split())
            by_tag[tag] = by_tag.get(tag, 0) + int(count)
    return {a: [t for t, _ in sorted(c.items(), key=lambda tc: (-tc[1], tc[0]))[:k]] for a, c in taggers.items()}


def read_labelled_spotify(path: Path, tags_by_artist: Mapping[str, list[str]] | None = None) -> LabelledSet:
    """A labelled set from a Spotify Tracks CSV (the Kaggle format of ../shared/data/spotify_tracks), tagged
    as the warehouse tags a track: its genre, and its first-credited artist's tags (`top_tags_by_artist`),
    which may also set a label."""
    from ..sources.metadata_files import read_spotify_tracks_csv

    imported = read_spotify_tracks_csv(path)
    features = {r["spotify_track_id"]: r for r in imported.tables["audio_features"].to_pylist()}
    rows, label_tags = [], []
    for r in imported.tables["tracks"].to_pylist():
        first = fold_name(r["artists"][0]) if r["artists"] else ""
        label_tags.append(list((tags_by_artist or {}).get(first, [])))
        genre = (r["track_genre"] or "").lower()
        rows.append({**r, **features.get(r["spotify_track_id"], {}), "genre": genre,
                     "tags": list(dict.fromkeys(([genre] if genre else []) + label_tags[-1]))})
    return labelled_set(rows, label_tags)


def predict_track(values: Mapping[str, object]) -> tuple[TrackMeta, list[tuple[str, str]]]:
    """One mood-predict row (PREDICT_COLUMNS, values as text or as pandas gives them) as a TrackMeta, and the
    (field, problem) pairs of values that could not be read, which are taken as unknown."""
    value = {c: "" if values.get(c) is None else str(values[c]).strip() for c in PREDICT_COLUMNS}
    problems, numbers = [], {}
    for c in ("popularity", "duration_ms"):
        numbers[c] = _number(value[c]) if value[c] else None
        if value[c] and numbers[c] is None:
            problems.append((c, f"is not a number: {value[c][:40]!r} (treated as unknown)"))
    explicit = {"true": True, "1": True, "false": False, "0": False}.get(value["explicit"].lower())
    if value["explicit"] and explicit is None:
        problems.append(("explicit", f"is not true/false: {value['explicit'][:40]!r} (treated as unknown)"))
    return TrackMeta(track_id=value["track_id"], artists=";".join(split_artists(value["artists"])),
                     album_name=value["album_name"], track_name=value["track_name"],
                     genre=value["track_genre"].lower(), popularity=numbers["popularity"],
                     duration_ms=numbers["duration_ms"], explicit=explicit), problems


def read_predict_input(path: Path) -> tuple[list[TrackMeta], list[RowIssue]]:
    """The rows of a mood-predict CSV (.csv or .csv.gz), one TrackMeta per record in file order, so that the
    output has a row for every input row. A missing required column is a FileFormatError naming it; an empty
    file has no rows. A value that cannot be read (popularity "abc", a truncated record, bytes that are not
    UTF-8) is treated as unknown and reported as an issue naming its line and field; its row is still
    predicted. Columns beyond PREDICT_COLUMNS are ignored."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    issues: list[RowIssue] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        issues.append(RowIssue(str(path), raw[:error.start].count(b"\n") + 1, "(record)",
                               f"not valid UTF-8 (byte at offset {error.start}); such bytes read as \ufffd"))
        text = raw.decode("utf-8", errors="replace")
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], issues
    names = [h.strip().lower() for h in header]
    missing = [c for c in PREDICT_COLUMNS if c not in names]
    if missing:
        raise FileFormatError(str(path), 1, missing[0], f"required column is missing ({', '.join(missing)}; "
                                                        f"found: {', '.join(names)})")
    pos = {c: names.index(c) for c in PREDICT_COLUMNS}
    tracks: list[TrackMeta] = []
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue  # a blank line is no record
        if len(fields) < len(names):
            issues.append(RowIssue(str(path), line, names[len(fields)],
                                   f"missing: the record has {len(fields)} of {len(names)} fields"))
        track, problems = predict_track({c: fields[i] if i < len(fields) else "" for c, i in pos.items()})
        tracks.append(track)
        issues += [RowIssue(str(path), line, field, problem) for field, problem in problems]
    return tracks, issues
