"""`timbral match-pairs` end to end on small CSV files, including bad input."""

from __future__ import annotations

import csv

from timbral_assets.cli import main
from timbral_assets.resolution.pair_matching import PAIR_COLUMNS

PAIRS = [
    (("Karma Police", "Radiohead", "OK Computer", "264", "", "1997", ""), ("Karma Police", "Radiohead", "OK Computer", "263", "", "1997", ""), 1),
    (("Drunk in Love (feat. JAY-Z)", "Beyoncé", "BEYONCÉ", "323", "", "2013", ""), ("Drunk In Love", "Beyonce", "Beyonce", "323", "", "2013", ""), 1),
    (("Teardrop", "Massive Attack", "Mezzanine", "330", "", "1998", ""), ("Roads", "Portishead", "Dummy", "305", "", "1994", ""), 0),
    (("One More Time", "Daft Punk", "Discovery", "320", "", "2001", ""), ("Harder Better Faster Stronger", "Daft Punk", "Discovery", "224", "", "2001", ""), 0),
]


def _write(path, rows, header=PAIR_COLUMNS):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for left, right, _ in rows:
            writer.writerow([*left, *right])


def test_match_pairs_scores_every_row(tmp_path, capsys):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(source, PAIRS * 5)
    assert main(["match-pairs", "--input", str(source), "--output", str(out)]) == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 and list(rows[0])[-2:] == ["match_probability", "is_match"]
    assert all(0.0 <= float(r["match_probability"]) <= 1.0 for r in rows)
    assert [int(r["is_match"]) for r in rows[:4]] == [label for _, _, label in PAIRS]


def test_match_pairs_rejects_bad_input_clearly(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    _write(missing, PAIRS, header=[c for c in PAIR_COLUMNS if c != "right_artist"])
    assert main(["match-pairs", "--input", str(missing), "--output", str(tmp_path / "o.csv")]) == 2
    assert "missing.csv" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["match-pairs", "--input", str(empty), "--output", str(tmp_path / "o.csv")]) == 2
    assert "empty" in capsys.readouterr().err
    huge = tmp_path / "huge.csv"
    _write(huge, [*PAIRS, (("x" * 70_000, "A", "", "", "", "", ""), ("y", "B", "", "", "", "", ""), 0)])
    assert main(["match-pairs", "--input", str(huge), "--output", str(tmp_path / "o.csv")]) == 0
    err = capsys.readouterr().err
    assert "huge.csv:6 field left_title" in err
    with (tmp_path / "o.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4  # the good rows are kept
