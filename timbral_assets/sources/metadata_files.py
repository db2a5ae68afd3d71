"""Importers for metadata files: Spotify Tracks CSV, hetrec / Audioscrobbler play counts and tags, AOTY JSON.

Each returns an `Imported` with Arrow tables and the row issues; a whole-file problem raises FileFormatError.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from .delimited import MAX_FIELD_CHARS, DelimitedRows
from .errors import FileFormatError, RowIssue


@dataclass
class Imported:
    tables: dict[str, pa.Table]
    issues: list[RowIssue] = field(default_factory=list)
    records_read: int = 0


SPOTIFY_TRACK_FIELDS = ["track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit",
                        "track_genre"]
AUDIO_FEATURE_FIELDS = ["danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                        "instrumentalness", "liveness", "valence", "tempo", "time_signature"]
_INT_FIELDS = {"popularity", "duration_ms", "key", "mode", "time_signature"}

SPOTIFY_TRACKS_SCHEMA = pa.schema([
    ("spotify_track_id", pa.string()), ("artists", pa.list_(pa.string())), ("album_name", pa.string()),
    ("track_name", pa.string()), ("popularity", pa.int32()), ("duration_ms", pa.int32()), ("explicit", pa.bool_()),
    ("track_genre", pa.string()), ("source_file", pa.string()), ("source_line", pa.int64()),
])
AUDIO_FEATURES_SCHEMA = pa.schema(
    [("spotify_track_id", pa.string())]
    + [(f, pa.int32() if f in _INT_FIELDS else pa.float64()) for f in AUDIO_FEATURE_FIELDS]
    + [("source_file", pa.string()), ("source_line", pa.int64())]
)


class _Bad(Exception):
    def __init__(self, field_name: str, message: str):
        self.field, self.message = field_name, message


def _number(fields: list[str], pos: dict[str, int], name: str, integer: bool):
    if name not in pos:
        return None
    text = fields[pos[name]].strip()
    if not text:
        return None
    try:
        return int(float(text)) if integer else float(text)
    except ValueError:
        raise _Bad(name, f"is not a number: {text[:40]!r}") from None


def _bool(text: str, name: str) -> bool | None:
    t = text.strip().lower()
    if not t:
        return None
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    raise _Bad(name, f"is not true/false: {text[:40]!r}")


def read_spotify_tracks_csv(path: str | Path) -> Imported:
    """The Kaggle Spotify Tracks format (optionally .gz): one row per (track, genre); both tables from one file."""
    rows = DelimitedRows(str(path), columns={f: (f,) for f in SPOTIFY_TRACK_FIELDS + AUDIO_FEATURE_FIELDS},
                         required=frozenset({"track_id", "artists", "track_name"}))
    tracks: dict[str, list] = {n: [] for n in SPOTIFY_TRACKS_SCHEMA.names}
    feats: dict[str, list] = {n: [] for n in AUDIO_FEATURES_SCHEMA.names}
    for line, fields in rows:
        pos = rows.positions
        try:
            track_id = fields[pos["track_id"]].strip()
            if not track_id:
                raise _Bad("track_id", "is empty")
            numbers = {f: _number(fields, pos, f, f in _INT_FIELDS) for f in AUDIO_FEATURE_FIELDS}
            popularity = _number(fields, pos, "popularity", True)
            duration = _number(fields, pos, "duration_ms", True)
            explicit = _bool(fields[pos["explicit"]], "explicit") if "explicit" in pos else None
        except _Bad as bad:
            rows.issues.append(RowIssue(str(path), line, bad.field, bad.message))
            continue
        artists = [a.strip() for a in fields[pos["artists"]].split(";") if a.strip()]
        tracks["spotify_track_id"].append(track_id)
        tracks["artists"].append(artists or None)
        tracks["album_name"].append(fields[pos["album_name"]].strip() or None if "album_name" in pos else None)
        tracks["track_name"].append(fields[pos["track_name"]].strip() or None)
        tracks["popularity"].append(popularity)
        tracks["duration_ms"].append(duration)
        tracks["explicit"].append(explicit)
        tracks["track_genre"].append(fields[pos["track_genre"]].strip() or None if "track_genre" in pos else None)
        tracks["source_file"].append(str(path))
        tracks["source_line"].append(line)
        if any(v is not None for v in numbers.values()):
            feats["spotify_track_id"].append(track_id)
            for f, v in numbers.items():
                feats[f].append(v)
            feats["source_file"].append(str(path))
            feats["source_line"].append(line)
    return Imported(
        {"tracks": pa.table(tracks, schema=SPOTIFY_TRACKS_SCHEMA),
         "audio_features": pa.table(feats, schema=AUDIO_FEATURES_SCHEMA)},
        rows.issues, rows.records_read,
    )


USER_ARTIST_PLAYS_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("artist_id", pa.string()), ("artist_name", pa.string()), ("plays", pa.int64()),
    ("source_file", pa.string()), ("source_line", pa.int64()),
])
ARTIST_TAGS_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("artist_id", pa.string()), ("artist_name", pa.string()), ("tag", pa.string()),
    ("tagged_on", pa.date32()), ("source_file", pa.string()), ("source_line", pa.int64()),
])


def _artist_names(path: Path | None, delimiter: str, header: list[str] | None, issues: list[RowIssue]) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    rows = DelimitedRows(str(path), delimiter=delimiter, header=header, quoting=csv.QUOTE_NONE,
                         columns={"id": ("id", "artistid"), "name": ("name", "artist")},
                         required=frozenset({"id", "name"}), issues=issues)
    return {fields[rows.positions["id"]].strip(): fields[rows.positions["name"]].strip() for _, fields in rows}


def read_user_artist_plays(path: str | Path, artists_path: str | Path | None = None) -> Imported:
    """hetrec `user_artists.dat` (tab, header) or Audioscrobbler `user_artist_data*.txt` (space, no header)."""
    path = Path(path)
    issues: list[RowIssue] = []
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", errors="replace")
    hetrec = "userid" in first.lower()
    if artists_path is None:
        guess = path.with_name("artists.dat") if hetrec else path.with_name(
            path.name.replace("user_artist_data", "artist_data"))
        artists_path = guess if guess.exists() else None
    names = _artist_names(Path(artists_path) if artists_path else None, "\t",
                          None if hetrec else ["id", "name"], issues)
    if hetrec:
        rows = DelimitedRows(str(path), delimiter="\t", quoting=csv.QUOTE_NONE, issues=issues,
                             columns={"user": ("userid",), "artist": ("artistid",), "plays": ("weight", "plays")},
                             required=frozenset({"user", "artist", "plays"}))
    else:
        rows = DelimitedRows(str(path), delimiter=" ", header=["user", "artist", "plays"], quoting=csv.QUOTE_NONE,
                             issues=issues, columns={"user": ("user",), "artist": ("artist",), "plays": ("plays",)})
    out: dict[str, list] = {n: [] for n in USER_ARTIST_PLAYS_SCHEMA.names}
    for line, fields in rows:
        p = rows.positions
        try:
            plays = _number(fields, p, "plays", True)
            if plays is None or plays < 0:
                raise _Bad("plays", "must be a count >= 0")
        except _Bad as bad:
            issues.append(RowIssue(str(path), line, bad.field, bad.message))
            continue
        artist = fields[p["artist"]].strip()
        out["user_id"].append(fields[p["user"]].strip())
        out["artist_id"].append(artist)
        out["artist_name"].append(names.get(artist))
        out["plays"].append(plays)
        out["source_file"].append(str(path))
        out["source_line"].append(line)
    return Imported({"user_artist_plays": pa.table(out, schema=USER_ARTIST_PLAYS_SCHEMA)}, issues, rows.records_read)


def read_artist_tags(path: str | Path, tags_path: str | Path | None = None,
                     artists_path: str | Path | None = None) -> Imported:
    """hetrec `user_taggedartists.dat` with `tags.dat` (ISO-8859-1, as published) and `artists.dat` beside it."""
    path = Path(path)
    tags_path = Path(tags_path) if tags_path else path.with_name("tags.dat")
    artists_path = Path(artists_path) if artists_path else path.with_name("artists.dat")
    issues: list[RowIssue] = []
    if not tags_path.exists():
        raise FileFormatError(str(tags_path), 0, "(file)", "tags.dat is needed beside the tag assignments")
    tag_rows = DelimitedRows(str(tags_path), delimiter="\t", encoding="latin-1", quoting=csv.QUOTE_NONE,
                             columns={"id": ("tagid",), "tag": ("tagvalue", "tag")},
                             required=frozenset({"id", "tag"}), issues=issues)
    tag_names = {f[tag_rows.positions["id"]].strip(): f[tag_rows.positions["tag"]].strip() for _, f in tag_rows}
    names = _artist_names(artists_path, "\t", None, issues)
    rows = DelimitedRows(str(path), delimiter="\t", quoting=csv.QUOTE_NONE, issues=issues,
                         columns={k: (k,) for k in ("userid", "artistid", "tagid", "day", "month", "year")},
                         required=frozenset({"userid", "artistid", "tagid"}))
    out: dict[str, list] = {n: [] for n in ARTIST_TAGS_SCHEMA.names}
    for line, fields in rows:
        p = rows.positions
        tag = tag_names.get(fields[p["tagid"]].strip())
        if tag is None:
            issues.append(RowIssue(str(path), line, "tagID", f"unknown tag id {fields[p['tagid']]!r}"))
            continue
        try:
            y, m, d = (_number(fields, p, k, True) for k in ("year", "month", "day"))
            tagged_on = date(y, m, d or 1) if y and m else None
        except (_Bad, ValueError) as exc:
            issues.append(RowIssue(str(path), line, "year/month/day", f"not a date: {exc}"))
            continue
        artist = fields[p["artistid"]].strip()
        out["user_id"].append(fields[p["userid"]].strip())
        out["artist_id"].append(artist)
        out["artist_name"].append(names.get(artist))
        out["tag"].append(tag)
        out["tagged_on"].append(tagged_on)
        out["source_file"].append(str(path))
        out["source_line"].append(line)
    return Imported({"artist_tags": pa.table(out, schema=ARTIST_TAGS_SCHEMA)}, issues, rows.records_read)


AOTY_ALBUMS_SCHEMA = pa.schema([
    ("aoty_album_id", pa.string()), ("title", pa.string()), ("artist", pa.string()), ("release_date", pa.date32()),
    ("album_type", pa.string()), ("label", pa.string()), ("genres", pa.list_(pa.string())),
    ("critic_score", pa.float64()), ("user_score", pa.float64()), ("ratings_count", pa.int64()),
    ("tracks", pa.list_(pa.struct([("number", pa.int32()), ("title", pa.string()), ("length_s", pa.int32())]))),
    ("source_file", pa.string()), ("source_line", pa.int64()),
])
AOTY_REVIEWS_SCHEMA = pa.schema([
    ("review_id", pa.string()), ("aoty_album_id", pa.string()), ("author", pa.string()), ("review_source", pa.string()),
    ("score", pa.float64()), ("review_date", pa.date32()), ("text", pa.string()),
    ("source_file", pa.string()), ("source_line", pa.int64()),
])


def _json_records(path: Path, issues: list[RowIssue]) -> list[tuple[int, dict]]:
    """(line, record) pairs from a JSON array (one record per element) or JSON Lines file."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileFormatError(str(path), line, "(file)", f"not valid UTF-8 (byte at offset {exc.start})") from None
    stripped = text.lstrip()
    if not stripped:
        raise FileFormatError(str(path), 1, "(file)", "the file is empty")
    if stripped.startswith("["):
        # one pass: decode element by element, noting the line each one starts on
        decoder = json.JSONDecoder()
        out = []
        idx, end = text.index("[") + 1, len(text)
        line, counted_to = 1, 0
        try:
            while True:
                while idx < end and text[idx] in " \t\r\n":
                    idx += 1
                if idx < end and text[idx] == "]":
                    break
                item, after = decoder.raw_decode(text, idx)
                line += text.count("\n", counted_to, idx)
                counted_to = idx
                out.append((line, item))
                idx = after
                while idx < end and text[idx] in " \t\r\n":
                    idx += 1
                if idx < end and text[idx] == ",":
                    idx += 1
                elif idx >= end or text[idx] != "]":
                    raise json.JSONDecodeError("expected ',' or ']'", text, idx)
        except json.JSONDecodeError as exc:
            raise FileFormatError(str(path), exc.lineno, "(json)", f"invalid JSON: {exc.msg}") from None
        return out
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            issues.append(RowIssue(str(path), number, "(json)", f"invalid JSON: {exc.msg}"))
    return out


def _text(rec: dict, key: str, required: bool = False) -> str | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(key, "is missing")
        return None
    if not isinstance(value, str | int | float):
        raise _Bad(key, f"must be text, got {type(value).__name__}")
    value = str(value)
    if len(value) > MAX_FIELD_CHARS * 4:
        raise _Bad(key, f"{len(value):,} characters, over the limit")
    if "\x00" in value:
        raise _Bad(key, "contains a NUL byte")
    return value.strip()


def _date(rec: dict, key: str) -> date | None:
    value = _text(rec, key)
    if value is None:
        return None
    try:
        parts = [int(p) for p in value[:10].split("-")]
        return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        raise _Bad(key, f"is not a YYYY[-MM[-DD]] date: {value[:30]!r}") from None


def _score(rec: dict, key: str) -> float | None:
    value = rec.get(key)
    if value is None or value == "":
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise _Bad(key, f"is not a number: {str(value)[:30]!r}") from None
    if not 0 <= score <= 100:
        raise _Bad(key, f"{score} is outside 0..100")
    return score


def _length_s(value) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return int(value)
    minutes, _, seconds = str(value).partition(":")
    return int(minutes) * 60 + int(seconds or 0)


def read_aoty_albums(path: str | Path) -> Imported:
    path = Path(path)
    issues: list[RowIssue] = []
    records = _json_records(path, issues)
    out: dict[str, list] = {n: [] for n in AOTY_ALBUMS_SCHEMA.names}
    for line, rec in records:
        try:
            if not isinstance(rec, dict):
                raise _Bad("(record)", "must be a JSON object")
            album_id = _text(rec, "id", required=True)
            title = _text(rec, "title", required=True)
            artist = _text(rec, "artist", required=True)
            released = _date(rec, "release_date")
            critic, user = _score(rec, "critic_score"), _score(rec, "user_score")
            genres = rec.get("genres") or []
            if not isinstance(genres, list):
                raise _Bad("genres", "must be a list of strings")
            try:
                tracks = [{"number": int(t.get("number") or i + 1), "title": str(t.get("title") or ""),
                           "length_s": _length_s(t.get("length"))} for i, t in enumerate(rec.get("tracks") or [])]
            except (ValueError, AttributeError):
                raise _Bad("tracks", "each track needs a number, a title and an m:ss length") from None
        except _Bad as bad:
            issues.append(RowIssue(str(path), line, bad.field, bad.message))
            continue
        out["aoty_album_id"].append(album_id)
        out["title"].append(title)
        out["artist"].append(artist)
        out["release_date"].append(released)
        out["album_type"].append(_text(rec, "type"))
        out["label"].append(_text(rec, "label"))
        out["genres"].append([str(g) for g in genres])
        out["critic_score"].append(critic)
        out["user_score"].append(user)
        out["ratings_count"].append(int(rec.get("ratings_count") or 0))
        out["tracks"].append(tracks)
        out["source_file"].append(str(path))
        out["source_line"].append(line)
    return Imported({"aoty_albums": pa.table(out, schema=AOTY_ALBUMS_SCHEMA)}, issues, len(records))


def read_aoty_reviews(path: str | Path) -> Imported:
    path = Path(path)
    issues: list[RowIssue] = []
    records = _json_records(path, issues)
    out: dict[str, list] = {n: [] for n in AOTY_REVIEWS_SCHEMA.names}
    for line, rec in records:
        try:
            if not isinstance(rec, dict):
                raise _Bad("(record)", "must be a JSON object")
            row = {
                "review_id": _text(rec, "id", required=True),
                "aoty_album_id": _text(rec, "album_id", required=True),
                "author": _text(rec, "author"),
                "review_source": _text(rec, "source"),
                "score": _score(rec, "score"),
                "review_date": _date(rec, "date"),
                "text": _text(rec, "text"),
            }
        except _Bad as bad:
            issues.append(RowIssue(str(path), line, bad.field, bad.message))
            continue
        for k, v in row.items():
            out[k].append(v)
        out["source_file"].append(str(path))
        out["source_line"].append(line)
    return Imported({"aoty_reviews": pa.table(out, schema=AOTY_REVIEWS_SCHEMA)}, issues, len(records))


DJ_TRACKLISTS_SCHEMA = pa.schema([
    ("set_id", pa.string()), ("dj", pa.string()), ("played_on", pa.date32()), ("position", pa.int32()),
    ("artist", pa.string()), ("title", pa.string()), ("label", pa.string()),
    ("source_file", pa.string()), ("source_line", pa.int64()),
])


def read_dj_tracklists(path: str | Path) -> Imported:
    """DJ-set tracklists, JSON Lines (or a JSON array) of one object per played track:
    set_id, dj, played_on (YYYY-MM-DD), position (1, 2, ...), artist, title, label (optional).
    An unknown track is written as it was announced, usually "ID" for artist and title. A set that repeats
    a position keeps the first row; the repeat is reported."""
    path = Path(path)
    issues: list[RowIssue] = []
    records = _json_records(path, issues)
    out: dict[str, list] = {n: [] for n in DJ_TRACKLISTS_SCHEMA.names}
    seen: set[tuple[str, int]] = set()
    for line, rec in records:
        try:
            if not isinstance(rec, dict):
                raise _Bad("(record)", "must be a JSON object")
            set_id = _text(rec, "set_id", required=True)
            dj = _text(rec, "dj", required=True)
            played_on = _date(rec, "played_on")
            if played_on is None:
                raise _Bad("played_on", "is missing")
            position = rec.get("position")
            if isinstance(position, bool) or not isinstance(position, int | str):
                raise _Bad("position", "must be a whole number from 1")
            try:
                position = int(position)
            except ValueError:
                raise _Bad("position", f"must be a whole number from 1, got {position!r}") from None
            if position < 1:
                raise _Bad("position", f"must be a whole number from 1, got {position}")
            artist = _text(rec, "artist", required=True)
            title = _text(rec, "title", required=True)
            label = _text(rec, "label")
            if (set_id, position) in seen:
                raise _Bad("position", f"position {position} of set {set_id!r} appears twice; the first is kept")
        except _Bad as bad:
            issues.append(RowIssue(str(path), line, bad.field, bad.message))
            continue
        seen.add((set_id, position))
        for key, value in (("set_id", set_id), ("dj", dj), ("played_on", played_on), ("position", position),
                           ("artist", artist), ("title", title), ("label", label), ("source_file", str(path)),
                           ("source_line", line)):
            out[key].append(value)
    return Imported({"dj_tracklists": pa.table(out, schema=DJ_TRACKLISTS_SCHEMA)}, issues, len(records))
