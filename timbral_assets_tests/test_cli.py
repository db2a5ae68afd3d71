"""`timbral run` end to end: the whole graph on a small synthetic world, recorded in a real Dagster instance."""

from __future__ import annotations

import dagster as dg
import duckdb

from timbral_assets.cli import main


def test_run_materializes_everything_and_prints_the_summary(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("TIMBRAL_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    code = main(["run", "--n-scrobbles", "4000", "--days", "10", "--start-date", "2025-02-01", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all asset checks passed" in out
    assert "scrobbles mapped to a canonical track" in out
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    raw, mapped, tracks, features = con.execute("""
        SELECT (SELECT count(*) FROM raw.raw_scrobbles), (SELECT count(*) FROM intermediate.int_scrobble_tracks),
               (SELECT count(*) FROM marts.tracks_core), (SELECT count(*) FROM marts.track_feature_view)""").fetchall()[0]
    con.close()
    assert raw > 3000 and 0.97 * raw < mapped < raw and tracks == features > 100
    with dg.DagsterInstance.get() as instance:  # the run is in the instance the UI reads
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].job_name == "timbral_main" and runs[0].is_success
        assert len(instance.get_materialized_partitions(dg.AssetKey("raw_scrobbles"))) == 10
    # a second run reuses the generated world and replaces the same partitions: the same rows
    assert main(["run", "--n-scrobbles", "4000", "--days", "10", "--start-date", "2025-02-01", "--seed", "3"]) == 0
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.raw_scrobbles").fetchall()[0][0] == raw
    con.close()


def test_generate_writes_a_world(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "w"), "--n-scrobbles", "2000", "--days", "5"]) == 0
    assert (tmp_path / "w" / "manifest.json").exists()
    assert "scrobbles" in capsys.readouterr().out
