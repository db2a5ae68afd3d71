"""`timbral explain-match` on a real catalog (DuckDB file) and a real trained splink model."""

from __future__ import annotations

import json

import duckdb
import pytest

from timbral_assets.cli import main
from timbral_assets.resolution import store
from timbral_assets.resolution.explain import explain_match, format_explanation
from timbral_assets.resolution.rules_file import load_rules

from .catalog_days import PLAYS_DAY_1, PLAYS_DAY_2, resolve_day


@pytest.fixture(scope="module")
def resolved_catalog(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    db, model = folder / "warehouse.duckdb", folder / "track_matcher.json"
    rules = load_rules()
    con = duckdb.connect(str(db))
    store.ensure_tables(con)
    model_json, _ = resolve_day(con, "2025-01-01", PLAYS_DAY_1, rules)
    _, ids = resolve_day(con, "2025-01-02", PLAYS_DAY_2, rules, model_json)
    con.close()
    model.write_text(json.dumps(model_json))
    return db, model, ids


def test_weights_add_up_to_the_decision(resolved_catalog):
    db, model, ids = resolved_catalog
    con = duckdb.connect(str(db), read_only=True)
    explanation = explain_match(con, "Radiohaed", "Karma Police", load_rules(), json.loads(model.read_text()))
    con.close()
    assert explanation.stored is not None and explanation.stored["track_id"] == ids["Radiohead - Karma Police"]
    best = explanation.candidates[0]
    assert (best.artist_raw, best.track_raw) == ("Radiohead", "Karma Police")
    assert best.match_probability >= 0.5
    # the prior plus every comparison's weight is the pair's match weight
    assert explanation.prior_weight + sum(c.match_weight for c in best.contributions) == pytest.approx(best.match_weight)
    by_name = {c.comparison: c for c in best.contributions}
    assert by_name["title"].match_weight > 0 and "Exact match" in by_name["title"].level
    assert by_name["artist"].match_weight > 0 and "Exact match" not in by_name["artist"].level
    # the live recording is a candidate but scores below the original
    live = [c for c in explanation.candidates if c.track_raw == "Karma Police (Live)"]
    assert live and live[0].match_probability < best.match_probability


def test_cli_explains_known_and_unseen_strings(resolved_catalog, capsys):
    db, model, ids = resolved_catalog
    assert main(["explain-match", "Radiohaed", "Karma Police", "--db", str(db), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "in the catalog: yes" in out
    assert f"mapped to {ids['Radiohead - Karma Police']} by the probabilistic tier" in out
    assert "'Radiohead' - 'Karma Police'" in out and "title" in out and "duration" in out

    # not scrobbled yet: the rules keys alone place it
    assert main(["explain-match", "RADIOHEAD", "karma police!", "--db", str(db), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "in the catalog: no" in out
    assert f"would join {ids['Radiohead - Karma Police']} by the" in out and "key tier" in out

    # a swapped string is compared with its fields put back
    assert main(["explain-match", "Teardrop", "Massive Attack", "--db", str(db), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert f"mapped to {ids['Massive Attack - Teardrop']}" in out
    assert "compared with this string's artist and title exchanged" in out

    assert main(["explain-match", "Nobody Known", "Nothing Alike", "--db", str(db), "--model", str(model)]) == 0
    assert "would found a new entity" in capsys.readouterr().out


def test_cli_says_what_is_missing(tmp_path, resolved_catalog, capsys, monkeypatch):
    db, _, _ = resolved_catalog
    assert main(["explain-match", "A", "B", "--db", str(db), "--model", str(tmp_path / "none.json")]) == 2
    assert "no match model at" in capsys.readouterr().err
    monkeypatch.setenv("TIMBRAL_HOME", str(tmp_path / "home"))  # a home whose MLflow has no track_matcher yet
    assert main(["explain-match", "A", "B", "--db", str(db)]) == 2
    assert "no version 'latest' of the registered model 'track_matcher'" in capsys.readouterr().err
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    (tmp_path / "m.json").write_text("{}")
    assert main(["explain-match", "A", "B", "--db", str(empty), "--model", str(tmp_path / "m.json")]) == 2
    assert "no resolution catalog yet" in capsys.readouterr().err


def test_a_string_that_differs_in_a_recording_marker_is_kept_apart(resolved_catalog):
    db, model, ids = resolved_catalog
    con = duckdb.connect(str(db), read_only=True)
    explanation = explain_match(con, "Radiohead", "Paranoid Android_RMX", load_rules(), json.loads(model.read_text()))
    con.close()
    best = next(c for c in explanation.candidates if c.track_raw == "Paranoid Android")
    assert best.conflict == "remixed"
    assert "Paranoid Android" not in explanation.decision
    assert "kept apart whatever the score" in format_explanation(explanation)
