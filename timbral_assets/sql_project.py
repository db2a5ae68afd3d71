"""The dbt-like SQL project: one SELECT per file under dbt_like_sql/<layer>/, a YAML header in a leading
`/* timbral ... */` comment, `{{ ref('model') }}` and `{{ source('raw', 'table') }}` for dependencies.

Pure Python and DuckDB; `sql_models.py` turns these models into Dagster assets.

Header keys: `description`, `materialized` (table | incremental), `window_column` (incremental only: the
DATE column the partition window filters), and `checks`: `unique: col`, `not_null: col`, or
`{name, description, sql}` where the SQL returns the number of offending rows (0 passes).
Incremental models use `{{ window_start }}` / `{{ window_end }}`, which render as bound parameters.

Every table a model reads is declared, so that the asset graph's lineage is whole: another model by
`ref()`, a table that a Python asset writes by `source(schema, table)`. `check_tables` rejects a
`source()` that names no asset's table and a schema-qualified table read directly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb
import yaml

from .warehouse import scalar, transaction

# the repo's dbt_like_sql/, through the package's symlink (an installed wheel holds a copy there)
SQL_ROOT = Path(__file__).parent / "dbt_like_sql"
LAYERS = ("staging", "intermediate", "marts")
_HEADER = re.compile(r"^\s*/\*\s*timbral\b(.*?)\*/", re.S)
_REF = re.compile(r"\{\{\s*ref\(\s*['\"](\w+)['\"]\s*\)\s*\}\}")
_SOURCE = re.compile(r"\{\{\s*source\(\s*['\"](\w+)['\"]\s*,\s*['\"](\w+)['\"]\s*\)\s*\}\}")
_WINDOW = re.compile(r"\{\{\s*(window_start|window_end)\s*\}\}")
_ANY_JINJA = re.compile(r"\{\{.*?\}\}")
_QUALIFIED = re.compile(r"(?<![\w.\"'])([a-z_]\w*)\.([a-z_]\w*)\b(?!\s*\()", re.I)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRINGS = re.compile(r"'(?:[^']|'')*'")


class SqlProjectError(ValueError):
    pass


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    sql: str  # returns one number: offending rows


@dataclass(frozen=True)
class SqlModel:
    name: str
    layer: str
    path: Path
    body: str
    description: str
    materialized: str
    window_column: str | None
    refs: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    checks: tuple[Check, ...] = field(default=())

    @property
    def schema(self) -> str:
        return self.layer

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def code_version(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    @property
    def incremental(self) -> bool:
        return self.materialized == "incremental"


def _parse_checks(model: str, path: Path, table: str, raw) -> tuple[Check, ...]:
    checks: list[Check] = []
    for item in raw or []:
        if isinstance(item, dict) and "unique" in item:
            col = item["unique"]
            checks.append(Check(f"{model}_{col}_unique", f"{col} is unique",
                                f"SELECT count(*) - count(DISTINCT {col}) FROM {table}"))
        elif isinstance(item, dict) and "not_null" in item:
            col = item["not_null"]
            checks.append(Check(f"{model}_{col}_not_null", f"{col} is never null",
                                f"SELECT count(*) FROM {table} WHERE {col} IS NULL"))
        elif isinstance(item, dict) and {"name", "sql"} <= set(item):
            checks.append(Check(f"{model}_{item['name']}", item.get("description", item["name"]), item["sql"]))
        else:
            raise SqlProjectError(f"{path}: a check must be `unique: col`, `not_null: col` or {{name, sql}}; got {item!r}")
    return tuple(checks)


def parse_model(path: Path, layer: str) -> SqlModel:
    text = path.read_text(encoding="utf-8")
    m = _HEADER.match(text)
    header = yaml.safe_load(m.group(1)) if m else {}
    header = header or {}
    body = text[m.end():] if m else text
    name = path.stem
    materialized = header.get("materialized", "table")
    if materialized not in ("table", "incremental"):
        raise SqlProjectError(f"{path}: materialized must be table or incremental, not {materialized!r}")
    window_column = header.get("window_column")
    if materialized == "incremental" and not window_column:
        raise SqlProjectError(f"{path}: an incremental model needs window_column")
    table = f"{layer}.{name}"
    return SqlModel(
        name=name, layer=layer, path=path, body=body.strip().rstrip(";"),
        description=str(header.get("description", "")).strip(),
        materialized=materialized, window_column=window_column,
        refs=tuple(dict.fromkeys(_REF.findall(body))),
        sources=tuple(dict.fromkeys(_SOURCE.findall(body))),
        checks=_parse_checks(name, path, table, header.get("checks")),
    )


@dataclass
class SqlProject:
    models: dict[str, SqlModel]
    macros: list[Path]

    @classmethod
    def load(cls, root: Path = SQL_ROOT) -> SqlProject:
        models: dict[str, SqlModel] = {}
        for layer in LAYERS:
            for path in sorted((root / layer).glob("*.sql")):
                model = parse_model(path, layer)
                if model.name in models:
                    raise SqlProjectError(f"two models are named {model.name}: {models[model.name].path} and {path}")
                models[model.name] = model
        project = cls(models, sorted((root / "macros").glob("*.sql")))
        project.validate()
        return project

    def validate(self) -> None:
        for model in self.models.values():
            for ref in model.refs:
                if ref not in self.models:
                    raise SqlProjectError(f"{model.path}: ref('{ref}') names no model")
        self.order()

    def check_tables(self, tables: Mapping[str, str]) -> None:
        """`tables` maps each warehouse table ("resolution.variants") to the asset that writes it. Every
        source() must name one of them, and no model may read a table of a known schema except through
        ref() or source(). Raises naming the file and the table."""
        schemas = {table.split(".")[0] for table in tables} | set(LAYERS)
        for model in self.models.values():
            for schema, table in model.sources:
                if f"{schema}.{table}" not in tables:
                    raise SqlProjectError(f"{model.path}: source('{schema}', '{table}') is no asset's table; "
                                          f"known tables: {', '.join(sorted(tables))}")
            body = _ANY_JINJA.sub(" ", _STRINGS.sub("''", _COMMENTS.sub(" ", model.body)))
            for schema, table in _QUALIFIED.findall(body):
                if schema.lower() not in schemas:
                    continue  # an alias and its column (v.track_raw)
                qualified = f"{schema}.{table}".lower()
                if qualified in (m.table for m in self.models.values()):
                    hint = f"{{{{ ref('{table}') }}}}"
                elif qualified in tables:
                    hint = f"{{{{ source('{schema}', '{table}') }}}} (written by asset {tables[qualified]})"
                else:
                    hint = "a ref() or source() of the asset that writes it"
                raise SqlProjectError(f"{model.path}: reads {qualified} without declaring it, so the asset graph "
                                      f"misses that dependency; write {hint}")

    def order(self) -> list[str]:
        graph = {name: set(m.refs) for name, m in self.models.items()}
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise SqlProjectError(f"the models form a cycle: {' -> '.join(exc.args[1])}") from None

    def render(self, model: SqlModel) -> str:
        sql = _REF.sub(lambda m: self.models[m.group(1)].table, model.body)
        sql = _SOURCE.sub(lambda m: f"{m.group(1)}.{m.group(2)}", sql)
        sql = _WINDOW.sub(lambda m: f"${m.group(1)}", sql)
        leftover = _ANY_JINJA.search(sql)
        if leftover:
            raise SqlProjectError(f"{model.path}: cannot render {leftover.group(0)}")
        return sql

    def install_macros(self, con: duckdb.DuckDBPyConnection) -> None:
        for path in self.macros:
            con.execute(path.read_text(encoding="utf-8"))

    def materialize(self, con: duckdb.DuckDBPyConnection, name: str, window: tuple[date, date] | None = None) -> int:
        """Build one model. Tables are replaced whole; incremental models replace only the window's rows."""
        model = self.models[name]
        self.install_macros(con)
        sql = self.render(model)
        if not model.incremental:
            with transaction(con):
                con.execute(f"CREATE OR REPLACE TABLE {model.table} AS {sql}")
            return scalar(con, f"SELECT count(*) FROM {model.table}")
        if window is None:
            raise SqlProjectError(f"{model.name} is incremental: give it a partition window")
        params = {"window_start": window[0], "window_end": window[1]}
        col = model.window_column
        # Create the empty table in its own transaction: creating it in the same transaction as the first
        # insert left DuckDB 2.0 with stale column statistics, and filters on the new rows found nothing.
        con.execute(f"CREATE TABLE IF NOT EXISTS {model.table} AS SELECT * FROM ({sql}) WHERE false", params)
        with transaction(con):
            con.execute(f"DELETE FROM {model.table} WHERE {col} >= $window_start AND {col} < $window_end", params)
            con.execute(f"INSERT INTO {model.table} BY NAME {sql}", params)
        return scalar(con, f"SELECT count(*) FROM {model.table} WHERE {col} >= $window_start AND {col} < $window_end",
                           params)

    def run_checks(self, con: duckdb.DuckDBPyConnection, name: str,
                   window: tuple[date, date] | None = None) -> list[tuple[Check, int]]:
        model = self.models[name]
        results = []
        for check in model.checks:
            sql = self.render(replace(model, body=check.sql))
            params = {"window_start": window[0], "window_end": window[1]} if window and "$window" in sql else {}
            results.append((check, int(scalar(con, sql, params) or 0)))
        return results
