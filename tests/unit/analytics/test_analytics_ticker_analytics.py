"""The combined per-ticker pass agrees with its parts and is causal."""

import numpy as np
import pandas as pd
from helpers.real_data import AAPL_SPLITS, load_bokeh_long

from kapman_assets.analytics import series
from kapman_assets.analytics.indicators import compute_indicators
from kapman_assets.analytics.ticker_analytics import analyze_tickers, analyze_tickers_parallel
from kapman_assets.analytics.wyckoff import analyze_wyckoff

START, END = "2004-01-02", "2006-12-29"


def _long():
    long = load_bokeh_long()
    return long[long["date"] <= pd.Timestamp("2007-06-29")]


def test_combined_columns_equal_each_part_on_split_adjusted_real_data():
    result = analyze_tickers(_long(), AAPL_SPLITS, START, END, with_json=False)
    aapl = result[result["ticker"] == "AAPL"].set_index("date")
    adjusted = series.split_adjust(_long(), AAPL_SPLITS)
    bars = series.long_to_bars(adjusted[adjusted["ticker"] == "AAPL"])
    expected = compute_indicators(bars, START, END, with_json=False)
    pd.testing.assert_series_equal(aapl["rsi_14"], expected["rsi_14"], check_names=False)
    wyckoff = analyze_wyckoff(bars).loc[START:END]
    assert (aapl["bc_score"].to_numpy() == wyckoff["bc_score"].to_numpy()).all()
    assert aapl.index.min() >= pd.Timestamp(START) and aapl.index.max() <= pd.Timestamp(END)
    # the 2005-02-28 split does not show as a 50% drop in the adjusted close around it
    closes = aapl["sma_20"].loc["2005-02-24":"2005-03-02"]
    assert closes.pct_change().abs().max() < 0.05
    assert {"rvol", "hv_20", "wyckoff_phase", "composite_score", "signal"} <= set(result.columns)
    assert set(result["ticker"]) == {"AAPL", "GOOG", "IBM", "MSFT"}


def test_parallel_equals_serial():
    serial = analyze_tickers(_long(), AAPL_SPLITS, START, END, with_json=False)
    parallel = analyze_tickers_parallel(_long(), AAPL_SPLITS, START, END, False, workers=2)
    pd.testing.assert_frame_equal(serial, parallel, check_dtype=False)
    assert serial["gap_filled"].astype(bool).equals(parallel["gap_filled"].astype(bool))


def test_appending_future_bars_changes_no_past_row():
    long = _long()
    cut = long[long["date"] <= pd.Timestamp("2006-06-30")]
    short = analyze_tickers(cut, AAPL_SPLITS, START, "2006-06-30", with_json=False)
    full = analyze_tickers(long, AAPL_SPLITS, START, "2006-06-30", with_json=False)
    numeric = short.select_dtypes("number").columns
    np.testing.assert_array_equal(short[numeric].to_numpy(), full[numeric].to_numpy())
    assert short["signal"].equals(full["signal"])


def test_a_missing_print_and_a_missing_session_are_filled_the_same_way_for_every_part():
    long = _long()
    msft = long["ticker"] == "MSFT"
    hole = pd.Timestamp("2005-06-15")
    long.loc[msft & (long["date"] == hole), "close"] = np.nan  # a bad print
    dropped = pd.Timestamp("2005-06-20")
    long = long[~(msft & (long["date"] == dropped))]  # a session with no row at all
    sessions = pd.DatetimeIndex(sorted(_long()["date"].unique()))
    result = analyze_tickers(long, AAPL_SPLITS, START, END, with_json=False, sessions=sessions)
    rows = result[result["ticker"] == "MSFT"].set_index("date")
    assert {hole, dropped} <= set(rows.index)
    assert rows.loc[[hole, dropped], "gap_filled"].all()
    assert rows.loc[[hole, dropped], "bc_score"].notna().all()  # Wyckoff saw the same bars
    assert rows["rsi_14"].loc["2005-06-10":"2005-07-10"].gt(0).all()


def test_a_ticker_listed_three_sessions_ago_does_not_break_the_batch():
    long = _long()
    last = sorted(long["date"].unique())[-3:]
    ipo = pd.DataFrame({"ticker": "NEWCO", "date": last, "open": 20.0, "high": 21.0,
                        "low": 19.0, "close": 20.5, "volume": 5e6})  # fmt: skip
    result = analyze_tickers(pd.concat([long, ipo]), AAPL_SPLITS, START, None, with_json=True)
    newco = result[result["ticker"] == "NEWCO"]
    assert len(newco) == 3 and newco["rsi_14"].isna().all()
    assert set(result["ticker"]) == {"AAPL", "GOOG", "IBM", "MSFT", "NEWCO"}
