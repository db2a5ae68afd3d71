"""The dbt-like SQL project: the graph is sound, and every model runs on fixture tables with its checks green."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from timbral_assets import warehouse
from timbral_assets.sources.scrobble_files import FILE_SCROBBLE_SCHEMA
from timbral_assets.sql_project import LAYERS, SqlProject, SqlProjectError


@pytest.fixture(scope="module")
def project() -> SqlProject:
    return SqlProject.load()


def test_every_ref_resolves_and_every_source_is_an_assets_table(project):
    from timbral_assets.assets.common import warehouse_tables
    from timbral_assets.definitions import python_assets

    tables = warehouse_tables(python_assets)
    assert {f"raw.{t}" for t in warehouse.RAW_TABLES if t != "ingest_issues"} <= set(tables)  # issues: every raw asset
    assert tables["resolution.variants"] == "entity_candidates"
    assert len(project.models) >= 10
    for model in project.models.values():
        assert model.layer in LAYERS
        for ref in model.refs:
            assert ref in project.models
        for schema, table in model.sources:
            assert f"{schema}.{table}" in tables, (model.name, table)
    order = project.order()
    assert sorted(order) == sorted(project.models)
    for name in order:  # each model comes after everything it refs
        assert all(order.index(r) < order.index(name) for r in project.models[name].refs)


def _write(root, layer, name, body):
    (root / layer).mkdir(parents=True, exist_ok=True)
    (root / layer / f"{name}.sql").write_text(body)


def test_unknown_ref_and_cycles_are_rejected(tmp_path):
    _write(tmp_path, "staging", "a", "SELECT * FROM {{ ref('missing') }}")
    with pytest.raises(SqlProjectError, match=r"ref\('missing'\) names no model"):
        SqlProject.load(tmp_path)
    _write(tmp_path, "staging", "a", "SELECT * FROM {{ ref('b') }}")
    _write(tmp_path, "marts", "b", "SELECT * FROM {{ ref('a') }}")
    with pytest.raises(SqlProjectError, match="cycle"):
        SqlProject.load(tmp_path)


KNOWN_TABLES = {"raw.raw_scrobbles": "raw_scrobbles", "resolution.variants": "entity_candidates"}


@pytest.mark.parametrize(("body", "message"), [
    ("SELECT v.track_raw FROM resolution.variants v",
     r"a\.sql: reads resolution\.variants without declaring it.*source\('resolution', 'variants'\) }} \(written by asset entity_candidates\)"),
    ("SELECT * FROM raw.raw_scrobbles JOIN resolution.overrides o USING (x)",
     r"a\.sql: reads raw\.raw_scrobbles without declaring it"),
    ("SELECT * FROM {{ source('raw', 'raw_scrobbles') }} JOIN resolution.overrides o USING (x)",
     r"a\.sql: reads resolution\.overrides without declaring it.*ref\(\) or source\(\)"),
    ("SELECT * FROM {{ source('raw', 'no_such_table') }}", r"a\.sql: source\('raw', 'no_such_table'\) is no asset's table"),
    ("SELECT * FROM staging.b", r"a\.sql: reads staging\.b without declaring it.*ref\('b'\)"),
])
def test_undeclared_tables_are_rejected_at_load_time(tmp_path, body, message):
    _write(tmp_path, "marts", "a", body)
    _write(tmp_path, "staging", "b", "SELECT 1 AS x")
    project = SqlProject.load(tmp_path)
    with pytest.raises(SqlProjectError, match=message):
        project.check_tables({**KNOWN_TABLES, "staging.b": "b"})


def test_aliases_comments_and_strings_are_not_tables(tmp_path):
    _write(tmp_path, "marts", "a", """-- reads resolution.variants through the source below
        SELECT v.track_raw, 'raw.raw_scrobbles' AS note /* staging.b */, list_value(1).len AS n
        FROM {{ source('resolution', 'variants') }} v""")
    SqlProject.load(tmp_path).check_tables(KNOWN_TABLES)


def test_incremental_needs_a_window_column(tmp_path):
    _write(tmp_path, "staging", "a", "/* timbral\nmaterialized: incremental\n*/\nSELECT 1")
    with pytest.raises(SqlProjectError, match="needs window_column"):
        SqlProject.load(tmp_path)


def test_window_renders_as_bound_parameters(project):
    sql = project.render(project.models["stg_scrobbles"])
    assert "$window_start" in sql and "$window_end" in sql and "{{" not in sql
    assert "raw.raw_scrobbles" in sql


NORMALISATION_CASES = [
    ("tb_norm_artist", "Beyoncé feat. JAY-Z", "beyonce"),
    ("tb_norm_artist", "The Beatles", "beatles"),
    ("tb_norm_artist", "Simon & Garfunkel", "simon and garfunkel"),
    ("tb_norm_artist", "AC/DC", "ac dc"),
    ("tb_norm_artist", "  Sigur   Rós ", "sigur ros"),
    ("tb_norm_title", "Drunk in Love (Remastered 2013) [Parkwood]", "drunk in love"),
    ("tb_norm_title", "Drunk In Love (feat. JAY-Z)", "drunk in love"),
    ("tb_norm_title", "Bohemian Rhapsody - 2011 Remaster", "bohemian rhapsody"),
    ("tb_norm_title", "Song - Radio Edit", "song"),
    ("tb_norm_title", "Song (1999)", "song"),
    ("tb_norm_title", "Song - Live at Wembley", "song live"),
    ("tb_norm_title", "Song [Live]", "song live"),
    ("tb_norm_title", "Song (DJ Koze Remix)", "song dj koze remix"),
    ("tb_norm_title", "Don’t Stop Me Now", "dont stop me now"),
    ("tb_norm_tag", "Hip-Hop", "hip hop"),
    ("tb_norm_tag", "RnB", "r&b"),
]


@pytest.mark.parametrize("macro, raw, expected", NORMALISATION_CASES)
def test_normalisation(project, tmp_path, macro, raw, expected):
    con = warehouse.connect(tmp_path / "n.duckdb")
    warehouse.create_layout(con)
    project.install_macros(con)
    assert warehouse.scalar(con, f"SELECT {macro}($s)", {"s": raw}) == expected


def test_the_python_placeholder_rule_is_the_macros(project, tmp_path):
    """store.placeholder_sql serves connections without the macros (a world's files, album names): it must read
    names as tb_is_placeholder does."""
    from timbral_assets.resolution.store import placeholder_sql

    con = warehouse.connect(tmp_path / "p.duckdb")
    warehouse.create_layout(con)
    project.install_macros(con)
    for name in ("ID", " [Unknown] ", "(?)", "???", "", None, "Untitled", "!!!", "Idle", "Unknown Pleasures"):
        assert (warehouse.scalar(con, "SELECT tb_is_placeholder($s)", {"s": name})
                == warehouse.scalar(con, f"SELECT {placeholder_sql('$s')}", {"s": name})), name


def _scrobbles(rows: list[tuple[str, str, str, str | None, int | None]]) -> pa.Table:
    """(user, iso time, artist, track, duration_ms) -> the importer's Arrow schema."""
    cols = {n: [] for n in FILE_SCROBBLE_SCHEMA.names}
    for i, (user, when, artist, track, duration) in enumerate(rows):
        cols["scrobble_id"].append(i)
        cols["user_id"].append(user)
        cols["played_at"].append(int(datetime.fromisoformat(when + "+00:00").timestamp() * 1_000_000))
        cols["artist_name"].append(artist)
        cols["track_name"].append(track)
        cols["album_name"].append("Album")
        for c in ("artist_mbid", "track_mbid", "album_mbid"):
            cols[c].append(None)
        cols["duration_ms"].append(duration)
        cols["source_file"].append("fixture.csv")
        cols["source_line"].append(i + 2)
    cols["played_at"] = pa.array(cols["played_at"], type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return pa.table(cols, schema=FILE_SCROBBLE_SCHEMA)


FIXTURE_PLAYS = [
    ("u1", "2025-03-01T10:00:00", "Beyoncé feat. JAY-Z", "Drunk in Love", 323_000),
    ("u1", "2025-03-01T10:06:00", "beyonce", "drunk in love (Remastered)", None),
    ("u2", "2025-03-01T11:00:00", "Beyonce", "Drunk In Love [Parkwood]", 324_000),
    ("u2", "2025-03-02T09:00:00", "Beyoncé", "Drunk in Love - Live", 401_000),
    ("u3", "2025-03-02T09:30:00", "Other Band", "Drunk in Love", 250_000),
    ("u3", "2025-03-02T10:00:00", "ID", "ID", None),
    ("u1", "2025-03-03T08:00:00", "The Cure", "Primary", 215_000),
    ("u1", "2025-03-03T08:05:00", "Cure", "Primary", 216_000),
    # names, not placeholders: a title some artists give a track, and names in symbols only
    ("u2", "2025-03-03T09:00:00", "Interpol", "Untitled", 236_000),
    ("u2", "2025-03-03T09:05:00", "!!!", "Heart of Hearts", 300_000),
    ("u3", "2025-03-03T09:10:00", "Herbert", "(-)", None),
    ("u3", "2025-03-03T09:15:00", "[Unknown]", "Some Song", None),  # a placeholder artist
]


@pytest.fixture
def fixture_warehouse(tmp_path, project):
    con = warehouse.connect(tmp_path / "fixture.duckdb")
    warehouse.create_layout(con)
    warehouse.replace_scrobble_window(con, [_scrobbles(FIXTURE_PLAYS)], "fixture", date(2025, 3, 1), date(2025, 3, 4))
    spotify = pa.table({"spotify_track_id": ["s1", "s2"], "artists": [["Beyoncé", "JAY-Z"], ["The Cure"]],
                        "album_name": ["Beyoncé", "Faith"], "track_name": ["Drunk in Love", "Primary"],
                        "popularity": [80, 60], "duration_ms": [323_000, 215_000], "explicit": [True, False],
                        "track_genre": ["R&B", "post-punk"], "source_file": ["f", "f"], "source_line": [2, 3]})
    warehouse.replace_table(con, "raw.raw_spotify_tracks", spotify, "fixture")
    features = pa.table({"spotify_track_id": ["s1"], "energy": [0.6], "valence": [0.3]})
    warehouse.replace_table(con, "raw.raw_spotify_audio_features", features, "fixture")
    tags = pa.table({"user_id": ["1", "2", "3"], "artist_id": ["9", "9", "9"],
                     "artist_name": ["The Cure", "The Cure", "The Cure"], "tag": ["Post-Punk", "post punk", "goth"],
                     "tagged_on": [date(2025, 1, 1)] * 3})
    warehouse.replace_table(con, "raw.raw_artist_tags", tags, "fixture")
    albums = pa.table({"aoty_album_id": ["a1"], "title": ["Faith"], "artist": ["The Cure"],
                       "release_date": [date(1981, 4, 14)], "genres": [["Post-Punk", "Gothic Rock"]],
                       "critic_score": [81.0], "user_score": [85.0], "ratings_count": [900],
                       "tracks": [[{"number": 2, "title": "Primary", "length_s": 215}]]})
    warehouse.replace_table(con, "raw.raw_aoty_albums", albums, "fixture")
    return con


def _resolve(con, window):
    """The entity-resolution assets' steps, between the staging models and the rest (as the graph runs them)."""
    from timbral_assets.resolution import catalog
    from timbral_assets.resolution.matcher import MatcherConfig
    from timbral_assets.resolution.rules_file import load_rules

    catalog.resolve_window(con, f"""SELECT artist_raw, track_raw, album_raw, duration_ms, track_mbid, artist_mbid,
        user_id FROM staging.stg_scrobbles WHERE NOT is_unidentified AND play_date >= DATE '{window[0]}'
        AND play_date < DATE '{window[1]}'""", str(window[0]), load_rules(),
        matcher_config=MatcherConfig(u_max_pairs=1e4, prior=0.01))


def _build_all(project, con, window=(date(2025, 3, 1), date(2025, 3, 4))):
    resolved = False
    for name in project.order():
        if not resolved and any(source == ("resolution", "entity_clusters") for source in project.models[name].sources):
            _resolve(con, window)
            resolved = True
        project.materialize(con, name, window if project.models[name].incremental else None)
        for check, bad in project.run_checks(con, name, window):
            assert bad == 0, f"{check.name} failed with {bad} offending rows"


def test_every_model_runs_on_fixture_tables_with_checks_green(project, fixture_warehouse):
    con = fixture_warehouse
    _build_all(project, con)

    def track_of(artist, title):
        return warehouse.scalar(con, "SELECT track_id FROM marts.track_aliases WHERE artist_raw = $a AND track_raw = $t",
                                {"a": artist, "t": title})

    studio = track_of("Beyoncé feat. JAY-Z", "Drunk in Love")
    assert studio is not None
    assert track_of("beyonce", "drunk in love (Remastered)") == studio  # no duration: joins the modal recording
    assert track_of("Beyonce", "Drunk In Love [Parkwood]") == studio
    assert track_of("Beyoncé", "Drunk in Love - Live") != studio  # a live recording is another track
    assert track_of("Other Band", "Drunk in Love") != studio  # a cover is another track
    assert track_of("ID", "ID") is None and track_of("[Unknown]", "Some Song") is None  # placeholders
    named = [track_of("Interpol", "Untitled"), track_of("!!!", "Heart of Hearts"), track_of("Herbert", "(-)")]
    assert None not in named and len(set(named)) == 3
    # every play but the placeholders' reaches a canonical track
    unmapped = con.execute("""SELECT list(artist_raw ORDER BY artist_raw) FROM staging.stg_scrobbles s
        WHERE NOT EXISTS (SELECT 1 FROM intermediate.int_scrobble_tracks t WHERE t.scrobble_id = s.scrobble_id)""").fetchall()[0][0]
    assert unmapped == ["ID", "[Unknown]"]
    assert track_of("The Cure", "Primary") == track_of("Cure", "Primary")
    core = con.execute("SELECT artist_name, title, play_count, listener_count FROM marts.tracks_core "
                       "WHERE track_id = $t", {"t": studio}).fetchall()
    assert core == [("Beyoncé", "Drunk in Love", 3, 2)]  # the accented, cased form of the artist
    tags = dict(con.execute("SELECT tag, weight FROM marts.track_tags t JOIN marts.tracks_core c USING (track_id) "
                            "WHERE c.title = 'Primary'").fetchall())
    assert tags["post punk"] == 1.0 and 0 < tags["goth"] < tags["gothic rock"] < 1.0
    view = con.execute("SELECT energy, release_year, album_critic_score, top_tags[1] FROM marts.track_feature_view "
                       "WHERE track_id = $t", {"t": studio}).fetchall()
    assert view == [(0.6, None, None, "r&b")]
    tier = {(a, t): (tr, c) for a, t, tr, c in con.execute(
        "SELECT artist_raw, track_raw, tier, confidence FROM marts.track_aliases").fetchall()}
    assert tier[("Beyoncé feat. JAY-Z", "Drunk in Love")][0] in ("deterministic", "rules")
    assert tier[("Beyonce", "Drunk In Love [Parkwood]")] == ("rules", 1.0)  # the [label] tag was set aside


def test_incremental_window_is_replaced_not_appended(project, fixture_warehouse):
    con = fixture_warehouse
    day1, day2, day4 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 4)
    project.install_macros(con)
    assert project.materialize(con, "stg_scrobbles", (day1, day2)) == 3
    # filtering the rows just inserted must find them (DuckDB 2.0 once lost them to stale statistics)
    assert warehouse.scalar(con, "SELECT count(*) FROM staging.stg_scrobbles WHERE NOT is_unidentified") == 3
    assert project.materialize(con, "stg_scrobbles", (day2, day4)) == 9
    assert project.materialize(con, "stg_scrobbles", (day1, day2)) == 3
    assert warehouse.scalar(con, "SELECT count(*) FROM staging.stg_scrobbles") == 12
    with pytest.raises(SqlProjectError, match="give it a partition window"):
        project.materialize(con, "stg_scrobbles")
