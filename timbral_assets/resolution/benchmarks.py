"""Readers for the public entity-resolution benchmarks in ../shared/data, as standardised records.

MusicBrainz-20K (Leipzig): song records from five sources with a true cluster id (CID).
Magellan iTunes-Amazon (Structured / Dirty): labelled pairs in the DeepMatcher "COL x VAL y" format.
freeDB (cddb): CD records with 300 true duplicate pairs.
Audioscrobbler: user-typed artist names.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from .name_resolution import TrackName
from .records import TrackRecord, album_keys, standardise

_COLUMN = re.compile(r"COL (\S+) VAL(?: |$)")


@dataclass(frozen=True)
class ClusteredRecords:
    records: list[TrackRecord]
    truth: dict[str, str]  # record id -> true cluster
    source: dict[str, str]  # record id -> source


def musicbrainz_20k(path: Path) -> ClusteredRecords:
    records, truth, source = [], {}, {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    albums = album_keys((row["title"], row["album"]) for row in rows)
    for row in rows:
        record = standardise(row["TID"], row["title"], row["artist"], row["album"], row["length"], row["year"],
                             source=row["SourceID"], known_albums=albums)
        records.append(record)
        truth[record.record_id] = row["CID"]
        source[record.record_id] = row["SourceID"]
    return ClusteredRecords(records, truth, source)


def musicbrainz_20k_names(path: Path) -> tuple[list[TrackName], dict[str, str]]:
    """MusicBrainz-20K as `resolve-names --entity track` reads it (id, name, artist, album, duration_s,
    year, with the source as `distinct_within`), and the true cluster of each id."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [TrackName(r["TID"], r["title"], r["artist"], r["album"], r["length"], r["year"], line=n + 2,
                       distinct_within=r["SourceID"]) for n, r in enumerate(rows)]
    return names, {r["TID"]: r["CID"] for r in rows}


def parse_magellan_record(text: str) -> dict[str, str]:
    """'COL Song_Name VAL x COL Artist_Name VAL y ...' -> {'Song_Name': 'x', 'Artist_Name': 'y', ...}."""
    parts = _COLUMN.split(" " + text.strip())
    return {parts[i]: " ".join(parts[i + 1].split()) for i in range(1, len(parts) - 1, 2)}


def _detokenise(text: str) -> str:
    """Undo the benchmark's tokenisation: 'I 'm a Machine ( feat . X )' -> "I'm a Machine (feat. X)"."""
    text = re.sub(r"\s+([)\].,!?:;])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    return re.sub(r"\s+'(s|m|re|ve|ll|d|t)\b", r"'\1", text)


@dataclass(frozen=True)
class PairRow:
    left: dict[str, str]
    right: dict[str, str]
    label: int | None


MAGELLAN_FIELDS = {"Song_Name": "title", "Artist_Name": "artist", "Album_Name": "album", "Time": "duration_s",
                   "Genre": "genre", "Released": "released", "CopyRight": "label", "Price": "price"}


def magellan_pairs(path: Path) -> list[PairRow]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            left, right, label = line.rstrip("\n").split("\t")
            rows.append(PairRow(*({MAGELLAN_FIELDS.get(k, k): _detokenise(v) for k, v in parse_magellan_record(side).items()}
                                  for side in (left, right)), int(label)))
    return rows


def magellan_pair_rows(path: Path) -> list[dict[str, str]]:
    """Magellan pairs as `match-pairs` input rows (left_* / right_* columns) with a 0/1 `label`."""
    from .pair_features import PAIR_FIELDS

    return [{**{f"{side}_{f}": record.get(f, "") for side, record in (("left", p.left), ("right", p.right))
                for f in PAIR_FIELDS}, "label": str(p.label)} for p in magellan_pairs(path)]


def freedb(directory: Path) -> tuple[list[dict[str, str]], set[tuple[str, str]]]:
    with (directory / "cddb.csv").open(newline="", encoding="utf-8") as handle:
        albums = list(csv.DictReader(handle))
    with (directory / "gt.csv").open(newline="", encoding="utf-8") as handle:
        duplicates = {tuple(sorted((row["id1"], row["id2"]))) for row in csv.DictReader(handle)}
    return albums, duplicates


def audioscrobbler_artist_names(path: Path) -> list[tuple[str, str]]:
    out = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            artist_id, _, name = line.rstrip("\n").partition("\t")
            if artist_id.strip() and name.strip():
                out.append((artist_id.strip(), name.strip()))
    return out
