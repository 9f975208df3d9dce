"""The liquid universe's analytics and the signal edge through a real Dagster materialization."""

import dagster as dg
import pytest
from helpers.resources import local_resources
from psycopg import sql

from kapman_assets import ohlcv, reference_data, ticker_analysis, universe
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import connect
from kapman_resources.providers import DemoFlatFiles

DAYS = nyse_sessions("2024-06-03", "2026-11-20")
SCOPE = ["AAPL", "NVDA"]

# Liquidity recomputed in SQL (not by the code under test): close >= $5 and the mean dollar
# volume of the last 20 stored sessions >= $10M, on raw prints; the session h stored sessions on.
BARS = """
WITH b AS (
  SELECT k.symbol AS ticker, o.date, o.close,
         count(*) OVER w AS bars_20, avg(o.close * o.volume) OVER w AS adv_20,
         lead(o.date, %(h)s) OVER (PARTITION BY o.ticker_id ORDER BY o.date) AS end_h
  FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id
  WINDOW w AS (PARTITION BY o.ticker_id ORDER BY o.date ROWS 19 PRECEDING))
"""
LIQUID = "b.close >= 5 AND b.bars_20 = 20 AND b.adv_20 >= 10000000"


def rng(days):
    return {"dagster/asset_partition_range_start": str(days[0]),
            "dagster/asset_partition_range_end": str(days[-1])}  # fmt: skip


@pytest.fixture
def universe_db(db_url, tmp_path):
    with connect(db_url) as conn:
        conn.execute("DELETE FROM portfolio_tickers WHERE symbol <> ALL(%s)", (SCOPE,))
        conn.commit()
    flat = DemoFlatFiles(directory=str(tmp_path / "mirror"), tickers=40, start=str(DAYS[0]))
    res = {**local_resources(db_url, tmp_path / "mirror"), "flat_files": flat}
    assert dg.materialize([ohlcv.ohlcv], resources=res, tags=rng(DAYS)).success
    assert dg.materialize([reference_data.splits, reference_data.tickers], resources=res).success
    assert dg.materialize([ticker_analysis.ticker_analysis], resources=res,
                          tags=rng(DAYS[-60:])).success  # fmt: skip
    checks = dg.load_asset_checks_from_modules([universe])
    result = dg.materialize([universe.universe_analysis, *checks], resources=res)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    return db_url, res


def test_universe_features_are_the_scope_analytics_on_every_liquid_ticker(universe_db):
    url, _ = universe_db
    with connect(url) as conn:
        stored = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM universe_features")}
        first = DAYS[260]  # the first session with 260 stored before it: the first analysed
        ever_liquid = {r[0] for r in conn.execute(
            sql.SQL(BARS) + sql.SQL("SELECT DISTINCT ticker FROM b WHERE {} AND date >= %(first)s")
            .format(sql.SQL(LIQUID)), {"h": 1, "first": first})}  # fmt: skip
        assert stored == ever_liquid and set(SCOPE) <= stored and len(stored) > len(SCOPE)
        # the same analytics as the scope's tables: the scope's rows agree column by column
        columns = ("m.sma_50", "m.rsi_14", "m.hv_20", "m.adx_14", "w.bc_score", "w.spring_score",
                   "w.composite_score", "w.wyckoff_phase", "w.events", "w.signal")  # fmt: skip
        pairs = conn.execute(
            sql.SQL("SELECT {} FROM universe_features u JOIN ticker_metrics m USING (ticker, date)"
                    " JOIN wyckoff_snapshots w USING (ticker, date)").format(
                sql.SQL(", ").join(sql.SQL(f"u.{c[2:]}, {c}") for c in columns))).fetchall()  # fmt: skip
    assert len(pairs) >= 60 * len(SCOPE) - 5
    for row in pairs:
        for i in range(0, len(row), 2):
            a, b = row[i], row[i + 1]
            assert a == b or (isinstance(a, float) and abs(a - b) <= 1e-9 * max(1, abs(b))), row


def test_signal_edge_counts_only_liquid_events_whose_horizon_ended(universe_db):
    url, _ = universe_db
    with connect(url) as conn:
        edges = conn.execute("SELECT date, kind, name, horizon, n, window_end FROM signal_edge"
                             " ORDER BY date DESC, n DESC").fetchall()  # fmt: skip
        latest = edges[0][0]
        assert latest == DAYS[-1]
        dates = sorted({e[0] for e in edges})
        assert len(dates) == universe.EDGE_WEEKS + (DAYS[-1].weekday() != 4)
        checked = 0
        for day, kind, name, h, n, window_end in edges:
            if day not in (latest, dates[0]) or checked >= 12:
                continue
            column = "u.signal = %(name)s" if kind == "signal" else "%(name)s = ANY(u.events)"
            expected = conn.execute(
                sql.SQL(BARS) + sql.SQL("SELECT count(*) FROM universe_features u JOIN b USING"
                        " (ticker, date) WHERE {} AND {} AND b.end_h <= %(day)s").format(
                    sql.SQL(column), sql.SQL(LIQUID)),
                {"h": h, "name": name, "day": day}).fetchone()[0]  # fmt: skip
            assert n == expected, (day, kind, name, h)
            assert window_end <= day
            checked += 1
        assert checked >= 8


def test_too_little_history_gives_empty_tables_not_a_failure(db_url, tmp_path):
    days = DAYS[:40]  # far fewer than the 260 sessions an analysed session needs
    flat = DemoFlatFiles(directory=str(tmp_path / "mirror"), tickers=20, start=str(days[0]))
    res = {**local_resources(db_url, tmp_path / "mirror"), "flat_files": flat}
    assert dg.materialize([ohlcv.ohlcv], resources=res, tags=rng(days)).success
    checks = dg.load_asset_checks_from_modules([universe])
    result = dg.materialize([universe.universe_analysis, *checks], resources=res)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    (event,) = result.asset_materializations_for_node("universe_analysis")[:1]
    assert "nothing to analyse yet" in event.metadata["nothing_yet"].value
    with connect(db_url) as conn:
        assert conn.execute("SELECT (SELECT count(*) FROM universe_features),"
                            " (SELECT count(*) FROM signal_edge)").fetchone() == (0, 0)  # fmt: skip
