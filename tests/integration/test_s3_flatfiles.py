"""The S3 flat-file provider against a real moto S3 server over HTTP, and provider parity.

The bucket holds gzip day-aggregate files at Massive's exact keys; the S3 provider must read
them byte-for-byte like the local mirror, load them through a real Dagster materialization, and
fail with a clear FlatFileError (naming the s3:// location) when a key or the endpoint is gone.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import uuid

import boto3
import dagster as dg
import pandas as pd
import psycopg
import pytest
from dagster_aws.s3 import S3Resource
from helpers.flatfiles import day_rows, write_mirror
from moto.server import ThreadedMotoServer

from kapman_assets import ohlcv, retention
from kapman_assets.definitions import build_resources
from kapman_resources.database import connect, migrate
from kapman_resources.flatfiles import FlatFileError, FlatFileMissing, day_aggs_key
from kapman_resources.io_manager import KapmanIOManager
from kapman_resources.providers import (
    DemoFlatFiles,
    FlatFilesProvider,
    LocalFlatFiles,
    S3FlatFiles,
)
from kapman_resources.warehouse import PostgresResource, load_table

BUCKET = "flatfiles"
SESSIONS = [dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8)]
NOT_UPLOADED = dt.date(2024, 3, 11)  # a real session with no object in the bucket
TICKERS = ["AAPL", "MSFT", "NVDA", "ZZZT", "QQQ", "BRK.B"]
DEMO_SESSIONS = (dt.date(2024, 4, 1), dt.date(2024, 4, 12))  # 10 NYSE sessions
DEMO_TICKERS = 60
DEMO_SEED = 11


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A local mirror of SESSIONS (the files uploaded to the bucket)."""
    root = tmp_path_factory.mktemp("mirror")
    write_mirror(root, SESSIONS, TICKERS)
    return root


@pytest.fixture(scope="module")
def s3_url(mirror):
    """A moto S3 server on loopback whose bucket holds the mirror's files at their keys."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        client = boto3.client(
            "s3", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test",
            region_name="us-east-1",
        )  # fmt: skip
        client.create_bucket(Bucket=BUCKET)
        for day in SESSIONS:
            client.put_object(
                Bucket=BUCKET, Key=day_aggs_key(day), Body=(mirror / day_aggs_key(day)).read_bytes()
            )
        yield url
    finally:
        server.stop()


def _s3_files(endpoint_url: str, **s3_options) -> S3FlatFiles:
    return S3FlatFiles(
        bucket=BUCKET,
        s3=S3Resource(
            endpoint_url=endpoint_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
            **s3_options,
        ),
    )


def _resources(flat_files: FlatFilesProvider, database_url: str | None = None) -> dict:
    """The code location's resources (definitions.build_resources) with these flat files."""
    resources = {**build_resources(), "flat_files": flat_files}
    if database_url is not None:
        resources["warehouse"] = PostgresResource(database_url=database_url)
        resources["warehouse_io_manager"] = KapmanIOManager(database_url=database_url)
    return resources


def _materialize(resources: dict, *, partition_key=None, tags=None, raise_on_error=True):
    return dg.materialize(
        [ohlcv.ohlcv, retention.retention_log, *ohlcv.OHLCV_CHECKS],
        selection=dg.AssetSelection.assets(ohlcv.ohlcv).without_checks()
        | dg.AssetSelection.checks_for_assets(ohlcv.ohlcv)
        - dg.AssetSelection.checks(ohlcv.ohlcv_retention_window_complete),
        resources=resources,
        partition_key=partition_key,
        tags=tags,
        raise_on_error=raise_on_error,
    )


def _ohlcv_rows(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(
            "SELECT k.symbol, o.date, o.open, o.high, o.low, o.close, o.volume, o.transactions"
            " FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id ORDER BY o.date, k.symbol"
        ).fetchall()


def test_s3_reads_the_same_tables_as_the_local_mirror(mirror, s3_url):
    local = LocalFlatFiles(directory=str(mirror)).read(SESSIONS)
    remote = _s3_files(s3_url).read(SESSIONS)
    assert remote.num_rows == len(SESSIONS) * len(TICKERS)
    assert remote.schema == local.schema
    assert remote.equals(local)
    assert sorted(set(remote["ticker"].to_pylist())) == sorted(TICKERS)


def test_materializing_ohlcv_from_s3_lands_the_session_in_the_table(s3_url, db_url):
    day = SESSIONS[2]
    result = _materialize(_resources(_s3_files(s3_url)), partition_key=day.isoformat())
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks[ohlcv.OHLCV_PRICES_CONSISTENT] and checks[ohlcv.OHLCV_UNIQUE_TICKER_DATE]

    expected = []
    for line in day_rows(day, TICKERS):
        symbol, volume, open_, close, high, low, _, transactions = line.split(",")
        expected.append((symbol, day, float(open_), float(high), float(low), float(close),
                         float(volume), int(transactions)))  # fmt: skip
    assert _ohlcv_rows(db_url) == sorted(expected)  # only that session, every ticker, exact


def test_missing_key_raises_flat_file_missing_naming_the_s3_location(s3_url):
    with pytest.raises(FlatFileMissing) as info:
        _s3_files(s3_url).read([SESSIONS[0], NOT_UPLOADED])
    assert f"s3://{BUCKET}/{day_aggs_key(NOT_UPLOADED)}" in str(info.value)
    assert str(NOT_UPLOADED) in str(info.value)


def test_unreachable_endpoint_raises_flat_file_error_and_writes_nothing(db_url):
    closed = f"http://127.0.0.1:{_free_port()}"  # bound then released: nothing listens there
    files = _s3_files(closed, max_attempts=1)
    with pytest.raises(FlatFileError) as info:
        files.read([SESSIONS[0]])
    assert not isinstance(info.value, FlatFileMissing)
    message = str(info.value)
    assert "cannot reach S3" in message
    assert f"s3://{BUCKET}/{day_aggs_key(SESSIONS[0])}" in message

    result = _materialize(
        _resources(files), partition_key=SESSIONS[0].isoformat(), raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot reach S3" in failure.step_failure_data.error.to_string()
    assert _ohlcv_rows(db_url) == []
    with connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM tickers").fetchone()[0] == 0


@pytest.fixture
def second_db_url(pg_server_url, fresh_db_url):
    """Another freshly migrated database on the same server (fresh_db_url's pattern)."""
    name = f"kapman_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = fresh_db_url.rsplit("/", 1)[0] + f"/{name}"
    if "?" in fresh_db_url.rsplit("/", 1)[1]:
        url += "?" + fresh_db_url.rsplit("?", 1)[1]
    try:
        yield url
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _table_snapshot(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    with connect(url) as conn:
        bars = load_table(conn, "ohlcv").sort_values(["date", "ticker"], ignore_index=True)
        tickers = load_table(conn, "tickers", columns=["symbol", "first_seen", "last_seen"])
    return bars, tickers.sort_values("symbol", ignore_index=True)


def test_demo_and_local_providers_load_identical_tables(tmp_path, fresh_db_url, second_db_url):
    demo_market = pytest.importorskip("kapman_resources.demo_market")
    start, end = DEMO_SESSIONS
    demo_root, local_root = tmp_path / "demo", tmp_path / "local"
    summary = demo_market.write_demo_market(
        demo_root, start=start, end=end, n_tickers=DEMO_TICKERS, seed=DEMO_SEED
    )
    assert summary.sessions == 10
    shutil.copytree(demo_root, local_root)
    for url in (fresh_db_url, second_db_url):
        with connect(url) as conn:
            migrate(conn)

    demo = DemoFlatFiles(directory=str(demo_root), tickers=DEMO_TICKERS, seed=DEMO_SEED,
                         start=start.isoformat())  # fmt: skip
    local = LocalFlatFiles(directory=str(local_root))
    window = {  # one single-run backfill over the whole range, like the UI's range launch
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }
    for files, url in ((demo, fresh_db_url), (local, second_db_url)):
        assert _materialize(_resources(files, url), tags=window).success

    demo_bars, demo_tickers = _table_snapshot(fresh_db_url)
    local_bars, local_tickers = _table_snapshot(second_db_url)
    assert len(demo_bars) == summary.rows > 0
    assert sorted(set(demo_bars["date"])) == sorted(
        {d for d in pd.bdate_range(start, end).date}
    )  # 2024-04-01..12 has no holiday: every weekday is a session
    pd.testing.assert_frame_equal(demo_bars, local_bars)
    pd.testing.assert_frame_equal(demo_tickers, local_tickers)
