"""Importers for scrobble files: Last.fm export CSVs (with and without header), the Last.fm 1K-users TSV,
and Timbral's own CSV / Parquet. All of them yield Arrow batches in one schema and collect row issues.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from .delimited import DelimitedRows
from .errors import RowIssue

FILE_SCROBBLE_SCHEMA = pa.schema(
    [
        ("scrobble_id", pa.int64()),
        ("user_id", pa.string()),
        ("played_at", pa.timestamp("us", tz="UTC")),
        ("artist_name", pa.string()),
        ("track_name", pa.string()),
        ("album_name", pa.string()),
        ("artist_mbid", pa.string()),
        ("track_mbid", pa.string()),
        ("album_mbid", pa.string()),
        ("duration_ms", pa.int32()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)

SCROBBLE_FORMATS = ("auto", "scrobble_csv", "lastfm_headerless_csv", "lastfm_1k_tsv", "parquet")

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "scrobble_id": ("scrobble_id",),
    "user": ("user", "username", "user_id", "userid"),
    "uts": ("uts", "timestamp_uts", "date_uts", "unix_timestamp"),
    "date": ("utc_time", "date", "played_at", "timestamp", "time"),
    "artist": ("artist", "artist_name", "artistname"),
    "track": ("track", "track_name", "name", "title", "song"),
    "album": ("album", "album_name", "release"),
    "artist_mbid": ("artist_mbid", "artist_mbid_id", "musicbrainz_artist_id"),
    "track_mbid": ("track_mbid", "mbid", "recording_mbid"),
    "album_mbid": ("album_mbid", "release_mbid"),
    "duration_ms": ("duration_ms",),
}
HEADERLESS_LASTFM = ["artist", "album", "track", "date"]
LASTFM_1K = ["user", "date", "artist_mbid", "artist", "track_mbid", "track"]

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_LASTFM_DATE = re.compile(r"^\s*(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


class BadValue(ValueError):
    pass


def parse_played_at(text: str) -> int:
    """Microseconds since the epoch (UTC) from a Last.fm display date, an ISO-8601 time or unix seconds."""
    text = text.strip()
    if not text:
        raise BadValue("is empty")
    if text.isdigit():
        return parse_uts(text)
    m = _LASTFM_DATE.match(text)
    if m:
        month = _MONTHS.get(m.group(2).lower())
        if month is None:
            raise BadValue(f"has an unknown month in {text!r}")
        secs = calendar.timegm((int(m.group(3)), month, int(m.group(1)), int(m.group(4)), int(m.group(5)),
                                int(m.group(6) or 0)))
        return secs * 1_000_000
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(f"is not a date Timbral reads: {text[:60]!r}") from None
    if dt.tzinfo is None:
        return calendar.timegm(dt.timetuple()) * 1_000_000
    return int(dt.timestamp()) * 1_000_000


def parse_uts(text: str) -> int:
    try:
        secs = int(text.strip())
    except ValueError:
        raise BadValue(f"is not unix seconds: {text[:40]!r}") from None
    if secs <= 0 or secs > 4_102_444_800:
        raise BadValue(f"{secs} is outside 1970..2100")
    return secs * 1_000_000


def stable_scrobble_id(user: str, played_at_us: int, artist: str, track: str) -> int:
    """A 63-bit id from what makes a scrobble unique, so re-imports of the same file give the same ids."""
    digest = hashlib.blake2b(f"{user}\x1f{played_at_us}\x1f{artist}\x1f{track}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def detect_format(path: str | Path) -> str:
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if ".parquet" in suffixes:
        return "parquet"
    if ".tsv" in suffixes:
        return "lastfm_1k_tsv"
    with open(p, "rb") as f:
        first = f.readline().decode("utf-8", errors="replace").lower().lstrip("\ufeff")
    names = {n.strip().strip('"') for n in first.split(",")}
    known = {a for aliases in HEADER_ALIASES.values() for a in aliases}
    return "scrobble_csv" if len(names & known) >= 2 else "lastfm_headerless_csv"


@dataclass
class ScrobbleFileReader:
    """Reads one scrobble file in batches. `issues` and `records_read` fill in as batches are consumed."""

    path: str
    fmt: str = "auto"
    user: str | None = None  # for single-user exports that carry no user column
    batch_rows: int = 100_000
    issues: list[RowIssue] = field(default_factory=list)
    records_read: int = 0

    def __post_init__(self) -> None:
        if self.fmt not in SCROBBLE_FORMATS:
            raise ValueError(f"unknown scrobble format {self.fmt!r}; known: {', '.join(SCROBBLE_FORMATS)}")
        if self.fmt == "auto":
            self.fmt = detect_format(self.path)
        if self.fmt == "parquet":
            raise ValueError("Parquet scrobbles are read by DuckDB directly; see warehouse.insert_parquet_scrobbles")
        self.default_user = self.user or Path(self.path).name.split(".")[0]

    def _rows(self) -> DelimitedRows:
        if self.fmt == "scrobble_csv":
            return DelimitedRows(self.path, columns=HEADER_ALIASES, required=frozenset({"artist", "track"}),
                                 required_one_of=("uts", "date"), issues=self.issues)
        if self.fmt == "lastfm_headerless_csv":
            return DelimitedRows(self.path, header=HEADERLESS_LASTFM,
                                 columns={k: (k,) for k in HEADERLESS_LASTFM}, issues=self.issues)
        return DelimitedRows(self.path, delimiter="\t", header=LASTFM_1K, quoting=csv.QUOTE_NONE,
                             columns={k: (k,) for k in LASTFM_1K}, issues=self.issues)

    def batches(self) -> Iterator[pa.Table]:
        rows = self._rows()
        cols: dict[str, list] = {name: [] for name in FILE_SCROBBLE_SCHEMA.names}
        source_file = str(self.path)
        pos: dict[str, int] | None = None
        for line, fields in rows:
            if pos is None:
                pos = rows.positions
                get = {k: pos.get(k) for k in HEADER_ALIASES}
            try:
                artist = fields[get["artist"]].strip()
                track = fields[get["track"]].strip()
                if not artist:
                    raise _FieldProblem("artist", "is empty")
                if not track:
                    raise _FieldProblem("track", "is empty")
                if get["uts"] is not None and fields[get["uts"]].strip():
                    try:
                        played = parse_uts(fields[get["uts"]])
                    except BadValue as exc:
                        raise _FieldProblem("uts", str(exc)) from None
                else:
                    try:
                        played = parse_played_at(fields[get["date"]] if get["date"] is not None else "")
                    except BadValue as exc:
                        raise _FieldProblem("date", str(exc)) from None
                user = fields[get["user"]].strip() if get["user"] is not None else self.default_user
                duration = None
                if get["duration_ms"] is not None and fields[get["duration_ms"]].strip():
                    try:
                        duration = int(float(fields[get["duration_ms"]]))
                    except ValueError:
                        raise _FieldProblem("duration_ms", f"is not a number: {fields[get['duration_ms']][:40]!r}") from None
                sid = None
                if get["scrobble_id"] is not None and fields[get["scrobble_id"]].strip():
                    try:
                        sid = int(fields[get["scrobble_id"]])
                    except ValueError:
                        raise _FieldProblem("scrobble_id", "is not an integer") from None
            except _FieldProblem as problem:
                self.issues.append(RowIssue(source_file, line, problem.field, problem.message))
                continue
            cols["scrobble_id"].append(sid if sid is not None else stable_scrobble_id(user, played, artist, track))
            cols["user_id"].append(user)
            cols["played_at"].append(played)
            cols["artist_name"].append(artist)
            cols["track_name"].append(track)
            cols["album_name"].append(_opt(fields, get["album"]))
            cols["artist_mbid"].append(_opt(fields, get["artist_mbid"]))
            cols["track_mbid"].append(_opt(fields, get["track_mbid"]))
            cols["album_mbid"].append(_opt(fields, get["album_mbid"]))
            cols["duration_ms"].append(duration)
            cols["source_file"].append(source_file)
            cols["source_line"].append(line)
            if len(cols["scrobble_id"]) >= self.batch_rows:
                yield _to_table(cols)
                cols = {name: [] for name in FILE_SCROBBLE_SCHEMA.names}
            self.records_read = rows.records_read
        self.records_read = rows.records_read
        if cols["scrobble_id"]:
            yield _to_table(cols)


class _FieldProblem(Exception):
    def __init__(self, field_name: str, message: str):
        self.field, self.message = field_name, message


def _opt(fields: list[str], index: int | None) -> str | None:
    if index is None:
        return None
    value = fields[index].strip()
    return value or None


def _to_table(cols: dict[str, list]) -> pa.Table:
    arrays = []
    for f in FILE_SCROBBLE_SCHEMA:
        if f.name == "played_at":
            arrays.append(pa.array(cols[f.name], type=pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(cols[f.name], type=f.type))
    return pa.Table.from_arrays(arrays, schema=FILE_SCROBBLE_SCHEMA)
