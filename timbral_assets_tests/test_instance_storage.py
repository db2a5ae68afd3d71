"""The instance's event log storage (timbral_assets/instance_storage.py): a run over hundreds of daily
partitions, its materializations written in batches, leaves the same records as Dagster's own storage
writing them one by one."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from timbral_assets.instance_storage import TimbralSqliteEventLogStorage

REPO = Path(__file__).resolve().parents[1]
DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-10-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def plays(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for key in context.partition_keys:
        context.add_asset_metadata({"dagster/row_count": dg.MetadataValue.int(int(key[-2:]))}, partition_key=key)
    return dg.MaterializeResult()


def _materialize_range(instance: dg.DagsterInstance) -> None:
    keys = DAYS.get_partition_keys()
    result = dg.materialize([plays], instance=instance, tags={"dagster/asset_partition_range_start": keys[0],
                                                              "dagster/asset_partition_range_end": keys[-1]})
    assert result.success


def _records(instance: dg.DagsterInstance) -> dict:
    key = dg.AssetKey("plays")
    records = instance.fetch_materializations(key, limit=1_000).records
    entry = instance.get_asset_records([key])[0].asset_entry
    return {
        "partitions": sorted(instance.get_materialized_partitions(key)),
        "row_counts": sorted((r.partition_key, r.asset_materialization.metadata["dagster/row_count"].value)
                             for r in records),
        "latest": entry.last_materialization_record.event_log_entry.dagster_event.partition,
        "tag_keys": sorted({k for tags in instance.event_log_storage.get_event_tags_for_asset(key)
                            for k in tags}),
        "one_day": [r.partition_key for r in instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=["2024-05-05"]), limit=10).records],
    }


@pytest.fixture(scope="module")
def dagsters_own_records(tmp_path_factory) -> dict:
    """The records Dagster's own SQLite storage leaves, writing one event at a time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")  # Dagster's default
        home = _home(tmp_path_factory.mktemp("dagster_default") / "home", timbral=False)
        with dg.DagsterInstance.from_config(home) as instance:
            assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
            _materialize_range(instance)
            return _records(instance)


@pytest.mark.parametrize("batch_size", ["0", "100"])
def test_batched_partition_events_match_dagsters_storage(tmp_path, monkeypatch, batch_size, dagsters_own_records):
    expected = dagsters_own_records
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    home = _home(tmp_path / "timbral", timbral=True)
    monkeypatch.setenv("DAGSTER_HOME", home)
    with dg.DagsterInstance.from_config(home) as instance:
        assert isinstance(instance.event_log_storage, TimbralSqliteEventLogStorage)
        _materialize_range(instance)
        got = _records(instance)
    assert got["partitions"] == DAYS.get_partition_keys()
    assert got["latest"] == "2024-09-30" and got["one_day"] == ["2024-05-05"]
    assert got == expected
    # the same records from a fresh instance, read through new connections
    with dg.DagsterInstance.from_config(home) as instance:
        assert _records(instance) == expected


def _home(path: Path, timbral: bool) -> str:
    path.mkdir(parents=True)
    if timbral:
        shutil.copy(REPO / "dagster.yaml", path / "dagster.yaml")
    else:
        (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return str(path)
