"""Tests for kapman_assets.analytics.series: split adjustment, gap rule, illiquid flags."""

import numpy as np
import pandas as pd
import pytest
import talib
from helpers.real_data import (
    AAPL_CRASH_DATE,
    AAPL_SPLITS,
    load_bokeh,
    load_bokeh_adj_close,
    load_bokeh_long,
    load_spy,
)

from kapman_assets.analytics import series

BARS = list(series.BAR_COLUMNS)
PRICES = list(series.PRICE_COLUMNS)
SPLIT_1 = pd.Timestamp("2000-06-21")
SPLIT_2 = pd.Timestamp("2005-02-28")
VENDOR_DIVIDENDS_START = pd.Timestamp("2012-08-09")  # AAPL's first ex-dividend date in range


def aapl_adjusted() -> pd.DataFrame:
    """AAPL rows of the bokeh long frame after split_adjust, as bars."""
    adjusted = series.split_adjust(load_bokeh_long(), AAPL_SPLITS)
    return adjusted.loc[adjusted["ticker"] == "AAPL"].set_index("date")[BARS]


def flat_bars(n: int, price: float = 10.0, volume: float = 1000.0) -> pd.DataFrame:
    """n identical bars: no range, no change."""
    index = pd.bdate_range("2020-01-01", periods=n, name="date")
    values = {c: np.full(n, price) for c in PRICES} | {"volume": np.full(n, volume)}
    return pd.DataFrame(values, index=index)


def small_bars(closes: list[float]) -> pd.DataFrame:
    """Bars with open = previous close, high/low = close +/- 1, volume 100."""
    close = np.array(closes, dtype=float)
    index = pd.bdate_range("2021-01-04", periods=len(close), name="date")
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {"open": open_, "high": close + 1, "low": close - 1, "close": close, "volume": 100.0},
        index=index,
    )


# ---------------------------------------------------------------- split adjustment


def test_aapl_adjusted_close_is_continuous_across_both_splits():
    raw = load_bokeh("AAPL")["close"]
    adjusted = aapl_adjusted()["close"]
    for day in (SPLIT_1, SPLIT_2):
        i = raw.index.get_loc(day)
        raw_ratio = raw.iloc[i] / raw.iloc[i - 1]
        adj_ratio = adjusted.iloc[i] / adjusted.iloc[i - 1]
        assert 0.45 < raw_ratio < 0.6
        assert 0.9 < adj_ratio < 1.15


def test_aapl_adjustment_factors_by_hand():
    raw = load_bokeh("AAPL")
    adjusted = aapl_adjusted()
    factor = np.where(raw.index < SPLIT_1, 4.0, np.where(raw.index < SPLIT_2, 2.0, 1.0))
    for column in PRICES:
        np.testing.assert_allclose(adjusted[column], raw[column] / factor, rtol=1e-15)
    np.testing.assert_allclose(adjusted["volume"], raw["volume"] * factor, rtol=1e-15)
    # a bar on an execution date is not adjusted for that split (only for later ones)
    assert adjusted.loc[SPLIT_1, "close"] == raw.loc[SPLIT_1, "close"] / 2.0
    assert adjusted.loc[SPLIT_2, "close"] == raw.loc[SPLIT_2, "close"]
    assert adjusted.loc[SPLIT_2, "volume"] == raw.loc[SPLIT_2, "volume"]


def test_aapl_adjusted_close_tracks_vendor_adj_close_ratio():
    """Before dividends start, vendor Adj Close / our adjusted close is one constant."""
    ours = aapl_adjusted()["close"]
    vendor = load_bokeh_adj_close("AAPL")
    before = ours.index < VENDOR_DIVIDENDS_START
    ratio = (vendor / ours)[before]
    np.testing.assert_allclose(ratio, ratio.iloc[0], rtol=1e-9)
    raw_ratio = (vendor / load_bokeh("AAPL")["close"])[before]
    assert raw_ratio.max() / raw_ratio.min() > 3.9  # the unadjusted series is off by 4x


def test_aapl_crash_is_not_treated_as_a_split():
    raw = load_bokeh("AAPL")["close"]
    adjusted = aapl_adjusted()["close"]
    i = raw.index.get_loc(AAPL_CRASH_DATE)
    assert adjusted.iloc[i] / adjusted.iloc[i - 1] == pytest.approx(raw.iloc[i] / raw.iloc[i - 1])
    assert adjusted.iloc[i] / adjusted.iloc[i - 1] < 0.55


def test_other_tickers_and_row_order_untouched():
    long = load_bokeh_long().sample(frac=1.0, random_state=0)
    adjusted = series.split_adjust(long, AAPL_SPLITS)
    assert adjusted.index.equals(long.index)
    others = long["ticker"] != "AAPL"
    pd.testing.assert_frame_equal(adjusted[others], long[others])


def test_reverse_and_compound_splits_and_python_dates():
    long = pd.DataFrame(
        {
            "ticker": ["X"] * 4,
            "date": [pd.Timestamp(d).date() for d in ("2024-01-02", "2024-01-03", "2024-01-04")]
            + [pd.Timestamp("2024-01-05").date()],
            "open": [1.0, 1.0, 10.0, 30.0],
            "high": [1.0, 1.0, 10.0, 30.0],
            "low": [1.0, 1.0, 10.0, 30.0],
            "close": [1.0, 1.0, 10.0, 30.0],
            "volume": [3000.0, 3000.0, 300.0, 100.0],
        }
    )
    splits = pd.DataFrame(
        {
            "ticker": ["X", "X"],
            "execution_date": ["2024-01-04", "2024-01-05"],
            "split_from": [10, 1],  # 1-for-10 reverse split, then 3-for-1
            "split_to": [1, 3],
        }
    )
    adjusted = series.split_adjust(long, splits)
    # factor before 2024-01-04 = 0.1 * 3 = 0.3; on 2024-01-04 = 3; on 2024-01-05 = 1
    np.testing.assert_allclose(adjusted["close"], [1 / 0.3, 1 / 0.3, 10 / 3, 30.0])
    np.testing.assert_allclose(adjusted["volume"], [900.0, 900.0, 900.0, 100.0])


def test_duplicate_split_rows_apply_once_and_bad_rows_raise():
    doubled = pd.concat([AAPL_SPLITS, AAPL_SPLITS], ignore_index=True)
    pd.testing.assert_frame_equal(
        series.split_adjust(load_bokeh_long(), doubled),
        series.split_adjust(load_bokeh_long(), AAPL_SPLITS),
    )
    conflicting = pd.concat([AAPL_SPLITS, AAPL_SPLITS.assign(split_to=3.0)], ignore_index=True)
    with pytest.raises(ValueError, match="conflicting"):
        series.split_adjust(load_bokeh_long(), conflicting)
    with pytest.raises(ValueError, match="positive"):
        series.split_adjust(load_bokeh_long(), AAPL_SPLITS.assign(split_from=0.0))


def test_no_splits_is_identity():
    long = load_bokeh_long()
    empty = AAPL_SPLITS.iloc[0:0]
    pd.testing.assert_frame_equal(series.split_adjust(long, empty), long)


def test_split_adjust_is_causal():
    long = load_bokeh_long()
    cut = pd.Timestamp("2006-01-03")
    past = series.split_adjust(long[long["date"] < cut], AAPL_SPLITS)
    full = series.split_adjust(long, AAPL_SPLITS)
    pd.testing.assert_frame_equal(past, full[full["date"] < cut])


# ---------------------------------------------------------------- gap rule


def test_clean_series_passes_through():
    spy = load_spy().iloc[:300]
    out = series.fill_gaps(spy)
    pd.testing.assert_frame_equal(out[BARS], spy)
    assert not out["gap_filled"].any()
    assert (out["segment"] == 0).all()
    assert not series.has_long_gap(out)


def test_interior_nan_bar_is_filled_flat_at_previous_close():
    spy = load_spy().iloc[:300].copy()
    hole = spy.index[150]
    previous_close = spy["close"].iloc[149]
    spy.loc[hole, BARS] = np.nan
    out = series.fill_gaps(spy)
    assert len(out) == 300
    assert out.loc[hole, PRICES].tolist() == [previous_close] * 4
    assert out.loc[hole, "volume"] == 0.0
    assert out.loc[hole, "gap_filled"]
    assert out["gap_filled"].sum() == 1
    assert not out[BARS].isna().any().any()


def test_missing_sessions_are_inserted_from_the_calendar():
    spy = load_spy().iloc[:300]
    dropped = spy.index[[100, 101, 200]]
    out = series.fill_gaps(spy.drop(dropped), sessions=spy.index)
    assert out.index.equals(spy.index)
    assert out.loc[dropped, "gap_filled"].all()
    assert (out.loc[dropped[:2], "close"] == spy["close"].iloc[99]).all()
    assert out.loc[dropped[2], "open"] == spy["close"].iloc[199]
    # without sessions, absent rows are not invented
    assert len(series.fill_gaps(spy.drop(dropped))) == 297


def test_sessions_outside_the_ticker_life_are_not_added():
    spy = load_spy().iloc[100:200]
    out = series.fill_gaps(spy, sessions=load_spy().index[:400])
    assert out.index.equals(spy.index)


def test_gap_longer_than_the_limit_restarts_the_series():
    spy = load_spy().iloc[:300].copy()
    n = series.MAX_FILLED_GAP_BARS
    spy.iloc[100 : 100 + n, :] = np.nan  # filled
    spy.iloc[200 : 200 + n + 1, :] = np.nan  # one bar too long: dropped
    out = series.fill_gaps(spy)
    assert len(out) == 300 - (n + 1)
    assert out.iloc[100 : 100 + n]["gap_filled"].all()
    assert (out["segment"].loc[: spy.index[199]] == 0).all()
    assert (out["segment"].loc[spy.index[200 + n + 1] :] == 1).all()
    assert series.has_long_gap(out)


def test_leading_and_trailing_holes_are_dropped():
    spy = load_spy().iloc[:50].copy()
    spy.iloc[:3, :] = np.nan
    spy.iloc[-2:, :] = np.nan
    out = series.fill_gaps(spy)
    assert out.index.equals(spy.index[3:-2])
    assert not out["gap_filled"].any()


def test_partial_rows_are_repaired():
    bars = small_bars([10.0, 11.0, 12.0, 13.0])
    bars.iloc[2, bars.columns.get_loc("open")] = np.nan
    bars.iloc[2, bars.columns.get_loc("high")] = np.nan
    bars.iloc[3, bars.columns.get_loc("low")] = np.nan
    bars.iloc[3, bars.columns.get_loc("volume")] = np.nan
    out = series.fill_gaps(bars)
    assert out["open"].iloc[2] == 11.0  # previous close
    assert out["high"].iloc[2] == 12.0  # max(open 11, close 12)
    assert out["low"].iloc[3] == 12.0  # min(open 12, close 13)
    assert out["volume"].iloc[3] == 0.0
    assert out["gap_filled"].tolist() == [False, False, True, True]


def test_all_nan_and_unsorted_inputs():
    bars = small_bars([1.0, 2.0])
    bars[:] = np.nan
    assert len(series.prepare_bars(bars)) == 0
    with pytest.raises(ValueError, match="sorted"):
        series.fill_gaps(small_bars([1.0, 2.0, 3.0]).iloc[::-1])


def test_fill_gaps_is_causal():
    spy = load_spy().iloc[:400].copy()
    spy.iloc[50:53, :] = np.nan
    spy.iloc[120:130, :] = np.nan
    spy.iloc[[200, 310], 3] = np.nan
    full = series.prepare_bars(spy)
    for cut in (52, 60, 125, 131, 200, 250, 311):
        past = series.prepare_bars(spy.iloc[:cut])
        pd.testing.assert_frame_equal(past, full.loc[past.index])


# ---------------------------------------------------------------- illiquid flags


def test_flat_series_is_flagged_where_talib_returns_zero():
    flat = flat_bars(40)
    flags = series.illiquid_flags(flat)
    k = series.ILLIQUID_MIN_DEAD_BARS
    assert not flags.iloc[: k - 1].any()
    assert flags.iloc[k - 1 :].all()
    close = flat["close"].to_numpy()
    rsi = talib.RSI(close, 14)
    assert (rsi[14:] == 0.0).all()  # the reason for the flag


def test_zero_volume_with_moving_prices_is_flagged():
    bars = small_bars(list(np.linspace(10.0, 20.0, 30)))
    bars["volume"] = 0.0
    assert series.illiquid_flags(bars).iloc[series.ILLIQUID_MIN_DEAD_BARS - 1 :].all()


def test_illiquid_count_by_hand():
    rng = np.random.default_rng(3)
    bars = small_bars(list(np.linspace(10.0, 20.0, 200)))
    dead = rng.random(200) < 0.3
    bars.loc[dead, "volume"] = 0.0
    expected = []
    for t in range(200):
        window = dead[max(0, t - series.ILLIQUID_WINDOW_BARS + 1) : t + 1]
        expected.append(sum(window) >= series.ILLIQUID_MIN_DEAD_BARS)
    assert series.illiquid_flags(bars).tolist() == expected
    assert 0 < sum(expected) < 200


def test_spy_is_never_illiquid():
    assert not series.prepare_bars(load_spy())["illiquid"].any()


def test_illiquid_flags_are_causal():
    bars = small_bars(list(np.linspace(10.0, 20.0, 100)))
    bars.iloc[40:60, bars.columns.get_loc("volume")] = 0.0
    full = series.illiquid_flags(bars)
    for cut in (45, 50, 70):
        pd.testing.assert_series_equal(series.illiquid_flags(bars.iloc[:cut]), full.iloc[:cut])


# ---------------------------------------------------------------- per-ticker plumbing


def test_by_ticker_stacks_each_ticker_once():
    long = load_bokeh_long()
    seen: list[int] = []

    def count_rows(bars: pd.DataFrame) -> pd.DataFrame:
        seen.append(len(bars))
        return bars[["close"]]

    out = series.by_ticker(long, count_rows, AAPL_SPLITS)
    assert sorted(seen) == sorted(long.groupby("ticker").size().tolist())
    assert list(out.columns) == ["ticker", "date", "close"]
    aapl = out.loc[out["ticker"] == "AAPL"].set_index("date")["close"]
    pd.testing.assert_series_equal(aapl, aapl_adjusted()["close"], check_names=False)
    assert len(series.by_ticker(long.iloc[0:0], count_rows)) == 0


def test_long_to_bars_converts_python_dates_and_integer_volume():
    long = pd.DataFrame(
        {
            "ticker": ["X", "X"],
            "date": [pd.Timestamp("2024-01-03").date(), pd.Timestamp("2024-01-02").date()],
            "open": [2, 1],
            "high": [2, 1],
            "low": [2, 1],
            "close": [2, 1],
            "volume": [20, 10],
        }
    )
    bars = series.long_to_bars(long)
    assert bars.index.name == "date" and isinstance(bars.index, pd.DatetimeIndex)
    assert bars.index.tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
    assert (bars.dtypes == np.float64).all() and bars["close"].tolist() == [1.0, 2.0]


def test_split_adjust_accepts_any_datetime_resolution():
    """Arrow dates reach pandas as datetime64[ms]; splits as datetime64[ns] or python dates."""
    from kapman_assets.analytics.series import split_adjust

    long = pd.DataFrame({
        "ticker": ["X", "X"], "date": np.array(["2024-06-07", "2024-06-10"], "datetime64[ms]"),
        "open": [100.0, 10.0], "high": [100.0, 10.0], "low": [100.0, 10.0],
        "close": [100.0, 10.0], "volume": [1.0, 10.0],
    })  # fmt: skip
    splits = pd.DataFrame({"ticker": ["X"], "execution_date": [pd.Timestamp("2024-06-10")],
                           "split_from": [1], "split_to": [10]})  # fmt: skip
    adjusted = split_adjust(long, splits)
    assert adjusted["close"].tolist() == [10.0, 10.0]
    assert adjusted["volume"].tolist() == [10.0, 10.0]


# --- the bad-print guard -------------------------------------------------------------------


def quiet_bars(n=60, price=50.0, day_range=1.0) -> pd.DataFrame:
    """A calm series: open = close = price, high/low = price -/+ half a typical range."""
    idx = pd.bdate_range("2025-01-02", periods=n, name="date")
    return pd.DataFrame({"open": price, "high": price + day_range / 2,
                         "low": price - day_range / 2, "close": price, "volume": 1e6},
                        index=idx)  # fmt: skip


def test_a_spike_far_beyond_the_typical_range_is_clipped_and_counted():
    bars = quiet_bars()
    bars.iloc[40, bars.columns.get_loc("high")] = 80.0  # a print 60% above the close
    bars.iloc[50, bars.columns.get_loc("low")] = 0.13  # a low of 0.13 on a $50 stock
    out = series.guard_bad_prints(bars)
    assert out["bad_print"].sum() == 2 and out["bad_print"].iloc[[40, 50]].all()
    # the bar keeps what traded: the bad high (low) becomes the body's high (low)
    assert out["high"].iloc[40] == 50.0 and out["low"].iloc[50] == 50.0
    # open, close and volume are never touched; clean bars pass through unchanged
    pd.testing.assert_frame_equal(
        out[["open", "close", "volume"]], bars[["open", "close", "volume"]]
    )
    clean = ~out["bad_print"]
    pd.testing.assert_frame_equal(out.loc[clean, PRICES], bars.loc[clean, PRICES])


def test_a_wide_but_plausible_bar_stays_and_a_near_zero_low_never_does():
    bars = quiet_bars()
    bars.iloc[30, bars.columns.get_loc("low")] = 50.0 - 0.5 - 10.0  # 10.5 ranges: plausible
    assert not series.guard_bad_prints(bars)["bad_print"].any()
    dead = quiet_bars(day_range=0.0)  # no range at all: the floor (1% of the close) applies
    dead.iloc[30, dead.columns.get_loc("high")] = 50.0 * (
        1 + 0.9 * series.BAD_PRINT_RANGE_MULTIPLE * series.BAD_PRINT_MIN_RANGE_FRACTION
    )
    assert not series.guard_bad_prints(dead)["bad_print"].any()
    wild = quiet_bars(day_range=30.0)  # a wild stock: the range rule alone would allow 0
    wild.iloc[30, wild.columns.get_loc("low")] = 5.0
    out = series.guard_bad_prints(wild)
    assert out["bad_print"].iloc[30]
    assert out["low"].iloc[30] == 50.0


def test_the_first_bars_are_not_judged_and_the_guard_is_causal():
    bars = quiet_bars()
    bars.iloc[2, bars.columns.get_loc("high")] = 500.0  # too few previous bars to judge
    assert not series.guard_bad_prints(bars)["bad_print"].iloc[2]
    bars.iloc[45, bars.columns.get_loc("high")] = 500.0
    full = series.guard_bad_prints(bars)
    for cut in (20, 45, 46, 59):
        head = series.guard_bad_prints(bars.iloc[:cut])
        pd.testing.assert_frame_equal(head, full.iloc[:cut])


def test_real_flash_crash_wicks_are_kept():
    """The longest real wicks in the vendored series (2010-05-06) are not bad prints."""
    for name, bars in [("SPY", load_spy()[BARS]), ("AAPL", aapl_adjusted())]:
        out = series.guard_bad_prints(bars)
        assert not out["bad_print"].any(), name
    for ticker in ("MSFT", "IBM", "GOOG"):
        assert not series.guard_bad_prints(load_bokeh(ticker)[BARS])["bad_print"].any()


def test_a_bad_print_planted_in_real_bars_does_not_move_the_bc_score():
    """The reported failure: one absurd high on a real series raised the BC score for weeks."""
    from kapman_assets.analytics.wyckoff import analyze_wyckoff

    bars = aapl_adjusted().loc["2006-01-01":"2009-12-31"]
    day = pd.Timestamp("2007-04-13")  # a calm uptrend: the unguarded spike raises the score
    spiked = bars.copy()
    spiked.loc[day, "high"] = spiked.loc[day, "close"] * 1.6  # a high 60% above the close
    clean = analyze_wyckoff(series.prepare_bars(bars)[BARS])
    guarded_bars = series.prepare_bars(spiked)
    assert guarded_bars.loc[day, "bad_print"]
    guarded = analyze_wyckoff(guarded_bars[BARS])
    raw = analyze_wyckoff(series.fill_gaps(spiked)[BARS])
    later = slice(day, bars.index[760])
    assert (raw.loc[later, "bc_score"] != clean.loc[later, "bc_score"]).any()  # unguarded: moved
    assert guarded.loc[later, "bc_score"].tolist() == clean.loc[later, "bc_score"].tolist()
