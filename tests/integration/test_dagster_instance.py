"""The repo's dagster.yaml on the real server: pooled event storage, batched events, CLI demo."""

import shutil
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from helpers.flatfiles import write_mirror
from helpers.resources import local_resources as resources

from kapman_assets.ohlcv import ohlcv
from kapman_resources.calendar import nyse_sessions
from kapman_resources.dagster_storage import PooledPostgresEventLogStorage

ROOT = Path(__file__).resolve().parents[2]
DAYS = nyse_sessions("2024-06-28", "2024-07-09")  # spans the July 4th holiday
TICKERS = ["AAPL", "MSFT", "NVDA", "ZZZT"]
RANGE_TAGS = {"dagster/asset_partition_range_start": str(DAYS[0]),
              "dagster/asset_partition_range_end": str(DAYS[-1])}  # fmt: skip


@pytest.fixture
def instance(pg_server_url, tmp_path, monkeypatch):
    name = f"dagster_t_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    storage_url = pg_server_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    monkeypatch.setenv("KAPMAN_DAGSTER_STORAGE_URL", f"{storage_url}/{name}")
    shutil.copyfile(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("batch", ["0", "1000"])
def test_every_partition_of_a_backfill_is_recorded_with_pooled_batched_storage(
    instance, db_url, tmp_path, monkeypatch, batch
):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch)
    assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
    root = tmp_path / "mirror"
    write_mirror(root, DAYS, TICKERS)
    job = dg.Definitions(
        assets=[ohlcv], resources=resources(db_url, root),
        jobs=[dg.define_asset_job("load", selection=[ohlcv])],
    ).resolve_job_def("load")  # fmt: skip
    result = job.execute_in_process(instance=instance, tags=RANGE_TAGS)
    assert result.success
    stored = instance.get_materialized_partitions(dg.AssetKey("ohlcv"))
    assert stored == {str(d) for d in DAYS}
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS


def test_kapman_demo_in_process_builds_and_then_only_rechecks(monkeypatch, tmp_path):
    from kapman_assets.cli import main
    from kapman_resources.embedded_pg import EmbeddedPostgres

    for name in ("KAPMAN_DATABASE_URL", "DAGSTER_HOME", "KAPMAN_DAGSTER_STORAGE_URL",
                 "KAPMAN_DATABASE_URL_IS_EMBEDDED"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("KAPMAN_HOME", str(home))
    monkeypatch.setenv("KAPMAN_DEMO_TICKERS", "60")
    try:
        first = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        assert (
            "backfilling 2023-01-03" in first.output and "ohlcv_prices_consistent" in first.output
        )
        second = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
        assert second.exit_code == 0, second.output
        assert "already loaded" in second.output and "0 files written" in second.output, (
            second.output
        )

        # a stored bar breaks a blocking (ERROR) check: the summary shows it, the exit is 1
        with psycopg.connect(EmbeddedPostgres(home).url()) as conn:
            conn.execute("UPDATE ohlcv SET low = high * 2 WHERE date = (SELECT max(date) FROM"
                         " ohlcv) AND ticker_id = (SELECT min(ticker_id) FROM ohlcv)")  # fmt: skip
        third = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
        assert third.exit_code == 1, third.output
        assert "ohlcv_prices_consistent            FAILED" in third.output
        assert "asset check(s) failed: ohlcv_prices_consistent" in third.output
    finally:
        EmbeddedPostgres(home).destroy()
