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
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .delimited import MAX_FIELD_CHARS, DelimitedRows, header_key
from .errors import FileFormatError, RowIssue

# One play, as every source gives it (the synthetic generator writes exactly these columns)...
SCROBBLE_SCHEMA = pa.schema(
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
    ]
)
# ...and where an importer found it.
FILE_SCROBBLE_SCHEMA = SCROBBLE_SCHEMA.append(pa.field("source_file", pa.string())).append(
    pa.field("source_line", pa.int64()))

SCROBBLE_FORMATS = ("auto", "scrobble_csv", "lastfm_headerless_csv", "lastfm_1k_tsv", "parquet")

# The names each column goes by in the export tools seen (case, spaces and punctuation aside: delimited.header_key).
# Unix seconds or milliseconds are read in a date column too, whatever its name.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "scrobble_id": ("scrobble_id",),
    "user": ("user", "username", "user_id", "userid", "user_name"),
    "uts": ("uts", "timestamp_uts", "date_uts", "unix_timestamp", "unix_time", "timestamp_unix"),
    "date": ("utc_time", "date", "played_at", "timestamp", "time", "date_time", "datetime", "listened_at",
             "scrobbled_at", "scrobble_time", "played_time", "ts", "end_time", "utc_date"),
    "artist": ("artist", "artist_name", "artistname", "master_metadata_album_artist_name"),
    "track": ("track", "track_name", "name", "title", "song", "song_title", "song_name", "track_title",
              "trackname", "master_metadata_track_name"),
    "album": ("album", "album_name", "release", "album_title", "release_name", "master_metadata_album_album_name"),
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


def _parse_numbers(text: pa.Array, present: np.ndarray, pattern: str, arrow_type: pa.DataType):
    """Numbers from a text column: (values, ok mask). One cast when every present value parses; the
    per-row regex runs only for a batch that holds a bad value."""
    filled = pc.if_else(pa.array(present), text, "0")
    try:
        return pc.cast(filled, arrow_type).to_numpy(zero_copy_only=False), present.copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = present & pc.match_substring_regex(text, pattern).to_numpy(zero_copy_only=False)
        values = pc.cast(pc.if_else(pa.array(ok), text, "0"), arrow_type).to_numpy(zero_copy_only=False)
        return values, ok


def _buffer_contains(column: pa.Array, needle: bytes) -> bool:
    """Whether any value of a binary column holds `needle`: one scan of the data buffer, no per-row work."""
    data = column.buffers()[2]
    return data is not None and data.to_pybytes().find(needle) != -1


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
    names = {header_key(n.strip().strip('"')) for n in first.split(",")}
    known = {header_key(a) for aliases in HEADER_ALIASES.values() for a in aliases}
    return "scrobble_csv" if len(names & known) >= 2 else "lastfm_headerless_csv"


ARROW_BLOCK_BYTES = 16 << 20  # a block must hold the longest line: 16 MB fits a 10 MB field and bounds memory


@dataclass
class ScrobbleFileReader:
    """Reads one scrobble file in Arrow batches. `issues` and `records_read` fill in as batches are consumed.

    Parsing is pyarrow's C++ CSV reader (single-threaded, so it reports the physical line of a malformed
    row); every check after that is vectorised per batch. Each good row keeps its physical line number:
    lines are counted from the records' order, the newlines inside quoted values and the rejected lines.
    """

    path: str
    fmt: str = "auto"
    user: str | None = None  # for single-user exports that carry no user column
    issues: list[RowIssue] = field(default_factory=list)
    records_read: int = 0

    def __post_init__(self) -> None:
        if self.fmt not in SCROBBLE_FORMATS:
            raise ValueError(f"unknown scrobble format {self.fmt!r}; known: {', '.join(SCROBBLE_FORMATS)}")
        if self.fmt == "auto":
            self.fmt = detect_format(self.path)
        if self.fmt == "parquet":
            raise ValueError("Parquet scrobbles are read by DuckDB directly; see warehouse.replace_scrobble_window_from_parquet")
        self.default_user = self.user or Path(self.path).name.split(".")[0]

    def _layout(self) -> tuple[list[str], dict[str, int], int, str, str | bool]:
        """Column names, logical name -> position, header lines, delimiter, quote char."""
        if self.fmt == "lastfm_headerless_csv":
            return HEADERLESS_LASTFM, {k: i for i, k in enumerate(HEADERLESS_LASTFM)}, 0, ",", '"'
        if self.fmt == "lastfm_1k_tsv":
            return LASTFM_1K, {k: i for i, k in enumerate(LASTFM_1K)}, 0, "\t", False
        with open(self.path, "rb") as f:
            first = f.readline()
        header = [h.strip().lstrip("\ufeff#").lower()
                  for h in next(csv.reader([first.decode("utf-8", errors="replace")]), [])]
        rows = DelimitedRows(self.path, header=header, columns=HEADER_ALIASES, required=frozenset({"artist", "track"}),
                             required_one_of=("uts", "date"))
        if not first.strip():
            raise FileFormatError(self.path, 1, "(header)", "the file is empty: no header line")
        positions = rows.resolve_columns()
        return header, positions, 1, ",", '"'

    def batches(self) -> Iterator[pa.Table]:
        names, pos, header_lines, delimiter, quote = self._layout()
        width = len(names)
        invalid_lines: list[int] = []

        def on_invalid(row) -> str:
            line = row.number if row.number is not None else -1
            invalid_lines.append(line)
            missing = names[row.actual_columns] if row.actual_columns < width else f"column {row.actual_columns + 1}"
            if row.actual_columns < width:
                message = f"missing: the record has {row.actual_columns} of {width} fields (truncated line?)"
            else:
                message = f"the record has {row.actual_columns} fields, expected {width}"
                missing = "(record)"
            self.issues.append(RowIssue(self.path, line, missing, message))
            return "skip"

        # generic column names, so a header naming a column twice cannot confuse the reader
        columns = [f"c{i}" for i in range(width)]
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=ARROW_BLOCK_BYTES, column_names=columns,
                                               skip_rows=header_lines),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote, double_quote=bool(quote),
                                                 ignore_empty_lines=False, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(column_types={c: pa.binary() for c in columns},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid as exc:
            raise FileFormatError(self.path, header_lines + 1, "(file)", f"unreadable as CSV: {exc}") from None

        next_line = header_lines + 1
        seen_invalid = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise FileFormatError(self.path, next_line, "(file)", f"unreadable from here on: {exc}") from None
            n = batch.num_rows
            if n == 0:
                continue
            cols = [batch.column(i) for i in range(width)]
            # physical line of each record: its order, newlines inside earlier values, rejected lines in between
            newlines = np.zeros(n, dtype=np.int64)
            for col in cols:
                if _buffer_contains(col, b"\n"):  # cheap scan first; count per row only when a value holds one
                    newlines += pc.count_substring(col, "\n").to_numpy(zero_copy_only=False)
            base = next_line + np.arange(n, dtype=np.int64) + np.concatenate(([0], np.cumsum(newlines)[:-1]))
            inv = np.array(sorted(x for x in invalid_lines if x >= next_line), dtype=np.int64)
            lines = base
            if len(inv):
                shift = np.zeros(n, dtype=np.int64)
                while True:
                    new_shift = np.searchsorted(inv, base + shift, side="right")
                    if np.array_equal(new_shift, shift):
                        break
                    shift = new_shift
                lines = base + shift
            next_line = int(lines[-1] + newlines[-1] + 1)
            self.records_read += n + len(invalid_lines) - seen_invalid
            seen_invalid = len(invalid_lines)
            good = self._validate(cols, names, pos, lines)
            if good is not None and len(good):
                yield good
        self.records_read += len(invalid_lines) - seen_invalid

    def _validate(self, cols, names, pos, lines) -> pa.Table | None:
        n = len(lines)
        bad = np.zeros(n, dtype=bool)
        problems: list[tuple[np.ndarray, str, object]] = []  # (mask, field, message or row -> message)

        def flag(mask: np.ndarray, field_name: str, message) -> None:
            mask = mask & ~bad
            if mask.any():
                problems.append((mask.copy(), field_name, message))
                bad[:] |= mask

        all_lengths = [pc.binary_length(col).to_numpy(zero_copy_only=False) for col in cols]
        flag(np.logical_and.reduce([length == 0 for length in all_lengths]), "(record)", "empty line")
        text_cols: list[pa.Array] = []
        for i, col in enumerate(cols):
            lengths = all_lengths[i]
            over = lengths > MAX_FIELD_CHARS
            if over.any():
                flag(over, names[i], lambda r, lengths=lengths: f"{lengths[r]:,} characters, over the {MAX_FIELD_CHARS:,} limit")
            if _buffer_contains(col, b"\x00"):
                flag(pc.match_substring(col, "\x00").to_numpy(zero_copy_only=False), names[i], "contains a NUL byte")
            try:
                text = col.cast(pa.string())
            except pa.ArrowInvalid:
                values = col.to_pylist()
                invalid = np.zeros(n, dtype=bool)
                messages: dict[int, str] = {}
                for r, v in enumerate(values):
                    try:
                        v.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        invalid[r] = True
                        messages[r] = f"not valid utf-8 (byte 0x{v[exc.start:exc.start + 1].hex()} at offset {exc.start})"
                flag(invalid, names[i], messages.__getitem__)
                text = pa.array([v.decode("utf-8", errors="replace") for v in values], pa.string())
            text_cols.append(text)

        trimmed: dict[str, pa.Array] = {}

        def col(name: str) -> pa.Array | None:
            if name not in pos:
                return None
            if name not in trimmed:
                trimmed[name] = pc.utf8_trim_whitespace(text_cols[pos[name]])
            return trimmed[name]

        artist, track = col("artist"), col("track")
        flag(pc.equal(pc.utf8_length(artist), 0).to_numpy(zero_copy_only=False), "artist", "is empty")
        flag(pc.equal(pc.utf8_length(track), 0).to_numpy(zero_copy_only=False), "track", "is empty")

        played = np.zeros(n, dtype=np.int64)
        have_time = np.zeros(n, dtype=bool)
        uts = col("uts")
        if uts is not None:
            has_uts = pc.greater(pc.utf8_length(uts), 0).to_numpy(zero_copy_only=False)
            secs, digits = _parse_numbers(uts, has_uts, r"^\d{1,12}$", pa.int64())
            flag(has_uts & ~digits, "uts", lambda r: f"is not unix seconds: {uts[r].as_py()[:40]!r}")
            flag(digits & ((secs <= 0) | (secs > 4_102_444_800)), "uts", lambda r: f"{secs[r]} is outside 1970..2100")
            played = np.where(digits, secs * 1_000_000, played)
            have_time |= has_uts
        date_col = col("date")
        if date_col is not None and (~have_time).any():
            need = ~have_time
            parsed = None
            for fmt in ("%d %b %Y, %H:%M", "%d %b %Y %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
                        "%Y-%m-%d %H:%M:%S", "%d %b %Y %H:%M:%S"):
                attempt = pc.strptime(date_col, format=fmt, unit="s", error_is_null=True)
                parsed = attempt if parsed is None else pc.coalesce(parsed, attempt)
            secs = pc.cast(parsed, pa.int64())
            ok = pc.is_valid(secs).to_numpy(zero_copy_only=False)
            values = secs.fill_null(0).to_numpy(zero_copy_only=False)
            empty = pc.equal(pc.utf8_length(date_col), 0).to_numpy(zero_copy_only=False)
            # digits in a date column are unix time: seconds, or milliseconds from 12 digits on
            numbers, digits = _parse_numbers(date_col, need & ~ok & ~empty, r"^\d{1,18}$", pa.int64())
            epoch = np.where(numbers >= 100_000_000_000, numbers // 1000, numbers)
            flag(need & digits & ((epoch <= 0) | (epoch > 4_102_444_800)), "date",
                 lambda r: f"{date_col[r].as_py()} is not unix time in 1970..2100")
            ok = ok | (digits & (epoch > 0) & (epoch <= 4_102_444_800))
            values = np.where(digits, epoch, values)
            flag(need & empty, "date", "is empty")
            flag(need & ~ok & ~empty & ~digits, "date",
                 lambda r: f"is not a date Timbral reads: {date_col[r].as_py()[:60]!r}")
            played = np.where(need & ok, values * 1_000_000, played)
        elif date_col is None and uts is not None:
            flag(~have_time, "uts", "is empty")

        duration = col("duration_ms")
        duration_values = None
        if duration is not None:
            has = pc.greater(pc.utf8_length(duration), 0).to_numpy(zero_copy_only=False)
            values, numeric = _parse_numbers(duration, has, r"^-?\d+(\.\d+)?$", pa.float64())
            flag(has & ~numeric, "duration_ms", lambda r: f"is not a number: {duration[r].as_py()[:40]!r}")
            duration_values = pc.cast(pa.array(values, mask=~(has & numeric)), pa.int32(), safe=False)
        sid = col("scrobble_id")
        sid_values = None
        if sid is not None:
            has = pc.greater(pc.utf8_length(sid), 0).to_numpy(zero_copy_only=False)
            values, integer = _parse_numbers(sid, has, r"^\d{1,18}$", pa.int64())
            flag(has & ~integer, "scrobble_id", "is not an integer")
            sid_values = pa.array(values, mask=~(has & integer))

        for mask, field_name, message in problems:
            for r in np.nonzero(mask)[0]:
                text = message(int(r)) if callable(message) else message
                self.issues.append(RowIssue(self.path, int(lines[r]), field_name, text))
        if bad.all():
            return None
        keep = pa.array(~bad)
        user = col("user")
        users = pa.array([self.default_user] * n, pa.string()) if user is None else user
        artist_k, track_k, users_k = artist.filter(keep), track.filter(keep), users.filter(keep)
        played_k = played[~bad]
        sid_k = sid_values.filter(keep) if sid_values is not None else pa.nulls(len(played_k), pa.int64())
        if sid_k.null_count == 0:
            ids = sid_k
        else:  # rows without an id get a stable hash of what makes them unique
            ids = pa.array([s if s is not None else stable_scrobble_id(u, t, a, tr)
                            for s, u, t, a, tr in zip(sid_k.to_pylist(), users_k.to_pylist(), played_k.tolist(),
                                                      artist_k.to_pylist(), track_k.to_pylist(), strict=True)],
                           pa.int64())

        def optional(name: str) -> pa.Array:
            c = col(name)
            if c is None:
                return pa.nulls(len(played_k), pa.string())
            c = c.filter(keep)
            return pc.if_else(pc.equal(pc.utf8_length(c), 0), None, c)

        return pa.Table.from_arrays([
            ids,
            users_k,
            pa.array(played_k, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            artist_k,
            track_k,
            optional("album"),
            optional("artist_mbid"),
            optional("track_mbid"),
            optional("album_mbid"),
            duration_values.filter(keep) if duration_values is not None else pa.nulls(len(played_k), pa.int32()),
            pa.array([self.path] * len(played_k), pa.string()),
            pa.array(lines[~bad], pa.int64()),
        ], schema=FILE_SCROBBLE_SCHEMA)


@dataclass(frozen=True)
class FileReading:
    """What one file yielded: its good rows, and its first rejected rows with their reasons."""

    path: str
    plays: int
    rejected: int
    first_rejected: tuple[RowIssue, ...]


@dataclass(frozen=True)
class PlayDateRange:
    first: date | None  # first play date (UTC); None when no file yielded a play
    last: date | None  # last play date (UTC), inclusive
    plays: int  # good rows
    rejected: int  # rows rejected with their file, line and field
    files: tuple[FileReading, ...] = ()


def play_date_range(paths: list[str], fmt: str = "auto", user: str | None = None,
                    examples: int = 10) -> PlayDateRange:
    """The UTC play dates that scrobble files span, read the way raw_scrobbles reads them, and what each file
    yielded (with its first `examples` rejected rows). CSV and TSV go through ScrobbleFileReader, Parquet
    through DuckDB."""
    import duckdb
    import pyarrow.compute as pc

    lows, highs, files = [], [], []
    for path in paths:
        kind = detect_format(path) if fmt == "auto" else fmt
        if kind == "parquet":
            low, high, n = duckdb.sql("SELECT min(played_at::TIMESTAMP), max(played_at::TIMESTAMP), count(*) "
                                      "FROM read_parquet($p)", params={"p": path}).fetchone()
            if n:
                lows.append(low)
                highs.append(high)
            files.append(FileReading(path, n, 0, ()))
            continue
        reader = ScrobbleFileReader(path, kind, user)
        plays = 0
        for batch in reader.batches():
            if batch.num_rows:
                bounds = pc.min_max(batch["played_at"])
                lows.append(bounds["min"].as_py())
                highs.append(bounds["max"].as_py())
                plays += batch.num_rows
        first_rejected = tuple(sorted(reader.issues, key=lambda issue: issue.line)[:examples])
        files.append(FileReading(path, plays, len(reader.issues), first_rejected))
    plays, rejected = sum(f.plays for f in files), sum(f.rejected for f in files)
    if not lows:
        return PlayDateRange(None, None, plays, rejected, tuple(files))
    return PlayDateRange(min(lows).date(), max(highs).date(), plays, rejected, tuple(files))
