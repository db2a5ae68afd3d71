"""`timbral ...`: the command line.

    timbral run                materialize the whole graph on the synthetic default, then print a summary
    timbral import FILE...     import Last.fm exports: the graph over the files' play dates, then a summary
    timbral generate OUT_DIR   write a synthetic world (the same generator the synthetic_world asset uses)
    timbral summary            print rows per table and the share of scrobbles mapped to a canonical track
    timbral build-encoders     build the int8 and static sentence encoders from the packaged model (make does)
    timbral match-pairs        score record pairs with the match model
    timbral resolve-names      resolve written artist or track names to canonical entities
    timbral explain-match A T  the tier, candidates and per-comparison match weights behind a mapping
    timbral finetune-encoder   fine-tune the sentence encoder on a synthetic world, compare it with the base
    timbral train-context-head train the head over splink, embedding cosine and listening context
    timbral mood-predict       energy, valence and mood probabilities for Spotify-style track rows
    timbral recommend-batch    train the hybrid recommender on user-item-weight rows, write top-k lists
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

PACKAGE_DIR = Path(__file__).parent  # dagster.yaml: the repo's, through a symlink, or the wheel's copy


def _prepare_environment() -> Path:
    """TIMBRAL_HOME and DAGSTER_HOME for this process, with the repo's dagster.yaml in place."""
    home = Path(os.environ.setdefault("TIMBRAL_HOME", str(Path.cwd() / ".timbral"))).resolve()
    os.environ["TIMBRAL_HOME"] = str(home)
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(home / "dagster")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    repo_yaml, home_yaml = PACKAGE_DIR / "dagster.yaml", dagster_home / "dagster.yaml"
    if repo_yaml.exists() and (not home_yaml.exists() or home_yaml.stat().st_mtime < repo_yaml.stat().st_mtime):
        shutil.copy(repo_yaml, home_yaml)  # the instance settings are the repo's, as `make` keeps them
    return home


SUMMARY_TABLES = [
    "raw.raw_scrobbles", "raw.raw_spotify_tracks", "raw.raw_spotify_audio_features", "raw.raw_user_artist_plays",
    "raw.raw_artist_tags", "raw.raw_aoty_albums", "raw.raw_aoty_reviews", "raw.ingest_issues",
    "staging.stg_scrobbles", "staging.stg_spotify_tracks", "staging.stg_artist_tags", "staging.stg_aoty_album_tracks",
    "intermediate.int_track_keys", "intermediate.int_scrobble_tracks",
    "marts.tracks_core", "marts.track_aliases", "marts.artists_core", "marts.track_tags", "marts.track_feature_view",
]


def _mapped_line(con, existing: set[str]) -> list[str]:
    """How many plays reached a canonical track, and why the others did not."""
    from . import warehouse

    if not {"raw.raw_scrobbles", "staging.stg_scrobbles", "intermediate.int_scrobble_tracks"} <= existing:
        return []
    total = warehouse.scalar(con, "SELECT count(*) FROM raw.raw_scrobbles")
    mapped = warehouse.scalar(con, "SELECT count(*) FROM intermediate.int_scrobble_tracks")
    plays, placeholders = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_unidentified) FROM staging.stg_scrobbles").fetchall()[0]
    share = mapped / total if total else 0.0
    reasons = []
    if placeholders:
        (example,) = con.execute("""
            SELECT artist_raw || ' - ' || track_raw FROM staging.stg_scrobbles WHERE is_unidentified
            GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1""").fetchall()[0]
        reasons.append(f"{placeholders:,} plays of placeholders such as {example!r}")
    if total > plays:
        reasons.append(f"{total - plays:,} double scrobbles counted once")
    if plays - placeholders > mapped:
        reasons.append(f"{plays - placeholders - mapped:,} plays whose spelling is not resolved yet")
    return [f"scrobbles mapped to a canonical track: {mapped:,} of {total:,} ({share:.2%})"
            + (f"; unmapped: {', '.join(reasons)}" if reasons else "")]


def summary_text(db_path: Path, wait_s: float = 60.0, per_table: bool = True) -> str:
    """Rows per table (unless not `per_table`: after a run, whose lines gave them) and what the run built."""
    from . import warehouse

    con = warehouse.connect(db_path, read_only=True, wait_s=wait_s,
                            on_wait=lambda m: print(m, file=sys.stderr, flush=True))
    try:
        existing = {f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        lines = []
        if per_table:
            rows = [(t, warehouse.scalar(con, f"SELECT count(*) FROM {t}") if t in existing else None)
                    for t in SUMMARY_TABLES]
            lines = [f"{'table':<36} {'rows':>12}"] + [
                f"{t:<36} {(f'{n:,}' if n is not None else 'missing'):>12}" for t, n in rows] + [""]
        lines += _mapped_line(con, existing)
        if {"marts.tracks_core", "marts.artists_core", "marts.albums_core", "marts.track_aliases"} <= existing:
            tracks, artists, albums, spellings = con.execute("""
                SELECT (SELECT count(*) FROM marts.tracks_core), (SELECT count(*) FROM marts.artists_core),
                       (SELECT count(*) FROM marts.albums_core), (SELECT count(*) FROM marts.track_aliases)""").fetchall()[0]
            lines.append(f"canonical catalog: {tracks:,} tracks, {artists:,} artists and {albums:,} albums from "
                         f"{spellings:,} written (artist, title) spellings")
        return "\n".join(lines)
    finally:
        con.close()


def _run_supervised(home: Path, job: str, run_config: dict, tags: dict, args: argparse.Namespace) -> int:
    """Run a job in a supervised worker (run_control), print a line per asset, then the outcome and summary."""
    from .run_worker import open_instance, start_worker

    # the worker starts first: its imports overlap the supervisor's
    worker = start_worker(home, job, run_config, tags, args.pool_wait_minutes * 60, args.verbose)
    from .run_control import Supervisor

    with open_instance() as instance:
        supervisor = Supervisor(instance, home, pool_wait_s=args.pool_wait_minutes * 60, verbose=args.verbose,
                                print_fn=lambda line: print(line, flush=True))
        outcome = supervisor.run(worker)
    where = f"; its log: {outcome.log_file}" if outcome.log_file else ""
    if outcome.stopped_by or outcome.status == "CANCELED":
        print(f"\nrun {outcome.run_id} stopped after {outcome.seconds:.1f}s ({outcome.message}){where}", file=sys.stderr)
        return 130
    if not outcome.success:
        reason = f": {outcome.message}" if outcome.message else ""
        print(f"\nrun {outcome.run_id} FAILED after {outcome.seconds:.1f}s{reason}{where}; `make ui` shows every "
              "event", file=sys.stderr)
        return 1
    print(f"\nrun {outcome.run_id} succeeded in {outcome.seconds:.1f}s")
    print(summary_text(home / "warehouse.duckdb", per_table=False))
    if outcome.failed_checks:
        print(f"\nFAILED asset checks: {', '.join(outcome.failed_checks)}")
        return 1
    if outcome.warned_checks:  # WARN severity: a target not reached yet, which the UI shows in its check
        print(f"\nno asset check failed; {len(outcome.warned_checks)} warned: {', '.join(outcome.warned_checks)}")
    else:
        print("\nall asset checks passed.")
    print("\n`timbral summary` gives rows per table; `make ui` (http://127.0.0.1:3000) shows "
          "the graph,\nits events and checks; `make mlflow` (http://127.0.0.1:5000) the models and evaluations.")
    return 0


def _merged(base: dict, extra: dict) -> dict:
    """`extra` over `base`, nested dictionaries merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _with_config_file(run_config: dict, path: Path | None) -> dict:
    if path is None:
        return run_config
    import yaml

    try:
        extra = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"--config {path}: {error}") from error
    if not isinstance(extra, dict):
        raise ValueError(f"--config {path}: the file holds {type(extra).__name__}, not run config (ops: ...)")
    return _merged(run_config, extra)


def _range_tags(first: date, last: date) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}


def cmd_run(args: argparse.Namespace) -> int:
    home = _prepare_environment()
    start = date.fromisoformat(args.start_date)
    last = start + timedelta(days=args.days - 1)
    print(f"TIMBRAL_HOME={home}\nmaterializing every asset for play dates {start} .. {last} "
          f"({args.n_scrobbles:,} synthetic scrobbles, seed {args.seed})", flush=True)
    run_config = {"ops": {"synthetic_world": {"config": {
        "seed": args.seed, "n_scrobbles": args.n_scrobbles, "start_date": start.isoformat(), "days": args.days}}}}
    try:
        run_config = _with_config_file(run_config, args.config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return _run_supervised(home, "timbral_main", run_config, _range_tags(start, last), args)


def cmd_import(args: argparse.Namespace) -> int:
    from .sources.errors import FileFormatError
    from .sources.scrobble_files import play_date_range

    home = _prepare_environment()
    files = [str(Path(f).resolve()) for f in args.files]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        span = play_date_range(files, args.format, args.user)
    except (FileFormatError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for reading in span.files:
        if reading.plays == 0:  # say why, whatever the verbosity
            print(f"{reading.path}: no play could be read; {reading.rejected:,} rows rejected"
                  + (", the first of them:" if reading.first_rejected else " (the file holds no record)"),
                  file=sys.stderr)
            for issue in reading.first_rejected:
                print(f"  line {issue.line}, field '{issue.field}': {issue.message}", file=sys.stderr)
    if span.first is None:
        print("error: the files hold no play that could be read", file=sys.stderr)
        return 2
    days = (span.last - span.first).days + 1
    print(f"TIMBRAL_HOME={home}\nimporting {span.plays:,} plays ({span.rejected:,} rows rejected) from "
          f"{len(files)} file(s), play dates {span.first} .. {span.last} ({days:,} daily partitions)", flush=True)
    source = {"source": "file", "paths": files, "file_format": args.format}
    if args.user:
        source["user"] = args.user
    from .resolution.matcher_model import MODEL_NAME
    from .tracking import Tracker

    # a home without a trained matcher trains one in this run; later imports are scored by it
    job = "daily_ingest" if Tracker.for_home(home).registered_versions(MODEL_NAME) else "first_import"
    try:
        run_config = _with_config_file({"ops": {"raw_scrobbles": {"config": source}}}, args.config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return _run_supervised(home, job, run_config, _range_tags(span.first, span.last), args)


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .sources.synthetic import WorldConfig, generate_world

    cfg = WorldConfig(seed=args.seed, n_scrobbles=args.n_scrobbles, start_date=date.fromisoformat(args.start_date),
                      days=args.days, write_csv=args.csv)
    bar = tqdm(total=cfg.days, unit="day", desc="generating")

    def progress(day: int, days: int, rows: int) -> None:
        bar.n = day
        bar.set_postfix(scrobbles=f"{rows:,}")
        bar.refresh()

    manifest = generate_world(cfg, Path(args.out_dir), progress)
    bar.close()
    for k, v in manifest["counts"].items():
        print(f"{k:<22} {v:>12,}")
    return 0


def cmd_build_encoders(args: argparse.Namespace) -> int:
    """Build the sentence encoders the defaults name (or those given), so that no run pays for it."""
    import time

    from .resolution.encoders import NAME_ENCODER, TEXT_ENCODER, built_folder, parse_spec

    for spec in args.encoders or [NAME_ENCODER, TEXT_ENCODER]:
        try:
            if parse_spec(spec)[1] == "torch":
                print(f"{spec}: runs the model itself, nothing to build")
                continue
            started = time.perf_counter()
            folder = built_folder(spec)
        except (ValueError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{spec}: {folder} ({time.perf_counter() - started:.1f} s)")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .warehouse import WarehouseLockedError

    home = _prepare_environment()
    try:
        print(summary_text(home / "warehouse.duckdb", args.wait_seconds))
    except WarehouseLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    return 0


def _supervision_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", action="store_true", help="print Dagster's whole event log as the run goes")
    p.add_argument("--config", type=Path, help="a YAML file of Dagster run config (as the launchpad takes it), "
                                               "merged over what the command sets, e.g. ops: {mood_model: {config: "
                                               "{n_folds: 3}}}")
    p.add_argument("--pool-wait-minutes", type=float, default=5.0,
                   help="give up when another run holds the warehouse's write slot this long (default 5)")


def _world_args(p: argparse.ArgumentParser, default_scrobbles: int = 200_000) -> None:
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--n-scrobbles", type=int, default=default_scrobbles)
    p.add_argument("--start-date", default="2025-01-01")
    p.add_argument("--days", type=int, default=184)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timbral", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialize the whole asset graph on the synthetic default")
    _world_args(run)
    _supervision_args(run)
    run.set_defaults(func=cmd_run)
    imp = sub.add_parser("import", help="import Last.fm scrobble exports over their play dates, then summarise")
    imp.add_argument("files", nargs="+", help="CSV / TSV / Parquet scrobble files (format detected)")
    imp.add_argument("--user", help="the listener of single-user exports (default: each file's name)")
    imp.add_argument("--format", default="auto",
                     choices=("auto", "scrobble_csv", "lastfm_headerless_csv", "lastfm_1k_tsv", "parquet"))
    _supervision_args(imp)
    imp.set_defaults(func=cmd_import)
    gen = sub.add_parser("generate", help="write a synthetic world to a folder")
    gen.add_argument("out_dir")
    gen.add_argument("--csv", action="store_true", help="also write the scrobbles as CSV")
    _world_args(gen)
    gen.set_defaults(func=cmd_generate)
    build = sub.add_parser("build-encoders", help="build the sentence encoders from the packaged model, once "
                                                  "per machine (TIMBRAL_CACHE, else ~/.cache/timbral)")
    build.add_argument("encoders", nargs="*", help="<model>[@onnx-int8|static] (default: the resolver's and the "
                                                   "track texts' encoders)")
    build.set_defaults(func=cmd_build_encoders)
    summ = sub.add_parser("summary", help="rows per table and the share of scrobbles mapped")
    summ.add_argument("--wait-seconds", type=float, default=60.0,
                      help="while a run holds the warehouse, wait this long for it (default 60)")
    summ.set_defaults(func=cmd_summary)
    pairs = sub.add_parser("match-pairs", help="score record pairs (left_* / right_* columns) with the match model")
    pairs.add_argument("--input", required=True)
    pairs.add_argument("--output", required=True)
    pairs.add_argument("--model", default="default",
                       help="'default' (the packaged supervised pair model), a model JSON from train-pair-model, "
                            "a saved splink model JSON, or 'splink' (train splink on the input's own records)")
    pairs.add_argument("--threshold", type=float, help="decision threshold (default: the model's tuned threshold)")
    pairs.set_defaults(func=cmd_match_pairs)
    train = sub.add_parser("train-pair-model", help="train the supervised pair model on labelled pairs")
    train.add_argument("--train", required=True, help="pair CSV with a 0/1 'label' column")
    train.add_argument("--valid", help="labelled pair CSV to tune the decision threshold on")
    train.add_argument("--output", required=True, help="where to write the model JSON")
    train.set_defaults(func=cmd_train_pair_model)
    explain = sub.add_parser("explain-match", help="why an (artist, title) string resolves where it does")
    explain.add_argument("artist")
    explain.add_argument("title")
    explain.add_argument("--album", help="album as scrobbled, when the string is not in the catalog yet")
    explain.add_argument("--duration-s", type=float)
    explain.add_argument("--top", type=int, default=5, help="candidate entities to show")
    explain.add_argument("--db", help="warehouse DuckDB file (default: TIMBRAL_HOME/warehouse.duckdb)")
    explain.add_argument("--model", help="a splink model JSON file, or a registered version of track_matcher "
                                         "in TIMBRAL_HOME's MLflow: 'latest' (default) or a number")
    explain.add_argument("--rules", help="rules file (default: the packaged rules)")
    explain.set_defaults(func=cmd_explain_match)
    tune = sub.add_parser("finetune-encoder", help="fine-tune the sentence encoder on a synthetic world's truth")
    tune.add_argument("--world", required=True, help="a world folder from `timbral generate` (its truth/ is used)")
    tune.add_argument("--eval-world", help="a held-out world to compare the base and fine-tuned encoders on")
    tune.add_argument("--output", required=True, help="folder for the fine-tuned model (ResolutionResource.encoder_model)")
    tune.add_argument("--base-model", default="sentence-transformers/all-MiniLM-L6-v2")
    tune.add_argument("--epochs", type=int, default=1)
    tune.add_argument("--batch-size", type=int, default=32)
    tune.add_argument("--max-triplets", type=int, help="train on at most this many triplets")
    tune.add_argument("--max-queries", type=int, default=4000, help="messy strings searched in the comparison")
    tune.add_argument("--mlflow-uri", help="tracking URI (default: TIMBRAL_HOME/mlflow.db)")
    tune.set_defaults(func=cmd_finetune_encoder)
    head = sub.add_parser("train-context-head",
                          help="train the head over splink, embedding cosine and listening context on a world")
    head.add_argument("--world", required=True, help="a world folder from `timbral generate` (scrobbles and truth)")
    head.add_argument("--output", required=True, help="head JSON (ResolutionResource.context_head_file)")
    head.add_argument("--without-context", action="store_true", help="splink and embedding cosine only")
    head.add_argument("--mlflow-uri", help="tracking URI (default: TIMBRAL_HOME/mlflow.db)")
    head.set_defaults(func=cmd_train_context_head)
    names = sub.add_parser("resolve-names", help="resolve written artist or track names to canonical entities")
    names.add_argument("--entity", choices=("artist", "track"), required=True)
    names.add_argument("--input", required=True, help="CSV with id, name (tracks also artist; album, duration_s, year optional)")
    names.add_argument("--output", required=True)
    names.add_argument("--rules", help="a rules file (default: the packaged default_rules.yaml)")
    names.add_argument("--semantic", action="store_true", help="add sentence-embedding neighbours (other scripts)")
    names.add_argument("--distinct-within", metavar="COLUMN",
                       help="tracks: rows that share a value of this column never resolve to one track (e.g. a "
                            "source whose own records are free of duplicates)")
    names.add_argument("--one-library", action="store_true",
                       help="tracks: the rows come from one library or listener's export, where an album lists each "
                            "track once: two titles of one album stay apart unless one is a typo, a cut-off or "
                            "another script of the other")
    names.add_argument("--listening", help="artists: play counts as `user id plays` rows (e.g. Audioscrobbler's "
                                           "user_artist_data.txt); the most played spelling becomes canonical")
    names.set_defaults(func=cmd_resolve_names)
    mood = sub.add_parser("mood-predict", help="predict energy, valence and mood probabilities for track rows")
    mood.add_argument("--input", required=True, help="CSV (.csv or .csv.gz) with track_id, artists, album_name, "
                                                     "track_name, popularity, duration_ms, explicit, track_genre")
    mood.add_argument("--output", required=True, help="CSV: track_id, pred_energy, pred_valence, prob_<mood>...")
    mood.add_argument("--model-version", default="latest",
                      help="a registered version of the MLflow model mood_model (default: the latest)")
    mood.add_argument("--mlflow-uri", help="tracking URI (default: TIMBRAL_HOME/mlflow.db)")
    mood.set_defaults(func=cmd_mood_predict)
    batch = sub.add_parser("recommend-batch", help="train the hybrid on TRAIN.tsv and write top-k lists for users")
    batch.add_argument("--train", required=True, help="TSV with a header: user_id, item_id, weight (play counts)")
    batch.add_argument("--item-tags", help="TSV with a header: item_id, tag, count (adds the tag content model)")
    batch.add_argument("--users", required=True, help="one user id per line")
    batch.add_argument("--k", type=int, default=50, help="list length (default 50)")
    batch.add_argument("--output", required=True, help="TSV: user_id, item_id, rank, score")
    batch.add_argument("--reranker", action="store_true",
                       help="re-rank the fused top 150 by LightGBM LambdaMART (off by default: on hetrec it ranks "
                            "worse than the fusion alone; see docs/recommend.md)")
    batch.set_defaults(func=cmd_recommend_batch)
    args = parser.parse_args(argv)
    return args.func(args)


def _read_pair_file(path: str, labelled: bool = False):
    from .resolution.pair_matching import read_pairs

    header, rows, issues = read_pairs(Path(path), labelled=labelled)
    for issue in issues:
        print(f"rejected {issue}", file=sys.stderr)
    return header, rows, issues


def cmd_match_pairs(args: argparse.Namespace) -> int:
    from .resolution.pair_matching import DEFAULT_PAIR_MODEL, PairModel, score_pairs, write_pairs
    from .sources.errors import FileFormatError

    try:
        header, rows, issues = _read_pair_file(args.input)
        if args.model == "splink":
            model, threshold = None, 0.5
        else:
            data = json.loads((DEFAULT_PAIR_MODEL if args.model == "default" else Path(args.model)).read_text())
            model = PairModel.from_json(data) if data.get("kind") == "timbral_pair_model" else data
            threshold = model.threshold if isinstance(model, PairModel) else 0.5
    except (FileFormatError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    threshold = args.threshold if args.threshold is not None else threshold
    probabilities = score_pairs(rows, model)
    write_pairs(Path(args.output), header, rows, probabilities, threshold, unreadable=issues)
    print(f"{len(rows):,} pairs scored, {sum(p >= threshold for p in probabilities):,} matches at threshold "
          f"{threshold:.2f}; {len(issues):,} unreadable rows kept unscored with their problem -> {args.output}")
    return 0


def cmd_resolve_names(args: argparse.Namespace) -> int:
    from .resolution.name_resolution import read_listening, read_names, resolve_names, write_names
    from .resolution.rules_file import RulesFileError, load_rules
    from .sources.errors import FileFormatError

    listening = None
    try:
        if args.listening and args.entity != "artist":
            raise ValueError("--listening applies to --entity artist only")
        if args.distinct_within and args.entity != "track":
            raise ValueError("--distinct-within applies to --entity track only")
        if args.one_library and args.entity != "track":
            raise ValueError("--one-library applies to --entity track only")
        rules = load_rules(args.rules)
        rows, issues = read_names(Path(args.input), args.entity, args.distinct_within)
        if args.listening:
            listening, listening_issues = read_listening(Path(args.listening))
            for issue in listening_issues:
                print(f"skipped {issue}", file=sys.stderr)
    except (FileFormatError, OSError, RulesFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for issue in issues:
        print(f"unresolved {issue}", file=sys.stderr)
    encoder = None
    if args.semantic:
        from .resolution.embeddings import EmbeddingCache, TextEncoder

        # the same cache the resolution assets use (ResolutionResource)
        encoder = TextEncoder(cache=EmbeddingCache(_prepare_environment() / "embeddings.duckdb"))
    resolved = resolve_names(rows, args.entity, encoder, rules, listening, one_library=args.one_library)
    write_names(Path(args.output), resolved)
    entities = len({r.canonical_id for r in resolved if r.canonical_id and r.quality != "none"})
    print(f"{len(resolved):,} rows -> {entities:,} {args.entity}s; {len(issues):,} rows with a problem, kept with "
          f"quality none and the problem in their row -> {args.output}")
    return 0


def _matcher_json(home: Path, model: str) -> dict:
    """A splink model: a JSON file, or a registered version of track_matcher ('latest' or a number)."""
    import tempfile

    from .resolution.matcher_model import ARTIFACT, MODEL_NAME
    from .tracking import Tracker

    if model != "latest" and not model.isdigit():
        if not Path(model).is_file():
            raise LookupError(f"no match model at {model}")
        return json.loads(Path(model).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        _, path = Tracker.for_home(home).model_file(MODEL_NAME, model, ARTIFACT, Path(tmp))
        return json.loads(path.read_text())


def cmd_explain_match(args: argparse.Namespace) -> int:
    from . import warehouse
    from .resolution.explain import explain_match, format_explanation
    from .resolution.rules_file import RulesFileError, load_rules

    home = _prepare_environment()
    db_path = Path(args.db) if args.db else home / "warehouse.duckdb"
    if not db_path.exists():
        print(f"error: no warehouse at {db_path}; materialize the resolution assets first (`timbral run`)",
              file=sys.stderr)
        return 2
    try:
        rules = load_rules(args.rules)
        model_json = _matcher_json(home, args.model or "latest")
    except (OSError, ValueError, LookupError, RulesFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    con = warehouse.connect(db_path, read_only=True)
    try:
        if not con.sql("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'resolution' "
                       "AND table_name = 'variants'").fetchall()[0][0]:
            print(f"error: {db_path} has no resolution catalog yet; materialize entity_clusters first", file=sys.stderr)
            return 2
        explanation = explain_match(con, args.artist, args.title, rules, model_json, album=args.album,
                                    duration_s=args.duration_s)
    finally:
        con.close()
    print(format_explanation(explanation, top=args.top))
    return 0


def cmd_finetune_encoder(args: argparse.Namespace) -> int:
    from .resolution.embeddings import EmbeddingCache, TextEncoder
    from .resolution.finetune import evaluate_encoder, finetune_encoder, training_triplets
    from .tracking import Tracker

    home = _prepare_environment()
    truth = Path(args.world) / "truth"
    eval_truth = Path(args.eval_world) / "truth" if args.eval_world else None
    for folder in (truth, eval_truth):
        if folder is not None and not (folder / "variants.parquet").exists():
            print(f"error: {folder} holds no world truth (variants.parquet); make one with `timbral generate`",
                  file=sys.stderr)
            return 2
    triplets = training_triplets(truth)[: args.max_triplets]
    print(f"{len(triplets):,} training triplets from {truth}", flush=True)
    run = finetune_encoder(triplets, Path(args.output), base_model=args.base_model, epochs=args.epochs,
                           batch_size=args.batch_size)
    print(f"fine-tuned in {run.seconds:.0f} s ({run.steps} steps, loss {run.losses[0]:.3f} -> {run.losses[-1]:.3f}) "
          f"-> {run.output_dir}")
    metrics: dict[str, float] = {"train_seconds": run.seconds, "final_loss": run.losses[-1]}
    if eval_truth is not None:
        cache = EmbeddingCache(home / "embeddings.duckdb")
        for name, model in (("base", args.base_model), ("finetuned", str(run.output_dir.resolve()))):
            scores = evaluate_encoder(TextEncoder(model, cache), eval_truth, max_queries=args.max_queries)
            metrics.update(scores.metrics(f"{name}/"))
            print(f"{name:<10} recall@1 {scores.recall_at_1:.4f}  recall@5 {scores.recall_at_5:.4f}  "
                  f"hard negatives ranked below the true track {scores.hard_negative_accuracy:.4f}  "
                  f"other scripts recall@1 {scores.recall_at_1_by_kind.get('other_script', float('nan')):.4f}")
    tracker = Tracker.for_home(home, args.mlflow_uri)
    run_id = tracker.log_run("encoder_finetuning", Path(args.output).name,
                             {"base_model": args.base_model, "world": str(args.world), "eval_world": args.eval_world,
                              "epochs": args.epochs, "batch_size": args.batch_size, "triplets": len(triplets),
                              "loss": "multiple negatives ranking with hard negatives"},
                             metrics, artifact_dirs={"model": run.output_dir}, metric_history={"train_loss": run.losses})
    print(f"MLflow run {run_id} (experiment encoder_finetuning)")
    return 0


def cmd_train_context_head(args: argparse.Namespace) -> int:
    import tempfile

    import duckdb

    from .resolution.context_head import resolve_world_pairs, train_head
    from .resolution.embeddings import EmbeddingCache, TextEncoder
    from .tracking import Tracker

    home = _prepare_environment()
    world = Path(args.world)
    if not (world / "truth" / "variants.parquet").exists() or not list((world / "scrobbles").glob("*.parquet")):
        print(f"error: {world} is not a world folder with scrobbles/ and truth/; make one with `timbral generate`",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "catalog.duckdb"))
        pairs = resolve_world_pairs(con, world, TextEncoder(cache=EmbeddingCache(home / "embeddings.duckdb")))
        con.close()
    features, labels = pairs.features, pairs.labels
    head = train_head(features, labels, with_context=not args.without_context)
    head.save(Path(args.output))
    probability = head.predict(features)
    agreement = float(((probability >= 0.5) == (labels == 1)).mean())
    print(f"head on {len(labels):,} candidate pairs ({int(labels.sum()):,} true matches), features "
          f"{', '.join(head.feature_names)}; training accuracy {agreement:.4f} -> {args.output}")
    tracker = Tracker.for_home(home, args.mlflow_uri)
    importance = dict(zip(head.feature_names, head.booster.feature_importance("gain").tolist(), strict=True))
    run_id = tracker.log_run("context_head", Path(args.output).stem,
                             {"world": str(world), "features": ",".join(head.feature_names)},
                             {"pairs": len(labels), "true_matches": int(labels.sum()), "training_accuracy": agreement,
                              **{f"gain/{k}": v for k, v in importance.items()}},
                             json_artifacts={"head.json": head.to_json()})
    print(f"MLflow run {run_id} (experiment context_head)")
    return 0


def cmd_train_pair_model(args: argparse.Namespace) -> int:
    from .resolution.pair_matching import train_pair_model
    from .sources.errors import FileFormatError

    try:
        _, rows, _ = _read_pair_file(args.train, labelled=True)
        valid = _read_pair_file(args.valid, labelled=True)[1] if args.valid else None
        model = train_pair_model(rows, valid, metadata={"train_file": Path(args.train).name})
    except (FileFormatError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model.save(Path(args.output))
    print(f"pair model trained on {len(rows):,} pairs; threshold {model.threshold:.2f}; "
          f"{json.dumps(model.metadata)} -> {args.output}")
    return 0


def cmd_mood_predict(args: argparse.Namespace) -> int:
    """One output row per input row, in input order, by a registered version of mood_model."""
    import tempfile
    import time

    from .mood.dataset import read_predict_input
    from .mood.mlflow_model import ARTIFACT, MODEL_NAME
    from .mood.model import MoodModel
    from .mood.scoring import predict_tracks, write_predictions
    from .resolution.embeddings import EmbeddingCache, TextEncoder
    from .sources.errors import FileFormatError
    from .tracking import Tracker

    home = _prepare_environment()
    try:
        tracks, issues = read_predict_input(Path(args.input))
        with tempfile.TemporaryDirectory() as tmp:
            version, model_file = Tracker.for_home(home, args.mlflow_uri).model_file(
                MODEL_NAME, args.model_version, ARTIFACT, Path(tmp))
            model = MoodModel.load(model_file)
    except (FileFormatError, OSError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for issue in issues:
        print(f"warning {issue}", file=sys.stderr)
    encoder = None
    if model.embedding_dim:  # the cache the assets fill: texts seen before are not encoded again
        encoder = TextEncoder(model.encoder_model, EmbeddingCache(home / "embeddings.duckdb"))
        encoder.progress = lambda done, total: print(f"  encoded {done:,} of {total:,} new texts", flush=True)
    started = time.perf_counter()
    predicted = predict_tracks(model, tracks, encoder)
    written = write_predictions(Path(args.output), tracks, predicted)
    seconds = time.perf_counter() - started
    unknown = sum(1 for t in tracks if t.genre and t.genre not in model.prior.means)
    print(f"{written:,} rows predicted by {MODEL_NAME} version {version.version} in {seconds:.1f}s "
          f"({int(predicted.low_confidence.sum()):,} from the genre prior, low confidence; {unknown:,} with a genre "
          f"the model never saw; {len(issues):,} values unreadable, treated as unknown) -> {args.output}")
    return 0





def cmd_recommend_batch(args: argparse.Namespace) -> int:
    """Up to k rows per listed user, in the users file's order; training items never come back."""
    import time

    from .recommend.batch import read_item_tags, read_train, read_users, recommend_batch, write_recs
    from .sources.errors import FileFormatError

    started = time.perf_counter()
    if args.k < 1:
        print("error: --k must be at least 1", file=sys.stderr)
        return 2
    try:
        data, issues = read_train(Path(args.train))
        tags = None
        if args.item_tags:
            tags, tag_issues = read_item_tags(Path(args.item_tags), data.item_ids)
            issues += tag_issues
        users = read_users(Path(args.users))
    except (FileFormatError, OSError, UnicodeDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for issue in issues[:20]:
        print(f"skipped {issue}", file=sys.stderr)
    if len(issues) > 20:
        print(f"... and {len(issues) - 20:,} more rows skipped", file=sys.stderr)
    print(f"read {data.plays.nnz:,} interactions: {data.n_users:,} users x {data.n_items:,} items"
          f"{f', {tags.nnz:,} item tags' if tags is not None else ''}; {len(users):,} users to list "
          f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)

    def progress(step: str) -> None:
        print(f"  {step} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)

    result = recommend_batch(data, users, args.k, tags, use_ranker=args.reranker, progress=progress)
    write_recs(Path(args.output), result.rows)
    print(f"{len(result.rows):,} rows for {len(users):,} users ({result.unknown_users:,} unknown, given the most "
          f"listened; {result.users_with_nothing_left:,} with every item already played) in "
          f"{time.perf_counter() - started:.1f} s -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
