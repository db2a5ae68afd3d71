"""A streaming reader for delimited text that reports bad rows instead of failing the file.

It decodes line by line, so a wrong encoding costs one row, not the file; it knows the physical line
of every record; and it checks field count, size and NUL bytes before any parsing of values.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .errors import FileFormatError, RowIssue


def header_key(name: str) -> str:
    """A column name as compared with the accepted names: case, spacing and punctuation aside
    ("Song Title", "song-title" and "song_title" are one name)."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff#").lower()).strip("_")


MAX_FIELD_CHARS = 65_536  # a real artist or title is far shorter; longer means a broken export
csv.field_size_limit(min(sys.maxsize, 1 << 30))  # we enforce our own limit with a clearer message


@dataclass
class DelimitedRows:
    """Iterates (line_number, fields) of good records; `issues` collects the rejected ones."""

    path: str
    delimiter: str = ","
    encoding: str = "utf-8"
    header: list[str] | None = None  # None: the first record is the header
    quoting: int = csv.QUOTE_MINIMAL
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # logical name -> accepted header names
    required: frozenset[str] = frozenset()
    required_one_of: tuple[str, ...] = ()  # at least one of these logical columns must be present
    issues: list[RowIssue] = field(default_factory=list)
    records_read: int = 0
    positions: dict[str, int] = field(default_factory=dict)

    def _field_at_byte(self, raw: bytes, offset: int) -> str:
        """Which field holds the undecodable byte: parse the line leniently (quote-aware) and find the mark."""
        marked = raw[:offset].decode(self.encoding, errors="replace") + "\ufffd"
        parsed = next(csv.reader([marked], delimiter=self.delimiter, quoting=self.quoting), [""])
        index = len(parsed) - 1
        names = self.header or []
        return names[index] if index < len(names) else f"column {index + 1}"

    def _lines(self, handle: IO[bytes], line_numbers: deque[int]) -> Iterator[str]:
        for number, raw in enumerate(handle, 1):
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                self.records_read += 1
                bad = raw[exc.start : exc.start + 1].hex()
                self.issues.append(RowIssue(self.path, number, self._field_at_byte(raw, exc.start),
                                            f"not valid {self.encoding} (byte 0x{bad} at offset {exc.start})"))
                continue
            line_numbers.append(number)
            yield text

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        path = Path(self.path)
        opener = gzip.open if path.suffix == ".gz" else open
        line_numbers: deque[int] = deque()
        with opener(path, "rb") as handle:
            reader = csv.reader(self._lines(handle, line_numbers), delimiter=self.delimiter, quoting=self.quoting,
                                strict=False)
            need_header = self.header is None
            if not need_header:
                self.positions = self.resolve_columns()
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    first = line_numbers[0] if line_numbers else 0
                    line_numbers.clear()
                    self.records_read += 1
                    self.issues.append(RowIssue(self.path, first, "(record)", f"unparseable CSV: {exc}"))
                    continue
                first = line_numbers[0] if line_numbers else 0
                line_numbers.clear()
                if need_header:
                    self.header = [h.strip().lstrip("\ufeff#").lower() for h in fields]
                    self.positions = self.resolve_columns()
                    need_header = False
                    continue
                self.records_read += 1
                if not fields or fields == [""]:
                    self.issues.append(RowIssue(self.path, first, "(record)", "empty line"))
                    continue
                problem = self._check(fields)
                if problem is not None:
                    self.issues.append(RowIssue(self.path, first, problem[0], problem[1]))
                    continue
                yield first, fields
        if need_header:
            raise FileFormatError(self.path, 1, "(header)", "the file is empty: no header line")

    def _check(self, fields: list[str]) -> tuple[str, str] | None:
        names = self.header or []
        if len(fields) < len(names):
            missing = names[len(fields)]
            return missing, f"missing: the record has {len(fields)} of {len(names)} fields (truncated line?)"
        for i, value in enumerate(fields):
            if len(value) > MAX_FIELD_CHARS:
                name = names[i] if i < len(names) else f"column {i + 1}"
                return name, f"{len(value):,} characters, over the {MAX_FIELD_CHARS:,} limit"
            if "\x00" in value:
                name = names[i] if i < len(names) else f"column {i + 1}"
                return name, "contains a NUL byte"
        return None

    def resolve_columns(self) -> dict[str, int]:
        """Map logical names to column positions via aliases; a missing required column fails the file."""
        assert self.header is not None
        positions: dict[str, int] = {}
        keys = [header_key(h) for h in self.header]
        for logical, aliases in self.columns.items():
            for alias in aliases:
                if header_key(alias) in keys:
                    positions[logical] = keys.index(header_key(alias))
                    break
        for logical in sorted(self.required):
            if logical not in positions:
                raise FileFormatError(
                    self.path, 1, logical,
                    f"required column is missing (accepted names: {', '.join(self.columns[logical])}; "
                    f"found: {', '.join(self.header)})",
                )
        if self.required_one_of and not any(c in positions for c in self.required_one_of):
            accepted = sorted({a for c in self.required_one_of for a in self.columns[c]})
            raise FileFormatError(self.path, 1, " or ".join(self.required_one_of),
                                  f"required column is missing (accepted names: {', '.join(accepted)}; "
                                  f"found: {', '.join(self.header)})")
        return positions
