"""Each ohlcv asset check passes on good data and fails on crafted bad data in the table."""

import datetime as dt

import dagster as dg
import pytest
from helpers.flatfiles import write_mirror
from helpers.resources import local_resources as resources

from kapman_assets import bad_prints
from kapman_assets import ohlcv as layer
from kapman_assets.jobs import checks_job
from kapman_assets.retention import retention_log
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import connect, load_watchlist, storage_variant
from kapman_resources.retention import apply_retention, ohlcv_cutoff

DAYS = nyse_sessions("2024-06-24", "2024-07-12")
WATCH = load_watchlist()[:3]
TICKERS = [*WATCH, *(f"X{i:03d}" for i in range(20))]
LAST = DAYS[-1]


def evaluate(db_url, root, partition=LAST):
    """Run only the checks (no load) for a partition; {check name: evaluation}."""
    defs = dg.Definitions(
        assets=[layer.ohlcv, retention_log],
        asset_checks=[*layer.OHLCV_CHECKS, bad_prints.ohlcv_no_bad_prints],
        jobs=[checks_job],
        resources=resources(db_url, root),
    )
    result = defs.resolve_job_def("ohlcv_checks").execute_in_process(
        tags={"dagster/partition": str(partition)}, raise_on_error=False
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def stored(db_url, tmp_path):
    root = tmp_path / "mirror"
    write_mirror(root, DAYS, TICKERS)
    with connect(db_url) as conn:  # the watchlist is just these three for the test
        conn.execute("DELETE FROM portfolio_tickers WHERE symbol <> ALL(%s)", (WATCH,))
        conn.commit()
    tags = {"dagster/asset_partition_range_start": str(DAYS[0]),
            "dagster/asset_partition_range_end": str(LAST)}  # fmt: skip
    assert dg.materialize([layer.ohlcv], resources=resources(db_url, root), tags=tags).success
    return db_url, root


def sql(db_url, statement, params=()):
    with connect(db_url) as conn:
        conn.execute(statement, params)
        conn.commit()


def test_all_checks_pass_on_good_data(stored):
    results = evaluate(*stored)
    assert set(results) == {
        layer.OHLCV_PRICES_CONSISTENT, layer.OHLCV_UNIQUE_TICKER_DATE,
        layer.OHLCV_ROW_COUNT_STABLE, layer.OHLCV_WATCHLIST_PRESENT,
        layer.OHLCV_RETENTION_WINDOW_COMPLETE, bad_prints.OHLCV_NO_BAD_PRINTS,
    }  # fmt: skip
    assert all(e.passed for e in results.values()), {
        k: e.metadata for k, e in results.items() if not e.passed
    }


def test_prices_consistent_fails_on_low_above_close(stored):
    db_url, root = stored
    sql(db_url, "UPDATE ohlcv SET low = close + 1 WHERE date = %s AND ticker_id ="
        " (SELECT id FROM tickers WHERE symbol = 'X001')", (LAST,))  # fmt: skip
    ev = evaluate(db_url, root)[layer.OHLCV_PRICES_CONSISTENT]
    assert not ev.passed
    assert ev.metadata["bad_rows"].value == 1
    assert "X001" in ev.metadata["examples (symbol date o h l c)"].value


def test_bad_prints_warn_with_examples(stored):
    db_url, root = stored
    sql(db_url, "UPDATE ohlcv SET high = GREATEST(open, close) * 1.6 WHERE date = %s AND"
        " ticker_id = (SELECT id FROM tickers WHERE symbol = 'X002')", (LAST,))  # fmt: skip
    sql(db_url, "UPDATE ohlcv SET low = LEAST(open, close) * 0.013 WHERE date = %s AND"
        " ticker_id = (SELECT id FROM tickers WHERE symbol = 'X003')", (DAYS[-2],))  # fmt: skip
    for symbol, day, factor in [
        ("X004", DAYS[1], 1.6),  # too early to judge
        ("X005", LAST, 1.07),
    ]:  # a wide wick, but a plausible one
        sql(db_url, "UPDATE ohlcv SET high = GREATEST(open, close) * %s WHERE date = %s AND"
            " ticker_id = (SELECT id FROM tickers WHERE symbol = %s)", (factor, day, symbol))  # fmt: skip
    ev = evaluate(db_url, root)[bad_prints.OHLCV_NO_BAD_PRINTS]
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.WARN
    assert ev.metadata["bad_prints"].value == 1 and ev.metadata["tickers_screened"].value == 2
    assert "X002" in ev.metadata["examples (symbol date o h l c)"].value
    earlier = evaluate(db_url, root, DAYS[-2])[bad_prints.OHLCV_NO_BAD_PRINTS]
    assert earlier.metadata["bad_prints"].value == 1
    assert "X003" in earlier.metadata["examples (symbol date o h l c)"].value
    # the second bar of a series has no typical range yet: not judged
    assert evaluate(db_url, root, DAYS[1])[bad_prints.OHLCV_NO_BAD_PRINTS].passed


def test_prices_consistent_fails_on_non_positive_price(stored):
    db_url, root = stored
    sql(db_url, "UPDATE ohlcv SET low = 0 WHERE date = %s", (LAST,))
    assert not evaluate(db_url, root)[layer.OHLCV_PRICES_CONSISTENT].passed


def test_unique_fails_when_a_duplicate_slips_past_a_dropped_key(stored):
    db_url, root = stored
    sql(db_url, "ALTER TABLE ohlcv DROP CONSTRAINT ohlcv_pkey")
    sql(db_url, "INSERT INTO ohlcv SELECT * FROM ohlcv WHERE date = %s LIMIT 1", (LAST,))
    ev = evaluate(db_url, root)[layer.OHLCV_UNIQUE_TICKER_DATE]
    assert not ev.passed and ev.metadata["duplicates"].value == 1


def test_row_count_band_flags_a_session_that_lost_rows(stored):
    db_url, root = stored
    sql(db_url, "DELETE FROM ohlcv WHERE date = %s AND ticker_id IN"
        " (SELECT id FROM tickers WHERE symbol LIKE 'X00%%')", (LAST,))  # fmt: skip
    ev = evaluate(db_url, root)[layer.OHLCV_ROW_COUNT_STABLE]
    assert not ev.passed
    assert ev.severity == dg.AssetCheckSeverity.WARN
    assert str(LAST) in ev.metadata["examples (date previous rows ratio)"].value


def test_watchlist_present_names_the_missing_ticker(stored):
    db_url, root = stored
    sql(db_url, "DELETE FROM ohlcv WHERE date = %s AND ticker_id ="
        " (SELECT id FROM tickers WHERE symbol = %s)", (LAST, WATCH[1]))  # fmt: skip
    ev = evaluate(db_url, root)[layer.OHLCV_WATCHLIST_PRESENT]
    assert not ev.passed
    assert ev.metadata["missing"].value == WATCH[1]


def test_retention_window_fails_on_a_missing_session(stored):
    db_url, root = stored
    sql(db_url, "DELETE FROM ohlcv WHERE date = %s", (DAYS[5],))
    ev = evaluate(db_url, root)[layer.OHLCV_RETENTION_WINDOW_COMPLETE]
    assert not ev.passed
    assert ev.metadata["missing_sessions"].value == str(DAYS[5])


def test_retention_window_fails_on_data_older_than_the_window(stored, monkeypatch):
    db_url, root = stored
    monkeypatch.setattr(layer, "OHLCV_RETENTION_SESSIONS", 5)
    ev = evaluate(db_url, root)[layer.OHLCV_RETENTION_WINDOW_COMPLETE]
    assert not ev.passed
    assert ev.metadata["sessions_older_than_window"].value == len(DAYS) - 5


def test_retention_keeps_trading_days_not_calendar_days(stored):
    db_url, _ = stored
    keep = 8  # 8 sessions back from 2024-07-12 crosses the July 4th holiday
    cutoff = ohlcv_cutoff(LAST, keep=keep)
    assert cutoff == DAYS[-keep] == dt.date(2024, 7, 2)
    assert (LAST - cutoff).days + 1 != keep  # a calendar-day rule would cut elsewhere
    with connect(db_url) as conn:
        # Native: one calendar-month partition per month, so all of June goes whole. Timescale
        # turns '1 month' into fixed 30-day chunks aligned to the epoch ([06-16, 07-16) here), so
        # June shares a chunk with July and only chunks wholly before the cutoff can go.
        whole = (
            1
            if storage_variant(conn) == "native"
            else conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'ohlcv'"
                " AND (range_end AT TIME ZONE 'UTC')::date <= %s",
                (cutoff,),
            ).fetchone()[0]
        )
        result = apply_retention(conn, "ohlcv", cutoff)
        dates = [r[0] for r in conn.execute("SELECT DISTINCT date FROM ohlcv ORDER BY date")]
        logged = conn.execute("SELECT rows_deleted FROM retention_log").fetchall()
    assert dates == DAYS[-keep:]
    assert result["rows_deleted"] == (len(DAYS) - keep) * len(TICKERS)
    assert result["partitions_dropped"] == whole
    assert logged == [(result["rows_deleted"],)]


def test_retention_step_runs_in_dagster_and_reports_what_it_removed(stored):
    db_url, root = stored
    result = dg.materialize(
        [layer.ohlcv, retention_log], selection=[retention_log],
        resources=resources(db_url, root), partition_key=str(LAST),
    )  # fmt: skip
    meta = result.asset_materializations_for_node("retention_log")[0].metadata
    assert meta["ohlcv_rows_deleted"].value == 0  # fewer than 730 sessions stored
    assert meta["ohlcv_cutoff"].value == str(ohlcv_cutoff(LAST))


def test_a_ticker_whose_bars_all_expire_keeps_its_seen_dates_and_is_inactive(stored, monkeypatch):
    """Retention records what it removes: the ticker dimension outlives the bars."""
    from kapman_assets import retention as retention_module
    from kapman_assets.reference_data import tickers

    db_url, root = stored
    sql(db_url, "DELETE FROM ohlcv WHERE date > %s AND ticker_id ="
        " (SELECT id FROM tickers WHERE symbol = 'X019')", (DAYS[2],))  # fmt: skip
    monkeypatch.setattr(retention_module, "ohlcv_cutoff", lambda as_of: DAYS[5])
    assert dg.materialize(
        [layer.ohlcv, retention_log, tickers],
        selection=[retention_log],
        resources=resources(db_url, root),
        partition_key=str(LAST),
    ).success
    assert dg.materialize([tickers], resources=resources(db_url, root)).success
    with connect(db_url) as conn:
        gone = conn.execute(
            "SELECT first_seen, last_seen, active FROM tickers WHERE symbol = 'X019'"
        ).fetchone()
        stored_rows = conn.execute(
            "SELECT count(*) FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
            " WHERE k.symbol = 'X019'"
        ).fetchone()[0]
    assert stored_rows == 0
    assert gone == (DAYS[0], DAYS[2], False)
