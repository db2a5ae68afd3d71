"""hetrec 2011 Last.fm-2k (user_artists.dat, user_taggedartists.dat, tags.dat) as interactions and item tags."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..sources.errors import FileFormatError
from .interactions import Interactions


def _tsv(path: Path, columns: tuple[str, ...]):
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:  # ids only are read
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader)
        missing = [c for c in columns if c not in header]
        if missing:
            raise FileFormatError(str(path), 1, missing[0], "missing column")
        where = [header.index(c) for c in columns]
        for row in reader:
            if row:
                yield [row[i] for i in where]


def read_hetrec(folder: Path) -> tuple[Interactions, sp.csr_matrix]:
    """The play counts (users × artists) and an artists × tags matrix counting each tag's taggers."""
    folder = Path(folder)
    rows = list(_tsv(folder / "user_artists.dat", ("userID", "artistID", "weight")))
    data = Interactions.from_triples(np.array([int(r[0]) for r in rows]), np.array([int(r[1]) for r in rows]),
                                     [float(r[2]) for r in rows])
    tagged = [(int(a), int(t)) for a, t in _tsv(folder / "user_taggedartists.dat", ("artistID", "tagID"))]
    position = {a: i for i, a in enumerate(data.item_ids.tolist())}
    pairs = [(position[a], t) for a, t in tagged if a in position]
    tag_ids, columns = np.unique(np.array([t for _, t in pairs]), return_inverse=True)
    tags = sp.csr_matrix((np.ones(len(pairs)), (np.array([a for a, _ in pairs]), columns)),
                         shape=(data.n_items, len(tag_ids)))
    tags.sum_duplicates()
    return data, tags
