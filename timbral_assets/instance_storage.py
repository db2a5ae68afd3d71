"""The Dagster instance's event log on SQLite, kept fast enough for runs over thousands of daily partitions.

A run over a 15-year listening history materializes each partitioned asset once per day: 5,800 events per
asset. Dagster's SqliteEventLogStorage opens a new SQLite connection for every event and closes it after;
closing the last connection of a WAL database checkpoints it to disk, so every event paid two syncs (about
20 ms here) and one asset over 5,800 days took minutes of bookkeeping. This subclass keeps one connection
per shard open and commits with `synchronous=NORMAL`, which in WAL mode syncs at checkpoints only: a crash
of the process loses nothing committed, a power cut may lose the last events. Dagster also asks the schema,
for every asset event, whether the tags table and an index column exist, through a fresh engine each time
(a fifth of the event cost); a table or column once seen stays, so the answers are kept once positive.
With DAGSTER_EVENT_BATCH_SIZE set (the run worker sets it), Dagster hands a step's partition
materializations over in batches, and each batch is written in one transaction per shard instead of two
per event. Everything else is Dagster's.

dagster.yaml selects it:

    event_log_storage:
      module: timbral_assets.instance_storage
      class: TimbralSqliteEventLogStorage
      config:
        dagster_home: {env: DAGSTER_HOME}   # event logs go to DAGSTER_HOME/history/runs, as Dagster's do
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as db
from dagster import Field, StringSource
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

DEFAULT_POOL_WAIT_S = 300.0  # run_control.DEFAULT_POOL_WAIT_S, without importing it with every instance


class TimbralSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None,
                 pool_wait_seconds: float = DEFAULT_POOL_WAIT_S):
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()
        self._tables_seen: set[str] = set()
        self._asset_key_columns_seen: set[str] = set()
        self._pool_wait_seconds = pool_wait_seconds
        self._runs_tagged: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"dagster_home": Field(StringSource),
                "pool_wait_seconds": Field(float, is_required=False, default_value=DEFAULT_POOL_WAIT_S)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> TimbralSqliteEventLogStorage:
        # where Dagster's default instance keeps its event logs
        return cls(os.path.join(config_value["dagster_home"], "history", "runs"), inst_data=inst_data,
                   pool_wait_seconds=config_value.get("pool_wait_seconds", DEFAULT_POOL_WAIT_S))

    def claim_concurrency_slot(self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None):
        """Every entry point's steps claim the pool here, so every entry point recovers from a killed run: the
        claiming process is recorded as the run's (it executes it), and a blocked claim reaps dead holders and
        ends after a bounded wait (run_control.claim_or_recover)."""
        from .run_control import claim_or_recover, pool_note, pool_wait_limit, tag_run_process

        if not self.has_instance:  # a bare storage, outside any instance: Dagster's claim as it is
            return super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        instance = self._instance
        if run_id not in self._runs_tagged:
            tag_run_process(instance, run_id)
            self._runs_tagged.add(run_id)
        return claim_or_recover(
            instance, lambda: super(TimbralSqliteEventLogStorage, self).claim_concurrency_slot(
                concurrency_key, run_id, step_key, priority),
            concurrency_key, run_id, pool_wait_limit(self._pool_wait_seconds),
            lambda message: pool_note(instance, run_id, message))

    OPEN_SHARDS = 16  # a long-lived web server reads many runs' shards: keep the most recent open

    def _engine(self, shard: str) -> db.engine.Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
        else:
            while len(self._engines) >= self.OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
            engine = db.create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                    "check_same_thread": False})

            @db.event.listens_for(engine, "connect")
            def _on_connect(dbapi_connection, _record) -> None:
                dbapi_connection.execute("PRAGMA synchronous=NORMAL")

            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:  # one thread at a time: the shard's single connection is shared
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not events or any(not (e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS)
                             or e.run_id != events[0].run_id for e in events):
            super().store_event_batch(events)  # one by one, as Dagster does
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            event_ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, event_ids)
            # the asset_keys row keeps the latest event of each kind, which a later one of the same
            # asset and kind overwrites whole: writing the last of each is the same as writing all
            latest = {(event.dagster_event.asset_key, event.dagster_event_type): (event, event_id)
                      for event, event_id in zip(events, event_ids, strict=True)}
            for event, event_id in sorted(latest.values(), key=lambda pair: pair[1]):
                self._store_asset_event(conn, event, event_id)

    def has_table(self, table_name: str) -> bool:
        if table_name not in self._tables_seen and super().has_table(table_name):
            self._tables_seen.add(table_name)
        return table_name in self._tables_seen

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        if column_name not in self._asset_key_columns_seen and super()._has_asset_key_col_on_connection(conn, column_name):
            self._asset_key_columns_seen.add(column_name)
        return column_name in self._asset_key_columns_seen

    def delete_events(self, run_id: str) -> None:
        engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()
        super().delete_events(run_id)

    def wipe(self) -> None:
        for engine in self._engines.values():  # the run shards' files are about to be deleted
            engine.dispose()
        self._engines.clear()
        super().wipe()

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()
