"""Tests for kapman_assets.analytics.indicators against TA-Lib called directly and numpy."""

import json

import numpy as np
import pandas as pd
import pytest
import talib
from helpers.real_data import (
    AAPL_SPLITS,
    load_bokeh,
    load_bokeh_long,
    load_spy,
)
from talib import abstract

from kapman_assets.analytics import indicators as ind
from kapman_assets.analytics import series

NAMED = [
    "rsi_14", "macd_line", "macd_signal", "macd_histogram", "stoch_k", "stoch_d", "mfi_14",
    "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "adx_14", "atr_14", "bbands_upper",
    "bbands_middle", "bbands_lower", "bbands_width", "obv", "vwap",
]  # fmt: skip
MIN_JSON_VALUES = 84
SPY_BARS = 1200


def talib_reference(bars: pd.DataFrame) -> pd.DataFrame:
    """The named columns from direct TA-Lib calls (and numpy for vwap/width) on ``bars``."""
    o = {c: bars[c].to_numpy() for c in ["high", "low", "close", "volume"]}
    h, lo, c, v = o["high"], o["low"], o["close"], o["volume"]
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    k, d = talib.STOCH(h, lo, c, fastk_period=14, slowk_period=3, slowd_period=3)
    up, mid, low = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2)
    typical = (h + lo + c) / 3
    window = np.ones(20)
    vwap = np.full(len(c), np.nan)
    vwap[19:] = np.convolve(typical * v, window, "valid") / np.convolve(v, window, "valid")
    ref = {
        "rsi_14": talib.RSI(c, timeperiod=14),
        "macd_line": macd,
        "macd_signal": signal,
        "macd_histogram": hist,
        "stoch_k": k,
        "stoch_d": d,
        "mfi_14": talib.MFI(h, lo, c, v, timeperiod=14),
        "sma_20": talib.SMA(c, timeperiod=20),
        "sma_50": talib.SMA(c, timeperiod=50),
        "sma_200": talib.SMA(c, timeperiod=200),
        "ema_12": talib.EMA(c, timeperiod=12),
        "ema_26": talib.EMA(c, timeperiod=26),
        "adx_14": talib.ADX(h, lo, c, timeperiod=14),
        "atr_14": talib.ATR(h, lo, c, timeperiod=14),
        "bbands_upper": up,
        "bbands_middle": mid,
        "bbands_lower": low,
        "bbands_width": (up - low) / mid,
        "obv": talib.OBV(c, v),
        "vwap": vwap,
    }
    return pd.DataFrame(ref, index=bars.index)


def assert_named_equal(out: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Every named column equal to the reference on out's rows (vwap to rounding)."""
    ref = ref.loc[out.index]
    for column in NAMED:
        rtol = 1e-9 if column == "vwap" else 0.0
        np.testing.assert_allclose(out[column], ref[column], rtol=rtol, err_msg=column)


def random_walk_bars(n: int, seed: int) -> pd.DataFrame:
    """Synthetic daily bars from a log random walk (volume lognormal)."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0.0, 0.003, n))
    spread = np.abs(rng.normal(0.0, 0.01, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.lognormal(13.0, 0.4, n)
    index = pd.bdate_range("2022-01-03", periods=n, name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


@pytest.fixture(scope="module")
def spy() -> pd.DataFrame:
    return load_spy().iloc[:SPY_BARS]


@pytest.fixture(scope="module")
def spy_out(spy: pd.DataFrame) -> pd.DataFrame:
    return ind.compute_indicators(spy, start=spy.index[ind.MIN_HISTORY_BARS])


# ---------------------------------------------------------------- wiring against TA-Lib


def test_named_columns_equal_talib_on_the_whole_series(spy, spy_out):
    assert list(spy_out.columns[: len(NAMED)]) == NAMED
    assert spy_out.index.equals(spy.index[ind.MIN_HISTORY_BARS :])
    assert_named_equal(spy_out, talib_reference(spy))
    assert not spy_out[NAMED].isna().any().any()


def test_slicing_happens_after_compute_once(spy, spy_out):
    """Slicing the output is not the same as slicing the input (TA-Lib recursion)."""
    full = ind.compute_indicators(spy, with_json=False)
    pd.testing.assert_frame_equal(full.loc[spy_out.index], spy_out.drop(columns=[ind.JSON_COLUMN]))
    late = ind.compute_indicators(spy.loc[spy_out.index], with_json=False)
    assert late["sma_200"].iloc[:199].isna().all()
    assert not np.allclose(late["obv"], spy_out["obv"])
    assert (late["ema_26"].iloc[25:40] != spy_out["ema_26"].iloc[25:40]).all()


def test_end_date_bounds_the_output(spy):
    out = ind.compute_indicators(spy, start="1994-03-01", end="1994-03-31", with_json=False)
    assert out.index.min() >= pd.Timestamp("1994-03-01")
    assert out.index.max() <= pd.Timestamp("1994-03-31")
    assert len(out) == len(spy.loc["1994-03-01":"1994-03-31"])


def test_stoch_uses_fastk_14_not_talib_default_5(spy, spy_out):
    c, h, lo = (spy[x].to_numpy() for x in ("close", "high", "low"))
    default_k, _ = talib.STOCH(h, lo, c)  # fastk 5
    rows = spy.index.get_indexer(spy_out.index)
    assert not np.allclose(spy_out["stoch_k"], default_k[rows])
    # independent numpy reference: raw %K over 14 bars, then two 3-bar SMAs
    highest = pd.Series(h).rolling(14).max().to_numpy()
    lowest = pd.Series(lo).rolling(14).min().to_numpy()
    raw_k = 100.0 * (c - lowest) / (highest - lowest)
    slow_k = pd.Series(raw_k).rolling(3).mean().to_numpy()
    slow_d = pd.Series(slow_k).rolling(3).mean().to_numpy()
    np.testing.assert_allclose(spy_out["stoch_k"], slow_k[rows], rtol=1e-9)
    np.testing.assert_allclose(spy_out["stoch_d"], slow_d[rows], rtol=1e-9)


def test_bbands_use_population_std(spy, spy_out):
    close = spy["close"]
    for day in spy_out.index[::97]:
        window = close.loc[:day].iloc[-20:].to_numpy()
        mean, sd = window.mean(), window.std(ddof=0)
        row = spy_out.loc[day]
        assert row["bbands_middle"] == pytest.approx(mean, rel=1e-12)
        assert row["bbands_upper"] == pytest.approx(mean + 2 * sd, rel=1e-9)
        assert row["bbands_lower"] == pytest.approx(mean - 2 * sd, rel=1e-9)
        assert row["bbands_width"] == pytest.approx(4 * sd / mean, rel=1e-7)


def test_vwap_by_hand_on_a_small_series():
    bars = random_walk_bars(30, seed=5)
    out = ind.rolling_vwap(bars)
    rows = list(bars.itertuples())
    for t in range(len(rows)):
        if t < 19:
            assert np.isnan(out.iloc[t])
            continue
        traded = 0.0
        volume = 0.0
        for r in rows[t - 19 : t + 1]:
            traded += (r.high + r.low + r.close) / 3 * r.volume
            volume += r.volume
        assert out.iloc[t] == pytest.approx(traded / volume, rel=1e-12)


def test_split_adjustment_happens_before_indicators():
    start = pd.Timestamp("2001-04-02")
    out = ind.compute_indicators_long(load_bokeh_long(), AAPL_SPLITS, start=start, with_json=False)
    aapl = out.loc[out["ticker"] == "AAPL"].set_index("date")
    raw = load_bokeh("AAPL")
    factor = np.where(raw.index < "2000-06-21", 4.0, np.where(raw.index < "2005-02-28", 2.0, 1.0))
    adjusted = raw.copy()
    adjusted[["open", "high", "low", "close"]] = raw[["open", "high", "low", "close"]].div(
        factor, axis=0
    )
    adjusted["volume"] = raw["volume"] * factor
    ref = talib_reference(adjusted)
    for column in NAMED:
        rtol = 1e-9 if column in ("vwap", "obv") else 1e-12
        np.testing.assert_allclose(aapl[column], ref.loc[aapl.index, column], rtol=rtol)
    unadjusted = ind.compute_indicators(raw, start=start, with_json=False)
    # 2005-02-28 without adjustment: price halves, so close falls far below the 20-day band
    day = pd.Timestamp("2005-02-28")
    assert unadjusted.loc[day, "rsi_14"] < 30 < aapl.loc[day, "rsi_14"]


def test_long_wrapper_matches_single_ticker_calls():
    long = load_bokeh_long()
    long = long[long["date"] < "2006-01-01"]
    start = pd.Timestamp("2005-06-01")
    out = ind.compute_indicators_long(long, start=start)
    assert sorted(out["ticker"].unique()) == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert list(out.columns[:2]) == ["ticker", "date"]
    msft = out.loc[out["ticker"] == "MSFT"].drop(columns="ticker").set_index("date")
    single = ind.compute_indicators(load_bokeh("MSFT").loc[:"2005-12-31"], start=start)
    pd.testing.assert_frame_equal(msft, single, check_names=False)


# ---------------------------------------------------------------- gaps and illiquid tickers


def test_interior_nan_never_reaches_talib(spy):
    holed = spy.copy()
    holed.iloc[600, :] = np.nan
    c = holed["close"].to_numpy()
    assert np.isnan(talib.RSI(c, 14)[-1]) or talib.RSI(c, 14)[-1] == 0.0  # the hazard
    out = ind.compute_indicators(holed, start=holed.index[ind.MIN_HISTORY_BARS], with_json=False)
    after = out["rsi_14"].iloc[600 - ind.MIN_HISTORY_BARS :]
    assert np.isfinite(after).all() and (after > 0.0).all()
    filled = holed.copy()
    filled.iloc[600, :] = [spy["close"].iloc[599]] * 4 + [0.0]  # the documented fill, by hand
    assert_named_equal(out, talib_reference(filled))
    assert out["gap_filled"].sum() == 1


def test_missing_session_gets_a_filled_row(spy):
    dropped = spy.index[700]
    out = ind.compute_indicators(
        spy.drop(dropped), start=spy.index[300], sessions=spy.index, with_json=False
    )
    assert dropped in out.index and out.loc[dropped, "gap_filled"]
    assert np.isfinite(out.loc[dropped:, "rsi_14"]).all()


def test_long_gap_restarts_the_recursion(spy):
    holed = spy.copy()
    gap = series.MAX_FILLED_GAP_BARS + 1
    holed.iloc[500 : 500 + gap, :] = np.nan
    out = ind.compute_indicators(holed, start=holed.index[300], with_json=False)
    assert spy.index[500] not in out.index
    after = spy.iloc[500 + gap :]
    assert_named_equal(out.loc[after.index[200] :], talib_reference(after))
    assert np.isnan(out.loc[after.index[10], "sma_20"])  # warm-up again after the restart
    assert_named_equal(out.loc[: spy.index[499]], talib_reference(spy.iloc[:500]))


def test_illiquid_bars_publish_nan_oscillators():
    bars = random_walk_bars(400, seed=7)
    flat = bars["close"].iloc[299]
    bars.iloc[300:330, :4] = flat
    bars.iloc[300:330, 4] = 0.0
    out = ind.compute_indicators(bars, start=bars.index[260])
    illiquid = out["illiquid"]
    assert illiquid.loc[bars.index[310] : bars.index[329]].all()
    assert not illiquid.loc[: bars.index[299]].any()
    c, h, lo = (bars[x].to_numpy() for x in ("close", "high", "low"))
    stoch_k = talib.STOCH(h, lo, c, fastk_period=14)[0][329]
    assert stoch_k == pytest.approx(0.0, abs=1e-9)  # what would be published
    for column in ind.ILLIQUID_MASKED_COLUMNS:
        assert out.loc[illiquid, column].isna().all(), column
        assert out.loc[~illiquid, column].notna().all(), column
    assert out.loc[illiquid, "sma_20"].notna().all()
    for record in out.loc[illiquid, ind.JSON_COLUMN]:
        assert record["RSI"] is None and record["STOCH.slowk"] is None and record["MFI"] is None
        assert record["SMA"] is not None and record["OBV"] is not None


def test_spy_has_no_illiquid_bars(spy_out):
    assert not spy_out["illiquid"].any()


# ---------------------------------------------------------------- technical_indicators_json


def test_json_covers_the_talib_groups():
    groups = talib.get_function_groups()
    in_groups = {f for g in ind.JSON_GROUPS for f in groups[g]}
    assert set(ind.JSON_FUNCTIONS) | set(ind.EXCLUDED_FUNCTIONS) == in_groups
    assert not set(ind.JSON_FUNCTIONS) & set(ind.EXCLUDED_FUNCTIONS)
    n_outputs = sum(len(abstract.Function(f).info["output_names"]) for f in ind.JSON_FUNCTIONS)
    assert len(ind.JSON_KEYS) == n_outputs == len(set(ind.JSON_KEYS))
    assert set(ind.ILLIQUID_MASKED_FUNCTIONS) <= set(ind.JSON_FUNCTIONS)


@pytest.mark.parametrize("ticker", ["SPY", "AAPL", "MSFT", "IBM", "GOOG"])
def test_json_has_at_least_84_finite_values_per_day(ticker):
    if ticker == "SPY":
        bars = load_spy().iloc[:SPY_BARS]
        out = ind.compute_indicators(bars, start=bars.index[ind.MIN_HISTORY_BARS])
    else:
        long = load_bokeh_long()
        out = ind.compute_indicators_long(
            long[long["ticker"] == ticker],
            AAPL_SPLITS,
            start=pd.Timestamp(long.loc[long["ticker"] == ticker, "date"].iloc[260]),
        )
    counts = [
        sum(np.isfinite(v) for v in d.values() if v is not None)
        for d in out["technical_indicators_json"]
    ]
    assert min(counts) >= MIN_JSON_VALUES
    json.dumps(out[ind.JSON_COLUMN].iloc[-1], allow_nan=False)


def test_json_values_equal_talib_defaults(spy, spy_out):
    c, h, lo, v = (spy[x].to_numpy() for x in ("close", "high", "low", "volume"))
    rows = spy.index.get_indexer(spy_out.index)
    macd, signal, _ = talib.MACD(c)
    mama, fama = talib.MAMA(c)
    expected = {
        "RSI": talib.RSI(c),
        "SMA": talib.SMA(c),
        "MACD.macdsignal": signal,
        "MAMA.fama": fama,
        "ADOSC": talib.ADOSC(h, lo, c, v),
        "HT_DCPERIOD": talib.HT_DCPERIOD(c),
        "LINEARREG_SLOPE": talib.LINEARREG_SLOPE(c),
        "NATR": talib.NATR(h, lo, c),
    }
    records = spy_out[ind.JSON_COLUMN]
    for key, values in expected.items():
        got = np.array([r[key] for r in records], dtype=float)
        np.testing.assert_array_equal(got, values[rows], err_msg=key)
    assert records.iloc[0]["RSI"] == pytest.approx(spy_out["rsi_14"].iloc[0], rel=0, abs=0)


def test_json_nan_becomes_none():
    records = ind.json_records(
        np.array([[np.nan] * len(ind.JSON_KEYS), [1.0] * len(ind.JSON_KEYS)])
    )
    assert all(v is None for v in records[0].values())
    assert all(v == 1.0 and type(v) is float for v in records[1].values())


# ---------------------------------------------------------------- causality


def test_named_indicators_are_causal(spy):
    full = ind.compute_indicators(spy)
    for cut in (300, 777, 1100):
        past = ind.compute_indicators(spy.iloc[:cut])
        pd.testing.assert_frame_equal(
            past.drop(columns=ind.JSON_COLUMN), full.drop(columns=ind.JSON_COLUMN).iloc[:cut]
        )
        assert past[ind.JSON_COLUMN].tolist() == full[ind.JSON_COLUMN].iloc[:cut].tolist()


def test_every_json_function_is_causal(spy):
    full = ind.json_indicator_matrix(spy)
    for cut in (400, 1000):
        past = ind.json_indicator_matrix(spy.iloc[:cut])
        for j, key in enumerate(ind.JSON_KEYS):
            np.testing.assert_array_equal(past[:, j], full[:cut, j], err_msg=key)


def test_causal_with_gaps_and_illiquid_stretches():
    bars = random_walk_bars(600, seed=11)
    bars.iloc[[100, 350], :] = np.nan
    bars.iloc[200:208, :] = np.nan  # long gap: restart
    bars.iloc[400:420, 4] = 0.0  # illiquid stretch
    full = ind.compute_indicators(bars)
    for cut in (205, 300, 410, 500):
        past = ind.compute_indicators(bars.iloc[:cut])
        common = past.index
        pd.testing.assert_frame_equal(
            past.drop(columns=ind.JSON_COLUMN),
            full.loc[common].drop(columns=ind.JSON_COLUMN),
            check_freq=False,
        )
        assert past[ind.JSON_COLUMN].tolist() == full.loc[common, ind.JSON_COLUMN].tolist()


def test_missing_talib_function_is_a_clear_import_error(monkeypatch):
    monkeypatch.setattr(ind, "JSON_FUNCTIONS", ("RSI", "NOT_A_TALIB_FUNCTION"))
    with pytest.raises(ImportError, match="NOT_A_TALIB_FUNCTION"):
        ind._json_specs()
