"""Tests for kapman_assets.analytics.price_metrics against plain-Python hand computation."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from helpers.real_data import AAPL_SPLITS, load_bokeh, load_bokeh_long, load_spy

from kapman_assets.analytics import price_metrics as pm
from kapman_assets.analytics import series

VOLUMES = [
    1200.0, 900.0, 1500.0, 1100.0, 1300.0, 800.0, 1000.0, 1700.0, 950.0, 1250.0,
    1150.0, 1050.0, 1400.0, 990.0, 1010.0, 1600.0, 870.0, 1330.0, 1220.0, 940.0,
    4000.0, 1000.0, 500.0, 1100.0, 2500.0,
]  # fmt: skip
CLOSES = [100.0 * (1.0 + 0.01 * math.sin(k) + 0.002 * k) for k in range(80)]


def hand_rvol_vsi(volumes: list[float]) -> tuple[list[float], list[float]]:
    """rvol and vsi with loops: baseline = the 20 volumes before t, sample std."""
    rvol, vsi = [], []
    for t in range(len(volumes)):
        if t < 20:
            rvol.append(math.nan)
            vsi.append(math.nan)
            continue
        prior = volumes[t - 20 : t]
        mean = sum(prior) / 20
        sd = math.sqrt(sum((v - mean) ** 2 for v in prior) / 19)
        rvol.append(volumes[t] / mean)
        vsi.append((volumes[t] - mean) / sd)
    return rvol, vsi


def hand_hv(closes: list[float], n: int) -> list[float]:
    """hv_n with loops: sample std of the last n log returns times sqrt(252)."""
    out = []
    for t in range(len(closes)):
        if t < n:
            out.append(math.nan)
            continue
        returns = [math.log(closes[i] / closes[i - 1]) for i in range(t - n + 1, t + 1)]
        out.append(statistics.stdev(returns) * math.sqrt(252))
    return out


def bars_from(closes: list[float], volumes: list[float] | None = None) -> pd.DataFrame:
    """Bars around the given closes (volume 1000 unless given)."""
    close = np.array(closes)
    volume = np.array(volumes) if volumes is not None else np.full(len(close), 1000.0)
    index = pd.bdate_range("2023-01-02", periods=len(close), name="date")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": volume,
        },
        index=index,
    )


def test_rvol_and_vsi_by_hand():
    volume = pd.Series(VOLUMES)
    rvol, vsi = hand_rvol_vsi(VOLUMES)
    np.testing.assert_allclose(pm.rvol(volume), rvol, rtol=1e-12)
    np.testing.assert_allclose(pm.vsi(volume), vsi, rtol=1e-10)
    assert pm.rvol(volume).iloc[20] == pytest.approx(4000.0 / (sum(VOLUMES[:20]) / 20))


def test_zero_baseline_gives_nan_not_inf():
    volume = pd.Series([0.0] * 20 + [100.0, 0.0])
    assert np.isnan(pm.rvol(volume).iloc[20]) and np.isnan(pm.vsi(volume).iloc[20])
    assert pm.rvol(volume).iloc[21] == 0.0  # baseline mean 5 once the 100 is in it
    constant = pd.Series([500.0] * 25)
    assert (pm.rvol(constant).iloc[20:] == 1.0).all()
    assert pm.vsi(constant).iloc[20:].isna().all()  # std20 = 0


@pytest.mark.parametrize("n", pm.HV_WINDOWS)
def test_hv_by_hand(n):
    got = pm.historical_volatility(pd.Series(CLOSES), n)
    np.testing.assert_allclose(got, hand_hv(CLOSES, n), rtol=1e-10)
    assert got.iloc[:n].isna().all() and got.iloc[n:].notna().all()


def test_hv_on_spy_by_hand():
    closes = load_spy()["close"].iloc[:400].tolist()
    got = pm.historical_volatility(pd.Series(closes), 20)
    expected = hand_hv(closes, 20)
    for t in (20, 57, 250, 399):
        assert got.iloc[t] == pytest.approx(expected[t], rel=1e-10)
    assert 0.03 < got.iloc[250] < 0.5  # decimal, annualized


def test_iv_hv_diff_in_vol_points():
    assert pm.iv_hv_diff(0.30, 0.25) == pytest.approx(5.0)
    np.testing.assert_allclose(pm.iv_hv_diff([0.2, 0.5], [0.25, 0.4]), [-5.0, 10.0])
    assert math.isnan(pm.iv_hv_diff(float("nan"), 0.2))


def test_compute_price_metrics_columns_and_slice():
    bars = bars_from(CLOSES, VOLUMES * 3 + [1000.0] * 5)
    out = pm.compute_price_metrics(bars, start=bars.index[61], end=bars.index[70])
    assert list(out.columns) == ["rvol", "vsi", "hv_20", "hv_60"]
    assert out.index.equals(bars.index[61:71])
    np.testing.assert_allclose(out["hv_60"], hand_hv(CLOSES, 60)[61:71], rtol=1e-10)
    rvol, _ = hand_rvol_vsi(VOLUMES * 3 + [1000.0] * 5)
    np.testing.assert_allclose(out["rvol"], rvol[61:71], rtol=1e-12)


def test_split_adjusted_long_wrapper_on_aapl():
    out = pm.compute_price_metrics_long(load_bokeh_long(), AAPL_SPLITS, start="2000-07-20")
    aapl = out.loc[out["ticker"] == "AAPL"].set_index("date")
    raw = load_bokeh("AAPL")
    factor = np.where(raw.index < "2000-06-21", 4.0, np.where(raw.index < "2005-02-28", 2.0, 1.0))
    adjusted_close = (raw["close"] / factor).tolist()
    hv = hand_hv(adjusted_close, 20)
    for day in ("2000-07-20", "2005-03-15", "2010-06-01"):
        t = raw.index.get_loc(pd.Timestamp(day))
        assert aapl.loc[day, "hv_20"] == pytest.approx(hv[t], rel=1e-10)
    unadjusted = pm.compute_price_metrics(raw)
    assert unadjusted.loc["2000-07-10", "hv_20"] > 2 * aapl.loc["2000-07-20", "hv_20"]
    # the 2000-09-29 crash is real and stays in the adjusted series
    assert aapl.loc["2000-09-29", "hv_20"] > 1.0
    assert set(out["ticker"]) == {"AAPL", "MSFT", "IBM", "GOOG"}


def test_long_gap_restarts_the_windows():
    bars = bars_from(CLOSES, VOLUMES * 3 + [1000.0] * 5)
    gap = series.MAX_FILLED_GAP_BARS + 1
    bars.iloc[10 : 10 + gap, :] = np.nan
    out = pm.compute_price_metrics(bars)
    restart = 10 + gap
    assert out["hv_20"].iloc[10 : 10 + 20].isna().all()
    np.testing.assert_allclose(
        out["hv_20"].iloc[30:], hand_hv(CLOSES[restart:], 20)[20:], rtol=1e-10
    )


def test_price_metrics_are_causal():
    bars = load_spy().iloc[:500].copy()
    bars.iloc[120, :] = np.nan
    full = pm.compute_price_metrics(bars)
    for cut in (61, 121, 300):
        past = pm.compute_price_metrics(bars.iloc[:cut])
        pd.testing.assert_frame_equal(past, full.loc[past.index])
    volume, close = bars["volume"].fillna(0.0), bars["close"].ffill()
    for func in (pm.rvol, pm.vsi, lambda v: pm.historical_volatility(close.loc[v.index], 60)):
        whole = func(volume)
        pd.testing.assert_series_equal(func(volume.iloc[:250]), whole.iloc[:250])
