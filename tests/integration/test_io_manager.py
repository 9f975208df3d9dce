"""The Kapman IO manager against a real PostgreSQL: slices, idempotency, atomicity, schema."""

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pandas as pd
import pytest

from kapman_resources.database import connect
from kapman_resources.tables import SchemaMismatch
from kapman_resources.warehouse import load_table, replace_slice

D1, D2, D3 = dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)


def _bars(days, tickers=(1, 2, 3), price=10.0):
    rows = [
        {"ticker_id": t, "date": d, "open": price, "high": price + 1, "low": price - 1,
         "close": price, "volume": 1000.0, "transactions": 10}
        for d in days for t in tickers
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _snapshot(url):
    with connect(url) as conn:
        return conn.execute(
            "SELECT ticker_id, date, open, close FROM ohlcv ORDER BY date, ticker_id"
        ).fetchall()


def _seed_tickers(url, n=3):
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO tickers (id, symbol) SELECT i, 'T' || i FROM generate_series(1, %s) i",
            (n,),
        )
        conn.commit()


@pytest.fixture
def loaded(db_url):
    _seed_tickers(db_url)
    with connect(db_url) as conn:
        replace_slice(conn, "ohlcv", _bars([D1, D2, D3]), (D1, D3 + dt.timedelta(days=1)))
    return db_url


def test_rewriting_one_partition_changes_only_that_slice(loaded):
    before = _snapshot(loaded)
    with connect(loaded) as conn:
        result = replace_slice(conn, "ohlcv", _bars([D2], price=20.0), (D2, D3))
    after = _snapshot(loaded)
    assert result.rows_replaced == 3 and result.rows_written == 3
    assert [r for r in after if r[1] != D2] == [r for r in before if r[1] != D2]
    assert {r[2] for r in after if r[1] == D2} == {20.0}
    # and a rerun of the same write is idempotent
    with connect(loaded) as conn:
        replace_slice(conn, "ohlcv", _bars([D2], price=20.0), (D2, D3))
    assert _snapshot(loaded) == after


def test_column_mismatch_is_named_and_nothing_is_deleted(loaded):
    before = _snapshot(loaded)
    bad = _bars([D2]).rename(columns={"volume": "vol"})
    with connect(loaded) as conn, pytest.raises(SchemaMismatch) as err:
        replace_slice(conn, "ohlcv", bad, (D2, D3))
    assert "vol" in str(err.value) and "volume" in str(err.value)
    assert _snapshot(loaded) == before


def test_rows_outside_the_partition_window_are_refused(loaded):
    before = _snapshot(loaded)
    with connect(loaded) as conn, pytest.raises(SchemaMismatch, match="outside its partition"):
        replace_slice(conn, "ohlcv", _bars([D2, D3]), (D2, D3))
    assert _snapshot(loaded) == before


def test_a_failure_mid_copy_rolls_back_the_delete(loaded):
    before = _snapshot(loaded)
    frame = _bars([D2], tickers=range(1, 5001))
    frame.loc[len(frame) - 1, "open"] = None  # NOT NULL violated by the last row
    with connect(loaded) as conn, pytest.raises(Exception, match="null value"):
        replace_slice(conn, "ohlcv", frame, (D2, D3))
    assert _snapshot(loaded) == before


def test_a_killed_writer_leaves_previous_rows_intact(loaded):
    """SIGKILL the process in the middle of a large COPY: the transaction never commits."""
    before = _snapshot(loaded)
    script = textwrap.dedent(f"""
        import datetime as dt, sys
        import pandas as pd
        from kapman_resources.database import connect
        from kapman_resources.warehouse import replace_slice
        d = dt.date(2024, 3, 5)
        n = 3_000_000
        frame = pd.DataFrame({{"ticker_id": range(n), "date": [d] * n, "open": 1.0, "high": 2.0,
                              "low": 0.5, "close": 1.0, "volume": 1.0, "transactions": 1}})
        print("ready", flush=True)
        with connect({loaded!r}) as conn:
            replace_slice(conn, "ohlcv", frame, (d, d + dt.timedelta(days=1)))
        print("committed", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    with connect(loaded, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            copying = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%'"
                " AND datname = current_database()"
            ).fetchone()[0]
            if copying:
                break
            time.sleep(0.05)
    assert copying, "the writer never reached COPY"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    assert _snapshot(loaded) == before


def test_load_prunes_columns_window_and_tickers(loaded):
    with connect(loaded) as conn:
        frame = load_table(
            conn, "ohlcv", columns=["ticker", "date", "close"], window=(D2, D3), tickers=["T2"]
        )
    assert list(frame.columns) == ["ticker", "date", "close"]
    assert frame.to_dict("records") == [{"ticker": "T2", "date": D2, "close": 10.0}]


def test_unpartitioned_write_replaces_the_table(db_url):
    splits = pd.DataFrame(
        {"ticker": ["AAPL"], "execution_date": [dt.date(2020, 8, 31)], "split_from": [1],
         "split_to": [4]}
    )  # fmt: skip
    with connect(db_url) as conn:
        replace_slice(conn, "splits", splits, None)
        replace_slice(conn, "splits", splits.assign(ticker="NVDA"), None)
        rows = conn.execute("SELECT ticker FROM splits").fetchall()
    assert rows == [("NVDA",)]


def test_json_and_array_columns_round_trip(db_url):
    frame = pd.DataFrame(
        {"ticker": ["AAPL"], "date": [D1], "events": [["SC", 'A"R']],
         "events_json": [{"SC": {"rv": 3.2, "bars": [str(D1)]}}], "bc_score": [4]}
    )  # fmt: skip
    with connect(db_url) as conn:
        replace_slice(conn, "wyckoff_snapshots", frame, (D1, D2))
        events, payload = conn.execute(
            "SELECT events, events_json FROM wyckoff_snapshots"
        ).fetchone()
    assert events == ["SC", 'A"R']
    assert payload == {"SC": {"rv": 3.2, "bars": [str(D1)]}}


def test_io_manager_through_dagster_materializations(db_url):
    """Materialize a partition twice through Dagster: the second run replaces only its day."""
    from kapman_assets.partitions import trading_day_partitions
    from kapman_resources.io_manager import KapmanIOManager

    _seed_tickers(db_url)
    parts = trading_day_partitions(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    price = {"value": 10.0}

    @dg.asset(name="ohlcv", partitions_def=parts, io_manager_key="io")
    def fake_ohlcv(context):
        day = context.partition_time_window.start.date()
        return _bars([day], price=price["value"])

    io = KapmanIOManager(database_url=db_url)
    for key in ("2024-03-04", "2024-03-05"):
        assert dg.materialize([fake_ohlcv], resources={"io": io}, partition_key=key).success
    before = _snapshot(db_url)
    price["value"] = 30.0
    result = dg.materialize([fake_ohlcv], resources={"io": io}, partition_key="2024-03-05")
    after = _snapshot(db_url)
    assert [r for r in after if r[1] == D1] == [r for r in before if r[1] == D1]
    assert {r[2] for r in after if r[1] == D2} == {30.0}
    meta = result.asset_materializations_for_node("ohlcv")[0].metadata
    assert meta["rows_replaced"].value == 3 and meta["dagster/partition_row_count"].value == 3


def test_insertion_order_is_month_then_primary_key_for_any_input_order():
    import numpy as np

    from kapman_resources.pg_copy import insertion_order
    from kapman_resources.tables import TableInfo

    info = TableInfo("ohlcv", {"ticker_id": "integer", "date": "date"}, frozenset(),
                     "partitioned", ("ticker_id", "date"))  # fmt: skip
    rng = np.random.default_rng(1)
    days = pd.to_datetime(np.sort(rng.choice(pd.bdate_range("2024-01-01", "2024-06-30"), 400)))
    frame = pd.DataFrame({"ticker_id": rng.integers(1, 30, 400), "date": days})

    def key(f):
        return list(zip(f["date"].values.astype("datetime64[M]"), f["ticker_id"], f["date"],
                        strict=True))  # fmt: skip

    expected = sorted(key(frame))
    for candidate in (frame, frame.sample(frac=1, random_state=2)):  # date-major and shuffled
        order = insertion_order(candidate, info)
        assert key(candidate.iloc[order]) == expected
    plain = TableInfo("splits", info.columns, frozenset(), "plain", ("ticker_id", "date"))
    assert insertion_order(frame, plain) is None


def test_values_that_do_not_fit_a_binary_field_go_through_csv_and_are_checked(db_url):
    """A float in an integer column is not truncated: PostgreSQL rejects 3.9 for an integer."""
    frame = pd.DataFrame(
        {"ticker": ["A"], "date": [D1], "bc_score": [3.9], "spring_score": [2]}
    )  # fmt: skip
    with connect(db_url) as conn, pytest.raises(Exception, match="integer"):
        replace_slice(conn, "wyckoff_snapshots", frame, (D1, D2))
    ok = frame.assign(bc_score=[4])
    with connect(db_url) as conn:
        replace_slice(conn, "wyckoff_snapshots", ok, (D1, D2))
        assert conn.execute("SELECT bc_score FROM wyckoff_snapshots").fetchone() == (4,)


def test_a_window_covering_whole_months_truncates_them_and_keeps_the_rest(db_url):
    import datetime as dt

    _seed_tickers(db_url)
    may = [dt.date(2024, 5, 31)]
    june = [dt.date(2024, 6, d) for d in (3, 14, 28)]
    july = [dt.date(2024, 7, 1)]
    with connect(db_url) as conn:
        replace_slice(conn, "ohlcv", _bars(may + june + july),
                      (dt.date(2024, 5, 1), dt.date(2024, 8, 1)))  # fmt: skip
    before = _snapshot(db_url)
    with connect(db_url) as conn:
        result = replace_slice(conn, "ohlcv", _bars(june[:1], price=50.0),
                               (dt.date(2024, 6, 1), dt.date(2024, 7, 1)))  # fmt: skip
    after = _snapshot(db_url)
    assert result.rows_replaced == 9  # June's 3 sessions x 3 tickers, by TRUNCATE
    assert [r for r in after if r[1].month != 6] == [r for r in before if r[1].month != 6]
    assert {(r[1], r[2]) for r in after if r[1].month == 6} == {(june[0], 50.0)}


def test_two_writers_of_the_same_new_month_do_not_collide(db_url):
    import datetime as dt
    import threading

    _seed_tickers(db_url)
    days = [dt.date(2024, 9, 3), dt.date(2024, 9, 4)]
    errors = []

    def write(day):
        try:
            with connect(db_url) as conn:
                replace_slice(conn, "ohlcv", _bars([day]), (day, day + dt.timedelta(days=1)))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(d,)) for d in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted({r[1] for r in _snapshot(db_url)}) == days


def _compress_all(conn):
    if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
        pytest.skip("TimescaleDB storage only")
    conn.execute("SELECT compress_chunk(c) FROM show_chunks('ohlcv') c")
    conn.commit()
    # DML on compressed rows may decompress only this many tuples (default 100,000: a single
    # day of ~10k tickers in a compressed chunk already exceeds it); 1 makes any such DML fail
    conn.execute("SET timescaledb.max_tuples_decompressed_per_dml_transaction = 1")


def test_rewriting_a_compressed_chunk_decompresses_it_first(loaded):
    with connect(loaded) as conn:
        _compress_all(conn)
        result = replace_slice(conn, "ohlcv", _bars([D2], price=20.0), (D2, D3))
    assert result.rows_replaced == 3 and result.rows_written == 3
    assert {r[2] for r in _snapshot(loaded) if r[1] == D2} == {20.0}


def test_retention_inside_a_compressed_chunk(loaded):
    from kapman_resources.retention import apply_retention

    with connect(loaded) as conn:
        _compress_all(conn)
        result = apply_retention(conn, "ohlcv", D2)
    assert result["rows_deleted"] == 3 and result["partitions_dropped"] == 0
    assert {r[1] for r in _snapshot(loaded)} == {D2, D3}
